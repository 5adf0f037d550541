package ec2

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/store"
)

// The default VPC's layout, as AWS creates it in every region.
const (
	defaultVPCCidr     = "172.31.0.0/16"
	defaultGroupDesc   = "default VPC security group"
	tenancyDefault     = "default"
	tenancyDedicated   = "dedicated"
	minVPCBits         = 16
	maxVPCBits         = 28
	defaultSubnetCount = 3
)

var defaultSubnetCidrs = [defaultSubnetCount]string{"172.31.0.0/20", "172.31.16.0/20", "172.31.32.0/20"}

// EnsureDefaults creates, on first start, the default VPC with a default subnet in each
// availability zone and its default security group. It is one transaction, and the
// default VPC cannot be deleted, so later starts find it and change nothing. Every start
// also warns of interfaces whose address is not a host of their subnet.
func (s *Service) EnsureDefaults(ctx context.Context) error {
	created := ""
	err := s.store.EC2Tx(ctx, func(e store.EC2State) error {
		if _, err := e.DefaultVPC(ctx); err == nil || !errors.Is(err, store.ErrNotFound) {
			return err
		}
		now := s.cfg.Now().UTC()
		v := store.VPC{ID: newID("vpc"), OwnerID: s.cfg.AccountID, CidrBlock: defaultVPCCidr, CidrAssociationID: newID("vpc-cidr-assoc"),
			InstanceTenancy: tenancyDefault, IsDefault: true, CreatedAt: now}
		if err := s.insertVPC(ctx, e, v); err != nil {
			return err
		}
		for i, zone := range s.zones() {
			sn := store.Subnet{ID: newID("subnet"), VpcID: v.ID, OwnerID: v.OwnerID, CidrBlock: defaultSubnetCidrs[i],
				AvailabilityZone: zone, DefaultForAz: true, CreatedAt: now}
			if err := e.CreateSubnet(ctx, sn); err != nil {
				return err
			}
		}
		created = v.ID
		return nil
	})
	if err == nil && created != "" {
		s.log.Info("default VPC created", "vpc", created)
	}
	if err != nil {
		return err
	}
	return s.warnStrayInterfaces(ctx)
}

// insertVPC inserts a VPC and its default security group, whose members may reach each
// other and which lets everything out.
func (s *Service) insertVPC(ctx context.Context, e store.EC2State, v store.VPC) error {
	if err := e.CreateVPC(ctx, v); err != nil {
		return err
	}
	gid := newID("sg")
	return e.CreateSecurityGroup(ctx, store.SecurityGroup{
		ID: gid, VpcID: v.ID, OwnerID: v.OwnerID, Name: store.DefaultSecurityGroupName, Description: defaultGroupDesc,
		Rules: []store.SecurityGroupRule{
			{ID: newID("sgr"), Protocol: "-1", FromPort: -1, ToPort: -1, GroupID: gid},
			{ID: newID("sgr"), Egress: true, Protocol: "-1", FromPort: -1, ToPort: -1, CidrIPv4: "0.0.0.0/0"},
		},
		CreatedAt: v.CreatedAt,
	})
}

// parseNetwork reads an IPv4 CIDR block for a VPC or subnet; unlike a rule's CIDR, it
// must be the network address itself.
func parseNetwork(raw string) (netip.Prefix, error) {
	pfx, err := netip.ParsePrefix(raw)
	if err != nil || !pfx.Addr().Is4() || pfx.Masked() != pfx {
		return netip.Prefix{}, awsquery.InvalidParameterValue("Value (%s) for parameter cidrBlock is invalid. This is not a valid CIDR block.", awsquery.Clip(raw))
	}
	return pfx, nil
}

func (s *Service) createVpc(ctx context.Context, p awsquery.Params) (any, error) {
	raw, err := p.Required("CidrBlock")
	if err != nil {
		return nil, err
	}
	pfx, err := parseNetwork(raw)
	if err != nil {
		return nil, err
	}
	if pfx.Bits() < minVPCBits || pfx.Bits() > maxVPCBits {
		return nil, fault("InvalidVpc.Range", "The CIDR '%s' is invalid.", raw)
	}
	tenancy := p.Get("InstanceTenancy")
	switch tenancy {
	case "":
		tenancy = tenancyDefault
	case tenancyDefault, tenancyDedicated:
	default:
		return nil, awsquery.InvalidParameterValue("Value (%s) for parameter instanceTenancy is invalid. Valid values: default, dedicated.", awsquery.Clip(tenancy))
	}
	tags, err := parseTags(p, "vpc")
	if err != nil {
		return nil, err
	}
	v := store.VPC{ID: newID("vpc"), OwnerID: s.owner(ctx), CidrBlock: pfx.String(), CidrAssociationID: newID("vpc-cidr-assoc"),
		InstanceTenancy: tenancy, Tags: tags, CreatedAt: s.cfg.Now().UTC()}
	if err := s.store.EC2Tx(ctx, func(e store.EC2State) error { return s.insertVPC(ctx, e, v) }); err != nil {
		return nil, err
	}
	s.log.Info("vpc created", "vpc", v.ID, "cidr", v.CidrBlock, "tenancy", tenancy)
	s.notify()
	return createVpcResult{vpcXML(v)}, nil
}

func (s *Service) describeVpcs(ctx context.Context, p awsquery.Params) (any, error) {
	want, err := ids(p, "VpcId", "vpc")
	if err != nil {
		return nil, err
	}
	max, after, err := paging(p, len(want) > 0, "vpcIds")
	if err != nil {
		return nil, err
	}
	fs, err := parseFilters(p, "vpc-id", "is-default", "cidr", "cidr-block-association.cidr-block", "state", "owner-id", "dhcp-options-id", "instance-tenancy")
	if err != nil {
		return nil, err
	}
	all, err := s.store.EC2().VPCs(ctx)
	if err != nil {
		return nil, err
	}
	if missing := absent(want, all, func(v store.VPC) string { return v.ID }); missing != "" {
		return nil, vpcNotFound(missing)
	}
	var res describeVpcsResult
	var vpcs []store.VPC
	for _, v := range all {
		if len(want) > 0 && !slices.Contains(want, v.ID) {
			continue
		}
		if fs.match("vpc-id", v.ID) && fs.match("is-default", boolText(v.IsDefault)) && fs.match("cidr", v.CidrBlock) &&
			fs.match("cidr-block-association.cidr-block", v.CidrBlock) && fs.match("state", "available") &&
			fs.match("owner-id", v.OwnerID) && fs.match("dhcp-options-id", "default") &&
			fs.match("instance-tenancy", v.InstanceTenancy) && fs.matchTags(v.Tags) {
			vpcs = append(vpcs, v)
		}
	}
	vpcs, res.NextToken = page(vpcs, func(v store.VPC) string { return v.ID }, max, after)
	for _, v := range vpcs {
		res.Vpcs = append(res.Vpcs, vpcXML(v))
	}
	return res, nil
}

// absent returns the first wanted id that is not among items, "" if none is.
func absent[T any](want []string, items []T, id func(T) string) string {
	have := make(map[string]bool, len(items))
	for _, it := range items {
		have[id(it)] = true
	}
	for _, w := range want {
		if !have[w] {
			return w
		}
	}
	return ""
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// deleteVpc deletes a VPC with nothing left in it but its default group. Borealis keeps
// the default VPC: clusters created without a VPC land in it, so it must always exist.
func (s *Service) deleteVpc(ctx context.Context, p awsquery.Params) (any, error) {
	id, err := requiredID(p, "VpcId", "vpc")
	if err != nil {
		return nil, err
	}
	st := s.store.EC2()
	v, err := st.VPC(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, vpcNotFound(id)
	} else if err != nil {
		return nil, err
	}
	if v.IsDefault {
		return nil, fault("OperationNotPermitted", "The default VPC %s cannot be deleted: Borealis places clusters created without a VPC in it.", id)
	}
	// Outside EC2 (RDS clusters) only the default group can be in use here, as any other
	// group already blocks the deletion; the hook cannot run inside the transaction.
	if dg, err := st.DefaultSecurityGroup(ctx, id); err == nil {
		if _, used := s.cfg.InUse(ctx, dg.ID); used {
			return nil, dependency("The vpc '%s' has dependencies and cannot be deleted.", id)
		}
	}
	err = s.store.EC2Tx(ctx, func(e store.EC2State) error {
		subnets, err := e.Subnets(ctx, id)
		if err != nil {
			return err
		}
		groups, err := e.GroupsInVPC(ctx, id)
		if err != nil {
			return err
		}
		interfaces, err := e.InterfacesInVPC(ctx, id)
		if err != nil {
			return err
		}
		if len(subnets) > 0 || len(groups) > 1 || len(interfaces) > 0 || len(groups) == 1 && !groups[0].IsDefault() {
			return dependency("The vpc '%s' has dependencies and cannot be deleted.", id)
		}
		for _, g := range groups {
			if err := e.DeleteSecurityGroup(ctx, g.ID); err != nil {
				return err
			}
		}
		return e.DeleteVPC(ctx, id)
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, vpcNotFound(id)
	} else if err != nil {
		return nil, err
	}
	s.log.Info("vpc deleted", "vpc", id)
	s.notify()
	return nil, nil
}

func (s *Service) createSubnet(ctx context.Context, p awsquery.Params) (any, error) {
	vpcID, err := requiredID(p, "VpcId", "vpc")
	if err != nil {
		return nil, err
	}
	raw, err := p.Required("CidrBlock")
	if err != nil {
		return nil, err
	}
	pfx, err := parseNetwork(raw)
	if err != nil {
		return nil, err
	}
	zone, err := s.subnetZone(p)
	if err != nil {
		return nil, err
	}
	tags, err := parseTags(p, "subnet")
	if err != nil {
		return nil, err
	}
	sn := store.Subnet{ID: newID("subnet"), VpcID: vpcID, OwnerID: s.owner(ctx), CidrBlock: pfx.String(), AvailabilityZone: zone,
		Tags: tags, CreatedAt: s.cfg.Now().UTC()}
	err = s.store.EC2Tx(ctx, func(e store.EC2State) error {
		v, err := e.VPC(ctx, vpcID)
		if errors.Is(err, store.ErrNotFound) {
			return vpcNotFound(vpcID)
		} else if err != nil {
			return err
		}
		vpcPfx, err := netip.ParsePrefix(v.CidrBlock)
		if err != nil {
			return err
		}
		if pfx.Bits() < minVPCBits || pfx.Bits() > maxVPCBits || pfx.Bits() < vpcPfx.Bits() || !vpcPfx.Contains(pfx.Addr()) {
			return fault("InvalidSubnet.Range", "The CIDR '%s' is invalid.", raw)
		}
		others, err := e.Subnets(ctx, vpcID)
		if err != nil {
			return err
		}
		for _, o := range others {
			if op, err := netip.ParsePrefix(o.CidrBlock); err == nil && op.Overlaps(pfx) {
				return fault("InvalidSubnet.Conflict", "The CIDR '%s' conflicts with another subnet", raw)
			}
		}
		return e.CreateSubnet(ctx, sn)
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("subnet created", "subnet", sn.ID, "vpc", vpcID, "cidr", sn.CidrBlock)
	return createSubnetResult{s.subnetXML(ctx, sn, nil)}, nil
}

// subnetZone reads AvailabilityZone or AvailabilityZoneId (one of them; the first zone
// without either).
func (s *Service) subnetZone(p awsquery.Params) (string, error) {
	names := s.zones()
	name, id := p.Get("AvailabilityZone"), p.Get("AvailabilityZoneId")
	switch {
	case name != "" && id != "":
		return "", awsquery.InvalidParameterCombination("Only one of availabilityZone or availabilityZoneId may be specified.")
	case id != "":
		for i, n := range names {
			if zoneID(s.cfg.Region, i) == id {
				return n, nil
			}
		}
		return "", awsquery.InvalidParameterValue("Value (%s) for parameter availabilityZoneId is invalid. Subnets can currently only be created in the following availability zones: %s.",
			awsquery.Clip(id), strings.Join(names, ", "))
	case name == "":
		return names[0], nil
	case !slices.Contains(names, name):
		return "", awsquery.InvalidParameterValue("Value (%s) for parameter availabilityZone is invalid. Subnets can currently only be created in the following availability zones: %s.",
			awsquery.Clip(name), strings.Join(names, ", "))
	}
	return name, nil
}

func (s *Service) describeSubnets(ctx context.Context, p awsquery.Params) (any, error) {
	want, err := ids(p, "SubnetId", "subnet")
	if err != nil {
		return nil, err
	}
	max, after, err := paging(p, len(want) > 0, "subnetIds")
	if err != nil {
		return nil, err
	}
	fs, err := parseFilters(p, "vpc-id", "availability-zone", "availabilityZone", "subnet-id", "cidr-block", "cidr", "cidrBlock",
		"default-for-az", "defaultForAz", "state", "owner-id", "subnet-arn")
	if err != nil {
		return nil, err
	}
	st := s.store.EC2()
	all, err := st.Subnets(ctx, "")
	if err != nil {
		return nil, err
	}
	if missing := absent(want, all, func(sn store.Subnet) string { return sn.ID }); missing != "" {
		return nil, subnetNotFound(missing)
	}
	var subnets []store.Subnet
	for _, sn := range all {
		if len(want) > 0 && !slices.Contains(want, sn.ID) {
			continue
		}
		def := boolText(sn.DefaultForAz)
		if fs.match("vpc-id", sn.VpcID) && fs.match("availability-zone", sn.AvailabilityZone) && fs.match("availabilityZone", sn.AvailabilityZone) &&
			fs.match("subnet-id", sn.ID) && fs.match("cidr-block", sn.CidrBlock) && fs.match("cidr", sn.CidrBlock) && fs.match("cidrBlock", sn.CidrBlock) &&
			fs.match("default-for-az", def) && fs.match("defaultForAz", def) && fs.match("state", "available") &&
			fs.match("owner-id", sn.OwnerID) && fs.match("subnet-arn", s.arn(ctx, "subnet", sn.ID)) && fs.matchTags(sn.Tags) {
			subnets = append(subnets, sn)
		}
	}
	var res describeSubnetsResult
	subnets, res.NextToken = page(subnets, func(sn store.Subnet) string { return sn.ID }, max, after)
	interfaces, err := st.NetworkInterfaces(ctx)
	if err != nil {
		return nil, err
	}
	for _, sn := range subnets {
		res.Subnets = append(res.Subnets, s.subnetXML(ctx, sn, interfaces))
	}
	return res, nil
}

func (s *Service) deleteSubnet(ctx context.Context, p awsquery.Params) (any, error) {
	id, err := requiredID(p, "SubnetId", "subnet")
	if err != nil {
		return nil, err
	}
	err = s.store.EC2Tx(ctx, func(e store.EC2State) error {
		if _, err := e.Subnet(ctx, id); err != nil {
			return err
		}
		interfaces, err := e.InterfacesInSubnet(ctx, id)
		if err != nil {
			return err
		}
		if len(interfaces) > 0 {
			return dependency("The subnet '%s' has dependencies and cannot be deleted.", id)
		}
		return e.DeleteSubnet(ctx, id)
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, subnetNotFound(id)
	} else if err != nil {
		return nil, err
	}
	s.log.Info("subnet deleted", "subnet", id)
	return nil, nil
}
