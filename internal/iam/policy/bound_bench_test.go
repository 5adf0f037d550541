package policy

import (
	"testing"
	"time"
)

// BenchmarkEvaluateBoundary: the evaluation alone (no store) for BenchmarkEvaluate's five
// policies, without and with a permissions boundary of five statements (one of the same
// policies), in one run (BENCHMARKS.md, "Permissions boundaries").
func BenchmarkEvaluateBoundary(b *testing.B) {
	ps := benchPolicies(b)
	req := Request{
		Action:   "rds:CreateDBCluster",
		Resource: "arn:aws:rds:us-east-1:123456789012:cluster:db-orders",
		Context: map[string][]string{
			"aws:username": {"bob"}, "aws:principalaccount": {"123456789012"}, "aws:principaltag/team": {"db"},
			"aws:principaltag/role": {"developer"}, "aws:requestedregion": {"us-east-1"}, "aws:securetransport": {"true"},
			"aws:sourceip": {"203.0.113.50"}, "aws:currenttime": {"2025-06-01T12:00:00Z"}, "aws:multifactorauthage": {"120"},
			"aws:tagkeys": {"env", "team"}, "aws:requesttag/team": {"db"},
		},
	}
	cases := []struct {
		name   string
		bounds []Bound
	}{{"without", nil}, {"with", []Bound{{Kind: BoundaryKind, Policies: ps[4:]}}}}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			if v := EvaluateBounded(req, ps, c.bounds); v.Decision != Allow {
				b.Fatalf("unexpected verdict %+v", v)
			}
			b.ReportAllocs()
			for b.Loop() {
				EvaluateBounded(req, ps, c.bounds)
			}
		})
	}
	// Both alternately in one loop, so that both see the same load: the ratio to read.
	b.Run("paired", func(b *testing.B) {
		var spent [2]time.Duration
		n := 0
		for b.Loop() {
			for i, c := range cases {
				start := time.Now()
				EvaluateBounded(req, ps, c.bounds)
				spent[i] += time.Since(start)
			}
			n++
		}
		b.ReportMetric(float64(spent[0].Nanoseconds())/float64(n), "without-ns/op")
		b.ReportMetric(float64(spent[1].Nanoseconds())/float64(n), "with-ns/op")
		b.ReportMetric(float64(spent[1])/float64(spent[0]), "with/without")
	})
}
