package policy

import "testing"

func TestMatchTokens(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "anything:at/all", true},
		{"a*", "a", true},
		{"a*", "ba", false},
		{"*a", "bba", true},
		{"*a", "ab", false},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXcYYb", false},
		{"a**c", "abc", true},
		{"?", "", false},
		{"?", "é", true}, // one character, two bytes
		{"??", "é", false},
		{"a?c", "abc", true},
		{"a?c", "abbc", false},
		{"*?", "", false},
		{"*?", "x", true},
		{"*aab", "aaaab", true}, // needs backtracking
		{"*ab*ab", "abxabyab", true},
		{"arn:aws:s3:::b/*", "arn:aws:s3:::b/x/y:z", true},
	}
	for _, tc := range tests {
		p := compilePattern(tc.pattern, false, true)
		if got := matchTokens(p.toks, tc.s); got != tc.want {
			t.Errorf("match(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

func TestActionMatching(t *testing.T) {
	tests := []struct {
		pattern, action string
		want            bool
	}{
		{"rds:CreateDBCluster", "rds:CreateDBCluster", true},
		{"rds:CreateDBCluster", "rds:createdbcluster", true},
		{"RDS:createdbcluster", "rds:CreateDBCluster", true},
		{"rds:CreateDBCluster", "rds:CreateDBClusterSnapshot", false},
		{"rds:CreateDBCluster", "ec2:CreateDBCluster", false},
		{"rds:Describe*", "rds:DescribeDBClusters", true},
		{"rds:describe*", "rds:DescribeDBClusters", true},
		{"rds:Describe*", "rds:ListTagsForResource", false},
		{"rds:*", "rds:DeleteDBInstance", true},
		{"rds:*", "ec2:DescribeVpcs", false},
		{"*", "iam:CreateUser", true},
		{"rds:Describe?BClusters", "rds:DescribeDBClusters", true},
		{"rds:Describe?", "rds:DescribeDB", false},
		{"rds:*Cluster*", "rds:ModifyDBClusterParameterGroup", true},
		{"rds:*Cluster", "rds:ModifyDBClusterParameterGroup", false},
		{"ec2:Describe*", "rds:DescribeDBClusters", false},
		{"iam:*AccessKey*", "iam:CreateAccessKey", true},
	}
	for _, tc := range tests {
		doc := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"` + tc.pattern + `","Resource":"*"}}`
		got := decide(t, Request{Action: tc.action, Resource: "*"}, doc) == Allow
		if got != tc.want {
			t.Errorf("Action %q vs %q: allowed=%v, want %v", tc.pattern, tc.action, got, tc.want)
		}
	}
}

func TestResourceMatching(t *testing.T) {
	const cluster = "arn:aws:rds:us-east-1:123456789012:cluster:prod"
	tests := []struct {
		pattern, resource string
		want              bool
	}{
		{"*", cluster, true},
		{"*", "*", true},
		{cluster, cluster, true},
		{"arn:aws:rds:us-east-1:123456789012:cluster:Prod", cluster, false}, // case-sensitive
		{"arn:aws:rds:*:123456789012:cluster:*", cluster, true},
		{"arn:aws:rds:*:123456789012:cluster:*", "arn:aws:rds:eu-west-1:123456789012:cluster:x", true},
		{"arn:aws:rds:*:123456789012:cluster:*", "arn:aws:rds:eu-west-1:999999999999:cluster:x", false},
		{"arn:aws:rds:*", cluster, true},                                 // '*' spans ':'
		{"arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b/c.txt", true}, // and '/'
		{"arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket2/a", false},
		{"arn:aws:rds:us-east-1:123456789012:db:prod-??", "arn:aws:rds:us-east-1:123456789012:db:prod-01", true},
		{"arn:aws:rds:us-east-1:123456789012:db:prod-??", "arn:aws:rds:us-east-1:123456789012:db:prod-1", false},
		{"arn:aws:rds:*:*:db:*", cluster, false},
		{"arn:aws:rds:us-east-1:123456789012:db:x", "*", false}, // an action without a resource needs "*"
	}
	for _, tc := range tests {
		doc := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"rds:*","Resource":"` + tc.pattern + `"}}`
		got := decide(t, Request{Action: "rds:DescribeDBClusters", Resource: tc.resource}, doc) == Allow
		if got != tc.want {
			t.Errorf("Resource %q vs %q: allowed=%v, want %v", tc.pattern, tc.resource, got, tc.want)
		}
	}
}

func TestNotActionNotResource(t *testing.T) {
	const (
		prod = "arn:aws:rds:us-east-1:123456789012:cluster:prod"
		dev  = "arn:aws:rds:us-east-1:123456789012:cluster:dev"
	)
	allowAllButIAM := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":["iam:*","organizations:*"],"Resource":"*"}}`
	denyAllButReads := `{"Version":"2012-10-17","Statement":{"Sid":"ReadOnly","Effect":"Deny","NotAction":["rds:Describe*","rds:List*"],"Resource":"*"}}`
	allowAllButProd := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"rds:*","NotResource":"` + prod + `"}}`
	denyOutsideDev := `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"rds:*","NotResource":["arn:aws:rds:*:*:cluster:dev*"]}}`

	tests := []struct {
		name     string
		req      Request
		policies []string
		want     Decision
	}{
		{"NotAction allows others", Request{Action: "rds:CreateDBCluster", Resource: "*"}, []string{allowAllButIAM}, Allow},
		{"NotAction excludes listed", Request{Action: "iam:CreateUser", Resource: "*"}, []string{allowAllButIAM}, ImplicitDeny},
		{"NotAction excludes case-insensitively", Request{Action: "IAM:CreateUser", Resource: "*"}, []string{allowAllButIAM}, ImplicitDeny},
		{"Deny NotAction spares reads", Request{Action: "rds:DescribeDBClusters", Resource: prod}, []string{allowAll, denyAllButReads}, Allow},
		{"Deny NotAction hits writes", Request{Action: "rds:DeleteDBCluster", Resource: prod}, []string{allowAll, denyAllButReads}, ExplicitDeny},
		{"NotResource allows others", Request{Action: "rds:DeleteDBCluster", Resource: dev}, []string{allowAllButProd}, Allow},
		{"NotResource excludes listed", Request{Action: "rds:DeleteDBCluster", Resource: prod}, []string{allowAllButProd}, ImplicitDeny},
		{"NotResource and no resource", Request{Action: "rds:DescribeDBClusters", Resource: "*"}, []string{allowAllButProd}, Allow},
		{"Deny NotResource spares listed", Request{Action: "rds:DeleteDBCluster", Resource: dev}, []string{allowAll, denyOutsideDev}, Allow},
		{"Deny NotResource hits others", Request{Action: "rds:DeleteDBCluster", Resource: prod}, []string{allowAll, denyOutsideDev}, ExplicitDeny},
		{"Deny NotResource other service", Request{Action: "ec2:DescribeVpcs", Resource: "*"}, []string{allowAll, denyOutsideDev}, Allow},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := decide(t, tc.req, tc.policies...); got != tc.want {
				t.Fatalf("decision = %v, want %v", got, tc.want)
			}
		})
	}
}
