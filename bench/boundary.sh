#!/usr/bin/env bash
# Decision time without and with a permissions boundary, in one run: the whole decision
# path of an API call for a user with 10 attached policies (internal/iam
# BenchmarkBoundaryDecision: store read + evaluation), and the evaluation alone
# (internal/iam/policy BenchmarkEvaluateBoundary). Rounds alternate so that load from other
# processes hits both alike; prints the medians and the ratios with/without.
# Usage: bench/boundary.sh [rounds, default 5] [benchtime, default 2s]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
benchtime=${2:-2s}
go test -c -o /tmp/boundary-iam.test ./internal/iam
go test -c -o /tmp/boundary-policy.test ./internal/iam/policy
for _ in $(seq "$rounds"); do
	(cd internal/iam && /tmp/boundary-iam.test -test.run xxx -test.bench BoundaryDecision -test.benchtime "$benchtime" -test.benchmem)
	(cd internal/iam/policy && /tmp/boundary-policy.test -test.run xxx -test.bench EvaluateBoundary -test.benchtime "$benchtime" -test.benchmem)
done | tee /dev/stderr | awk '/^Benchmark(BoundaryDecision|EvaluateBoundary)\// {
		name = $1; sub(/-[0-9]+$/, "", name); t[name] = t[name] " " $3; a[name] = $7
	}
	function median(s,   v, k, i, j, x) {
		k = split(s, v, " ")
		for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (v[j] + 0 < v[i] + 0) { x = v[i]; v[i] = v[j]; v[j] = x }
		return k % 2 ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2
	}
	END {
		split("BoundaryDecision EvaluateBoundary", bs, " ")
		for (i = 1; i <= 2; i++) {
			w = median(t["Benchmark" bs[i] "/without"]); b = median(t["Benchmark" bs[i] "/with"])
			printf "%s: without %.0f ns/op (%s allocs), with %.0f ns/op (%s allocs), ratio %.2f\n", bs[i], w, a["Benchmark" bs[i] "/without"], b, a["Benchmark" bs[i] "/with"], b / w
		}
	}'
rm -f /tmp/boundary-iam.test /tmp/boundary-policy.test
