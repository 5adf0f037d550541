package ec2

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/store"
)

// maxRulesPerDirection is EC2's default quota of inbound (and of outbound) rules per group.
const maxRulesPerDirection = 60

// groupText checks a VPC security group's name or description: at most 255 characters of
// the set EC2 allows.
func groupText(param, v string) error {
	if len(v) > 255 {
		return awsquery.InvalidParameterValue("Invalid value for %s: it must be at most 255 characters.", param)
	}
	for _, c := range v {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune(" ._-:/()#,@[]+=&;{}!$*", c)) {
			return awsquery.InvalidParameterValue("Invalid value '%s' for %s. Valid characters are a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*", awsquery.Clip(v), param)
		}
	}
	return nil
}

func (s *Service) createSecurityGroup(ctx context.Context, p awsquery.Params) (any, error) {
	name, err := p.Required("GroupName")
	if err != nil {
		return nil, err
	}
	desc, err := p.Required("GroupDescription")
	if err != nil {
		return nil, err
	}
	if err := groupText("GroupName", name); err != nil {
		return nil, err
	}
	if err := groupText("GroupDescription", desc); err != nil {
		return nil, err
	}
	if strings.HasPrefix(strings.ToLower(name), "sg-") {
		return nil, awsquery.InvalidParameterValue("Group names may not be in the format sg-*.")
	}
	if name == store.DefaultSecurityGroupName {
		return nil, fault("InvalidGroup.Reserved", "The security group 'default' is reserved")
	}
	vpcID := p.Get("VpcId")
	if vpcID != "" {
		if err := checkID("vpc", vpcID); err != nil {
			return nil, err
		}
	}
	tags, err := parseTags(p, "security-group")
	if err != nil {
		return nil, err
	}
	g := store.SecurityGroup{ID: newID("sg"), OwnerID: s.owner(ctx), Name: name, Description: desc, Tags: tags,
		CreatedAt: s.cfg.Now().UTC(),
		// A new group lets everything out and nothing in, as in EC2.
		Rules: []store.SecurityGroupRule{{ID: newID("sgr"), Egress: true, Protocol: "-1", FromPort: -1, ToPort: -1, CidrIPv4: "0.0.0.0/0"}}}
	err = s.store.EC2Tx(ctx, func(e store.EC2State) error {
		v, err := s.vpcOrDefault(ctx, e, vpcID)
		if err != nil {
			return err
		}
		g.VpcID = v.ID
		if err := e.CreateSecurityGroup(ctx, g); errors.Is(err, store.ErrExists) {
			return fault("InvalidGroup.Duplicate", "The security group '%s' already exists for VPC '%s'", name, v.ID)
		} else if err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("security group created", "group", g.ID, "name", name, "vpc", g.VpcID)
	return createSecurityGroupResult{Return: true, GroupID: g.ID, TagSet: tagsXML(tags), SecurityGroupArn: s.arn(ctx, "security-group", g.ID)}, nil
}

// vpcOrDefault returns the VPC named, or the default VPC for "".
func (s *Service) vpcOrDefault(ctx context.Context, e store.EC2State, id string) (store.VPC, error) {
	if id == "" {
		v, err := e.DefaultVPC(ctx)
		if errors.Is(err, store.ErrNotFound) {
			return v, fault("VPCIdNotSpecified", "No default VPC for this user")
		}
		return v, err
	}
	v, err := e.VPC(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return v, vpcNotFound(id)
	}
	return v, err
}

// group finds the group a request names: by id, or by name in the default VPC (EC2 knows
// names only there; a nondefault VPC's groups are named by id).
func (s *Service) group(ctx context.Context, e store.EC2State, id, name string) (store.SecurityGroup, error) {
	switch {
	case id != "":
		if err := checkID("group", id); err != nil {
			return store.SecurityGroup{}, err
		}
		g, err := e.SecurityGroup(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return g, groupNotFound(id)
		}
		return g, err
	case name != "":
		v, err := e.DefaultVPC(ctx)
		if err != nil {
			return store.SecurityGroup{}, err
		}
		g, err := e.SecurityGroupByName(ctx, v.ID, name)
		if errors.Is(err, store.ErrNotFound) {
			return g, fault("InvalidGroup.NotFound", "The security group '%s' does not exist in default VPC '%s'", awsquery.Clip(name), v.ID)
		}
		return g, err
	}
	return store.SecurityGroup{}, awsquery.MissingParameter("GroupId")
}

func (s *Service) deleteSecurityGroup(ctx context.Context, p awsquery.Params) (any, error) {
	g, err := s.group(ctx, s.store.EC2(), p.Get("GroupId"), p.Get("GroupName"))
	if err != nil {
		return nil, err
	}
	if g.IsDefault() {
		return nil, fault("CannotDelete", "the specified group: \"%s\" name: \"default\" cannot be deleted by a user", g.ID)
	}
	// The hook reads other services' records, so it runs before the transaction; a cluster
	// that names the group in between is the RDS side's to refuse (it checks the group).
	if what, used := s.cfg.InUse(ctx, g.ID); used {
		s.log.Info("security group in use", "group", g.ID, "by", what)
		return nil, dependency("resource %s has a dependent object", g.ID)
	}
	err = s.store.EC2Tx(ctx, func(e store.EC2State) error {
		refs, err := e.GroupsReferencing(ctx, g.ID)
		if err != nil {
			return err
		}
		members, err := e.InterfacesInGroup(ctx, g.ID)
		if err != nil {
			return err
		}
		if len(refs) > 0 || len(members) > 0 {
			return dependency("resource %s has a dependent object", g.ID)
		}
		return e.DeleteSecurityGroup(ctx, g.ID)
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, groupNotFound(g.ID)
	} else if err != nil {
		return nil, err
	}
	s.log.Info("security group deleted", "group", g.ID)
	s.notify()
	return deleteSecurityGroupResult{true, g.ID}, nil
}

func (s *Service) describeSecurityGroups(ctx context.Context, p awsquery.Params) (any, error) {
	wantIDs, err := ids(p, "GroupId", "group")
	if err != nil {
		return nil, err
	}
	wantNames := list(p, "GroupName")
	max, after, err := paging(p, len(wantIDs)+len(wantNames) > 0, "groupIds")
	if err != nil {
		return nil, err
	}
	fs, err := parseFilters(p, "vpc-id", "group-name", "group-id", "description", "owner-id")
	if err != nil {
		return nil, err
	}
	st := s.store.EC2()
	all, err := st.SecurityGroups(ctx)
	if err != nil {
		return nil, err
	}
	if missing := absent(wantIDs, all, func(g store.SecurityGroup) string { return g.ID }); missing != "" {
		return nil, groupNotFound(missing)
	}
	picked := map[string]bool{}
	for _, id := range wantIDs {
		picked[id] = true
	}
	for _, name := range wantNames {
		g, err := s.group(ctx, st, "", name)
		if err != nil {
			return nil, err
		}
		picked[g.ID] = true
	}
	var groups []store.SecurityGroup
	for _, g := range all {
		if len(picked) > 0 && !picked[g.ID] {
			continue
		}
		if fs.match("vpc-id", g.VpcID) && fs.match("group-name", g.Name) && fs.match("group-id", g.ID) &&
			fs.match("description", g.Description) && fs.match("owner-id", g.OwnerID) && fs.matchTags(g.Tags) {
			groups = append(groups, g)
		}
	}
	var res describeSecurityGroupsResult
	groups, res.NextToken = page(groups, func(g store.SecurityGroup) string { return g.ID }, max, after)
	for _, g := range groups {
		res.SecurityGroups = append(res.SecurityGroups, s.groupXML(ctx, g))
	}
	return res, nil
}

func (s *Service) describeSecurityGroupRules(ctx context.Context, p awsquery.Params) (any, error) {
	want, err := ids(p, "SecurityGroupRuleId", "sgr")
	if err != nil {
		return nil, err
	}
	max, after, err := paging(p, len(want) > 0, "securityGroupRuleIds")
	if err != nil {
		return nil, err
	}
	fs, err := parseFilters(p, "group-id", "security-group-rule-id")
	if err != nil {
		return nil, err
	}
	groups, err := s.store.EC2().SecurityGroups(ctx)
	if err != nil {
		return nil, err
	}
	type ruleOf struct {
		g store.SecurityGroup
		r store.SecurityGroupRule
	}
	var all []ruleOf
	for _, g := range groups {
		for _, r := range g.Rules {
			all = append(all, ruleOf{g, r})
		}
	}
	slices.SortFunc(all, func(a, b ruleOf) int { return strings.Compare(a.r.ID, b.r.ID) })
	if missing := absent(want, all, func(x ruleOf) string { return x.r.ID }); missing != "" {
		return nil, ruleNotFound(missing)
	}
	var rules []ruleOf
	for _, x := range all {
		if len(want) > 0 && !slices.Contains(want, x.r.ID) {
			continue
		}
		// Rules carry no tags of their own here; tag filters see none.
		if fs.match("group-id", x.g.ID) && fs.match("security-group-rule-id", x.r.ID) && fs.matchTags(nil) {
			rules = append(rules, x)
		}
	}
	var res describeSecurityGroupRulesResult
	rules, res.NextToken = page(rules, func(x ruleOf) string { return x.r.ID }, max, after)
	for _, x := range rules {
		res.SecurityGroupRules = append(res.SecurityGroupRules, s.ruleXML(ctx, x.g, x.r))
	}
	return res, nil
}

// ruleSpec is one rule of a request, before its peer group (if any) is looked up.
type ruleSpec struct {
	rule     store.SecurityGroupRule
	peerID   string // a peer group named by id
	peerName string // a peer group named by name, in the target group's VPC
}

// parseRules reads the rules of an Authorize or Revoke request: IpPermissions.N, or the
// legacy flat form (IpProtocol, FromPort, ToPort, CidrIp, SourceSecurityGroupName). Each
// peer of a permission becomes one rule, as EC2 stores them.
func parseRules(p awsquery.Params, egress bool) ([]ruleSpec, error) {
	perms := prefixes(p, "IpPermissions")
	flat := false
	for _, k := range []string{"IpProtocol", "FromPort", "ToPort", "CidrIp", "SourceSecurityGroupName", "SourceSecurityGroupOwnerId"} {
		flat = flat || p.Has(k)
	}
	if flat && len(perms) > 0 {
		return nil, awsquery.InvalidParameterCombination("The parameter 'ipPermissions' may not be used in combination with 'ipProtocol', 'fromPort', 'toPort', 'cidrIp' or 'sourceSecurityGroupName'.")
	}
	if flat {
		return parseFlatRule(p, egress)
	}
	if len(perms) == 0 {
		return nil, awsquery.MissingParameter("IpPermissions")
	}
	// More permissions than a group can hold rules are refused before their members are
	// read, which bounds the work of one request.
	if len(perms) > maxRulesPerDirection {
		return nil, fault("RulesPerSecurityGroupLimitExceeded", "The maximum number of rules per security group has been reached.")
	}
	var out []ruleSpec
	for _, pre := range perms {
		proto, from, to, err := protocolPorts(p, pre)
		if err != nil {
			return nil, err
		}
		base := store.SecurityGroupRule{Egress: egress, Protocol: proto, FromPort: from, ToPort: to}
		n := len(out)
		for _, rp := range prefixes(p, pre+"IpRanges") {
			pfx, err := parseRuleCidr(p.Get(rp+"CidrIp"), true)
			if err != nil {
				return nil, err
			}
			r := base
			r.CidrIPv4, r.Description = pfx, p.Get(rp+"Description")
			out = append(out, ruleSpec{rule: r})
		}
		for _, rp := range prefixes(p, pre+"Ipv6Ranges") {
			pfx, err := parseRuleCidr(p.Get(rp+"CidrIpv6"), false)
			if err != nil {
				return nil, err
			}
			r := base
			r.CidrIPv6, r.Description = pfx, p.Get(rp+"Description")
			out = append(out, ruleSpec{rule: r})
		}
		// Groups is the wire name (the model's locationName); UserIdGroupPairs is accepted
		// too, as the member is called in the SDKs.
		pairs := append(prefixes(p, pre+"Groups"), prefixes(p, pre+"UserIdGroupPairs")...)
		for _, rp := range pairs {
			r := base
			r.Description = p.Get(rp + "Description")
			spec := ruleSpec{rule: r, peerID: p.Get(rp + "GroupId"), peerName: p.Get(rp + "GroupName")}
			if spec.peerID == "" && spec.peerName == "" {
				return nil, awsquery.MissingParameter(rp + "GroupId")
			}
			out = append(out, spec)
		}
		if len(prefixes(p, pre+"PrefixListIds")) > 0 {
			return nil, awsquery.InvalidParameterValue("Prefix lists are not supported by Borealis: name CIDRs or security groups.")
		}
		if len(out) == n {
			return nil, awsquery.MissingParameter(pre + "IpRanges, " + pre + "Ipv6Ranges or " + pre + "Groups")
		}
		if len(out) > maxRulesPerDirection {
			return nil, fault("RulesPerSecurityGroupLimitExceeded", "The maximum number of rules per security group has been reached.")
		}
	}
	for _, r := range out {
		if err := ruleDescription(r.rule.Description); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// parseFlatRule reads the legacy form: one CIDR, or one source group by name. A source
// group without a protocol grants all TCP, UDP and ICMP, as EC2 does.
func parseFlatRule(p awsquery.Params, egress bool) ([]ruleSpec, error) {
	cidr, peer := p.Get("CidrIp"), p.Get("SourceSecurityGroupName")
	switch {
	case cidr != "" && peer != "":
		return nil, awsquery.InvalidParameterCombination("The parameter 'cidrIp' may not be used in combination with 'sourceSecurityGroupName'.")
	case cidr == "" && peer == "":
		return nil, awsquery.MissingParameter("CidrIp or SourceSecurityGroupName")
	}
	if peer != "" && !p.Has("IpProtocol") {
		var out []ruleSpec
		for _, pr := range []struct {
			proto    string
			from, to int
		}{{"tcp", 0, 65535}, {"udp", 0, 65535}, {"icmp", -1, -1}} {
			r := store.SecurityGroupRule{Egress: egress, Protocol: pr.proto, FromPort: pr.from, ToPort: pr.to}
			out = append(out, ruleSpec{rule: r, peerName: peer})
		}
		return out, nil
	}
	if !p.Has("IpProtocol") {
		return nil, awsquery.MissingParameter("IpProtocol")
	}
	proto, from, to, err := protocolPorts(p, "")
	if err != nil {
		return nil, err
	}
	r := store.SecurityGroupRule{Egress: egress, Protocol: proto, FromPort: from, ToPort: to}
	if peer != "" {
		return []ruleSpec{{rule: r, peerName: peer}}, nil
	}
	if r.CidrIPv4, err = parseRuleCidr(cidr, true); err != nil {
		return nil, err
	}
	return []ruleSpec{{rule: r}}, nil
}

func ruleDescription(d string) error {
	if len(d) > 255 {
		return awsquery.InvalidParameterValue("Invalid rule description: it must be at most 255 characters.")
	}
	for _, c := range d {
		if c < 0x20 || c > 0x7e {
			return awsquery.InvalidParameterValue("Invalid rule description '%s': characters beyond printable ASCII are not supported.", awsquery.Clip(d))
		}
	}
	return nil
}

// parseRuleCidr reads a rule's CIDR. Host bits are allowed and cleared, as EC2 stores
// 10.0.0.1/8 as 10.0.0.0/8.
func parseRuleCidr(raw string, v4 bool) (string, error) {
	pfx, err := netip.ParsePrefix(raw)
	if err != nil || pfx.Addr().Is4() != v4 || pfx.Addr().Zone() != "" {
		return "", awsquery.InvalidParameterValue("CIDR block %s is malformed", awsquery.Clip(raw))
	}
	return pfx.Masked().String(), nil
}

// protocolPorts reads pre+IpProtocol, FromPort and ToPort into EC2's stored form: protocol
// names for the numbers EC2 names, the port range for tcp and udp, type and code for ICMP,
// and -1 / -1 for every other protocol (whose rules cover all its traffic).
func protocolPorts(p awsquery.Params, pre string) (string, int, int, error) {
	raw := strings.ToLower(strings.TrimSpace(p.Get(pre + "IpProtocol")))
	if raw == "" {
		return "", 0, 0, awsquery.MissingParameter(pre + "IpProtocol")
	}
	proto := raw
	if n, err := strconv.Atoi(raw); err == nil {
		switch {
		case n == -1:
			proto = "-1"
		case n < 0 || n > 255:
			return "", 0, 0, awsquery.InvalidParameterValue("Invalid value '%s' for IP protocol. Unknown protocol.", awsquery.Clip(raw))
		default:
			proto = map[int]string{1: "icmp", 6: "tcp", 17: "udp", 58: "icmpv6"}[n]
			if proto == "" {
				proto = strconv.Itoa(n)
			}
		}
	} else if proto != "tcp" && proto != "udp" && proto != "icmp" && proto != "icmpv6" {
		return "", 0, 0, awsquery.InvalidParameterValue("Invalid value '%s' for IP protocol. Unknown protocol.", awsquery.Clip(raw))
	}
	from, hasFrom, err := p.Int(pre + "FromPort")
	if err != nil {
		return "", 0, 0, err
	}
	to, hasTo, err := p.Int(pre + "ToPort")
	if err != nil {
		return "", 0, 0, err
	}
	switch proto {
	case "tcp", "udp":
		if !hasFrom || !hasTo {
			return "", 0, 0, awsquery.InvalidParameterValue("Invalid value for portRange. Must specify both from and to ports with TCP/UDP.")
		}
		if from < 0 || to > 65535 || from > to {
			return "", 0, 0, awsquery.InvalidParameterValue("Invalid value for portRange: FromPort (%d) and ToPort (%d) must be between 0 and 65535, FromPort <= ToPort.", from, to)
		}
		return proto, from, to, nil
	case "icmp", "icmpv6":
		if !hasFrom {
			from = -1
		}
		if !hasTo {
			to = -1
		}
		if from < -1 || from > 255 || to < -1 || to > 255 || from == -1 && to != -1 {
			return "", 0, 0, awsquery.InvalidParameterValue("Invalid value for ICMP type (%d) or code (%d): each must be -1 (all) or 0 to 255, and all types means all codes.", from, to)
		}
		return proto, from, to, nil
	}
	return proto, -1, -1, nil
}

// describeRule is EC2's text for a rule in a Duplicate error.
func describeRule(r store.SecurityGroupRule) string {
	peer := r.CidrIPv4 + r.CidrIPv6 + r.GroupID
	proto := strings.ToUpper(r.Protocol)
	if r.Protocol == "-1" {
		proto = "ALL"
	}
	return fmt.Sprintf("peer: %s, %s, from port: %d, to port: %d, ALLOW", peer, proto, r.FromPort, r.ToPort)
}

// resolvePeers looks up each spec's peer group in the target's VPC and returns the rules.
func (s *Service) resolvePeers(ctx context.Context, e store.EC2State, target store.SecurityGroup, specs []ruleSpec) ([]store.SecurityGroupRule, error) {
	var out []store.SecurityGroupRule
	for _, sp := range specs {
		r := sp.rule
		switch {
		case sp.peerID != "":
			if sp.peerID == target.ID {
				r.GroupID = target.ID
				break
			}
			peer, err := s.group(ctx, e, sp.peerID, "")
			if err != nil {
				return nil, err
			}
			if peer.VpcID != target.VpcID {
				return nil, differentNetworks()
			}
			r.GroupID = peer.ID
		case sp.peerName != "":
			peer, err := e.SecurityGroupByName(ctx, target.VpcID, sp.peerName)
			if errors.Is(err, store.ErrNotFound) {
				return nil, groupNotFound(sp.peerName)
			} else if err != nil {
				return nil, err
			}
			r.GroupID = peer.ID
		}
		out = append(out, r)
	}
	return out, nil
}

func (s *Service) authorizeIngress(ctx context.Context, p awsquery.Params) (any, error) {
	return s.authorize(ctx, p, false)
}

func (s *Service) authorizeEgress(ctx context.Context, p awsquery.Params) (any, error) {
	return s.authorize(ctx, p, true)
}

func (s *Service) revokeIngress(ctx context.Context, p awsquery.Params) (any, error) {
	return s.revoke(ctx, p, false)
}

func (s *Service) revokeEgress(ctx context.Context, p awsquery.Params) (any, error) {
	return s.revoke(ctx, p, true)
}

// targetGroup names the group an Authorize or Revoke changes; egress takes only an id.
func targetGroup(p awsquery.Params, egress bool) (id, name string, err error) {
	id, name = p.Get("GroupId"), p.Get("GroupName")
	if egress {
		name = ""
	}
	if id == "" && name == "" {
		return "", "", awsquery.MissingParameter("GroupId")
	}
	return id, name, nil
}

// authorize adds rules, all or none: one that exists already makes the whole request
// InvalidPermission.Duplicate.
func (s *Service) authorize(ctx context.Context, p awsquery.Params, egress bool) (any, error) {
	id, name, err := targetGroup(p, egress)
	if err != nil {
		return nil, err
	}
	specs, err := parseRules(p, egress)
	if err != nil {
		return nil, err
	}
	var g store.SecurityGroup
	var added []store.SecurityGroupRule
	err = s.store.EC2Tx(ctx, func(e store.EC2State) error {
		var err error
		if g, err = s.group(ctx, e, id, name); err != nil {
			return err
		}
		rules, err := s.resolvePeers(ctx, e, g, specs)
		if err != nil {
			return err
		}
		for i, r := range rules {
			for _, o := range rules[:i] {
				if r.SameAs(o) {
					return awsquery.InvalidParameterValue("The same permission must not appear multiple times")
				}
			}
			for _, o := range g.Rules {
				if r.SameAs(o) {
					return fault("InvalidPermission.Duplicate", "the specified rule %q already exists", describeRule(r))
				}
			}
		}
		n := len(rules)
		for _, o := range g.Rules {
			if o.Egress == egress {
				n++
			}
		}
		if n > maxRulesPerDirection {
			return fault("RulesPerSecurityGroupLimitExceeded", "The maximum number of rules per security group has been reached.")
		}
		for i := range rules {
			rules[i].ID = newID("sgr")
		}
		added = rules
		g.Rules = append(g.Rules, rules...)
		return e.SaveSecurityGroup(ctx, g)
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("security group rules added", "group", g.ID, "egress", egress, "rules", len(added))
	s.notify()
	res := authorizeResult{Return: true}
	for _, r := range added {
		res.SecurityGroupRules = append(res.SecurityGroupRules, s.ruleXML(ctx, g, r))
	}
	return res, nil
}

// revoke removes rules, named by id (SecurityGroupRuleId.N) or by what they permit, all
// or none: a rule that does not exist makes the whole request fail.
func (s *Service) revoke(ctx context.Context, p awsquery.Params, egress bool) (any, error) {
	id, name, err := targetGroup(p, egress)
	if err != nil {
		return nil, err
	}
	ruleIDs, err := ids(p, "SecurityGroupRuleId", "sgr")
	if err != nil {
		return nil, err
	}
	var specs []ruleSpec
	if len(ruleIDs) == 0 {
		if specs, err = parseRules(p, egress); err != nil {
			return nil, err
		}
	} else if len(prefixes(p, "IpPermissions")) > 0 || p.Has("CidrIp") || p.Has("IpProtocol") || p.Has("SourceSecurityGroupName") {
		return nil, awsquery.InvalidParameterCombination("The parameter 'securityGroupRuleIds' may not be used in combination with 'ipPermissions'.")
	}
	var g store.SecurityGroup
	var removed []store.SecurityGroupRule
	err = s.store.EC2Tx(ctx, func(e store.EC2State) error {
		var err error
		if g, err = s.group(ctx, e, id, name); err != nil {
			return err
		}
		drop := map[string]bool{}
		for _, rid := range ruleIDs {
			i := slices.IndexFunc(g.Rules, func(r store.SecurityGroupRule) bool { return r.ID == rid && r.Egress == egress })
			if i < 0 {
				return ruleNotFound(rid)
			}
			drop[rid] = true
		}
		if len(specs) > 0 {
			rules, err := s.resolvePeers(ctx, e, g, specs)
			if err != nil {
				return err
			}
			for _, r := range rules {
				i := slices.IndexFunc(g.Rules, r.SameAs)
				if i < 0 {
					return fault("InvalidPermission.NotFound", "The specified rule does not exist in this security group.")
				}
				drop[g.Rules[i].ID] = true
			}
		}
		kept := g.Rules[:0:0]
		for _, r := range g.Rules {
			if drop[r.ID] {
				removed = append(removed, r)
			} else {
				kept = append(kept, r)
			}
		}
		g.Rules = kept
		return e.SaveSecurityGroup(ctx, g)
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("security group rules revoked", "group", g.ID, "egress", egress, "rules", len(removed))
	s.notify()
	res := revokeResult{Return: true}
	for _, r := range removed {
		res.RevokedRules = append(res.RevokedRules, xmlRevokedRule{
			SecurityGroupRuleID: r.ID, GroupID: g.ID, IsEgress: r.Egress, IPProtocol: r.Protocol, FromPort: r.FromPort, ToPort: r.ToPort,
			CidrIpv4: r.CidrIPv4, CidrIpv6: r.CidrIPv6, ReferencedGroupID: r.GroupID, Description: r.Description,
		})
	}
	return res, nil
}

// hasPorts reports whether IP permissions of a protocol show FromPort and ToPort.
func hasPorts(proto string) bool {
	return proto == "tcp" || proto == "udp" || proto == "icmp" || proto == "icmpv6"
}
