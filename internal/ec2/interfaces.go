package ec2

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/store"
)

// maxGroupsPerInterface is EC2's default quota of security groups per network interface.
const maxGroupsPerInterface = 5

// Network interfaces here name hosts: an operator creates one with the address of a host
// in a subnet whose range holds it (a VPC and subnet of 127.0.0.0/24 for this machine's
// loopback addresses, say) and the groups it is in, and rules that name those groups as
// their source then admit that host.

// interfaceGroups reads SecurityGroupId.N: at most five distinct, well-formed ids.
func interfaceGroups(p awsquery.Params) ([]string, error) {
	raw, err := ids(p, "SecurityGroupId", "group")
	if err != nil {
		return nil, err
	}
	var out []string
	seen := map[string]bool{}
	for _, id := range raw {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	if len(out) > maxGroupsPerInterface {
		return nil, fault("SecurityGroupsPerInterfaceLimitExceeded", "The maximum number of security groups per interface has been reached.")
	}
	return out, nil
}

// checkGroups makes sure each group exists in vpcID.
func (s *Service) checkGroups(ctx context.Context, e store.EC2State, vpcID string, groupIDs []string) error {
	for _, id := range groupIDs {
		g, err := s.group(ctx, e, id, "")
		if err != nil {
			return err
		}
		if g.VpcID != vpcID {
			return differentNetworks()
		}
	}
	return nil
}

// subnetDefaultGroup is the group an interface created in a subnet without groups joins:
// its VPC's default group. Authorization and the action both ask here, so that IAM decides
// on the group the interface joins.
func (s *Service) subnetDefaultGroup(ctx context.Context, e store.EC2State, subnetID string) (store.SecurityGroup, error) {
	sn, err := e.Subnet(ctx, subnetID)
	if err != nil {
		return store.SecurityGroup{}, err
	}
	return e.DefaultSecurityGroup(ctx, sn.VpcID)
}

func interfaceDescription(d string) error {
	if len(d) > 255 {
		return awsquery.InvalidParameterValue("Invalid value for description: it must be at most 255 characters.")
	}
	return nil
}

func (s *Service) createNetworkInterface(ctx context.Context, p awsquery.Params) (any, error) {
	subnetID, err := requiredID(p, "SubnetId", "subnet")
	if err != nil {
		return nil, err
	}
	rawIP := p.Get("PrivateIpAddress")
	if rawIP == "" {
		rawIP = p.Get("PrivateIpAddresses.1.PrivateIpAddress")
	}
	// The other ways to more addresses are refused by the member table.
	if p.Has("PrivateIpAddresses.2.PrivateIpAddress") {
		return nil, awsquery.InvalidParameterValue(oneAddress)
	}
	var ip netip.Addr
	if rawIP != "" {
		if ip, err = netip.ParseAddr(rawIP); err != nil || ip.Zone() != "" {
			return nil, awsquery.InvalidParameterValue("Value (%s) for parameter privateIpAddress is invalid. It is not a valid IP address.", awsquery.Clip(rawIP))
		}
		ip = ip.Unmap()
	}
	groups, err := interfaceGroups(p)
	if err != nil {
		return nil, err
	}
	desc := p.Get("Description")
	if err := interfaceDescription(desc); err != nil {
		return nil, err
	}
	tags, err := parseTags(p, "network-interface")
	if err != nil {
		return nil, err
	}
	token := p.Get("ClientToken")
	if len(token) > maxClientToken {
		return nil, awsquery.InvalidParameterValue("Value for parameter clientToken is too long: at most %d characters.", maxClientToken)
	}
	ni := store.NetworkInterface{ID: newID("eni"), SubnetID: subnetID, OwnerID: s.owner(ctx), MacAddress: newMAC(),
		Description: desc, GroupIDs: groups, Tags: tags, CreatedAt: s.cfg.Now().UTC(), ClientToken: token}
	names := map[string]string{}
	retried := false
	err = s.store.EC2Tx(ctx, func(e store.EC2State) error {
		if prev, found, err := byClientToken(ctx, e, token); err != nil {
			return err
		} else if found {
			if prev.SubnetID != subnetID || prev.Description != desc || ip.IsValid() && prev.PrivateIP != ip.String() ||
				len(groups) > 0 && !sameSet(prev.GroupIDs, groups) || !sameSet(tagStrings(prev.Tags), tagStrings(tags)) {
				return fault("IdempotentParameterMismatch", "The request uses the same client token as a previous, but non-identical request.")
			}
			ni, retried = prev, true
			return groupNames(ctx, e, ni.GroupIDs, names)
		}
		sn, err := e.Subnet(ctx, subnetID)
		if errors.Is(err, store.ErrNotFound) {
			return subnetNotFound(subnetID)
		} else if err != nil {
			return err
		}
		ni.VpcID, ni.AvailabilityZone = sn.VpcID, sn.AvailabilityZone
		if len(ni.GroupIDs) == 0 {
			dg, err := s.subnetDefaultGroup(ctx, e, sn.ID)
			if err != nil {
				return err
			}
			ni.GroupIDs = []string{dg.ID}
		}
		if err := s.checkGroups(ctx, e, sn.VpcID, ni.GroupIDs); err != nil {
			return err
		}
		for _, id := range ni.GroupIDs {
			g, err := e.SecurityGroup(ctx, id)
			if err != nil {
				return err
			}
			names[id] = g.Name
		}
		others, err := e.InterfacesInVPC(ctx, sn.VpcID)
		if err != nil {
			return err
		}
		used := map[netip.Addr]bool{}
		for _, o := range others {
			if a, err := netip.ParseAddr(o.PrivateIP); err == nil {
				used[a] = true
			}
		}
		if !ip.IsValid() {
			if ip, err = freeAddress(sn, used); err != nil {
				return err
			}
		} else if err := subnetHost(sn, ip, rawIP); err != nil {
			return err
		} else if used[ip] {
			return fault("InvalidIPAddress.InUse", "The specified address is already in use.")
		}
		ni.PrivateIP = ip.String()
		return e.CreateNetworkInterface(ctx, ni)
	})
	if err != nil {
		return nil, err
	}
	if !retried {
		s.log.Info("network interface created", "eni", ni.ID, "ip", ni.PrivateIP, "groups", ni.GroupIDs)
		s.notify()
	}
	return createNetworkInterfaceResult{interfaceXML(ni, names)}, nil
}

// maxClientToken is EC2's limit on an idempotency token.
const maxClientToken = 64

// byClientToken finds the interface an earlier request with token created.
func byClientToken(ctx context.Context, e store.EC2State, token string) (store.NetworkInterface, bool, error) {
	if token == "" {
		return store.NetworkInterface{}, false, nil
	}
	all, err := e.NetworkInterfaces(ctx)
	if err != nil {
		return store.NetworkInterface{}, false, err
	}
	i := slices.IndexFunc(all, func(ni store.NetworkInterface) bool { return ni.ClientToken == token })
	if i < 0 {
		return store.NetworkInterface{}, false, nil
	}
	return all[i], true, nil
}

func groupNames(ctx context.Context, e store.EC2State, ids []string, names map[string]string) error {
	for _, id := range ids {
		g, err := e.SecurityGroup(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		} else if err != nil {
			return err
		}
		names[id] = g.Name
	}
	return nil
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

func tagStrings(tags []store.Tag) []string {
	var out []string
	for _, t := range tags {
		out = append(out, t.Key+"\x00"+t.Value)
	}
	return out
}

// reservedAtStart is how many addresses EC2 reserves at the start of every subnet (the
// network, the router, DNS, one for later); it reserves the last address too.
const reservedAtStart = 4

// firstHost is a subnet's first address an interface may take.
func firstHost(pfx netip.Prefix) netip.Addr {
	a := pfx.Addr()
	for range reservedAtStart {
		a = a.Next()
	}
	return a
}

// subnetHost refuses, as EC2 does, an address outside the subnet or one it reserves. An
// interface is the word that a host is in a group: an address outside its subnet (127.0.0.1
// in the default VPC, say) would put any host into the groups of any VPC.
func subnetHost(sn store.Subnet, ip netip.Addr, raw string) error {
	pfx, err := netip.ParsePrefix(sn.CidrBlock)
	if err != nil {
		return err
	}
	switch {
	case !pfx.Contains(ip):
		return awsquery.InvalidParameterValue("Address %s does not fall within the subnet's address range", awsquery.Clip(raw))
	case ip.Less(firstHost(pfx)) || !pfx.Contains(ip.Next()):
		return awsquery.InvalidParameterValue("Address %s is in subnet's reserved address range", awsquery.Clip(raw))
	}
	return nil
}

// warnStrayInterfaces logs each interface whose address is not a host of its subnet: state
// written before addresses were checked. Such an interface still admits its host wherever
// its groups are a rule's source; deleting it is the operator's decision, not a start's.
func (s *Service) warnStrayInterfaces(ctx context.Context) error {
	st := s.store.EC2()
	all, err := st.NetworkInterfaces(ctx)
	if err != nil {
		return err
	}
	for _, ni := range all {
		sn, err := st.Subnet(ctx, ni.SubnetID)
		if err != nil {
			return err
		}
		ip, err := netip.ParseAddr(ni.PrivateIP)
		if err != nil || subnetHost(sn, ip.Unmap(), ni.PrivateIP) != nil {
			s.log.Warn("network interface outside its subnet's hosts: it still admits its address; delete it (ec2 delete-network-interface) and name the host in a subnet that holds it",
				"eni", ni.ID, "ip", ni.PrivateIP, "subnet", ni.SubnetID, "cidr", sn.CidrBlock, "groups", ni.GroupIDs)
		}
	}
	return nil
}

// freeAddress picks the lowest unused address of a subnet that EC2 would give out.
func freeAddress(sn store.Subnet, used map[netip.Addr]bool) (netip.Addr, error) {
	pfx, err := netip.ParsePrefix(sn.CidrBlock)
	if err != nil {
		return netip.Addr{}, err
	}
	for a := firstHost(pfx); pfx.Contains(a.Next()); a = a.Next() {
		if !used[a] {
			return a, nil
		}
	}
	return netip.Addr{}, fault("InsufficientFreeAddressesInSubnet", "There are not enough free addresses in subnet '%s' to satisfy the requested number of instances.", sn.ID)
}

// newMAC returns a random locally administered unicast MAC address.
func newMAC() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	b[0] = b[0]&0xfc | 0x02
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5])
}

func (s *Service) describeNetworkInterfaces(ctx context.Context, p awsquery.Params) (any, error) {
	want, err := ids(p, "NetworkInterfaceId", "eni")
	if err != nil {
		return nil, err
	}
	max, after, err := paging(p, len(want) > 0, "networkInterfaceIds")
	if err != nil {
		return nil, err
	}
	fs, err := parseFilters(p, "group-id", "group-name", "private-ip-address", "addresses.private-ip-address", "vpc-id", "subnet-id",
		"network-interface-id", "description", "availability-zone", "owner-id", "status", "mac-address", "interface-type")
	if err != nil {
		return nil, err
	}
	st := s.store.EC2()
	all, err := st.NetworkInterfaces(ctx)
	if err != nil {
		return nil, err
	}
	if missing := absent(want, all, func(ni store.NetworkInterface) string { return ni.ID }); missing != "" {
		return nil, interfaceNotFound(missing)
	}
	groups, err := st.SecurityGroups(ctx)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, g := range groups {
		names[g.ID] = g.Name
	}
	var list []store.NetworkInterface
	for _, ni := range all {
		if len(want) > 0 && !slices.Contains(want, ni.ID) {
			continue
		}
		var groupNames []string
		for _, id := range ni.GroupIDs {
			groupNames = append(groupNames, names[id])
		}
		if fs.match("group-id", ni.GroupIDs...) && fs.match("group-name", groupNames...) && fs.match("private-ip-address", ni.PrivateIP) &&
			fs.match("addresses.private-ip-address", ni.PrivateIP) && fs.match("vpc-id", ni.VpcID) && fs.match("subnet-id", ni.SubnetID) &&
			fs.match("network-interface-id", ni.ID) && fs.match("description", ni.Description) && fs.match("availability-zone", ni.AvailabilityZone) &&
			fs.match("owner-id", ni.OwnerID) && fs.match("status", "available") && fs.match("mac-address", ni.MacAddress) &&
			fs.match("interface-type", "interface") && fs.matchTags(ni.Tags) {
			list = append(list, ni)
		}
	}
	var res describeNetworkInterfacesResult
	list, res.NextToken = page(list, func(ni store.NetworkInterface) string { return ni.ID }, max, after)
	for _, ni := range list {
		res.NetworkInterfaces = append(res.NetworkInterfaces, interfaceXML(ni, names))
	}
	return res, nil
}

// modifyNetworkInterfaceAttribute changes one attribute, as EC2 allows per call: the
// groups (SecurityGroupId.N) or the description (Description.Value).
func (s *Service) modifyNetworkInterfaceAttribute(ctx context.Context, p awsquery.Params) (any, error) {
	id, err := requiredID(p, "NetworkInterfaceId", "eni")
	if err != nil {
		return nil, err
	}
	groups, err := interfaceGroups(p)
	if err != nil {
		return nil, err
	}
	hasDesc := p.Has("Description.Value")
	switch {
	case len(groups) > 0 && hasDesc:
		return nil, awsquery.InvalidParameterCombination("Fields for multiple attribute types specified: groupSet, description")
	case len(groups) == 0 && !hasDesc:
		return nil, awsquery.MissingParameter("SecurityGroupId or Description")
	}
	desc := p.Get("Description.Value")
	if err := interfaceDescription(desc); err != nil {
		return nil, err
	}
	err = s.store.EC2Tx(ctx, func(e store.EC2State) error {
		ni, err := e.NetworkInterface(ctx, id)
		if err != nil {
			return err
		}
		if hasDesc {
			ni.Description = desc
		} else {
			if err := s.checkGroups(ctx, e, ni.VpcID, groups); err != nil {
				return err
			}
			ni.GroupIDs = groups
		}
		return e.SaveNetworkInterface(ctx, ni)
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, interfaceNotFound(id)
	} else if err != nil {
		return nil, err
	}
	s.log.Info("network interface modified", "eni", id)
	s.notify()
	return nil, nil
}

func (s *Service) deleteNetworkInterface(ctx context.Context, p awsquery.Params) (any, error) {
	id, err := requiredID(p, "NetworkInterfaceId", "eni")
	if err != nil {
		return nil, err
	}
	if err := s.store.EC2().DeleteNetworkInterface(ctx, id); errors.Is(err, store.ErrNotFound) {
		return nil, interfaceNotFound(id)
	} else if err != nil {
		return nil, err
	}
	s.log.Info("network interface deleted", "eni", id)
	s.notify()
	return nil, nil
}
