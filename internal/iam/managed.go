package iam

import (
	"fmt"
	"sort"
	"time"

	"github.com/borealis-db/borealis/internal/iam/policy"
)

// AWS managed policies: the real ones of the services Borealis speaks, by their real ARNs
// (arn:aws:iam::aws:policy/NAME), ids and documents (their default versions, as published
// by AWS). Statements for services Borealis does not have are kept: they are harmless and
// keep a document pasted from AWS comparable.
type awsPolicy struct {
	Name, ID, Description string
	Version               string // the default version id
	Created, Updated      time.Time
	Document              string
	parsed                *policy.Policy
}

func (a *awsPolicy) arn() string { return awsPolicyARNPrefix + a.Name }

const awsPolicyARNPrefix = "arn:aws:iam::aws:policy/"

// awsManaged is the set, by name, parsed once at start.
type awsManaged map[string]*awsPolicy

func (m awsManaged) sorted() []*awsPolicy {
	out := make([]*awsPolicy, 0, len(m))
	for _, p := range m {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func day(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err) // constant data below
	}
	return t
}

func loadAWSManaged() (awsManaged, error) {
	list := []*awsPolicy{
		{
			Name: "AdministratorAccess", ID: "ANPAIWMBCKSKIEE64ZLYK", Version: "v1",
			Description: "Provides full access to AWS services and resources.",
			Created:     day("2015-02-06T18:39:46Z"), Updated: day("2015-02-06T18:39:46Z"),
			Document: `{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": "*",
            "Resource": "*"
        }
    ]
}`,
		},
		{
			Name: "AmazonRDSFullAccess", ID: "ANPAI3R4QMOG6Q5A4VWVG", Version: "v13",
			Description: "Provides full access to Amazon RDS via the AWS Management Console.",
			Created:     day("2015-02-06T18:40:52Z"), Updated: day("2023-04-14T12:27:01Z"),
			Document: `{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "rds:*",
                "application-autoscaling:DeleteScalingPolicy",
                "application-autoscaling:DeregisterScalableTarget",
                "application-autoscaling:DescribeScalableTargets",
                "application-autoscaling:DescribeScalingActivities",
                "application-autoscaling:DescribeScalingPolicies",
                "application-autoscaling:PutScalingPolicy",
                "application-autoscaling:RegisterScalableTarget",
                "cloudwatch:DescribeAlarms",
                "cloudwatch:GetMetricStatistics",
                "cloudwatch:PutMetricAlarm",
                "cloudwatch:DeleteAlarms",
                "cloudwatch:ListMetrics",
                "cloudwatch:GetMetricData",
                "ec2:DescribeAccountAttributes",
                "ec2:DescribeAvailabilityZones",
                "ec2:DescribeCoipPools",
                "ec2:DescribeInternetGateways",
                "ec2:DescribeLocalGatewayRouteTablePermissions",
                "ec2:DescribeLocalGatewayRouteTables",
                "ec2:DescribeLocalGatewayRouteTableVpcAssociations",
                "ec2:DescribeLocalGateways",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets",
                "ec2:DescribeVpcAttribute",
                "ec2:DescribeVpcs",
                "ec2:GetCoipPoolUsage",
                "sns:ListSubscriptions",
                "sns:ListTopics",
                "sns:Publish",
                "logs:DescribeLogStreams",
                "logs:GetLogEvents",
                "outposts:GetOutpostInstanceTypes",
                "devops-guru:GetResourceCollection"
            ],
            "Resource": "*"
        },
        {
            "Effect": "Allow",
            "Action": "pi:*",
            "Resource": "arn:aws:pi:*:*:metrics/rds/*"
        },
        {
            "Effect": "Allow",
            "Action": "iam:CreateServiceLinkedRole",
            "Resource": "*",
            "Condition": {
                "StringLike": {
                    "iam:AWSServiceName": [
                        "rds.amazonaws.com",
                        "rds.application-autoscaling.amazonaws.com"
                    ]
                }
            }
        },
        {
            "Action": [
                "devops-guru:SearchInsights",
                "devops-guru:ListAnomaliesForInsight"
            ],
            "Effect": "Allow",
            "Resource": "*",
            "Condition": {
                "ForAllValues:StringEquals": {
                    "devops-guru:ServiceNames": [
                        "RDS"
                    ]
                },
                "Null": {
                    "devops-guru:ServiceNames": "false"
                }
            }
        }
    ]
}`,
		},
		{
			Name: "AmazonRDSReadOnlyAccess", ID: "ANPAJKTTTYV2IIHKLZ346", Version: "v5",
			Description: "Provides read only access to Amazon RDS via the AWS Management Console.",
			Created:     day("2015-02-06T18:40:53Z"), Updated: day("2023-03-15T14:02:16Z"),
			Document: `{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "rds:Describe*",
                "rds:ListTagsForResource",
                "ec2:DescribeAccountAttributes",
                "ec2:DescribeAvailabilityZones",
                "ec2:DescribeInternetGateways",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets",
                "ec2:DescribeVpcAttribute",
                "ec2:DescribeVpcs"
            ],
            "Resource": "*"
        },
        {
            "Effect": "Allow",
            "Action": [
                "cloudwatch:GetMetricStatistics",
                "cloudwatch:ListMetrics",
                "logs:DescribeLogStreams",
                "logs:GetLogEvents",
                "devops-guru:GetResourceCollection"
            ],
            "Resource": "*"
        }
    ]
}`,
		},
		{
			Name: "IAMFullAccess", ID: "ANPAI7XKCFMBPM3QQRRVQ", Version: "v2",
			Description: "Provides full access to IAM via the AWS Management Console.",
			Created:     day("2015-02-06T18:40:38Z"), Updated: day("2019-06-21T19:40:00Z"),
			Document: `{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "iam:*",
                "organizations:DescribeAccount",
                "organizations:DescribeOrganization",
                "organizations:DescribeOrganizationalUnit",
                "organizations:DescribePolicy",
                "organizations:ListChildren",
                "organizations:ListParents",
                "organizations:ListPoliciesForTarget",
                "organizations:ListRoots",
                "organizations:ListPolicies",
                "organizations:ListTargetsForPolicy"
            ],
            "Resource": "*"
        }
    ]
}`,
		},
		{
			Name: "IAMReadOnlyAccess", ID: "ANPAJKSO7NDY4T57MWDSQ", Version: "v4",
			Description: "Provides read only access to IAM via the AWS Management Console.",
			Created:     day("2015-02-06T18:40:39Z"), Updated: day("2018-01-25T19:11:27Z"),
			Document: `{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "iam:GenerateCredentialReport",
                "iam:GenerateServiceLastAccessedDetails",
                "iam:Get*",
                "iam:List*",
                "iam:SimulateCustomPolicy",
                "iam:SimulatePrincipalPolicy"
            ],
            "Resource": "*"
        }
    ]
}`,
		},
		{
			Name: "AmazonEC2ReadOnlyAccess", ID: "ANPAIGDT4SV4GSETWTBZK", Version: "v2",
			Description: "Provides read only access to Amazon EC2 via the AWS Management Console.",
			Created:     day("2015-02-06T18:40:17Z"), Updated: day("2024-02-14T15:17:04Z"),
			Document: `{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "EC2",
            "Effect": "Allow",
            "Action": [
                "ec2:Describe*",
                "ec2:Get*"
            ],
            "Resource": "*"
        },
        {
            "Sid": "ELB",
            "Effect": "Allow",
            "Action": "elasticloadbalancing:Describe*",
            "Resource": "*"
        },
        {
            "Sid": "Cloudwatch",
            "Effect": "Allow",
            "Action": [
                "cloudwatch:ListMetrics",
                "cloudwatch:GetMetricStatistics",
                "cloudwatch:Describe*"
            ],
            "Resource": "*"
        },
        {
            "Sid": "Autoscaling",
            "Effect": "Allow",
            "Action": "autoscaling:Describe*",
            "Resource": "*"
        }
    ]
}`,
		},
	}
	m := awsManaged{}
	for _, a := range list {
		p, err := policy.ParseManaged(a.Document)
		if err != nil {
			return nil, fmt.Errorf("iam: AWS managed policy %s: %w", a.Name, err)
		}
		a.parsed = p
		m[a.Name] = a
	}
	return m, nil
}
