package ec2

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

func tcp(port int32, cidrs ...string) types.IpPermission {
	p := types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(port), ToPort: aws.Int32(port)}
	for _, c := range cidrs {
		p.IpRanges = append(p.IpRanges, types.IpRange{CidrIp: aws.String(c)})
	}
	return p
}

func fromGroup(proto string, from, to int32, groupID string) types.IpPermission {
	return types.IpPermission{IpProtocol: aws.String(proto), FromPort: aws.Int32(from), ToPort: aws.Int32(to),
		UserIdGroupPairs: []types.UserIdGroupPair{{GroupId: aws.String(groupID)}}}
}

func (e *env) authorize(groupID string, perms ...types.IpPermission) (*ec2.AuthorizeSecurityGroupIngressOutput, error) {
	return e.c.AuthorizeSecurityGroupIngress(e.ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(groupID), IpPermissions: perms})
}

func (e *env) revoke(groupID string, perms ...types.IpPermission) (*ec2.RevokeSecurityGroupIngressOutput, error) {
	return e.c.RevokeSecurityGroupIngress(e.ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(groupID), IpPermissions: perms})
}

func (e *env) describeGroup(id string) types.SecurityGroup {
	e.t.Helper()
	out := must(e.c.DescribeSecurityGroups(e.ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{id}}))
	if len(out.SecurityGroups) != 1 {
		e.t.Fatalf("DescribeSecurityGroups %s: %d groups", id, len(out.SecurityGroups))
	}
	return out.SecurityGroups[0]
}

// asJSON renders SDK values for comparison and failure messages.
func asJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestSecurityGroups(t *testing.T) {
	e := newEnv(t)
	defVPC, defSG := e.defaultVPC()
	vpc := e.createVpc("10.7.0.0/16")

	cg := must(e.c.CreateSecurityGroup(e.ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("app"), Description: aws.String("app servers"),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeSecurityGroup, Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("prod")}}}}}))
	app := aws.ToString(cg.GroupId)
	if !validID("sg", app) || aws.ToString(cg.SecurityGroupArn) != "arn:aws:ec2:us-east-1:123456789012:security-group/"+app || len(cg.Tags) != 1 {
		t.Fatalf("CreateSecurityGroup %+v", cg)
	}
	g := e.describeGroup(app)
	if aws.ToString(g.VpcId) != defVPC || aws.ToString(g.GroupName) != "app" || aws.ToString(g.Description) != "app servers" ||
		len(g.IpPermissions) != 0 || len(g.IpPermissionsEgress) != 1 || aws.ToString(g.IpPermissionsEgress[0].IpRanges[0].CidrIp) != "0.0.0.0/0" {
		t.Fatalf("new group %s", asJSON(g))
	}
	// Names are per VPC.
	appInVPC := e.createGroup("app", vpc)
	db := e.createGroup("db", vpc)

	for _, c := range []struct {
		in   ec2.DescribeSecurityGroupsInput
		want []string
	}{
		{ec2.DescribeSecurityGroupsInput{GroupNames: []string{"app", "default"}}, []string{app, defSG}},
		{ec2.DescribeSecurityGroupsInput{GroupIds: []string{db, app}}, []string{app, db}},
		{ec2.DescribeSecurityGroupsInput{Filters: []types.Filter{filter("group-name", "app")}}, []string{app, appInVPC}},
		{ec2.DescribeSecurityGroupsInput{Filters: []types.Filter{filter("vpc-id", vpc), filter("group-name", "d*")}}, []string{db, mustDefault(e, vpc)}},
		{ec2.DescribeSecurityGroupsInput{Filters: []types.Filter{filter("group-id", db)}}, []string{db}},
		{ec2.DescribeSecurityGroupsInput{Filters: []types.Filter{filter("tag:env", "prod")}}, []string{app}},
	} {
		out := must(e.c.DescribeSecurityGroups(e.ctx, &c.in))
		var got []string
		for _, g := range out.SecurityGroups {
			got = append(got, aws.ToString(g.GroupId))
		}
		slices.Sort(got)
		slices.Sort(c.want)
		if !slices.Equal(got, c.want) {
			t.Errorf("DescribeSecurityGroups %s: %v, want %v", asJSON(c.in), got, c.want)
		}
	}

	create := func(name, desc, vpcID string) func() error {
		return func() error {
			in := &ec2.CreateSecurityGroupInput{GroupName: aws.String(name), Description: aws.String(desc)}
			if vpcID != "" {
				in.VpcId = aws.String(vpcID)
			}
			_, err := e.c.CreateSecurityGroup(e.ctx, in)
			return err
		}
	}
	delByID := func(id string) func() error {
		return func() error {
			_, err := e.c.DeleteSecurityGroup(e.ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(id)})
			return err
		}
	}
	runErrCases(t, []errCase{
		{"duplicate", "InvalidGroup.Duplicate", create("app", "again", "")},
		{"duplicate in VPC", "InvalidGroup.Duplicate", create("db", "again", vpc)},
		{"reserved", "InvalidGroup.Reserved", create("default", "mine", vpc)},
		{"sg- name", "InvalidParameterValue", create("sg-123", "x", "")},
		{"bad character", "InvalidParameterValue", create("caf\u00e9", "x", "")},
		{"no description", "MissingParameter", create("x", "", "")},
		{"no name", "MissingParameter", create("", "x", "")},
		{"unknown VPC", "InvalidVpcID.NotFound", create("x", "x", "vpc-0123456789abcdef0")},
		{"describe unknown", "InvalidGroup.NotFound", func() error {
			_, err := e.c.DescribeSecurityGroups(e.ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{"sg-0123456789abcdef0"}})
			return err
		}},
		{"describe unknown name", "InvalidGroup.NotFound", func() error {
			_, err := e.c.DescribeSecurityGroups(e.ctx, &ec2.DescribeSecurityGroupsInput{GroupNames: []string{"db"}}) // db is not in the default VPC
			return err
		}},
		{"describe malformed", "InvalidGroupId.Malformed", func() error {
			_, err := e.c.DescribeSecurityGroups(e.ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{"db"}})
			return err
		}},
		{"delete default", "CannotDelete", delByID(defSG)},
		{"delete nothing", "MissingParameter", func() error {
			_, err := e.c.DeleteSecurityGroup(e.ctx, &ec2.DeleteSecurityGroupInput{})
			return err
		}},
		{"delete unknown", "InvalidGroup.NotFound", delByID("sg-0123456789abcdef0")},
	})

	// DependencyViolation while another group's rule names it, an interface is in it, or
	// (through the hook) a cluster uses it.
	must(e.authorize(appInVPC, fromGroup("tcp", 5432, 5432, db)))
	apiError(t, delByID(db)(), "DependencyViolation")
	must(e.revoke(appInVPC, fromGroup("tcp", 5432, 5432, db)))
	sub := e.createSubnet(vpc, "10.7.0.0/24")
	eni := must(e.c.CreateNetworkInterface(e.ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(sub), Groups: []string{db}}))
	apiError(t, delByID(db)(), "DependencyViolation")
	must(e.c.DeleteNetworkInterface(e.ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: eni.NetworkInterface.NetworkInterfaceId}))
	e.setInUse(db, "cluster c1")
	err := delByID(db)()
	apiError(t, err, "DependencyViolation")
	if !strings.Contains(err.Error(), "resource "+db+" has a dependent object") {
		t.Fatalf("message: %v", err)
	}
	e.setInUse(db, "")
	// A rule of a group naming itself does not keep it.
	must(e.authorize(db, fromGroup("tcp", 5432, 5432, db)))
	if err := delByID(db)(); err != nil {
		t.Fatal(err)
	}
	// By name, in the default VPC.
	out := must(e.c.DeleteSecurityGroup(e.ctx, &ec2.DeleteSecurityGroupInput{GroupName: aws.String("app")}))
	if aws.ToString(out.GroupId) != app {
		t.Fatalf("DeleteSecurityGroup by name deleted %s", aws.ToString(out.GroupId))
	}
	apiError(t, delByID(app)(), "InvalidGroup.NotFound")
}

func mustDefault(e *env, vpcID string) string {
	return must(e.st.EC2().DefaultSecurityGroup(e.ctx, vpcID)).ID
}

// TestRulesInBothFormsAreDescribedIdentically: the flat legacy form and IpPermissions
// store the same rules, and Describe shows them the same way.
func TestRulesInBothFormsAreDescribedIdentically(t *testing.T) {
	e := newEnv(t)
	a, b := e.createGroup("a", ""), e.createGroup("b", "")
	peer := e.createGroup("peer", "")
	must(e.authorize(a, tcp(5432, "10.0.0.0/8")))
	must(e.c.AuthorizeSecurityGroupIngress(e.ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(b),
		IpProtocol: aws.String("tcp"), FromPort: aws.Int32(5432), ToPort: aws.Int32(5432), CidrIp: aws.String("10.0.0.0/8")}))
	// A source group by name, without a protocol: all TCP, UDP and ICMP from it.
	all := []types.IpPermission{fromGroup("tcp", 0, 65535, peer), fromGroup("udp", 0, 65535, peer), fromGroup("icmp", -1, -1, peer)}
	must(e.authorize(a, all...))
	must(e.c.AuthorizeSecurityGroupIngress(e.ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupName: aws.String("b"), SourceSecurityGroupName: aws.String("peer")}))
	ga, gb := e.describeGroup(a), e.describeGroup(b)
	if asJSON(ga.IpPermissions) != asJSON(gb.IpPermissions) || len(ga.IpPermissions) != 4 {
		t.Fatalf("forms differ:\n%s\n%s", asJSON(ga.IpPermissions), asJSON(gb.IpPermissions))
	}
	if p := ga.IpPermissions[3]; aws.ToString(p.IpProtocol) != "icmp" || aws.ToInt32(p.FromPort) != -1 ||
		aws.ToString(p.UserIdGroupPairs[0].GroupId) != peer || aws.ToString(p.UserIdGroupPairs[0].UserId) != testAccount {
		t.Fatalf("icmp from peer %s", asJSON(p))
	}
	// Either form revokes what the other added.
	must(e.c.RevokeSecurityGroupIngress(e.ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(a),
		IpProtocol: aws.String("tcp"), FromPort: aws.Int32(5432), ToPort: aws.Int32(5432), CidrIp: aws.String("10.0.0.0/8")}))
	must(e.revoke(b, tcp(5432, "10.0.0.0/8")))
	if ga, gb := e.describeGroup(a), e.describeGroup(b); len(ga.IpPermissions) != 3 || asJSON(ga.IpPermissions) != asJSON(gb.IpPermissions) {
		t.Fatalf("after revoke:\n%s\n%s", asJSON(ga.IpPermissions), asJSON(gb.IpPermissions))
	}
}

func TestIngressRules(t *testing.T) {
	e := newEnv(t)
	sg := e.createGroup("app", "")
	peer := e.createGroup("peer", "")
	perm := tcp(5432, "10.0.0.0/8", "192.168.1.7/24")
	perm.IpRanges[0].Description = aws.String("office")
	perm.Ipv6Ranges = []types.Ipv6Range{{CidrIpv6: aws.String("2001:db8::/32")}}
	perm.UserIdGroupPairs = []types.UserIdGroupPair{{GroupId: aws.String(peer), Description: aws.String("peers")}}
	out := must(e.authorize(sg, perm, types.IpPermission{IpProtocol: aws.String("-1"), IpRanges: []types.IpRange{{CidrIp: aws.String("172.16.0.0/12")}}},
		types.IpPermission{IpProtocol: aws.String("6"), FromPort: aws.Int32(8000), ToPort: aws.Int32(8100), IpRanges: []types.IpRange{{CidrIp: aws.String("10.9.0.0/16")}}}))
	if !aws.ToBool(out.Return) || len(out.SecurityGroupRules) != 6 {
		t.Fatalf("Authorize %s", asJSON(out))
	}
	r := out.SecurityGroupRules[0]
	if !validID("sgr", aws.ToString(r.SecurityGroupRuleId)) || aws.ToString(r.GroupId) != sg || aws.ToBool(r.IsEgress) || aws.ToString(r.CidrIpv4) != "10.0.0.0/8" ||
		aws.ToString(r.Description) != "office" || aws.ToInt32(r.FromPort) != 5432 || aws.ToString(r.GroupOwnerId) != testAccount {
		t.Fatalf("first rule %s", asJSON(r))
	}
	if ref := out.SecurityGroupRules[3].ReferencedGroupInfo; ref == nil || aws.ToString(ref.GroupId) != peer {
		t.Fatalf("group rule %s", asJSON(out.SecurityGroupRules[3]))
	}

	g := e.describeGroup(sg)
	if len(g.IpPermissions) != 3 {
		t.Fatalf("permissions %s", asJSON(g.IpPermissions))
	}
	p := g.IpPermissions[0]
	// Host bits are cleared, as EC2 does.
	if aws.ToString(p.IpProtocol) != "tcp" || aws.ToInt32(p.FromPort) != 5432 || len(p.IpRanges) != 2 || aws.ToString(p.IpRanges[1].CidrIp) != "192.168.1.0/24" ||
		aws.ToString(p.IpRanges[0].Description) != "office" || len(p.Ipv6Ranges) != 1 || len(p.UserIdGroupPairs) != 1 || aws.ToString(p.UserIdGroupPairs[0].Description) != "peers" {
		t.Fatalf("tcp permission %s", asJSON(p))
	}
	if all := g.IpPermissions[1]; aws.ToString(all.IpProtocol) != "-1" || all.FromPort != nil || all.ToPort != nil {
		t.Fatalf("all-traffic permission %s", asJSON(all))
	}
	if num := g.IpPermissions[2]; aws.ToString(num.IpProtocol) != "tcp" || aws.ToInt32(num.ToPort) != 8100 {
		t.Fatalf("protocol 6 permission %s", asJSON(num))
	}

	rules := must(e.c.DescribeSecurityGroupRules(e.ctx, &ec2.DescribeSecurityGroupRulesInput{Filters: []types.Filter{filter("group-id", sg)}}))
	if len(rules.SecurityGroupRules) != 7 { // six ingress and the egress rule every group starts with
		t.Fatalf("DescribeSecurityGroupRules %d", len(rules.SecurityGroupRules))
	}
	one := must(e.c.DescribeSecurityGroupRules(e.ctx, &ec2.DescribeSecurityGroupRulesInput{SecurityGroupRuleIds: []string{aws.ToString(r.SecurityGroupRuleId)}}))
	if len(one.SecurityGroupRules) != 1 || aws.ToString(one.SecurityGroupRules[0].CidrIpv4) != "10.0.0.0/8" {
		t.Fatalf("rule by id %s", asJSON(one))
	}
	byFilter := must(e.c.DescribeSecurityGroupRules(e.ctx, &ec2.DescribeSecurityGroupRulesInput{Filters: []types.Filter{filter("security-group-rule-id", aws.ToString(r.SecurityGroupRuleId))}}))
	if len(byFilter.SecurityGroupRules) != 1 {
		t.Fatalf("rule by filter %s", asJSON(byFilter))
	}

	// Revoke by rule id, then by what the rule permits.
	rv := must(e.c.RevokeSecurityGroupIngress(e.ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(sg), SecurityGroupRuleIds: []string{aws.ToString(r.SecurityGroupRuleId)}}))
	if len(rv.RevokedSecurityGroupRules) != 1 || aws.ToString(rv.RevokedSecurityGroupRules[0].CidrIpv4) != "10.0.0.0/8" {
		t.Fatalf("revoke by id %s", asJSON(rv))
	}
	must(e.revoke(sg, tcp(5432, "192.168.1.0/24")))
	if p := e.describeGroup(sg).IpPermissions[0]; len(p.IpRanges) != 0 || len(p.Ipv6Ranges) != 1 {
		t.Fatalf("after revokes %s", asJSON(p))
	}

	other := e.createGroup("elsewhere", e.createVpc("10.8.0.0/16"))
	auth := func(perms ...types.IpPermission) func() error {
		return func() error { _, err := e.authorize(sg, perms...); return err }
	}
	ports := func(proto string, from, to *int32) types.IpPermission {
		return types.IpPermission{IpProtocol: aws.String(proto), FromPort: from, ToPort: to, IpRanges: []types.IpRange{{CidrIp: aws.String("10.0.0.0/8")}}}
	}
	cidr := func(c string) types.IpPermission { return tcp(1, c) }
	web := func(c string) types.IpPermission { p := tcp(8000, c); p.ToPort = aws.Int32(8100); return p }
	runErrCases(t, []errCase{
		{"duplicate", "InvalidPermission.Duplicate", auth(types.IpPermission{IpProtocol: aws.String("-1"), IpRanges: []types.IpRange{{CidrIp: aws.String("172.16.0.0/12")}}})},
		{"duplicate with other host bits", "InvalidPermission.Duplicate", auth(web("10.9.1.1/16"))},
		{"duplicate in request", "InvalidParameterValue", auth(tcp(9, "10.0.0.0/8"), tcp(9, "10.0.0.0/8"))},
		{"port too high", "InvalidParameterValue", auth(ports("tcp", aws.Int32(1), aws.Int32(70000)))},
		{"ports reversed", "InvalidParameterValue", auth(ports("tcp", aws.Int32(10), aws.Int32(9)))},
		{"no ports", "InvalidParameterValue", auth(ports("udp", nil, nil))},
		{"negative port", "InvalidParameterValue", auth(ports("tcp", aws.Int32(-1), aws.Int32(-1)))},
		{"icmp code without type", "InvalidParameterValue", auth(ports("icmp", aws.Int32(-1), aws.Int32(3)))},
		{"protocol", "InvalidParameterValue", auth(ports("sctp-ish", nil, nil))},
		{"protocol number", "InvalidParameterValue", auth(ports("256", nil, nil))},
		{"no protocol", "MissingParameter", auth(types.IpPermission{IpRanges: []types.IpRange{{CidrIp: aws.String("10.0.0.0/8")}}})},
		{"no source", "MissingParameter", auth(types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(1), ToPort: aws.Int32(1)})},
		{"no permissions", "MissingParameter", auth()},
		{"bad CIDR", "InvalidParameterValue", auth(cidr("10.0.0.300/8"))},
		{"CIDR without length", "InvalidParameterValue", auth(cidr("10.0.0.1"))},
		{"IPv6 as IPv4", "InvalidParameterValue", auth(cidr("::/0"))},
		{"prefix list", "InvalidParameterValue", auth(types.IpPermission{IpProtocol: aws.String("-1"), PrefixListIds: []types.PrefixListId{{PrefixListId: aws.String("pl-12345678")}}})},
		{"unknown peer", "InvalidGroup.NotFound", auth(fromGroup("tcp", 1, 1, "sg-0123456789abcdef0"))},
		{"peer in another VPC", "InvalidGroup.NotFound", auth(fromGroup("tcp", 1, 1, other))},
		{"unknown group", "InvalidGroup.NotFound", func() error { _, err := e.authorize("sg-0123456789abcdef0", tcp(1, "10.0.0.0/8")); return err }},
		{"unknown group name", "InvalidGroup.NotFound", func() error {
			_, err := e.c.AuthorizeSecurityGroupIngress(e.ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupName: aws.String("nope"), IpPermissions: []types.IpPermission{tcp(1, "10.0.0.0/8")}})
			return err
		}},
		{"both forms", "InvalidParameterCombination", func() error {
			_, err := e.c.AuthorizeSecurityGroupIngress(e.ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(sg), CidrIp: aws.String("10.0.0.0/8"),
				IpPermissions: []types.IpPermission{tcp(1, "10.0.0.0/8")}})
			return err
		}},
		{"flat without protocol", "MissingParameter", func() error {
			_, err := e.c.AuthorizeSecurityGroupIngress(e.ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(sg), CidrIp: aws.String("10.0.0.0/8")})
			return err
		}},
		{"revoke missing", "InvalidPermission.NotFound", func() error { _, err := e.revoke(sg, tcp(5432, "10.0.0.0/8")); return err }},
		{"revoke missing among present", "InvalidPermission.NotFound", func() error { _, err := e.revoke(sg, web("10.9.0.0/16"), tcp(1, "1.0.0.0/8")); return err }},
		{"revoke unknown rule id", "InvalidSecurityGroupRuleId.NotFound", func() error {
			_, err := e.c.RevokeSecurityGroupIngress(e.ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(sg), SecurityGroupRuleIds: []string{"sgr-0123456789abcdef0"}})
			return err
		}},
		{"revoke malformed rule id", "InvalidSecurityGroupRuleId.Malformed", func() error {
			_, err := e.c.RevokeSecurityGroupIngress(e.ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(sg), SecurityGroupRuleIds: []string{"rule-1"}})
			return err
		}},
		{"describe unknown rule", "InvalidSecurityGroupRuleId.NotFound", func() error {
			_, err := e.c.DescribeSecurityGroupRules(e.ctx, &ec2.DescribeSecurityGroupRulesInput{SecurityGroupRuleIds: []string{"sgr-0123456789abcdef0"}})
			return err
		}},
	})
	// A refused request changed nothing: the revoke of a present and a missing rule kept both.
	if p := e.describeGroup(sg).IpPermissions; len(p) != 3 || aws.ToInt32(p[2].FromPort) != 8000 {
		t.Fatalf("after refused requests %s", asJSON(p))
	}
}

func TestEgressRules(t *testing.T) {
	e := newEnv(t)
	sg := e.createGroup("app", "")
	egress := e.describeGroup(sg).IpPermissionsEgress[0]
	// The default allow-all egress rule can be revoked, and rules added in its place.
	must(e.c.RevokeSecurityGroupEgress(e.ctx, &ec2.RevokeSecurityGroupEgressInput{GroupId: aws.String(sg), IpPermissions: []types.IpPermission{egress}}))
	out := must(e.c.AuthorizeSecurityGroupEgress(e.ctx, &ec2.AuthorizeSecurityGroupEgressInput{GroupId: aws.String(sg), IpPermissions: []types.IpPermission{tcp(443, "0.0.0.0/0")}}))
	if len(out.SecurityGroupRules) != 1 || !aws.ToBool(out.SecurityGroupRules[0].IsEgress) {
		t.Fatalf("AuthorizeSecurityGroupEgress %s", asJSON(out))
	}
	g := e.describeGroup(sg)
	if len(g.IpPermissions) != 0 || len(g.IpPermissionsEgress) != 1 || aws.ToInt32(g.IpPermissionsEgress[0].FromPort) != 443 {
		t.Fatalf("egress %s / ingress %s", asJSON(g.IpPermissionsEgress), asJSON(g.IpPermissions))
	}
	// Ingress and egress rules are separate: the same permission may be in both, and an
	// ingress revoke does not find an egress rule.
	must(e.authorize(sg, tcp(443, "0.0.0.0/0")))
	must(e.revoke(sg, tcp(443, "0.0.0.0/0")))
	runErrCases(t, []errCase{
		{"duplicate", "InvalidPermission.Duplicate", func() error {
			_, err := e.c.AuthorizeSecurityGroupEgress(e.ctx, &ec2.AuthorizeSecurityGroupEgressInput{GroupId: aws.String(sg), IpPermissions: []types.IpPermission{tcp(443, "0.0.0.0/0")}})
			return err
		}},
		{"ingress revoke of egress rule", "InvalidPermission.NotFound", func() error { _, err := e.revoke(sg, tcp(443, "0.0.0.0/0")); return err }},
		{"revoke missing", "InvalidPermission.NotFound", func() error {
			_, err := e.c.RevokeSecurityGroupEgress(e.ctx, &ec2.RevokeSecurityGroupEgressInput{GroupId: aws.String(sg), IpPermissions: []types.IpPermission{tcp(80, "0.0.0.0/0")}})
			return err
		}},
	})
}
