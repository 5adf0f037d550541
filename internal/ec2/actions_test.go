package ec2

import (
	"context"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/borealis-db/borealis/internal/awsquery"
)

func params(kv ...string) awsquery.Params {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return awsquery.Params{Values: v}
}

// TestEveryRoutedActionHasAnIAMMapping walks the one table Do routes by: every action
// runs something and names at least one resource for IAM.
func TestEveryRoutedActionHasAnIAMMapping(t *testing.T) {
	e := newEnv(t)
	p := params("VpcId", "vpc-0123456789abcdef0", "SubnetId", "subnet-0123456789abcdef0", "GroupId", "sg-0123456789abcdef0",
		"NetworkInterfaceId", "eni-0123456789abcdef0", "SecurityGroupId.1", "sg-0123456789abcdef0")
	if len(actions) != 22 {
		t.Fatalf("%d actions in the table", len(actions))
	}
	for name, a := range actions {
		if a.run == nil || a.resources == nil {
			t.Errorf("%s: run or resources missing", name)
			continue
		}
		res, _ := e.svc.Authorization(e.ctx, name, p)
		if len(res) == 0 {
			t.Errorf("%s: no resource", name)
		}
		for _, r := range res {
			if r.ARN != "*" && !strings.HasPrefix(r.ARN, "arn:aws:ec2:us-east-1:123456789012:") {
				t.Errorf("%s: ARN %q", name, r.ARN)
			}
		}
	}
}

func TestActionsNameTheResourcesAWSDocuments(t *testing.T) {
	e := newEnv(t)
	vpc, sg := e.defaultVPC()
	subnet := e.defaultSubnet()
	arn := func(kind, id string) string { return "arn:aws:ec2:us-east-1:123456789012:" + kind + "/" + id }
	cases := []struct {
		action string
		kv     []string
		want   []string
	}{
		{"DescribeVpcs", nil, []string{"*"}},
		{"DescribeSecurityGroupRules", nil, []string{"*"}},
		{"CreateVpc", []string{"CidrBlock", "10.0.0.0/16"}, []string{arn("vpc", "*")}},
		{"DeleteVpc", []string{"VpcId", vpc}, []string{arn("vpc", vpc)}},
		{"CreateSubnet", []string{"VpcId", vpc}, []string{arn("subnet", "*"), arn("vpc", vpc)}},
		{"DeleteSubnet", []string{"SubnetId", subnet}, []string{arn("subnet", subnet)}},
		{"CreateSecurityGroup", []string{"GroupName", "x"}, []string{arn("security-group", "*"), arn("vpc", vpc)}},
		{"DeleteSecurityGroup", []string{"GroupName", "default"}, []string{arn("security-group", sg)}},
		{"AuthorizeSecurityGroupIngress", []string{"GroupId", sg}, []string{arn("security-group", sg)}},
		{"RevokeSecurityGroupEgress", []string{"GroupId", sg}, []string{arn("security-group", sg)}},
		{"CreateNetworkInterface", []string{"SubnetId", subnet, "SecurityGroupId.1", sg},
			[]string{arn("network-interface", "*"), arn("subnet", subnet), arn("security-group", sg)}},
		// Without groups: the default group it joins.
		{"CreateNetworkInterface", []string{"SubnetId", subnet},
			[]string{arn("network-interface", "*"), arn("subnet", subnet), arn("security-group", sg)}},
		{"CreateNetworkInterface", []string{"SubnetId", "subnet-0123456789abcdef0"},
			[]string{arn("network-interface", "*"), arn("subnet", "subnet-0123456789abcdef0")}},
		{"ModifyNetworkInterfaceAttribute", []string{"NetworkInterfaceId", "eni-0123456789abcdef0", "SecurityGroupId.1", sg},
			[]string{arn("network-interface", "eni-0123456789abcdef0"), arn("security-group", sg)}},
		{"DescribeTags", nil, []string{"*"}},
		{"DescribeAvailabilityZones", nil, []string{"*"}},
		// Each resource tagged, in its canonical form; one not an id still gets an ARN.
		{"CreateTags", []string{"ResourceId.1", vpc, "ResourceId.2", sg, "ResourceId.3", subnet, "Tag.1.Key", "k"},
			[]string{arn("vpc", vpc), arn("security-group", sg), arn("subnet", subnet)}},
		{"DeleteTags", []string{"ResourceId.1", "eni-0123456789abcdef0", "ResourceId.2", "foo"},
			[]string{arn("network-interface", "eni-0123456789abcdef0"), arn("*", "foo")}},
		{"CreateTags", nil, []string{arn("*", "*")}},
		// Tags at creation: ec2:CreateTags on the new resource as well.
		{"CreateSecurityGroup", []string{"GroupName", "x", "TagSpecification.1.ResourceType", "security-group", "TagSpecification.1.Tag.1.Key", "k"},
			[]string{arn("security-group", "*"), arn("vpc", vpc), arn("security-group", "*")}},
		{"NoSuchAction", nil, []string{"*"}},
	}
	for _, c := range cases {
		res, _ := e.svc.Authorization(e.ctx, c.action, params(c.kv...))
		var got []string
		for _, r := range res {
			got = append(got, r.ARN)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.action, got, c.want)
		}
	}
	res, _ := e.svc.Authorization(e.ctx, "CreateSubnet", params("VpcId", vpc, "TagSpecification.1.ResourceType", "subnet", "TagSpecification.1.Tag.1.Key", "k"))
	if last := res[len(res)-1]; last.Action != "ec2:CreateTags" || last.Keys["ec2:CreateAction"][0] != "CreateSubnet" || res[0].Action != "" {
		t.Errorf("CreateSubnet with tags: %+v", res)
	}
	// Condition keys: the group's VPC, the new VPC's tenancy, the request's tags.
	res, _ = e.svc.Authorization(e.ctx, "AuthorizeSecurityGroupIngress", params("GroupId", sg))
	if got := res[0].Keys["ec2:Vpc"]; len(got) != 1 || got[0] != arn("vpc", vpc) {
		t.Errorf("ec2:Vpc = %v", got)
	}
	res, keys := e.svc.Authorization(e.ctx, "CreateVpc", params("CidrBlock", "10.0.0.0/16", "InstanceTenancy", "dedicated",
		"TagSpecification.1.ResourceType", "vpc", "TagSpecification.1.Tag.1.Key", "team", "TagSpecification.1.Tag.1.Value", "db"))
	if res[0].Keys["ec2:Tenancy"][0] != "dedicated" || keys["aws:RequestTag/team"][0] != "db" || keys["aws:TagKeys"][0] != "team" {
		t.Errorf("CreateVpc keys %v / %v", res[0].Keys, keys)
	}
}

// TestRequestsTheSDKCannotSend covers what the SDK's own validation or shapes keep from
// the wire: missing required members, and the UserIdGroupPairs spelling of Groups.
func TestRequestsTheSDKCannotSend(t *testing.T) {
	e := newEnv(t)
	_, sg := e.defaultVPC()
	app := e.createGroup("app", "")
	for _, c := range []struct {
		action, code string
		kv           []string
	}{
		{"CreateSubnet", "MissingParameter", []string{"CidrBlock", "10.0.0.0/24"}},
		{"DeleteVpc", "MissingParameter", nil},
		{"AuthorizeSecurityGroupEgress", "MissingParameter", []string{"IpPermissions.1.IpProtocol", "-1", "IpPermissions.1.IpRanges.1.CidrIp", "0.0.0.0/0"}},
		{"CreateNetworkInterface", "MissingParameter", nil},
		{"DescribeVpcs", "InvalidParameterCombination", []string{"VpcId.1", "vpc-0123456789abcdef0", "MaxResults", "5"}},
		{"CreateVpc", "InvalidParameterValue", []string{"CidrBlock", "10.0.0.0/16", "TagSpecification.1.ResourceType", "subnet", "TagSpecification.1.Tag.1.Key", "a"}},
		{"CreateVpc", "InvalidParameterValue", []string{"CidrBlock", "10.0.0.0/16", "DryRun", "maybe"}},
		{"RunInstances", "InvalidAction", nil},
	} {
		_, err := e.svc.Do(e.ctx, c.action, params(c.kv...))
		if got := awsquery.AsError(err); got.Code != c.code || got.Status != 400 {
			t.Errorf("%s %v: %v, want %s", c.action, c.kv, err, c.code)
		}
	}
	if _, err := e.svc.Do(e.ctx, "AuthorizeSecurityGroupIngress", params("GroupId", app, "IpPermissions.1.IpProtocol", "tcp",
		"IpPermissions.1.FromPort", "5432", "IpPermissions.1.ToPort", "5432", "IpPermissions.1.UserIdGroupPairs.1.GroupId", sg)); err != nil {
		t.Fatal(err)
	}
	if g := e.group(app); len(g.Rules) != 2 || g.Rules[1].GroupID != sg {
		t.Fatalf("UserIdGroupPairs rule %+v", g.Rules)
	}
}

// TestEnvelopes checks EC2's wire shapes byte for byte where the SDK is lenient.
func TestEnvelopes(t *testing.T) {
	rec := httptest.NewRecorder()
	awsquery.WriteEC2Result(rec, Namespace, "DeleteVpc", "req-1", nil)
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<DeleteVpcResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>req-1</requestId><return>true</return></DeleteVpcResponse>`
	if rec.Code != 200 || rec.Body.String() != want {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	awsquery.WriteEC2Result(rec, Namespace, "CreateVpc", "req-2", createVpcResult{xmlVpc{VpcID: "vpc-1", IsDefault: true}})
	if body := rec.Body.String(); !strings.Contains(body, `<CreateVpcResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>req-2</requestId><vpc><vpcId>vpc-1</vpcId>`) ||
		!strings.Contains(body, "<isDefault>true</isDefault><tagSet></tagSet></vpc></CreateVpcResponse>") {
		t.Fatalf("CreateVpc body %s", body)
	}
	rec = httptest.NewRecorder()
	awsquery.WriteEC2Error(rec, Namespace, "req-3", groupNotFound("sg-1"))
	want = `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<Response><Errors><Error><Code>InvalidGroup.NotFound</Code><Message>The security group &#39;sg-1&#39; does not exist</Message></Error></Errors><RequestID>req-3</RequestID></Response>`
	if rec.Code != 400 || rec.Body.String() != want {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	// An internal error shows no detail.
	rec = httptest.NewRecorder()
	awsquery.WriteEC2Error(rec, Namespace, "req-4", context.DeadlineExceeded)
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), "<Code>InternalFailure</Code>") || strings.Contains(rec.Body.String(), "deadline") {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}
