package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestEC2RecordsAndRelations(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	e := s.EC2()
	if _, err := e.DefaultVPC(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("default VPC before any: %v", err)
	}
	for _, v := range []VPC{{ID: "vpc-1", IsDefault: true, CidrBlock: "172.31.0.0/16"}, {ID: "vpc-2", CidrBlock: "10.0.0.0/16"}} {
		if err := e.CreateVPC(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	if v, err := e.DefaultVPC(ctx); err != nil || v.ID != "vpc-1" {
		t.Fatalf("DefaultVPC %+v %v", v, err)
	}
	if err := e.CreateVPC(ctx, VPC{ID: "vpc-1"}); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate VPC: %v", err)
	}
	// Subnets and groups need their VPC.
	if err := e.CreateSubnet(ctx, Subnet{ID: "subnet-x", VpcID: "vpc-9"}); err == nil {
		t.Fatal("subnet in a VPC that does not exist")
	}
	if err := e.CreateSubnet(ctx, Subnet{ID: "subnet-1", VpcID: "vpc-1"}); err != nil {
		t.Fatal(err)
	}
	// Group names are unique per VPC, and case-sensitive.
	for _, g := range []SecurityGroup{
		{ID: "sg-d1", VpcID: "vpc-1", Name: DefaultSecurityGroupName},
		{ID: "sg-a", VpcID: "vpc-1", Name: "app"},
		{ID: "sg-A", VpcID: "vpc-1", Name: "App"},
		{ID: "sg-b", VpcID: "vpc-2", Name: "app"},
	} {
		if err := e.CreateSecurityGroup(ctx, g); err != nil {
			t.Fatal(g.ID, err)
		}
	}
	if err := e.CreateSecurityGroup(ctx, SecurityGroup{ID: "sg-c", VpcID: "vpc-1", Name: "app"}); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate name: %v", err)
	}
	if g, err := e.SecurityGroupByName(ctx, "vpc-2", "app"); err != nil || g.ID != "sg-b" {
		t.Fatalf("by name %+v %v", g, err)
	}
	if g, err := e.DefaultSecurityGroup(ctx, "vpc-1"); err != nil || !g.IsDefault() {
		t.Fatalf("default group %+v %v", g, err)
	}
	// References: other groups' rules only.
	a := ec2Must(e.SecurityGroup(ctx, "sg-a"))
	a.Rules = []SecurityGroupRule{{ID: "sgr-1", Protocol: "-1", GroupID: "sg-a"}, {ID: "sgr-2", Protocol: "tcp", GroupID: "sg-A"}}
	if err := e.SaveSecurityGroup(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := e.SaveSecurityGroup(ctx, SecurityGroup{ID: "sg-none", VpcID: "vpc-1"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("save of a missing group: %v", err)
	}
	for id, want := range map[string]string{"sg-a": "[]", "sg-A": "[sg-a]", "sg-b": "[]"} {
		if got := fmt.Sprint(ec2Must(e.GroupsReferencing(ctx, id))); got != want {
			t.Errorf("GroupsReferencing(%s) = %s, want %s", id, got, want)
		}
	}
	// Interfaces: by subnet, VPC and group.
	for _, ni := range []NetworkInterface{
		{ID: "eni-1", SubnetID: "subnet-1", VpcID: "vpc-1", PrivateIP: "127.0.0.5", GroupIDs: []string{"sg-a", "sg-A"}},
		{ID: "eni-2", SubnetID: "subnet-1", VpcID: "vpc-1", PrivateIP: "127.0.0.6", GroupIDs: []string{"sg-A"}},
	} {
		if err := e.CreateNetworkInterface(ctx, ni); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.CreateNetworkInterface(ctx, NetworkInterface{ID: "eni-3", SubnetID: "subnet-9", VpcID: "vpc-1"}); err == nil {
		t.Fatal("interface in a subnet that does not exist")
	}
	ids := func(nis []NetworkInterface, err error) string {
		var out []string
		for _, ni := range ec2Must(nis, err) {
			out = append(out, ni.ID)
		}
		return fmt.Sprint(out)
	}
	if got := ids(e.InterfacesInGroup(ctx, "sg-A")); got != "[eni-1 eni-2]" {
		t.Errorf("InterfacesInGroup(sg-A) = %s", got)
	}
	if got := ids(e.InterfacesInGroup(ctx, "sg-a")); got != "[eni-1]" {
		t.Errorf("InterfacesInGroup(sg-a) = %s", got)
	}
	if got := ids(e.InterfacesInSubnet(ctx, "subnet-1")); got != "[eni-1 eni-2]" {
		t.Errorf("InterfacesInSubnet = %s", got)
	}
	if got := ids(e.InterfacesInVPC(ctx, "vpc-2")); got != "[]" {
		t.Errorf("InterfacesInVPC(vpc-2) = %s", got)
	}
	// A subnet with interfaces cannot go, even past the API's check.
	if err := e.DeleteSubnet(ctx, "subnet-1"); err == nil {
		t.Fatal("deleted a subnet with interfaces")
	}
}

func TestEC2TxRollsBackOnError(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	refuse := errors.New("refused")
	err := s.EC2Tx(ctx, func(e EC2State) error {
		if err := e.CreateVPC(ctx, VPC{ID: "vpc-1"}); err != nil {
			return err
		}
		return refuse
	})
	if !errors.Is(err, refuse) {
		t.Fatal(err)
	}
	if _, err := s.EC2().VPC(ctx, "vpc-1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a refused transaction was written: %v", err)
	}
}

func TestIngressForReadsRulesAndMembers(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	e := s.EC2()
	ec2NoErr(e.CreateVPC(ctx, VPC{ID: "vpc-1"}))
	ec2NoErr(e.CreateSubnet(ctx, Subnet{ID: "subnet-1", VpcID: "vpc-1"}))
	ec2NoErr(e.CreateSecurityGroup(ctx, SecurityGroup{ID: "sg-db", VpcID: "vpc-1", Name: "db", Rules: []SecurityGroupRule{
		{ID: "sgr-1", Protocol: "tcp", FromPort: 5432, ToPort: 5432, CidrIPv4: "10.0.0.0/8"},
		{ID: "sgr-2", Protocol: "-1", FromPort: -1, ToPort: -1, GroupID: "sg-app"},
		{ID: "sgr-3", Protocol: "udp", FromPort: 5432, ToPort: 5432, CidrIPv4: "192.168.0.0/16"},
		{ID: "sgr-4", Protocol: "tcp", FromPort: 5000, ToPort: 6000, CidrIPv6: "fd00::/8"},
		{ID: "sgr-5", Egress: true, Protocol: "-1", FromPort: -1, ToPort: -1, CidrIPv4: "0.0.0.0/0"},
	}}))
	ec2NoErr(e.CreateSecurityGroup(ctx, SecurityGroup{ID: "sg-app", VpcID: "vpc-1", Name: "app"}))
	ec2NoErr(e.CreateNetworkInterface(ctx, NetworkInterface{ID: "eni-1", SubnetID: "subnet-1", VpcID: "vpc-1", PrivateIP: "::1", GroupIDs: []string{"sg-app"}}))
	ec2NoErr(e.CreateNetworkInterface(ctx, NetworkInterface{ID: "eni-2", SubnetID: "subnet-1", VpcID: "vpc-1", PrivateIP: "127.0.0.9", GroupIDs: []string{"sg-app"}}))

	in := ec2Must(s.IngressFor(ctx, []string{"sg-db", "sg-db", "sg-gone"}))
	if fmt.Sprint(in.Groups) != "[sg-db]" || len(in.Rules) != 4 || fmt.Sprint(in.Members["sg-app"]) != "[127.0.0.9 ::1]" {
		t.Fatalf("IngressFor %+v", in)
	}
	for port, want := range map[int]string{
		5432: "[10.0.0.0/8 127.0.0.9/32 ::1/128 fd00::/8]",
		80:   "[127.0.0.9/32 ::1/128]", // the all-traffic rule from sg-app
		6000: "[127.0.0.9/32 ::1/128 fd00::/8]",
	} {
		if got := fmt.Sprint(in.TCPSources(port)); got != want {
			t.Errorf("TCPSources(%d) = %s, want %s", port, got, want)
		}
	}
	if none := ec2Must(s.IngressFor(ctx, nil)); len(none.Rules) != 0 || len(none.TCPSources(5432)) != 0 {
		t.Fatalf("no groups admit %v", none.TCPSources(5432))
	}
}

// ec2Must and ec2NoErr panic on err, failing the test with the calling line in the trace.
func ec2Must[T any](v T, err error) T {
	ec2NoErr(err)
	return v
}

func ec2NoErr(err error) {
	if err != nil {
		panic(err)
	}
}

func TestEC2TagsLiveInTheirResource(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	e := s.EC2()
	if err := e.CreateVPC(ctx, VPC{ID: "vpc-1", CidrBlock: "10.0.0.0/16", Tags: []Tag{{Key: "a", Value: "1"}}}); err != nil {
		t.Fatal(err)
	}
	if err := e.CreateSubnet(ctx, Subnet{ID: "subnet-1", VpcID: "vpc-1"}); err != nil {
		t.Fatal(err)
	}
	if tags, err := e.EC2Tags(ctx, "subnet-1"); err != nil || len(tags) != 0 {
		t.Fatalf("untagged subnet: %v %v", tags, err)
	}
	want := []Tag{{Key: "team", Value: "db"}, {Key: "empty", Value: ""}}
	if err := e.SetEC2Tags(ctx, "subnet-1", want); err != nil {
		t.Fatal(err)
	}
	if sn, err := e.Subnet(ctx, "subnet-1"); err != nil || fmt.Sprint(sn.Tags) != fmt.Sprint(want) || sn.VpcID != "vpc-1" {
		t.Fatalf("subnet after SetEC2Tags: %+v %v", sn, err)
	}
	if err := e.SetEC2Tags(ctx, "vpc-1", nil); err != nil {
		t.Fatal(err)
	}
	if v, err := e.VPC(ctx, "vpc-1"); err != nil || len(v.Tags) != 0 || v.CidrBlock != "10.0.0.0/16" {
		t.Fatalf("VPC after clearing tags: %+v %v", v, err)
	}
	for _, id := range []string{"vpc-9", "sg-9", "eni-9", "sgr-1", "foo"} {
		if _, err := e.EC2Tags(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("EC2Tags(%s): %v", id, err)
		}
		if err := e.SetEC2Tags(ctx, id, want); !errors.Is(err, ErrNotFound) {
			t.Errorf("SetEC2Tags(%s): %v", id, err)
		}
	}
	if err := e.DeleteSubnet(ctx, "subnet-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.EC2Tags(ctx, "subnet-1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("tags of a deleted subnet: %v", err)
	}
}
