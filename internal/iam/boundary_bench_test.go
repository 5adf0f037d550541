package iam

import (
	"fmt"
	"testing"
)

// benchTenPolicies gives the user "bench" the 10 attached policies of
// BenchmarkDecisionUserWith10Policies and, when boundary is set, a permissions boundary
// of 3 statements (the last allowing the call), so that the two differ only by it.
func benchTenPolicies(b *testing.B, boundary bool) *env {
	e := newEnv(b)
	kv := []string{}
	if boundary {
		arn := e.policy("Boundary", `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":["rds:Describe*","rds:List*"],"Resource":"*"},
			{"Effect":"Deny","Action":"rds:Delete*","Resource":"arn:aws:rds:*:*:cluster:prod-*"},
			{"Effect":"Allow","Action":"rds:CreateDBCluster","Resource":"arn:aws:rds:*:*:cluster:dev-*",
			 "Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}}}]}`)
		kv = []string{"PermissionsBoundary", arn}
	}
	e.user("bench", kv...)
	for i := range 10 {
		doc := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":["rds:Describe*","rds:List*"],"Resource":"*"},
			{"Effect":"Deny","Action":"rds:Delete*","Resource":"arn:aws:rds:*:*:cluster:prod-*"},
			{"Effect":"Allow","Action":"rds:CreateDBCluster","Resource":"arn:aws:rds:*:*:cluster:%s-*",
			 "Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"},"StringEquals":{"rds:DatabaseEngine":"aurora-postgresql"}}}]}`,
			map[bool]string{true: "dev", false: fmt.Sprintf("team%d", i)}[i == 9])
		e.do("AttachUserPolicy", "UserName", "bench", "PolicyArn", e.policy(fmt.Sprintf("p%d", i), doc))
	}
	return e
}

// BenchmarkBoundaryDecision compares, in one run, the decision path for a user with 10
// policies without and with a permissions boundary (BENCHMARKS.md, "Permissions
// boundaries").
func BenchmarkBoundaryDecision(b *testing.B) {
	for _, c := range []struct {
		name     string
		boundary bool
	}{{"without", false}, {"with", true}} {
		b.Run(c.name, func(b *testing.B) {
			e := benchTenPolicies(b, c.boundary)
			benchDecision(b, e, e.key("bench").AccessKeyID)
		})
	}
}
