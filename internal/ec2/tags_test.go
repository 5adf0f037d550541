package ec2

import (
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/borealis-db/borealis/internal/awsquery"
)

func tag(k, v string) types.Tag { return types.Tag{Key: aws.String(k), Value: aws.String(v)} }

// tagsOf lists DescribeTags' answer as "resource key=value", following NextToken.
func (e *env) tagsOf(c *ec2.Client, in *ec2.DescribeTagsInput) []string {
	e.t.Helper()
	var out []string
	p := ec2.NewDescribeTagsPaginator(c, in)
	for p.HasMorePages() {
		page := must(p.NextPage(e.ctx))
		for _, t := range page.Tags {
			out = append(out, fmt.Sprintf("%s %s %s=%s", aws.ToString(t.ResourceId), t.ResourceType, aws.ToString(t.Key), aws.ToString(t.Value)))
		}
	}
	return out
}

func TestCreateDescribeDeleteTags(t *testing.T) {
	e := newEnv(t)
	vpc := e.createVpc("10.1.0.0/16")
	subnet := e.createSubnet(vpc, "10.1.0.0/24")
	sg := e.createGroup("app", vpc)
	eni := aws.ToString(must(e.c.CreateNetworkInterface(e.ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(subnet)})).NetworkInterface.NetworkInterfaceId)

	must(e.c.CreateTags(e.ctx, &ec2.CreateTagsInput{Resources: []string{vpc, subnet, sg, eni}, Tags: []types.Tag{tag("team", "db"), tag("env", "prod")}}))
	// A second CreateTags replaces a key's value and adds the rest.
	must(e.c.CreateTags(e.ctx, &ec2.CreateTagsInput{Resources: []string{vpc}, Tags: []types.Tag{tag("env", "test"), tag("cost", "")}}))

	all := e.tagsOf(e.c, &ec2.DescribeTagsInput{})
	if len(all) != 9 {
		t.Fatalf("DescribeTags: %v", all)
	}
	if !slices.Contains(all, vpc+" vpc env=test") || !slices.Contains(all, vpc+" vpc cost=") || !slices.Contains(all, sg+" security-group team=db") ||
		!slices.Contains(all, eni+" network-interface env=prod") || !slices.Contains(all, subnet+" subnet team=db") {
		t.Fatalf("DescribeTags: %v", all)
	}
	// Paging by five gives the same list.
	if paged := e.tagsOf(e.c, &ec2.DescribeTagsInput{MaxResults: aws.Int32(5)}); !slices.Equal(paged, all) {
		t.Fatalf("paged %v\nall %v", paged, all)
	}
	filter := func(name string, values ...string) types.Filter {
		return types.Filter{Name: aws.String(name), Values: values}
	}
	for _, c := range []struct {
		f    []types.Filter
		want int
	}{
		{[]types.Filter{filter("resource-id", vpc)}, 3},
		{[]types.Filter{filter("resource-type", "security-group", "network-interface")}, 4},
		{[]types.Filter{filter("key", "env")}, 4},
		{[]types.Filter{filter("key", "env"), filter("value", "prod")}, 3},
		{[]types.Filter{filter("value", "pr*")}, 3},
		{[]types.Filter{filter("tag:env", "test")}, 3},
	} {
		if got := e.tagsOf(e.c, &ec2.DescribeTagsInput{Filters: c.f}); len(got) != c.want {
			t.Errorf("filters %v: %v", aws.ToString(c.f[0].Name), got)
		}
	}

	// Describe* carry the tags.
	v := must(e.c.DescribeVpcs(e.ctx, &ec2.DescribeVpcsInput{VpcIds: []string{vpc}})).Vpcs[0]
	if len(v.Tags) != 3 {
		t.Fatalf("DescribeVpcs tags %v", v.Tags)
	}
	g := must(e.c.DescribeSecurityGroups(e.ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{sg}})).SecurityGroups[0]
	if len(g.Tags) != 2 {
		t.Fatalf("DescribeSecurityGroups tags %v", g.Tags)
	}

	// DeleteTags: a key with another value stays; a key alone goes whatever its value.
	must(e.c.DeleteTags(e.ctx, &ec2.DeleteTagsInput{Resources: []string{vpc}, Tags: []types.Tag{tag("env", "prod")}}))
	must(e.c.DeleteTags(e.ctx, &ec2.DeleteTagsInput{Resources: []string{vpc}, Tags: []types.Tag{{Key: aws.String("cost")}}}))
	if got := e.tagsOf(e.c, &ec2.DescribeTagsInput{Filters: []types.Filter{filter("resource-id", vpc)}}); !slices.Equal(got, []string{vpc + " vpc env=test", vpc + " vpc team=db"}) {
		t.Fatalf("after DeleteTags: %v", got)
	}
	// No tags named: all of them.
	must(e.c.DeleteTags(e.ctx, &ec2.DeleteTagsInput{Resources: []string{vpc, sg}}))
	if got := e.tagsOf(e.c, &ec2.DescribeTagsInput{Filters: []types.Filter{filter("resource-id", vpc, sg)}}); len(got) != 0 {
		t.Fatalf("after DeleteTags of all: %v", got)
	}

	// Deleting a resource deletes its tags.
	must(e.c.DeleteNetworkInterface(e.ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: aws.String(eni)}))
	must(e.c.DeleteSubnet(e.ctx, &ec2.DeleteSubnetInput{SubnetId: aws.String(subnet)}))
	if got := e.tagsOf(e.c, &ec2.DescribeTagsInput{}); len(got) != 0 {
		t.Fatalf("tags of deleted resources: %v", got)
	}
}

func TestTagErrors(t *testing.T) {
	e := newEnv(t)
	vpc := e.createVpc("10.1.0.0/16")
	sg := e.createGroup("app", vpc)
	missing := "vpc-0123456789abcdef0"
	create := func(ids []string, tags ...types.Tag) func() error {
		return func() error {
			_, err := e.c.CreateTags(e.ctx, &ec2.CreateTagsInput{Resources: ids, Tags: tags})
			return err
		}
	}
	var fifty []types.Tag
	for i := range 50 {
		fifty = append(fifty, tag(fmt.Sprint("k", i), "v"))
	}
	runErrCases(t, []errCase{
		{"not an id", "InvalidID", create([]string{"foo"}, tag("a", "b"))},
		{"malformed vpc id", "InvalidID", create([]string{"vpc-XYZ"}, tag("a", "b"))},
		{"upper-case id", "InvalidID", create([]string{strings.ToUpper(vpc)}, tag("a", "b"))},
		{"no such vpc", "InvalidVpcID.NotFound", create([]string{missing}, tag("a", "b"))},
		{"no such group", "InvalidGroup.NotFound", create([]string{"sg-0123456789abcdef0"}, tag("a", "b"))},
		{"rule", "InvalidParameterValue", create([]string{"sgr-0123456789abcdef0"}, tag("a", "b"))},
		{"aws: prefix", "InvalidParameterValue", create([]string{vpc}, tag("aws:cloudformation:stack-name", "x"))},
		{"AWS: prefix", "InvalidParameterValue", create([]string{vpc}, tag("AWS:x", "x"))},
		{"long key", "InvalidParameterValue", create([]string{vpc}, tag(strings.Repeat("k", 129), "x"))},
		{"long value", "InvalidParameterValue", create([]string{vpc}, tag("k", strings.Repeat("v", 257)))},
		{"51 tags at once", "TagLimitExceeded", create([]string{vpc}, append(fifty, tag("one", "more"))...)},
		{"delete aws: key", "InvalidParameterValue", func() error {
			_, err := e.c.DeleteTags(e.ctx, &ec2.DeleteTagsInput{Resources: []string{vpc}, Tags: []types.Tag{{Key: aws.String("aws:x")}}})
			return err
		}},
		{"delete on a missing resource", "InvalidVpcID.NotFound", func() error {
			_, err := e.c.DeleteTags(e.ctx, &ec2.DeleteTagsInput{Resources: []string{missing}})
			return err
		}},
		{"bad filter", "InvalidParameterValue", func() error {
			_, err := e.c.DescribeTags(e.ctx, &ec2.DescribeTagsInput{Filters: []types.Filter{{Name: aws.String("owner-id"), Values: []string{"x"}}}})
			return err
		}},
		{"bad page token", "InvalidPaginationToken", func() error {
			_, err := e.c.DescribeTags(e.ctx, &ec2.DescribeTagsInput{NextToken: aws.String("!!")})
			return err
		}},
		{"MaxResults 4", "InvalidParameterValue", func() error {
			_, err := e.c.DescribeTags(e.ctx, &ec2.DescribeTagsInput{MaxResults: aws.Int32(4)})
			return err
		}},
	})
	if _, err := e.svc.Do(e.ctx, "CreateTags", params("ResourceId.1", vpc)); awsquery.AsError(err).Code != "MissingParameter" {
		t.Fatalf("CreateTags without tags: %v", err)
	}
	// 50 is the limit per resource: 49 there and two more is refused, and all or nothing:
	// the group, named first, keeps its tags as they were.
	must(e.c.CreateTags(e.ctx, &ec2.CreateTagsInput{Resources: []string{vpc}, Tags: fifty[:49]}))
	apiError(t, create([]string{sg, vpc}, tag("x", "1"), tag("y", "2"))(), "TagLimitExceeded")
	apiError(t, create([]string{sg, missing}, tag("x", "1"))(), "InvalidVpcID.NotFound")
	if g := e.group(sg); len(g.Tags) != 0 {
		t.Fatalf("a refused CreateTags tagged %v", g.Tags)
	}
	// Replacing a value at 50 is no new tag.
	must(e.c.CreateTags(e.ctx, &ec2.CreateTagsInput{Resources: []string{vpc}, Tags: []types.Tag{tag("k0", "new"), tag("k49", "v")}}))
	apiError(t, create([]string{vpc}, tag("k50", "v"))(), "TagLimitExceeded")
	// TagSpecification is held to the same rules.
	_, err := e.c.CreateSecurityGroup(e.ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("x"), Description: aws.String("x"), VpcId: aws.String(vpc),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeSecurityGroup, Tags: []types.Tag{tag("aws:x", "y")}}}})
	apiError(t, err, "InvalidParameterValue")
}

// TestTagPolicies decides tag actions and tagged creates by aws:RequestTag, aws:TagKeys,
// ec2:ResourceTag and ec2:CreateAction, as IAM does for EC2.
func TestTagPolicies(t *testing.T) {
	e := newEnv(t)
	vpc := e.createVpc("10.1.0.0/16")
	mine := e.createGroup("mine", vpc)
	theirs := e.createGroup("theirs", vpc)
	must(e.c.CreateTags(e.ctx, &ec2.CreateTagsInput{Resources: []string{mine}, Tags: []types.Tag{tag("owner", "me"), tag("temp", "1")}}))
	must(e.c.CreateTags(e.ctx, &ec2.CreateTagsInput{Resources: []string{theirs}, Tags: []types.Tag{tag("owner", "them"), tag("temp", "1")}}))
	denied := func(err error) {
		t.Helper()
		apiError(t, err, "UnauthorizedOperation", http.StatusForbidden)
	}

	// Tags may be set only with team=db, and only on what the caller owns.
	c := e.asUser(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"ec2:CreateTags","Resource":"*","Condition":{
			"StringEquals":{"aws:RequestTag/team":"db","ec2:ResourceTag/owner":"me"},
			"ForAllValues:StringEquals":{"aws:TagKeys":["team"]}}},
		{"Effect":"Allow","Action":"ec2:DeleteTags","Resource":"*","Condition":{
			"StringEquals":{"ec2:ResourceTag/owner":"me"},
			"ForAllValues:StringEquals":{"aws:TagKeys":["temp"]}}}]}`)
	must(c.CreateTags(e.ctx, &ec2.CreateTagsInput{Resources: []string{mine}, Tags: []types.Tag{tag("team", "db")}}))
	_, err := c.CreateTags(e.ctx, &ec2.CreateTagsInput{Resources: []string{mine}, Tags: []types.Tag{tag("team", "web")}})
	denied(err)
	_, err = c.CreateTags(e.ctx, &ec2.CreateTagsInput{Resources: []string{mine}, Tags: []types.Tag{tag("team", "db"), tag("owner", "x")}})
	denied(err)
	// Every resource named is decided: one not the caller's refuses the lot.
	_, err = c.CreateTags(e.ctx, &ec2.CreateTagsInput{Resources: []string{mine, theirs}, Tags: []types.Tag{tag("team", "db")}})
	denied(err)
	if g := e.group(theirs); len(g.Tags) != 2 {
		t.Fatalf("denied CreateTags changed %v", g.Tags)
	}
	must(c.DeleteTags(e.ctx, &ec2.DeleteTagsInput{Resources: []string{mine}, Tags: []types.Tag{{Key: aws.String("temp")}}}))
	_, err = c.DeleteTags(e.ctx, &ec2.DeleteTagsInput{Resources: []string{theirs}, Tags: []types.Tag{{Key: aws.String("temp")}}})
	denied(err)
	// DeleteTags without tags deletes them all: aws:TagKeys says so, and owner is not temp.
	_, err = c.DeleteTags(e.ctx, &ec2.DeleteTagsInput{Resources: []string{mine}})
	denied(err)
	if g := e.group(mine); len(g.Tags) != 2 {
		t.Fatalf("denied DeleteTags changed %v", g.Tags)
	}

	// Tags given at creation are a CreateTags too, with ec2:CreateAction.
	c = e.asUser(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["ec2:CreateVpc","ec2:CreateSecurityGroup"],"Resource":"*"}]}`)
	withTags := []types.TagSpecification{{ResourceType: types.ResourceTypeVpc, Tags: []types.Tag{tag("team", "db")}}}
	must(c.CreateVpc(e.ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.2.0.0/16")}))
	_, err = c.CreateVpc(e.ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.3.0.0/16"), TagSpecifications: withTags})
	denied(err)
	c = e.asUser(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"ec2:CreateVpc","Resource":"*","Condition":{"StringEquals":{"aws:RequestTag/team":"db"}}},
		{"Effect":"Allow","Action":"ec2:CreateTags","Resource":"arn:aws:ec2:*:*:vpc/*","Condition":{"StringEquals":{"ec2:CreateAction":"CreateVpc"}}}]}`)
	out := must(c.CreateVpc(e.ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.3.0.0/16"), TagSpecifications: withTags}))
	if len(out.Vpc.Tags) != 1 {
		t.Fatalf("created VPC tags %v", out.Vpc.Tags)
	}
	_, err = c.CreateVpc(e.ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.4.0.0/16"),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeVpc, Tags: []types.Tag{tag("team", "web")}}}})
	denied(err)
	// ec2:CreateAction is not there for a CreateTags of its own.
	_, err = c.CreateTags(e.ctx, &ec2.CreateTagsInput{Resources: []string{aws.ToString(out.Vpc.VpcId)}, Tags: []types.Tag{tag("team", "db")}})
	denied(err)

	// ec2:ResourceTag decides actions on existing resources.
	c = e.asUser(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"ec2:DeleteSecurityGroup","Resource":"*"},
		{"Effect":"Deny","Action":"ec2:DeleteSecurityGroup","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/owner":"them"}}}]}`)
	_, err = c.DeleteSecurityGroup(e.ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(theirs)})
	denied(err)
	must(c.DeleteSecurityGroup(e.ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(mine)}))
}

func TestCreateNetworkInterfaceClientToken(t *testing.T) {
	e := newEnv(t)
	subnet := e.defaultSubnet()
	in := &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(subnet), ClientToken: aws.String("retry-1"), Description: aws.String("db host")}
	first := must(e.c.CreateNetworkInterface(e.ctx, in)).NetworkInterface
	again := must(e.c.CreateNetworkInterface(e.ctx, in)).NetworkInterface
	if aws.ToString(first.NetworkInterfaceId) != aws.ToString(again.NetworkInterfaceId) || aws.ToString(first.PrivateIpAddress) != aws.ToString(again.PrivateIpAddress) {
		t.Fatalf("a retry created %s after %s", aws.ToString(again.NetworkInterfaceId), aws.ToString(first.NetworkInterfaceId))
	}
	in.Description = aws.String("another host")
	_, err := e.c.CreateNetworkInterface(e.ctx, in)
	apiError(t, err, "IdempotentParameterMismatch")
	if n := len(must(e.c.DescribeNetworkInterfaces(e.ctx, &ec2.DescribeNetworkInterfacesInput{})).NetworkInterfaces); n != 1 {
		t.Fatalf("%d interfaces", n)
	}
}

func TestDescribeAvailabilityZones(t *testing.T) {
	e := newEnv(t)
	out := must(e.c.DescribeAvailabilityZones(e.ctx, &ec2.DescribeAvailabilityZonesInput{AllAvailabilityZones: aws.Bool(true)}))
	var names []string
	for _, z := range out.AvailabilityZones {
		names = append(names, aws.ToString(z.ZoneName))
		if aws.ToString(z.RegionName) != testRegion || z.State != types.AvailabilityZoneStateAvailable || z.OptInStatus != types.AvailabilityZoneOptInStatusOptInNotRequired ||
			aws.ToString(z.ZoneType) != "availability-zone" || aws.ToString(z.NetworkBorderGroup) != testRegion || aws.ToString(z.GroupName) != testRegion+"-zg-1" {
			t.Errorf("zone %+v", z)
		}
	}
	if !slices.Equal(names, AvailabilityZones(testRegion)) || aws.ToString(out.AvailabilityZones[0].ZoneId) != "use1-az1" {
		t.Fatalf("zones %v", names)
	}
	// The zones are those subnets are placed in.
	for _, sn := range must(e.c.DescribeSubnets(e.ctx, &ec2.DescribeSubnetsInput{})).Subnets {
		if !slices.Contains(names, aws.ToString(sn.AvailabilityZone)) {
			t.Errorf("subnet in %s", aws.ToString(sn.AvailabilityZone))
		}
	}
	byID := must(e.c.DescribeAvailabilityZones(e.ctx, &ec2.DescribeAvailabilityZonesInput{ZoneIds: []string{"use1-az2"}}))
	if len(byID.AvailabilityZones) != 1 || aws.ToString(byID.AvailabilityZones[0].ZoneName) != testRegion+"b" {
		t.Fatalf("by id %+v", byID.AvailabilityZones)
	}
	filtered := must(e.c.DescribeAvailabilityZones(e.ctx, &ec2.DescribeAvailabilityZonesInput{
		Filters: []types.Filter{{Name: aws.String("zone-name"), Values: []string{"*c"}}, {Name: aws.String("state"), Values: []string{"available"}}}}))
	if len(filtered.AvailabilityZones) != 1 || aws.ToString(filtered.AvailabilityZones[0].ZoneName) != testRegion+"c" {
		t.Fatalf("filtered %+v", filtered.AvailabilityZones)
	}
	none := must(e.c.DescribeAvailabilityZones(e.ctx, &ec2.DescribeAvailabilityZonesInput{Filters: []types.Filter{{Name: aws.String("zone-type"), Values: []string{"local-zone"}}}}))
	if len(none.AvailabilityZones) != 0 {
		t.Fatalf("local zones %+v", none.AvailabilityZones)
	}
	runErrCases(t, []errCase{
		{"unknown zone", "InvalidParameterValue", func() error {
			_, err := e.c.DescribeAvailabilityZones(e.ctx, &ec2.DescribeAvailabilityZonesInput{ZoneNames: []string{testRegion + "z"}})
			return err
		}},
		{"unknown filter", "InvalidParameterValue", func() error {
			_, err := e.c.DescribeAvailabilityZones(e.ctx, &ec2.DescribeAvailabilityZonesInput{Filters: []types.Filter{{Name: aws.String("group-long-name"), Values: []string{"x"}}}})
			return err
		}},
	})
	// CreateSubnet takes a zone by id too.
	vpc := e.createVpc("10.1.0.0/16")
	sn := must(e.c.CreateSubnet(e.ctx, &ec2.CreateSubnetInput{VpcId: aws.String(vpc), CidrBlock: aws.String("10.1.0.0/24"), AvailabilityZoneId: aws.String("use1-az3")})).Subnet
	if aws.ToString(sn.AvailabilityZone) != testRegion+"c" {
		t.Fatalf("subnet zone %s", aws.ToString(sn.AvailabilityZone))
	}
	_, err := e.c.CreateSubnet(e.ctx, &ec2.CreateSubnetInput{VpcId: aws.String(vpc), CidrBlock: aws.String("10.1.1.0/24"), AvailabilityZoneId: aws.String("use1-az9")})
	apiError(t, err, "InvalidParameterValue")
}

func TestZoneIDs(t *testing.T) {
	for region, want := range map[string]string{"us-east-1": "use1-az1", "eu-central-1": "euc1-az1", "ap-southeast-2": "apse2-az1", "us-west-2": "usw2-az1", "ap-northeast-1": "apne1-az1"} {
		if got := zoneID(region, 0); got != want {
			t.Errorf("%s: %s, want %s", region, got, want)
		}
	}
}

// TestMembersNotCarriedOutAreRefused: a member EC2 does not know is UnknownParameter, one
// Borealis does not do is refused unless at its default; either way nothing changes.
func TestMembersNotCarriedOutAreRefused(t *testing.T) {
	e := newEnv(t)
	before := len(must(e.st.EC2().VPCs(e.ctx)))
	for _, c := range []struct {
		code string
		kv   []string
	}{
		{"UnknownParameter", []string{"CidrBlock", "10.0.0.0/16", "Foo", "bar"}},
		{"UnknownParameter", []string{"CidrBlock", "10.0.0.0/16", "GroupName", "x"}}, // another action's member
		{"InvalidParameterValue", []string{"CidrBlock", "10.0.0.0/16", "Ipv6CidrBlock", "2001:db8::/56"}},
		{"InvalidParameterValue", []string{"CidrBlock", "10.0.0.0/16", "AmazonProvidedIpv6CidrBlock", "true"}},
		{"InvalidParameterValue", []string{"CidrBlock", "10.0.0.0/16", "VpcEncryptionControl.Mode", "enforce"}},
	} {
		_, err := e.svc.Do(e.ctx, "CreateVpc", params(c.kv...))
		if got := awsquery.AsError(err); got.Code != c.code || got.Status != 400 {
			t.Errorf("%v: %v, want %s", c.kv, err, c.code)
		}
	}
	// The default is accepted.
	if _, err := e.svc.Do(e.ctx, "CreateVpc", params("CidrBlock", "10.0.0.0/16", "AmazonProvidedIpv6CidrBlock", "false")); err != nil {
		t.Fatal(err)
	}
	if n := len(must(e.st.EC2().VPCs(e.ctx))); n != before+1 {
		t.Fatalf("%d VPCs, want %d", n, before+1)
	}
	sg := e.createGroup("app", "")
	for _, c := range []struct {
		action string
		kv     []string
	}{
		{"AuthorizeSecurityGroupIngress", []string{"GroupId", sg, "IpProtocol", "tcp", "FromPort", "1", "ToPort", "1", "CidrIp", "10.0.0.0/8",
			"TagSpecification.1.ResourceType", "security-group-rule", "TagSpecification.1.Tag.1.Key", "a"}},
		{"AuthorizeSecurityGroupIngress", []string{"GroupId", sg, "IpProtocol", "tcp", "FromPort", "1", "ToPort", "1", "SourceSecurityGroupName", "default", "SourceSecurityGroupOwnerId", "999999999999"}},
		{"AuthorizeSecurityGroupEgress", []string{"GroupName", "app", "IpProtocol", "tcp", "FromPort", "1", "ToPort", "1", "CidrIp", "10.0.0.0/8"}},
		{"CreateNetworkInterface", []string{"SubnetId", e.defaultSubnet(), "SecondaryPrivateIpAddressCount", "1"}},
		{"CreateNetworkInterface", []string{"SubnetId", e.defaultSubnet(), "InterfaceType", "efa"}},
		{"ModifyNetworkInterfaceAttribute", []string{"NetworkInterfaceId", "eni-0123456789abcdef0", "SourceDestCheck.Value", "false"}},
		{"DescribeNetworkInterfaces", []string{"IncludeManagedResources", "maybe"}},
		{"CreateTags", []string{"ResourceId.1", sg, "Tag.1.Key", "a", "Tags.1.Key", "b"}},
	} {
		if _, err := e.svc.Do(e.ctx, c.action, params(c.kv...)); err == nil || awsquery.AsError(err).Status != 400 {
			t.Errorf("%s %v: %v", c.action, c.kv, err)
		}
	}
	if g := e.group(sg); len(g.Rules) != 1 || len(g.Tags) != 0 {
		t.Fatalf("refused requests changed the group: %+v", g)
	}
	if n := len(must(e.st.EC2().NetworkInterfaces(e.ctx))); n != 0 {
		t.Fatalf("%d interfaces", n)
	}
}

// queryName is the Query member an SDK input field is sent as, where the two differ.
var queryName = map[string]string{"Resources": "ResourceId", "Groups": "SecurityGroupId", "CreateSecurityGroup.Description": "GroupDescription"}

// TestEveryActionDeclaresItsModelMembers: each routed action is an operation of the EC2
// API, and declares exactly the members of its input (as the SDK sends them): each is
// either carried out or refused with a reason, and nothing else is accepted.
func TestEveryActionDeclaresItsModelMembers(t *testing.T) {
	client := reflect.TypeOf(&ec2.Client{})
	for name, a := range actions {
		m, ok := client.MethodByName(name)
		if !ok {
			t.Errorf("%s is not an EC2 operation", name)
			continue
		}
		in := m.Type.In(2).Elem()
		model := map[string]bool{}
		for i := range in.NumField() {
			f := in.Field(i)
			if !f.IsExported() {
				continue
			}
			q := f.Name
			if alias, ok := queryName[q]; ok {
				q = alias
			}
			if alias, ok := queryName[name+"."+q]; ok {
				q = alias
			}
			switch {
			case a.members.Has(q) || q == "DryRun":
			case strings.HasSuffix(q, "es") && a.members.Has(strings.TrimSuffix(q, "es")):
				q = strings.TrimSuffix(q, "es")
			case strings.HasSuffix(q, "s") && a.members.Has(strings.TrimSuffix(q, "s")):
				q = strings.TrimSuffix(q, "s")
			}
			model[q] = true
			if !a.members.Has(q) && q != "DryRun" {
				t.Errorf("%s: member %s (%s) is not declared", name, q, f.Name)
			}
		}
		for q, mem := range a.members {
			if !model[q] {
				t.Errorf("%s: declares %s, which is not a member of %s", name, q, in.Name())
			}
			if mem.Why == "" && len(mem.Only) > 0 {
				t.Errorf("%s: %s accepts only some values but says not why", name, q)
			}
		}
	}
}
