package iam

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/borealis-db/borealis/internal/authz"
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

// BenchmarkBoundaryDecisionPaired runs the two decisions of BenchmarkBoundaryDecision
// alternately in one loop and reports each one's time and their ratio: on a shared,
// loaded machine both see the same load, so the ratio holds where separate runs drift.
func BenchmarkBoundaryDecisionPaired(b *testing.B) {
	without, with := benchTenPolicies(b, false), benchTenPolicies(b, true)
	pairedDecisions(b, []*env{without, with}, []string{without.key("bench").AccessKeyID, with.key("bench").AccessKeyID})
}

// pairedDecisions times benchDecision's call for each env in turn, every iteration, and
// reports without-ns/op, with-ns/op and with/without.
func pairedDecisions(b *testing.B, envs []*env, keys []string) {
	ctx := context.Background()
	res := []authz.Resource{{ARN: "arn:aws:rds:us-east-1:" + testAccount + ":cluster:dev-orders"}}
	reqKeys := map[string][]string{"aws:SourceIp": {"127.0.0.1"}, "aws:SecureTransport": {"false"}, "rds:DatabaseEngine": {"aurora-postgresql"}}
	spent := make([]time.Duration, len(envs))
	n := 0
	for b.Loop() {
		for i, e := range envs {
			start := time.Now()
			p, err := e.svc.Authenticate(ctx, keys[i], "")
			if err != nil {
				b.Fatal(err)
			}
			if err := e.svc.Authorize(ctx, p, "rds:CreateDBCluster", res, reqKeys); err != nil {
				b.Fatal(err)
			}
			spent[i] += time.Since(start)
		}
		n++
	}
	b.ReportMetric(float64(spent[0].Nanoseconds())/float64(n), "without-ns/op")
	b.ReportMetric(float64(spent[1].Nanoseconds())/float64(n), "with-ns/op")
	b.ReportMetric(float64(spent[1])/float64(spent[0]), "with/without")
}
