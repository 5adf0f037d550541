package ec2

import (
	"context"

	"github.com/borealis-db/borealis/internal/authz"
	"github.com/borealis-db/borealis/internal/awsquery"
)

// action is one EC2 API action: how it runs, and the resources IAM must allow it on (with
// the request's condition keys filled into keys). IAM's action name is "ec2:" + the name.
type action struct {
	run       func(*Service, context.Context, awsquery.Params) (any, error)
	resources func(*Service, context.Context, awsquery.Params, map[string][]string) []authz.Resource
}

// actions is every action the EC2 endpoint serves: the one table Do routes by and
// Authorization maps to IAM resources from (actions_test.go proves both are complete).
var actions = map[string]action{
	"CreateVpc":    {(*Service).createVpc, (*Service).createVpcResources},
	"DescribeVpcs": {(*Service).describeVpcs, anyResource},
	"DeleteVpc":    {(*Service).deleteVpc, (*Service).vpcResources},

	"CreateSubnet":    {(*Service).createSubnet, (*Service).createSubnetResources},
	"DescribeSubnets": {(*Service).describeSubnets, anyResource},
	"DeleteSubnet":    {(*Service).deleteSubnet, (*Service).subnetResources},

	"CreateSecurityGroup":           {(*Service).createSecurityGroup, (*Service).createGroupResources},
	"DescribeSecurityGroups":        {(*Service).describeSecurityGroups, anyResource},
	"DeleteSecurityGroup":           {(*Service).deleteSecurityGroup, (*Service).groupResources},
	"AuthorizeSecurityGroupIngress": {(*Service).authorizeIngress, (*Service).groupResources},
	"RevokeSecurityGroupIngress":    {(*Service).revokeIngress, (*Service).groupResources},
	"AuthorizeSecurityGroupEgress":  {(*Service).authorizeEgress, (*Service).groupResources},
	"RevokeSecurityGroupEgress":     {(*Service).revokeEgress, (*Service).groupResources},
	"DescribeSecurityGroupRules":    {(*Service).describeSecurityGroupRules, anyResource},

	"CreateNetworkInterface":          {(*Service).createNetworkInterface, (*Service).createInterfaceResources},
	"DescribeNetworkInterfaces":       {(*Service).describeNetworkInterfaces, anyResource},
	"ModifyNetworkInterfaceAttribute": {(*Service).modifyNetworkInterfaceAttribute, (*Service).modifyInterfaceResources},
	"DeleteNetworkInterface":          {(*Service).deleteNetworkInterface, (*Service).interfaceResources},
}
