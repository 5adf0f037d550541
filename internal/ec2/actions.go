package ec2

import (
	"context"

	"github.com/borealis-db/borealis/internal/authz"
	"github.com/borealis-db/borealis/internal/awsquery"
)

// action is one EC2 API action: how it runs, the resources IAM must allow it on (with the
// request's condition keys filled into keys), and what it does with each request member.
// IAM's action name is "ec2:" + the name.
type action struct {
	run       func(*Service, context.Context, awsquery.Params) (any, error)
	resources func(*Service, context.Context, awsquery.Params, map[string][]string) []authz.Resource
	members   members
}

// The request-member declarations are awsquery's; these are their short names here.
type members = awsquery.Members

var (
	acted = awsquery.Acted
	only  = awsquery.OnlyDefault
)

// envelope are the members every request may carry; DryRun is answered by Do.
var envelope = members{"Action": acted, "Version": acted, "DryRun": acted}

// memberRules refuse a request member the action does not carry out: one EC2 does not
// know is UnknownParameter, as EC2 answers; one it knows but Borealis does not do, set to
// anything but what Borealis does anyway, is InvalidParameterValue with why.
var memberRules = awsquery.MemberRules{
	Envelope: envelope,
	Unknown: func(_, name string) error {
		return fault("UnknownParameter", "The parameter %s is not recognized", name)
	},
	NotDefault: func(why string) error { return awsquery.InvalidParameterValue("%s", why) },
}

// Why members are refused, each said once.
const (
	oneVPCBlock     = "Borealis VPCs have one IPv4 CIDR block; IPv6 blocks and IPAM pools are not supported."
	oneSubnetBlock  = "Borealis subnets have one IPv4 CIDR block; IPv6 blocks and IPAM pools are not supported."
	oneAddress      = "Borealis network interfaces have one private address: set PrivateIpAddress only."
	twoAttributes   = "Borealis network interfaces have two attributes to modify: groupSet and description."
	untaggedRules   = "Borealis does not tag security group rules: leave TagSpecification unset."
	oneAccount      = "Borealis has one account: name a source group without SourceSecurityGroupOwnerId."
	plainInterfaces = "Borealis network interfaces are of one type: leave InterfaceType unset."
	noConnTracking  = "Borealis does not track connections per interface: leave ConnectionTrackingSpecification unset."
	noOperator      = "Borealis network interfaces are not managed by an operator: leave Operator unset."
	noOutposts      = "Borealis has no Outposts: leave OutpostArn unset."
	noVPCEncryption = "Borealis has no VPC encryption controls: leave VpcEncryptionControl unset."
	ipv4Only        = "Borealis serves IPv4 only: EnablePrimaryIpv6 and Ipv6Native must be false."
	noManagedIfaces = "IncludeManagedResources must be true or false."
)

// Members shared by several actions.
var (
	describeMembers = func(idName string, extra ...string) members {
		m := members{"Filter": acted, "NextToken": acted, "MaxResults": acted, idName: acted}
		for _, e := range extra {
			m[e] = acted
		}
		return m
	}
	ruleMembers = func(ingress, authorize bool) members {
		m := members{
			"GroupId": acted, "IpPermissions": acted, "IpProtocol": acted, "FromPort": acted, "ToPort": acted,
			"CidrIp": acted, "SourceSecurityGroupName": acted, "SourceSecurityGroupOwnerId": only(oneAccount),
		}
		if ingress {
			m["GroupName"] = acted
		}
		if authorize {
			m["TagSpecification"] = only(untaggedRules)
		} else {
			m["SecurityGroupRuleId"] = acted
		}
		return m
	}
)

// actions is every action the EC2 endpoint serves: the one table Do routes by, checks
// members against, and Authorization maps to IAM resources from (actions_test.go proves
// it complete).
var actions = map[string]action{
	"CreateVpc": {(*Service).createVpc, (*Service).createVpcResources, members{
		"CidrBlock": acted, "InstanceTenancy": acted, "TagSpecification": acted,
		"AmazonProvidedIpv6CidrBlock": only(oneVPCBlock, "false"),
		"Ipv6Pool":                    only(oneVPCBlock), "Ipv6CidrBlock": only(oneVPCBlock), "Ipv4IpamPoolId": only(oneVPCBlock),
		"Ipv4NetmaskLength": only(oneVPCBlock), "Ipv6IpamPoolId": only(oneVPCBlock), "Ipv6NetmaskLength": only(oneVPCBlock),
		"Ipv6CidrBlockNetworkBorderGroup": only(oneVPCBlock), "VpcEncryptionControl": only(noVPCEncryption),
	}},
	"DescribeVpcs": {(*Service).describeVpcs, anyResource, describeMembers("VpcId")},
	"DeleteVpc":    {(*Service).deleteVpc, (*Service).vpcResources, members{"VpcId": acted}},

	"CreateSubnet": {(*Service).createSubnet, (*Service).createSubnetResources, members{
		"VpcId": acted, "CidrBlock": acted, "AvailabilityZone": acted, "AvailabilityZoneId": acted, "TagSpecification": acted,
		"Ipv6CidrBlock": only(oneSubnetBlock), "Ipv4IpamPoolId": only(oneSubnetBlock), "Ipv4NetmaskLength": only(oneSubnetBlock),
		"Ipv6IpamPoolId": only(oneSubnetBlock), "Ipv6NetmaskLength": only(oneSubnetBlock),
		"Ipv6Native": only(ipv4Only, "false"), "OutpostArn": only(noOutposts),
	}},
	"DescribeSubnets": {(*Service).describeSubnets, anyResource, describeMembers("SubnetId")},
	"DeleteSubnet":    {(*Service).deleteSubnet, (*Service).subnetResources, members{"SubnetId": acted}},

	"CreateSecurityGroup": {(*Service).createSecurityGroup, (*Service).createGroupResources, members{
		"GroupName": acted, "GroupDescription": acted, "VpcId": acted, "TagSpecification": acted,
	}},
	"DescribeSecurityGroups":        {(*Service).describeSecurityGroups, anyResource, describeMembers("GroupId", "GroupName")},
	"DeleteSecurityGroup":           {(*Service).deleteSecurityGroup, (*Service).groupResources, members{"GroupId": acted, "GroupName": acted}},
	"AuthorizeSecurityGroupIngress": {(*Service).authorizeIngress, (*Service).groupResources, ruleMembers(true, true)},
	"RevokeSecurityGroupIngress":    {(*Service).revokeIngress, (*Service).groupResources, ruleMembers(true, false)},
	"AuthorizeSecurityGroupEgress":  {(*Service).authorizeEgress, (*Service).groupResources, ruleMembers(false, true)},
	"RevokeSecurityGroupEgress":     {(*Service).revokeEgress, (*Service).groupResources, ruleMembers(false, false)},
	"DescribeSecurityGroupRules":    {(*Service).describeSecurityGroupRules, anyResource, describeMembers("SecurityGroupRuleId")},

	"CreateNetworkInterface": {(*Service).createNetworkInterface, (*Service).createInterfaceResources, members{
		"SubnetId": acted, "Description": acted, "PrivateIpAddress": acted, "PrivateIpAddresses": acted,
		"SecurityGroupId": acted, "TagSpecification": acted, "ClientToken": acted,
		"SecondaryPrivateIpAddressCount": only(oneAddress, "0"), "Ipv6AddressCount": only(oneAddress, "0"),
		"Ipv4PrefixCount": only(oneAddress, "0"), "Ipv6PrefixCount": only(oneAddress, "0"),
		"Ipv6Addresses": only(oneAddress), "Ipv4Prefix": only(oneAddress), "Ipv6Prefix": only(oneAddress),
		"InterfaceType": only(plainInterfaces), "EnablePrimaryIpv6": only(ipv4Only, "false"),
		"ConnectionTrackingSpecification": only(noConnTracking), "Operator": only(noOperator),
	}},
	// No interface here is managed by a service, so both values list the same.
	"DescribeNetworkInterfaces": {(*Service).describeNetworkInterfaces, anyResource,
		with(describeMembers("NetworkInterfaceId"), "IncludeManagedResources", only(noManagedIfaces, "true", "false"))},
	"ModifyNetworkInterfaceAttribute": {(*Service).modifyNetworkInterfaceAttribute, (*Service).modifyInterfaceResources, members{
		"NetworkInterfaceId": acted, "Description": acted, "SecurityGroupId": acted,
		"SourceDestCheck": only(twoAttributes, "true"), "Attachment": only(twoAttributes), "AssociatePublicIpAddress": only(twoAttributes),
		"AssociatedSubnetId": only(twoAttributes), "EnaSrdSpecification": only(twoAttributes), "EnablePrimaryIpv6": only(twoAttributes),
		"ConnectionTrackingSpecification": only(twoAttributes),
	}},
	"DeleteNetworkInterface": {(*Service).deleteNetworkInterface, (*Service).interfaceResources, members{"NetworkInterfaceId": acted}},

	"CreateTags":   {(*Service).createTags, (*Service).createTagsResources, members{"ResourceId": acted, "Tag": acted}},
	"DeleteTags":   {(*Service).deleteTags, (*Service).deleteTagsResources, members{"ResourceId": acted, "Tag": acted}},
	"DescribeTags": {(*Service).describeTags, anyResource, members{"Filter": acted, "MaxResults": acted, "NextToken": acted}},

	"DescribeAvailabilityZones": {(*Service).describeAvailabilityZones, anyResource, members{
		"ZoneName": acted, "ZoneId": acted, "AllAvailabilityZones": acted, "Filter": acted,
	}},
}

func with(m members, name string, mem awsquery.Member) members {
	m[name] = mem
	return m
}
