package ec2

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
)

func TestNetworkInterfaces(t *testing.T) {
	e := newEnv(t)
	defVPC, defSG := e.defaultVPC()
	subnet := e.defaultSubnet()
	app := e.createGroup("app", "")
	db := e.createGroup("db", "")

	// An operator places the host at 172.31.0.5 in app.
	cn := must(e.c.CreateNetworkInterface(e.ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(subnet),
		PrivateIpAddress: aws.String("172.31.0.5"), Groups: []string{app}, Description: aws.String("app host"),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeNetworkInterface, Tags: []types.Tag{{Key: aws.String("role"), Value: aws.String("app")}}}}}))
	ni := cn.NetworkInterface
	eni := aws.ToString(ni.NetworkInterfaceId)
	if !validID("eni", eni) || aws.ToString(ni.PrivateIpAddress) != "172.31.0.5" || aws.ToString(ni.VpcId) != defVPC || aws.ToString(ni.SubnetId) != subnet ||
		len(ni.Groups) != 1 || aws.ToString(ni.Groups[0].GroupId) != app || aws.ToString(ni.Groups[0].GroupName) != "app" ||
		ni.Status != types.NetworkInterfaceStatusAvailable || aws.ToString(ni.Description) != "app host" || len(ni.TagSet) != 1 ||
		len(ni.PrivateIpAddresses) != 1 || !aws.ToBool(ni.PrivateIpAddresses[0].Primary) || len(aws.ToString(ni.MacAddress)) != 17 {
		t.Fatalf("CreateNetworkInterface %s", asJSON(ni))
	}
	// Without groups, the VPC's default group; without an address, the subnet's first free one.
	second := must(e.c.CreateNetworkInterface(e.ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(subnet)})).NetworkInterface
	if len(second.Groups) != 1 || aws.ToString(second.Groups[0].GroupId) != defSG || aws.ToString(second.PrivateIpAddress) != "172.31.0.4" {
		t.Fatalf("defaults %s", asJSON(second))
	}
	third := must(e.c.CreateNetworkInterface(e.ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(subnet), PrivateIpAddress: aws.String("172.31.0.9"), Groups: []string{app, db}})).NetworkInterface

	describe := func(in ec2.DescribeNetworkInterfacesInput, want ...string) {
		t.Helper()
		out := must(e.c.DescribeNetworkInterfaces(e.ctx, &in))
		var got []string
		for _, n := range out.NetworkInterfaces {
			got = append(got, aws.ToString(n.NetworkInterfaceId))
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("DescribeNetworkInterfaces %s: %v, want %v", asJSON(in), got, want)
		}
	}
	thirdID, secondID := aws.ToString(third.NetworkInterfaceId), aws.ToString(second.NetworkInterfaceId)
	describe(ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{eni}}, eni)
	describe(ec2.DescribeNetworkInterfacesInput{Filters: []types.Filter{filter("group-id", app)}}, eni, thirdID)
	describe(ec2.DescribeNetworkInterfacesInput{Filters: []types.Filter{filter("private-ip-address", "172.31.0.5", "172.31.0.9")}}, eni, thirdID)
	describe(ec2.DescribeNetworkInterfacesInput{Filters: []types.Filter{filter("vpc-id", defVPC), filter("subnet-id", subnet)}}, eni, secondID, thirdID)
	describe(ec2.DescribeNetworkInterfacesInput{Filters: []types.Filter{filter("group-name", "db")}}, thirdID)

	// Modify: the groups, then the description.
	must(e.c.ModifyNetworkInterfaceAttribute(e.ctx, &ec2.ModifyNetworkInterfaceAttributeInput{NetworkInterfaceId: aws.String(eni), Groups: []string{db, app}}))
	must(e.c.ModifyNetworkInterfaceAttribute(e.ctx, &ec2.ModifyNetworkInterfaceAttributeInput{NetworkInterfaceId: aws.String(eni), Description: &types.AttributeValue{Value: aws.String("moved")}}))
	got := must(e.c.DescribeNetworkInterfaces(e.ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{eni}})).NetworkInterfaces[0]
	if len(got.Groups) != 2 || aws.ToString(got.Groups[0].GroupId) != db || aws.ToString(got.Description) != "moved" {
		t.Fatalf("after modify %s", asJSON(got))
	}
	describe(ec2.DescribeNetworkInterfacesInput{Filters: []types.Filter{filter("group-id", db)}}, eni, thirdID)

	otherVPC := e.createVpc("10.9.0.0/16")
	otherGroup := e.createGroup("x", otherVPC)
	create := func(in ec2.CreateNetworkInterfaceInput) func() error {
		return func() error {
			if in.SubnetId == nil {
				in.SubnetId = aws.String(subnet)
			}
			_, err := e.c.CreateNetworkInterface(e.ctx, &in)
			return err
		}
	}
	var six []string
	for i := range 6 {
		six = append(six, e.createGroup(fmt.Sprint("g", i), ""))
	}
	runErrCases(t, []errCase{
		{"address in use", "InvalidIPAddress.InUse", create(ec2.CreateNetworkInterfaceInput{PrivateIpAddress: aws.String("172.31.0.5")})},
		{"not an address", "InvalidParameterValue", create(ec2.CreateNetworkInterfaceInput{PrivateIpAddress: aws.String("172.31.0.500")})},
		{"unknown subnet", "InvalidSubnetID.NotFound", create(ec2.CreateNetworkInterfaceInput{SubnetId: aws.String("subnet-0123456789abcdef0")})},
		{"unknown group", "InvalidGroup.NotFound", create(ec2.CreateNetworkInterfaceInput{Groups: []string{"sg-0123456789abcdef0"}})},
		{"group of another VPC", "InvalidGroup.NotFound", create(ec2.CreateNetworkInterfaceInput{Groups: []string{otherGroup}})},
		{"six groups", "SecurityGroupsPerInterfaceLimitExceeded", create(ec2.CreateNetworkInterfaceInput{Groups: six})},
		{"secondary addresses", "InvalidParameterValue", create(ec2.CreateNetworkInterfaceInput{SecondaryPrivateIpAddressCount: aws.Int32(2)})},
		{"modify to a group of another VPC", "InvalidGroup.NotFound", func() error {
			_, err := e.c.ModifyNetworkInterfaceAttribute(e.ctx, &ec2.ModifyNetworkInterfaceAttributeInput{NetworkInterfaceId: aws.String(eni), Groups: []string{otherGroup}})
			return err
		}},
		{"modify two attributes", "InvalidParameterCombination", func() error {
			_, err := e.c.ModifyNetworkInterfaceAttribute(e.ctx, &ec2.ModifyNetworkInterfaceAttributeInput{NetworkInterfaceId: aws.String(eni), Groups: []string{app},
				Description: &types.AttributeValue{Value: aws.String("x")}})
			return err
		}},
		{"modify nothing", "MissingParameter", func() error {
			_, err := e.c.ModifyNetworkInterfaceAttribute(e.ctx, &ec2.ModifyNetworkInterfaceAttributeInput{NetworkInterfaceId: aws.String(eni)})
			return err
		}},
		{"modify unknown", "InvalidNetworkInterfaceID.NotFound", func() error {
			_, err := e.c.ModifyNetworkInterfaceAttribute(e.ctx, &ec2.ModifyNetworkInterfaceAttributeInput{NetworkInterfaceId: aws.String("eni-0123456789abcdef0"), Groups: []string{app}})
			return err
		}},
		{"describe unknown", "InvalidNetworkInterfaceID.NotFound", func() error {
			_, err := e.c.DescribeNetworkInterfaces(e.ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{"eni-0123456789abcdef0"}})
			return err
		}},
		{"delete malformed", "InvalidNetworkInterfaceID.Malformed", func() error {
			_, err := e.c.DeleteNetworkInterface(e.ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: aws.String("eni-x")})
			return err
		}},
	})
	must(e.c.DeleteNetworkInterface(e.ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: aws.String(eni)}))
	_, err := e.c.DeleteNetworkInterface(e.ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: aws.String(eni)})
	apiError(t, err, "InvalidNetworkInterfaceID.NotFound")
}

// TestIngressForEnforcement reads back, through the store's enforcement API, what the API
// wrote: the rules of a cluster's groups and the members of the groups they name.
func TestIngressForEnforcement(t *testing.T) {
	e := newEnv(t)
	subnet := e.defaultSubnet()
	cluster, app := e.createGroup("cluster", ""), e.createGroup("app", "")
	must(e.authorize(cluster, tcp(5432, "10.1.2.3/32"), fromGroup("tcp", 5000, 6000, app),
		types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22), Ipv6Ranges: []types.Ipv6Range{{CidrIpv6: aws.String("::1/128")}}}))
	for _, ip := range []string{"172.31.0.5", "172.31.0.6"} {
		must(e.c.CreateNetworkInterface(e.ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(subnet), PrivateIpAddress: aws.String(ip), Groups: []string{app}}))
	}
	before := e.notifications()
	in := must(e.st.IngressFor(e.ctx, []string{cluster, "sg-0123456789abcdef0"}))
	if len(in.Groups) != 1 || len(in.Rules) != 3 || len(in.Members[app]) != 2 {
		t.Fatalf("IngressFor %+v", in)
	}
	got := fmt.Sprint(in.TCPSources(5432))
	if got != "[10.1.2.3/32 172.31.0.5/32 172.31.0.6/32]" {
		t.Fatalf("TCPSources(5432) = %s", got)
	}
	if got := fmt.Sprint(in.TCPSources(22)); got != "[::1/128]" {
		t.Fatalf("TCPSources(22) = %s", got)
	}
	if len(in.TCPSources(80)) != 0 {
		t.Fatal("port 80 admitted")
	}
	// Every change to who is admitted wakes the reconciler.
	must(e.revoke(cluster, tcp(5432, "10.1.2.3/32")))
	if e.notifications() == before {
		t.Fatal("no notification after a revoke")
	}
	if in := must(e.st.IngressFor(e.ctx, []string{cluster})); in.TCPSources(5432)[0] != netip.MustParsePrefix("172.31.0.5/32") {
		t.Fatalf("after revoke %v", in.TCPSources(5432))
	}
}

// TestInterfaceAddressesLieInTheSubnet: an interface names a host of its subnet, as on EC2.
// An address outside the subnet (127.0.0.1 in the default VPC, or an address of the VPC's
// other subnets), one of the five addresses EC2 reserves in every subnet, or one in use is
// refused, and nothing is created.
func TestInterfaceAddressesLieInTheSubnet(t *testing.T) {
	e := newEnv(t)
	subnet := e.defaultSubnet() // 172.31.0.0/20
	create := func(sn, ip string) (string, error) {
		in := &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(sn)}
		if ip != "" {
			in.PrivateIpAddress = aws.String(ip)
		}
		out, err := e.c.CreateNetworkInterface(e.ctx, in)
		if err != nil {
			return "", err
		}
		return aws.ToString(out.NetworkInterface.PrivateIpAddress), nil
	}
	refused := func(sn, ip, code, msg string) {
		t.Helper()
		_, err := create(sn, ip)
		apiError(t, err, code)
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorMessage() != msg {
			t.Errorf("%s: message %q, want %q", ip, ae.ErrorMessage(), msg)
		}
	}
	outside := func(ip string) string { return "Address " + ip + " does not fall within the subnet's address range" }
	reserved := func(ip string) string { return "Address " + ip + " is in subnet's reserved address range" }
	for _, ip := range []string{"127.0.0.1", "172.31.16.5", "172.30.255.255", "172.31.16.0", "10.0.0.5", "::1", "::ffff:127.0.0.1"} {
		refused(subnet, ip, "InvalidParameterValue", outside(ip))
	}
	for _, ip := range []string{"172.31.0.0", "172.31.0.1", "172.31.0.2", "172.31.0.3", "172.31.15.255"} {
		refused(subnet, ip, "InvalidParameterValue", reserved(ip))
	}
	if out := must(e.c.DescribeNetworkInterfaces(e.ctx, &ec2.DescribeNetworkInterfacesInput{})); len(out.NetworkInterfaces) != 0 {
		t.Fatalf("refused requests created %s", asJSON(out.NetworkInterfaces))
	}
	// The first and last usable addresses; then, with no address, the lowest free one.
	for _, ip := range []string{"172.31.0.4", "172.31.15.254"} {
		if got := must(create(subnet, ip)); got != ip {
			t.Fatalf("created at %s, want %s", got, ip)
		}
	}
	refused(subnet, "172.31.0.4", "InvalidIPAddress.InUse", "The specified address is already in use.")
	if got := must(create(subnet, "")); got != "172.31.0.5" {
		t.Fatalf("picked %s, want 172.31.0.5", got)
	}

	// The honest way to name this machine's hosts: a VPC and subnet that hold them.
	loop := e.createSubnet(e.createVpc("127.0.0.0/16"), "127.0.0.0/24")
	if got := must(create(loop, "127.0.0.5")); got != "127.0.0.5" {
		t.Fatalf("created at %s", got)
	}
	refused(loop, "127.0.0.1", "InvalidParameterValue", reserved("127.0.0.1"))
	refused(loop, "127.0.1.5", "InvalidParameterValue", outside("127.0.1.5"))

	// A full subnet refuses rather than picking an address outside it: a /28 has 11.
	small := e.createSubnet(e.createVpc("10.9.0.0/16"), "10.9.0.0/28")
	for i := range 11 {
		if got := must(create(small, "")); got != fmt.Sprintf("10.9.0.%d", 4+i) {
			t.Fatalf("picked %s", got)
		}
	}
	_, err := create(small, "")
	apiError(t, err, "InsufficientFreeAddressesInSubnet")
}

// TestImplicitDefaultGroupIsAuthorized: an interface created without groups joins its VPC's
// default group, and IAM decides on that group exactly as when it is named. A user allowed
// to create interfaces only in app cannot slip into the default group by naming none, nor
// move an interface there.
func TestImplicitDefaultGroupIsAuthorized(t *testing.T) {
	e := newEnv(t)
	_, defSG := e.defaultVPC()
	subnet := e.defaultSubnet()
	app := e.createGroup("app", "")
	arn := func(kind, id string) string {
		return "arn:aws:ec2:" + testRegion + ":" + testAccount + ":" + kind + "/" + id
	}
	c := e.asUser(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"ec2:CreateNetworkInterface","Resource":["arn:aws:ec2:*:*:network-interface/*","arn:aws:ec2:*:*:subnet/*","` + arn("security-group", app) + `"]},
		{"Effect":"Allow","Action":"ec2:ModifyNetworkInterfaceAttribute","Resource":["arn:aws:ec2:*:*:network-interface/*","` + arn("security-group", app) + `"]}]}`)
	denied := func(err error, resource string) {
		t.Helper()
		apiError(t, err, "UnauthorizedOperation", http.StatusForbidden)
		if !strings.Contains(err.Error(), resource) {
			t.Errorf("refusal does not name %s: %v", resource, err)
		}
	}
	eni := aws.ToString(must(c.CreateNetworkInterface(e.ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(subnet),
		PrivateIpAddress: aws.String("172.31.0.10"), Groups: []string{app}})).NetworkInterface.NetworkInterfaceId)
	_, err := c.CreateNetworkInterface(e.ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(subnet), PrivateIpAddress: aws.String("172.31.0.11")})
	denied(err, arn("security-group", defSG))
	_, err = c.CreateNetworkInterface(e.ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(subnet), Groups: []string{defSG}})
	denied(err, arn("security-group", defSG))
	_, err = c.ModifyNetworkInterfaceAttribute(e.ctx, &ec2.ModifyNetworkInterfaceAttributeInput{NetworkInterfaceId: aws.String(eni), Groups: []string{defSG}})
	denied(err, arn("security-group", defSG))
	all := must(e.c.DescribeNetworkInterfaces(e.ctx, &ec2.DescribeNetworkInterfacesInput{})).NetworkInterfaces
	if len(all) != 1 || len(all[0].Groups) != 1 || aws.ToString(all[0].Groups[0].GroupId) != app {
		t.Fatalf("after the refusals %s", asJSON(all))
	}

	// An explicit deny on the default group holds whether the group is named or implied.
	c = e.asUser(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:*","Resource":"*"},
		{"Effect":"Deny","Action":"ec2:CreateNetworkInterface","Resource":"` + arn("security-group", defSG) + `"}]}`)
	_, err = c.CreateNetworkInterface(e.ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(subnet)})
	denied(err, arn("security-group", defSG))
	// Allowed on it, the default group is used as before.
	c = e.asUser(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:CreateNetworkInterface","Resource":"*"}]}`)
	ni := must(c.CreateNetworkInterface(e.ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(subnet)})).NetworkInterface
	if len(ni.Groups) != 1 || aws.ToString(ni.Groups[0].GroupId) != defSG {
		t.Fatalf("default group not used: %s", asJSON(ni))
	}
}
