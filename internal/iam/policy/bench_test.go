package policy

import (
	"fmt"
	"testing"
)

// benchPolicies: a user with five attached policies of five statements
// each, most of them with conditions.
func benchPolicies(b *testing.B) []*Policy {
	var ps []*Policy
	for i := range 5 {
		doc := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[
		  {"Sid":"Read%[1]d","Effect":"Allow","Action":["rds:Describe*","rds:List*"],"Resource":"*",
		   "Condition":{"StringEquals":{"aws:RequestedRegion":["us-east-1","eu-west-1"]}}},
		  {"Sid":"Own%[1]d","Effect":"Allow","Action":"rds:*","Resource":"arn:aws:rds:*:${aws:PrincipalAccount}:cluster:${aws:PrincipalTag/team}-*",
		   "Condition":{"Bool":{"aws:SecureTransport":"true"},"IpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:db8::/32"]}}},
		  {"Sid":"Tags%[1]d","Effect":"Allow","Action":["rds:AddTagsToResource","rds:CreateDBCluster"],"Resource":"*",
		   "Condition":{"ForAllValues:StringLike":{"aws:TagKeys":["env","team","cost-*"]},"StringEqualsIfExists":{"aws:RequestTag/team":"${aws:PrincipalTag/team}"}}},
		  {"Sid":"Window%[1]d","Effect":"Deny","Action":"rds:Delete*","Resource":"*",
		   "Condition":{"DateGreaterThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}},
		  {"Sid":"Prod%[1]d","Effect":"Deny","NotAction":["rds:Describe*","rds:List*"],"Resource":"arn:aws:rds:*:*:cluster:prod-*",
		   "Condition":{"StringNotEquals":{"aws:PrincipalTag/role":["dba","sre"]},"NumericLessThan":{"aws:MultiFactorAuthAge":"3600"}}}]}`, i)
		p, err := Parse(doc)
		if err != nil {
			b.Fatal(err, detail(err))
		}
		ps = append(ps, p)
	}
	return ps
}

func BenchmarkEvaluate(b *testing.B) {
	ps := benchPolicies(b)
	req := Request{
		Action:   "rds:CreateDBCluster",
		Resource: "arn:aws:rds:us-east-1:123456789012:cluster:db-orders",
		Context: map[string][]string{
			"aws:username":           {"bob"},
			"aws:principalaccount":   {"123456789012"},
			"aws:principaltag/team":  {"db"},
			"aws:principaltag/role":  {"developer"},
			"aws:requestedregion":    {"us-east-1"},
			"aws:securetransport":    {"true"},
			"aws:sourceip":           {"203.0.113.50"},
			"aws:currenttime":        {"2025-06-01T12:00:00Z"},
			"aws:multifactorauthage": {"120"},
			"aws:tagkeys":            {"env", "team"},
			"aws:requesttag/team":    {"db"},
		},
	}
	if r := Evaluate(req, ps); r.Decision != Allow || r.Sid != "Own0" {
		b.Fatalf("unexpected result %+v", r)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		Evaluate(req, ps)
	}
}

func BenchmarkEvaluateMixedCaseContext(b *testing.B) {
	ps := benchPolicies(b)
	req := Request{
		Action:   "rds:DeleteDBCluster",
		Resource: "arn:aws:rds:us-east-1:123456789012:cluster:prod-orders",
		Context: map[string][]string{
			"aws:username": {"bob"}, "aws:PrincipalAccount": {"123456789012"}, "aws:PrincipalTag/team": {"db"},
			"aws:PrincipalTag/role": {"developer"}, "aws:RequestedRegion": {"us-east-1"}, "aws:SecureTransport": {"true"},
			"aws:SourceIp": {"203.0.113.50"}, "aws:CurrentTime": {"2025-06-01T12:00:00Z"}, "aws:MultiFactorAuthAge": {"120"},
		},
	}
	if r := Evaluate(req, ps); r.Decision != ExplicitDeny || r.Sid != "Prod0" {
		b.Fatalf("unexpected result %+v", r)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		Evaluate(req, ps)
	}
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(amazonRDSFullAccess); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEvaluateAdministratorAccess is the baseline for BenchmarkEvaluate: the
// cheapest decision there is, one Allow of every action on every resource.
func BenchmarkEvaluateAdministratorAccess(b *testing.B) {
	p, err := Parse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)
	if err != nil {
		b.Fatal(err)
	}
	req := Request{Action: "rds:CreateDBCluster", Resource: "arn:aws:rds:us-east-1:123456789012:cluster:db-orders",
		Context: map[string][]string{"aws:username": {"bob"}, "aws:sourceip": {"203.0.113.50"}}}
	ps := []*Policy{p}
	if r := Evaluate(req, ps); r.Decision != Allow {
		b.Fatalf("unexpected result %+v", r)
	}
	b.ReportAllocs()
	for b.Loop() {
		Evaluate(req, ps)
	}
}
