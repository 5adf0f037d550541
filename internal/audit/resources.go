package audit

import "strings"

// ResourceType names the CloudFormation-style type of the resource an ARN names, as
// CloudTrail records it ("AWS::RDS::DBCluster"); "" when unknown.
func ResourceType(arn string) string {
	p := strings.SplitN(arn, ":", 6)
	if len(p) < 6 || p[0] != "arn" {
		return ""
	}
	service, rest := p[2], p[5]
	kind := rest
	if i := strings.IndexAny(rest, ":/"); i >= 0 {
		kind = rest[:i]
	}
	switch service + ":" + kind {
	case "rds:cluster":
		return "AWS::RDS::DBCluster"
	case "rds:db":
		return "AWS::RDS::DBInstance"
	case "rds:cluster-pg":
		return "AWS::RDS::DBClusterParameterGroup"
	case "rds:pg":
		return "AWS::RDS::DBParameterGroup"
	case "rds:subgrp":
		return "AWS::RDS::DBSubnetGroup"
	case "rds:cluster-snapshot":
		return "AWS::RDS::DBClusterSnapshot"
	case "rds:snapshot":
		return "AWS::RDS::DBSnapshot"
	case "ec2:security-group":
		return "AWS::EC2::SecurityGroup"
	case "ec2:vpc":
		return "AWS::EC2::VPC"
	case "ec2:subnet":
		return "AWS::EC2::Subnet"
	case "ec2:network-interface":
		return "AWS::EC2::NetworkInterface"
	case "iam:user":
		return "AWS::IAM::User"
	case "iam:group":
		return "AWS::IAM::Group"
	case "iam:policy":
		return "AWS::IAM::Policy"
	case "iam:role":
		return "AWS::IAM::Role"
	case "iam:mfa":
		return "AWS::IAM::VirtualMFADevice"
	case "iam:root":
		return "AWS::IAM::Account"
	}
	return ""
}

// IsReadOnly says whether an action only reads, by AWS's naming.
func IsReadOnly(action string) bool {
	for _, p := range []string{"Describe", "List", "Get", "Lookup", "Download", "Simulate"} {
		if strings.HasPrefix(action, p) {
			return true
		}
	}
	return false
}
