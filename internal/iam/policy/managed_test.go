package policy

import "testing"

// Policies as AWS publishes them (AdministratorAccess verbatim; the RDS
// ones as AWS shapes them), pasted as text.
const (
	administratorAccess = `{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": "*",
            "Resource": "*"
        }
    ]
}`

	amazonRDSReadOnlyAccess = `{
    "Version": "2012-10-17",
    "Statement": [
        {
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
            "Effect": "Allow",
            "Resource": "*"
        },
        {
            "Action": [
                "cloudwatch:GetMetricStatistics",
                "cloudwatch:ListMetrics",
                "cloudwatch:GetMetricData",
                "logs:DescribeLogStreams",
                "logs:GetLogEvents",
                "devops-guru:GetResourceCollection"
            ],
            "Effect": "Allow",
            "Resource": "*"
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
}`

	amazonRDSFullAccess = `{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "RdsFullAccessAllowedActions",
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
            "Sid": "PerformanceInsightsFullAccess",
            "Effect": "Allow",
            "Action": "pi:*",
            "Resource": [
                "arn:aws:pi:*:*:metrics/rds/*",
                "arn:aws:pi:*:*:perf-reports/rds/*"
            ]
        },
        {
            "Sid": "CreateServiceLinkedRoleForRDS",
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
            "Sid": "DevOpsGuruAccess",
            "Effect": "Allow",
            "Action": [
                "devops-guru:SearchInsights",
                "devops-guru:ListAnomaliesForInsight"
            ],
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
}`

	// A customer policy in the style of AWS's examples: no deletes on
	// production clusters, and nothing at all without MFA or from outside
	// the office network.
	guardRails = `{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "ProtectProduction",
            "Effect": "Deny",
            "Action": ["rds:Delete*", "rds:ModifyDBCluster"],
            "Resource": "arn:aws:rds:*:*:cluster:*",
            "Condition": {"StringEquals": {"aws:ResourceTag/env": "prod"}}
        },
        {
            "Sid": "DenyAllExceptListedIfNoMFA",
            "Effect": "Deny",
            "NotAction": ["iam:CreateVirtualMFADevice", "iam:EnableMFADevice", "iam:GetUser", "iam:ListMFADevices", "sts:GetSessionToken"],
            "Resource": "*",
            "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}
        },
        {
            "Sid": "OfficeOnly",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:db8:1234::/48"]}}
        }
    ]
}`
)

func TestManagedPolicies(t *testing.T) {
	for name, doc := range map[string]string{
		"AdministratorAccess": administratorAccess, "AmazonRDSReadOnlyAccess": amazonRDSReadOnlyAccess,
		"AmazonRDSFullAccess": amazonRDSFullAccess, "guard rails": guardRails,
	} {
		if _, err := ParseManaged(doc); err != nil {
			t.Fatalf("%s: ParseManaged: %v (%s)", name, err, detail(err))
		}
	}

	const (
		cluster = "arn:aws:rds:us-east-1:123456789012:cluster:orders"
		office  = "203.0.113.10"
	)
	goodCtx := func(extra ...string) map[string][]string {
		return kv(append([]string{"aws:MultiFactorAuthPresent", "true", "aws:SourceIp", office}, extra...)...)
	}
	tests := []struct {
		name     string
		policies []string
		req      Request
		want     Decision
		sid      string
	}{
		{"admin: anything", []string{administratorAccess}, Request{Action: "iam:CreateUser", Resource: "arn:aws:iam::123456789012:user/eve"}, Allow, ""},
		{"admin: no resource", []string{administratorAccess}, Request{Action: "ec2:DescribeVpcs", Resource: "*"}, Allow, ""},

		{"read-only: describe", []string{amazonRDSReadOnlyAccess}, Request{Action: "rds:DescribeDBClusters", Resource: cluster}, Allow, ""},
		{"read-only: list tags", []string{amazonRDSReadOnlyAccess}, Request{Action: "rds:ListTagsForResource", Resource: cluster}, Allow, ""},
		{"read-only: vpcs", []string{amazonRDSReadOnlyAccess}, Request{Action: "ec2:DescribeVpcs", Resource: "*"}, Allow, ""},
		{"read-only: create", []string{amazonRDSReadOnlyAccess}, Request{Action: "rds:CreateDBCluster", Resource: cluster}, ImplicitDeny, ""},
		{"read-only: delete", []string{amazonRDSReadOnlyAccess}, Request{Action: "rds:DeleteDBInstance", Resource: "arn:aws:rds:us-east-1:123456789012:db:a"}, ImplicitDeny, ""},
		{"read-only: add tags", []string{amazonRDSReadOnlyAccess}, Request{Action: "rds:AddTagsToResource", Resource: cluster}, ImplicitDeny, ""},
		{"read-only: devops-guru for RDS", []string{amazonRDSReadOnlyAccess}, Request{Action: "devops-guru:SearchInsights", Resource: "*",
			Context: map[string][]string{"devops-guru:ServiceNames": {"RDS"}}}, Allow, ""},
		{"read-only: devops-guru beyond RDS", []string{amazonRDSReadOnlyAccess}, Request{Action: "devops-guru:SearchInsights", Resource: "*",
			Context: map[string][]string{"devops-guru:ServiceNames": {"RDS", "EC2"}}}, ImplicitDeny, ""},
		{"read-only: devops-guru without service names", []string{amazonRDSReadOnlyAccess}, Request{Action: "devops-guru:SearchInsights", Resource: "*"}, ImplicitDeny, ""},

		{"full: delete", []string{amazonRDSFullAccess}, Request{Action: "rds:DeleteDBCluster", Resource: cluster}, Allow, "RdsFullAccessAllowedActions"},
		{"full: create", []string{amazonRDSFullAccess}, Request{Action: "rds:CreateDBCluster", Resource: cluster}, Allow, "RdsFullAccessAllowedActions"},
		{"full: service-linked role for RDS", []string{amazonRDSFullAccess}, Request{Action: "iam:CreateServiceLinkedRole", Resource: "arn:aws:iam::123456789012:role/aws-service-role/rds.amazonaws.com/AWSServiceRoleForRDS",
			Context: kv("iam:AWSServiceName", "rds.amazonaws.com")}, Allow, "CreateServiceLinkedRoleForRDS"},
		{"full: service-linked role for EC2", []string{amazonRDSFullAccess}, Request{Action: "iam:CreateServiceLinkedRole", Resource: "*",
			Context: kv("iam:AWSServiceName", "ec2.amazonaws.com")}, ImplicitDeny, ""},
		{"full: other IAM", []string{amazonRDSFullAccess}, Request{Action: "iam:CreateUser", Resource: "*"}, ImplicitDeny, ""},
		{"full: PI on RDS metrics", []string{amazonRDSFullAccess}, Request{Action: "pi:GetResourceMetrics", Resource: "arn:aws:pi:us-east-1:123456789012:metrics/rds/db-ABCDEFGHIJKL"}, Allow, "PerformanceInsightsFullAccess"},
		{"full: PI elsewhere", []string{amazonRDSFullAccess}, Request{Action: "pi:GetResourceMetrics", Resource: "arn:aws:pi:us-east-1:123456789012:metrics/docdb/x"}, ImplicitDeny, ""},
		{"full: sns publish", []string{amazonRDSFullAccess}, Request{Action: "sns:Publish", Resource: "*"}, Allow, "RdsFullAccessAllowedActions"},

		{"full + guard rails: delete non-prod", []string{amazonRDSFullAccess, guardRails}, Request{Action: "rds:DeleteDBCluster", Resource: cluster,
			Context: goodCtx("aws:ResourceTag/env", "dev")}, Allow, "RdsFullAccessAllowedActions"},
		{"full + guard rails: delete prod", []string{amazonRDSFullAccess, guardRails}, Request{Action: "rds:DeleteDBCluster", Resource: cluster,
			Context: goodCtx("aws:ResourceTag/env", "prod")}, ExplicitDeny, "ProtectProduction"},
		{"full + guard rails: describe prod", []string{amazonRDSFullAccess, guardRails}, Request{Action: "rds:DescribeDBClusters", Resource: cluster,
			Context: goodCtx("aws:ResourceTag/env", "prod")}, Allow, "RdsFullAccessAllowedActions"},
		{"admin + guard rails: no MFA", []string{administratorAccess, guardRails}, Request{Action: "rds:CreateDBCluster", Resource: cluster,
			Context: kv("aws:MultiFactorAuthPresent", "false", "aws:SourceIp", office)}, ExplicitDeny, "DenyAllExceptListedIfNoMFA"},
		{"admin + guard rails: no MFA key (long-term keys)", []string{administratorAccess, guardRails}, Request{Action: "rds:CreateDBCluster", Resource: cluster,
			Context: kv("aws:SourceIp", office)}, ExplicitDeny, "DenyAllExceptListedIfNoMFA"},
		{"admin + guard rails: no MFA, allowed action", []string{administratorAccess, guardRails}, Request{Action: "iam:GetUser", Resource: "*",
			Context: kv("aws:MultiFactorAuthPresent", "false", "aws:SourceIp", office)}, Allow, ""},
		{"admin + guard rails: outside the office", []string{administratorAccess, guardRails}, Request{Action: "rds:CreateDBCluster", Resource: cluster,
			Context: kv("aws:MultiFactorAuthPresent", "true", "aws:SourceIp", "198.51.100.7")}, ExplicitDeny, "OfficeOnly"},
		{"admin + guard rails: office over IPv6", []string{administratorAccess, guardRails}, Request{Action: "rds:CreateDBCluster", Resource: cluster,
			Context: kv("aws:MultiFactorAuthPresent", "true", "aws:SourceIp", "2001:db8:1234:42::1")}, Allow, ""},
		{"guard rails alone allow nothing", []string{guardRails}, Request{Action: "rds:DescribeDBClusters", Resource: cluster, Context: goodCtx()}, ImplicitDeny, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps := make([]*Policy, len(tc.policies))
			for i, d := range tc.policies {
				ps[i] = mustParse(t, d)
			}
			r := Evaluate(tc.req, ps)
			if r.Decision != tc.want {
				t.Fatalf("decision = %v, want %v (%+v)", r.Decision, tc.want, r)
			}
			if tc.sid != "" && r.Sid != tc.sid {
				t.Fatalf("decided by %q, want %q", r.Sid, tc.sid)
			}
		})
	}
}
