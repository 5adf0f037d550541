package ec2

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/borealis-db/borealis/internal/store"
)

func filter(name string, values ...string) types.Filter {
	return types.Filter{Name: aws.String(name), Values: values}
}

func TestDefaultsAreCreatedOnceAndSurviveRestart(t *testing.T) {
	e := newEnv(t)
	// A second call, and a restart on the same state file, change nothing.
	if err := e.svc.EnsureDefaults(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.st.Close()
	st := must(store.Open(e.ctx, e.path))
	defer st.Close()
	e.st = st
	if err := e.service(st).EnsureDefaults(e.ctx); err != nil {
		t.Fatal(err)
	}
	vpcs := must(st.EC2().VPCs(e.ctx))
	if len(vpcs) != 1 {
		t.Fatalf("%d VPCs after restart", len(vpcs))
	}
	v := vpcs[0]
	if !v.IsDefault || v.CidrBlock != "172.31.0.0/16" || v.InstanceTenancy != "default" || v.OwnerID != testAccount || !validID("vpc", v.ID) || len(v.ID) != 21 {
		t.Fatalf("default VPC %+v", v)
	}
	subnets := must(st.EC2().Subnets(e.ctx, v.ID))
	var got []string
	for _, sn := range subnets {
		if !sn.DefaultForAz {
			t.Errorf("subnet %s not default for its zone", sn.ID)
		}
		got = append(got, sn.AvailabilityZone+"="+sn.CidrBlock)
	}
	slices.Sort(got)
	if want := "us-east-1a=172.31.0.0/20 us-east-1b=172.31.16.0/20 us-east-1c=172.31.32.0/20"; strings.Join(got, " ") != want {
		t.Fatalf("default subnets %v", got)
	}
	groups := must(st.EC2().GroupsInVPC(e.ctx, v.ID))
	if len(groups) != 1 || groups[0].Name != "default" || groups[0].Description != "default VPC security group" {
		t.Fatalf("default groups %+v", groups)
	}
}

func TestDefaultVPCAsTheSDKSeesIt(t *testing.T) {
	e := newEnv(t)
	vpcID, sgID := e.defaultVPC()
	dv := must(e.c.DescribeVpcs(e.ctx, &ec2.DescribeVpcsInput{Filters: []types.Filter{filter("is-default", "true")}}))
	if len(dv.Vpcs) != 1 {
		t.Fatalf("%+v", dv.Vpcs)
	}
	v := dv.Vpcs[0]
	if aws.ToString(v.VpcId) != vpcID || !aws.ToBool(v.IsDefault) || v.InstanceTenancy != types.TenancyDefault || v.State != types.VpcStateAvailable ||
		aws.ToString(v.CidrBlock) != "172.31.0.0/16" || aws.ToString(v.OwnerId) != testAccount || len(v.CidrBlockAssociationSet) != 1 {
		t.Fatalf("default VPC %+v", v)
	}
	ds := must(e.c.DescribeSubnets(e.ctx, &ec2.DescribeSubnetsInput{Filters: []types.Filter{filter("vpc-id", vpcID), filter("availability-zone", "us-east-1b")}}))
	if len(ds.Subnets) != 1 || aws.ToString(ds.Subnets[0].CidrBlock) != "172.31.16.0/20" || !aws.ToBool(ds.Subnets[0].DefaultForAz) ||
		aws.ToInt32(ds.Subnets[0].AvailableIpAddressCount) != 4091 || !strings.HasPrefix(aws.ToString(ds.Subnets[0].SubnetArn), "arn:aws:ec2:us-east-1:123456789012:subnet/subnet-") {
		t.Fatalf("default subnet b %+v", ds.Subnets)
	}
	dg := must(e.c.DescribeSecurityGroups(e.ctx, &ec2.DescribeSecurityGroupsInput{GroupNames: []string{"default"}}))
	if len(dg.SecurityGroups) != 1 {
		t.Fatalf("%+v", dg.SecurityGroups)
	}
	g := dg.SecurityGroups[0]
	if aws.ToString(g.GroupId) != sgID || aws.ToString(g.VpcId) != vpcID || aws.ToString(g.Description) != "default VPC security group" {
		t.Fatalf("default group %+v", g)
	}
	// Ingress: all traffic from members of itself only; egress: everything.
	if len(g.IpPermissions) != 1 || aws.ToString(g.IpPermissions[0].IpProtocol) != "-1" || g.IpPermissions[0].FromPort != nil ||
		len(g.IpPermissions[0].IpRanges) != 0 || len(g.IpPermissions[0].UserIdGroupPairs) != 1 ||
		aws.ToString(g.IpPermissions[0].UserIdGroupPairs[0].GroupId) != sgID {
		t.Fatalf("default ingress %+v", g.IpPermissions)
	}
	if len(g.IpPermissionsEgress) != 1 || aws.ToString(g.IpPermissionsEgress[0].IpProtocol) != "-1" ||
		len(g.IpPermissionsEgress[0].IpRanges) != 1 || aws.ToString(g.IpPermissionsEgress[0].IpRanges[0].CidrIp) != "0.0.0.0/0" {
		t.Fatalf("default egress %+v", g.IpPermissionsEgress)
	}
}

func TestVpcs(t *testing.T) {
	e := newEnv(t)
	defaultVPC, _ := e.defaultVPC()
	cv := must(e.c.CreateVpc(e.ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.1.0.0/16"), InstanceTenancy: types.TenancyDedicated,
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeVpc, Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("db")}}}}}))
	v := cv.Vpc
	id := aws.ToString(v.VpcId)
	if !validID("vpc", id) || aws.ToBool(v.IsDefault) || v.InstanceTenancy != types.TenancyDedicated || aws.ToString(v.CidrBlock) != "10.1.0.0/16" ||
		len(v.Tags) != 1 || aws.ToString(v.Tags[0].Value) != "db" {
		t.Fatalf("CreateVpc %+v", v)
	}
	// Its default group came with it.
	if g, err := e.st.EC2().DefaultSecurityGroup(e.ctx, id); err != nil || len(g.Rules) != 2 || g.Rules[0].GroupID != g.ID {
		t.Fatalf("new VPC's default group %+v %v", g, err)
	}
	small := e.createVpc("10.2.0.0/28")

	byID := must(e.c.DescribeVpcs(e.ctx, &ec2.DescribeVpcsInput{VpcIds: []string{id}}))
	if len(byID.Vpcs) != 1 || aws.ToString(byID.Vpcs[0].VpcId) != id {
		t.Fatalf("DescribeVpcs by id %+v", byID.Vpcs)
	}
	for _, c := range []struct {
		f    types.Filter
		want []string
	}{
		{filter("is-default", "false"), []string{id, small}},
		{filter("cidr", "10.2.*"), []string{small}},
		{filter("vpc-id", id, defaultVPC), []string{id, defaultVPC}},
		{filter("tag:team", "db"), []string{id}},
		{filter("instance-tenancy", "dedicated"), []string{id}},
	} {
		out := must(e.c.DescribeVpcs(e.ctx, &ec2.DescribeVpcsInput{Filters: []types.Filter{c.f}}))
		var got []string
		for _, v := range out.Vpcs {
			got = append(got, aws.ToString(v.VpcId))
		}
		slices.Sort(got)
		slices.Sort(c.want)
		if !slices.Equal(got, c.want) {
			t.Errorf("filter %s=%v: %v, want %v", aws.ToString(c.f.Name), c.f.Values, got, c.want)
		}
	}

	// Paging: five per page over eight VPCs.
	for i := range 5 {
		e.createVpc(fmt.Sprintf("10.%d.0.0/16", 10+i))
	}
	var seen []string
	var token *string
	for pages := 0; ; pages++ {
		out := must(e.c.DescribeVpcs(e.ctx, &ec2.DescribeVpcsInput{MaxResults: aws.Int32(5), NextToken: token}))
		for _, v := range out.Vpcs {
			seen = append(seen, aws.ToString(v.VpcId))
		}
		if token = out.NextToken; token == nil {
			if pages != 1 {
				t.Errorf("%d pages", pages+1)
			}
			break
		}
	}
	if len(seen) != 8 || !slices.IsSorted(seen) {
		t.Fatalf("paged VPCs %v", seen)
	}

	// Deletion: refused while anything but the default group is in it.
	sub := e.createSubnet(small, "10.2.0.0/28")
	apiError(t, del(e, small), "DependencyViolation")
	must(e.c.DeleteSubnet(e.ctx, &ec2.DeleteSubnetInput{SubnetId: aws.String(sub)}))
	sg := e.createGroup("app", small)
	apiError(t, del(e, small), "DependencyViolation")
	must(e.c.DeleteSecurityGroup(e.ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(sg)}))
	dg := must(e.st.EC2().DefaultSecurityGroup(e.ctx, small))
	e.setInUse(dg.ID, "cluster c1")
	apiError(t, del(e, small), "DependencyViolation")
	e.setInUse(dg.ID, "")
	if err := del(e, small); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.EC2().SecurityGroup(e.ctx, dg.ID); err == nil {
		t.Fatal("the default group outlived its VPC")
	}

	runErrCases(t, []errCase{
		{"no CIDR", "MissingParameter", func() error { _, err := e.c.CreateVpc(e.ctx, &ec2.CreateVpcInput{}); return err }},
		{"too big", "InvalidVpc.Range", func() error { return createVpcErr(e, "10.0.0.0/15") }},
		{"too small", "InvalidVpc.Range", func() error { return createVpcErr(e, "10.0.0.0/29") }},
		{"not a CIDR", "InvalidParameterValue", func() error { return createVpcErr(e, "10.0.0.0") }},
		{"host bits", "InvalidParameterValue", func() error { return createVpcErr(e, "10.0.0.1/16") }},
		{"IPv6", "InvalidParameterValue", func() error { return createVpcErr(e, "fd00::/56") }},
		{"host tenancy", "InvalidParameterValue", func() error {
			_, err := e.c.CreateVpc(e.ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.3.0.0/16"), InstanceTenancy: types.TenancyHost})
			return err
		}},
		{"describe unknown", "InvalidVpcID.NotFound", func() error {
			_, err := e.c.DescribeVpcs(e.ctx, &ec2.DescribeVpcsInput{VpcIds: []string{"vpc-0123456789abcdef0"}})
			return err
		}},
		{"describe malformed", "InvalidVpcID.Malformed", func() error {
			_, err := e.c.DescribeVpcs(e.ctx, &ec2.DescribeVpcsInput{VpcIds: []string{"vpc-nope"}})
			return err
		}},
		{"unknown filter", "InvalidParameterValue", func() error {
			_, err := e.c.DescribeVpcs(e.ctx, &ec2.DescribeVpcsInput{Filters: []types.Filter{filter("colour", "blue")}})
			return err
		}},
		{"page size", "InvalidParameterValue", func() error {
			_, err := e.c.DescribeVpcs(e.ctx, &ec2.DescribeVpcsInput{MaxResults: aws.Int32(2)})
			return err
		}},
		{"delete unknown", "InvalidVpcID.NotFound", func() error { return del(e, small) }},
		{"delete default", "OperationNotPermitted", func() error { return del(e, defaultVPC) }},
	})
}

func del(e *env, vpcID string) error {
	_, err := e.c.DeleteVpc(e.ctx, &ec2.DeleteVpcInput{VpcId: aws.String(vpcID)})
	return err
}

func createVpcErr(e *env, cidr string) error {
	_, err := e.c.CreateVpc(e.ctx, &ec2.CreateVpcInput{CidrBlock: aws.String(cidr)})
	return err
}

func TestSubnets(t *testing.T) {
	e := newEnv(t)
	vpc := e.createVpc("10.5.0.0/16")
	cs := must(e.c.CreateSubnet(e.ctx, &ec2.CreateSubnetInput{VpcId: aws.String(vpc), CidrBlock: aws.String("10.5.1.0/24"), AvailabilityZone: aws.String("us-east-1c")}))
	sn := cs.Subnet
	id := aws.ToString(sn.SubnetId)
	if !validID("subnet", id) || aws.ToString(sn.VpcId) != vpc || aws.ToString(sn.AvailabilityZone) != "us-east-1c" || aws.ToBool(sn.DefaultForAz) ||
		aws.ToInt32(sn.AvailableIpAddressCount) != 251 || sn.State != types.SubnetStateAvailable {
		t.Fatalf("CreateSubnet %+v", sn)
	}
	other := e.createSubnet(vpc, "10.5.2.0/24")
	if s := must(e.st.EC2().Subnet(e.ctx, other)); s.AvailabilityZone != "us-east-1a" {
		t.Fatalf("default zone %s", s.AvailabilityZone)
	}
	for _, c := range []struct {
		in   ec2.DescribeSubnetsInput
		want []string
	}{
		{ec2.DescribeSubnetsInput{SubnetIds: []string{id}}, []string{id}},
		{ec2.DescribeSubnetsInput{Filters: []types.Filter{filter("vpc-id", vpc)}}, []string{id, other}},
		{ec2.DescribeSubnetsInput{Filters: []types.Filter{filter("vpc-id", vpc), filter("availability-zone", "us-east-1c")}}, []string{id}},
		{ec2.DescribeSubnetsInput{Filters: []types.Filter{filter("subnet-id", other)}}, []string{other}},
	} {
		out := must(e.c.DescribeSubnets(e.ctx, &c.in))
		var got []string
		for _, s := range out.Subnets {
			got = append(got, aws.ToString(s.SubnetId))
		}
		slices.Sort(got)
		slices.Sort(c.want)
		if !slices.Equal(got, c.want) {
			t.Errorf("DescribeSubnets %+v: %v, want %v", c.in, got, c.want)
		}
	}
	// An interface in the subnet blocks its deletion and uses one of its addresses.
	eni := must(e.c.CreateNetworkInterface(e.ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(id)}))
	if ip := aws.ToString(eni.NetworkInterface.PrivateIpAddress); ip != "10.5.1.4" {
		t.Fatalf("first free address %s", ip)
	}
	out := must(e.c.DescribeSubnets(e.ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{id}}))
	if n := aws.ToInt32(out.Subnets[0].AvailableIpAddressCount); n != 250 {
		t.Fatalf("available addresses %d", n)
	}
	apiError(t, delSubnet(e, id), "DependencyViolation")
	must(e.c.DeleteNetworkInterface(e.ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: eni.NetworkInterface.NetworkInterfaceId}))
	if err := delSubnet(e, id); err != nil {
		t.Fatal(err)
	}

	sub := func(vpcID, cidr, zone string) func() error {
		return func() error {
			in := &ec2.CreateSubnetInput{VpcId: aws.String(vpcID), CidrBlock: aws.String(cidr)}
			if zone != "" {
				in.AvailabilityZone = aws.String(zone)
			}
			_, err := e.c.CreateSubnet(e.ctx, in)
			return err
		}
	}
	runErrCases(t, []errCase{
		{"outside the VPC", "InvalidSubnet.Range", sub(vpc, "10.6.0.0/24", "")},
		{"bigger than the VPC", "InvalidSubnet.Range", sub(vpc, "10.4.0.0/15", "")},
		{"too small", "InvalidSubnet.Range", sub(vpc, "10.5.3.0/29", "")},
		{"overlap", "InvalidSubnet.Conflict", sub(vpc, "10.5.2.128/25", "")},
		{"host bits", "InvalidParameterValue", sub(vpc, "10.5.3.1/24", "")},
		{"zone", "InvalidParameterValue", sub(vpc, "10.5.3.0/24", "eu-west-1a")},
		{"unknown VPC", "InvalidVpcID.NotFound", sub("vpc-0123456789abcdef0", "10.5.3.0/24", "")},
		{"no VPC", "MissingParameter", sub("", "10.5.3.0/24", "")},
		{"describe unknown", "InvalidSubnetID.NotFound", func() error {
			_, err := e.c.DescribeSubnets(e.ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{id}})
			return err
		}},
		{"delete unknown", "InvalidSubnetID.NotFound", func() error { return delSubnet(e, id) }},
		{"delete malformed", "InvalidSubnetID.Malformed", func() error { return delSubnet(e, "subnet-x") }},
	})
}

func delSubnet(e *env, id string) error {
	_, err := e.c.DeleteSubnet(e.ctx, &ec2.DeleteSubnetInput{SubnetId: aws.String(id)})
	return err
}

func TestDeniedCallsAndDryRuns(t *testing.T) {
	e := newEnv(t)
	_, err := e.client(deniedKeyID).CreateVpc(e.ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
	apiError(t, err, "UnauthorizedOperation", http.StatusForbidden)
	_, err = e.c.CreateVpc(e.ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16"), DryRun: aws.Bool(true)})
	apiError(t, err, "DryRunOperation", http.StatusPreconditionFailed)
	if vpcs := must(e.st.EC2().VPCs(e.ctx)); len(vpcs) != 1 {
		t.Fatalf("a dry run created a VPC: %d", len(vpcs))
	}
}

// TestStartWarnsOfInterfacesOutsideTheirSubnet: an interface stored before addresses were
// checked (127.0.0.1 in the default subnet) is named at start for the operator.
func TestStartWarnsOfInterfacesOutsideTheirSubnet(t *testing.T) {
	e := newEnv(t)
	vpc, sg := e.defaultVPC()
	subnet := e.defaultSubnet()
	stray := store.NetworkInterface{ID: "eni-0123456789abcdef0", SubnetID: subnet, VpcID: vpc, OwnerID: testAccount, MacAddress: "02:00:00:00:00:01",
		PrivateIP: "127.0.0.1", GroupIDs: []string{sg}, AvailabilityZone: testRegion + "a", CreatedAt: time.Now()}
	must(0, e.st.EC2().CreateNetworkInterface(e.ctx, stray))
	must(e.c.CreateNetworkInterface(e.ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(subnet), PrivateIpAddress: aws.String("172.31.0.7")}))
	var buf bytes.Buffer
	svc := New(Config{Region: testRegion, AccountID: testAccount, Now: time.Now}, e.st, func() {}, slog.New(slog.NewTextHandler(&buf, nil)))
	if err := svc.EnsureDefaults(e.ctx); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Count(out, "level=WARN") != 1 || !strings.Contains(out, stray.ID) || !strings.Contains(out, "ip=127.0.0.1") {
		t.Fatalf("start log:\n%s", out)
	}
}
