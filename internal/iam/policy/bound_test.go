package policy

import "testing"

// TestBoundedIsTheIntersection walks AWS's table for identity policies and a permissions
// boundary: allowed only where both allow; an explicit deny in either wins; a boundary
// alone grants nothing.
func TestBoundedIsTheIntersection(t *testing.T) {
	rdsAll := mustParse(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["rds:*","iam:*"],"Resource":"*"}]}`)
	boundary := mustParse(t, `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Action":["rds:Describe*","rds:CreateDBCluster","ec2:*"],"Resource":"*"},
	  {"Sid":"NoProd","Effect":"Deny","Action":"rds:*","Resource":"arn:aws:rds:*:*:cluster:prod"}]}`)
	denyDescribeDev := mustParse(t, `{"Version":"2012-10-17","Statement":[{"Sid":"D","Effect":"Deny","Action":"rds:DescribeDBClusters","Resource":"arn:aws:rds:*:*:cluster:dev"}]}`)
	b := []Bound{{Kind: BoundaryKind, Policies: []*Policy{boundary}}}
	const dev, prod = "arn:aws:rds:us-east-1:1:cluster:dev", "arn:aws:rds:us-east-1:1:cluster:prod"
	for _, c := range []struct {
		name     string
		action   string
		resource string
		identity []*Policy
		bounds   []Bound
		want     Decision
		by       string
	}{
		{"both allow", "rds:CreateDBCluster", dev, []*Policy{rdsAll}, b, Allow, ""},
		{"identity allows, boundary does not", "rds:DeleteDBCluster", dev, []*Policy{rdsAll}, b, ImplicitDeny, BoundaryKind},
		{"identity allows iam, boundary does not", "iam:CreateUser", "*", []*Policy{rdsAll}, b, ImplicitDeny, BoundaryKind},
		{"boundary allows, identity does not: a boundary never grants", "ec2:CreateVpc", "*", []*Policy{rdsAll}, b, ImplicitDeny, IdentityKind},
		{"explicit deny in the boundary", "rds:CreateDBCluster", prod, []*Policy{rdsAll}, b, ExplicitDeny, BoundaryKind},
		{"explicit deny in identity policies", "rds:DescribeDBClusters", dev, []*Policy{rdsAll, denyDescribeDev}, b, ExplicitDeny, IdentityKind},
		{"no identity policy, boundary denies: the deny is reported", "rds:CreateDBCluster", prod, nil, b, ExplicitDeny, BoundaryKind},
		{"boundary whose policy is gone allows nothing", "rds:DescribeDBClusters", dev, []*Policy{rdsAll}, []Bound{{Kind: BoundaryKind}}, ImplicitDeny, BoundaryKind},
		{"boundary of nil policies allows nothing", "rds:DescribeDBClusters", dev, []*Policy{rdsAll}, []Bound{{Kind: BoundaryKind, Policies: []*Policy{nil}}}, ImplicitDeny, BoundaryKind},
		{"no bounds is Evaluate", "rds:DeleteDBCluster", dev, []*Policy{rdsAll}, nil, Allow, ""},
		{"two bounds: both must allow", "rds:DescribeDBClusters", dev, []*Policy{rdsAll},
			append(b, Bound{Kind: "session policy", Policies: []*Policy{mustParse(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"rds:CreateDBCluster","Resource":"*"}]}`)}}),
			ImplicitDeny, "session policy"},
	} {
		v := EvaluateBounded(Request{Action: c.action, Resource: c.resource}, c.identity, c.bounds)
		if v.Decision != c.want || v.By != c.by || len(v.Bounds) != len(c.bounds) {
			t.Errorf("%s: got %v by %q (%d bound results), want %v by %q", c.name, v.Decision, v.By, len(v.Bounds), c.want, c.by)
		}
	}
}

// TestBoundedIndeterminateBoundaryFailsClosed: a boundary condition the evaluator cannot
// interpret does not let an Allow through, and an indeterminate Deny in it applies.
func TestBoundedIndeterminateBoundaryFailsClosed(t *testing.T) {
	all := mustParse(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)
	allowOdd := mustParse(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}`)
	req := Request{Action: "rds:CreateDBCluster", Resource: "*", Context: map[string][]string{"aws:SourceIp": {"not-an-ip"}}}
	if v := EvaluateBounded(req, []*Policy{all}, []Bound{{Kind: BoundaryKind, Policies: []*Policy{allowOdd}}}); v.Decision != ImplicitDeny {
		t.Fatalf("indeterminate Allow in the boundary: %v", v.Decision)
	}
	denyOdd := mustParse(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}`)
	if v := EvaluateBounded(req, []*Policy{all}, []Bound{{Kind: BoundaryKind, Policies: []*Policy{denyOdd}}}); v.Decision != ExplicitDeny {
		t.Fatalf("indeterminate Deny in the boundary: %v", v.Decision)
	}
}
