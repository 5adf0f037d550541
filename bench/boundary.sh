#!/usr/bin/env bash
# Decision time without and with a permissions boundary, in one run: the whole decision
# path of an API call for a user with 10 attached policies (internal/iam
# BenchmarkBoundaryDecisionPaired: authenticate, read the policies from the store,
# evaluate), and the evaluation alone (internal/iam/policy BenchmarkEvaluateBoundary/paired).
# Each benchmark times both cases alternately in one loop, so load from other processes
# hits them alike; prints each round and the medians of the times and of the ratio.
# Usage: bench/boundary.sh [rounds, default 5] [benchtime, default 2s]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
benchtime=${2:-2s}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/iam.test" ./internal/iam
go test -c -o "$tmp/policy.test" ./internal/iam/policy
for _ in $(seq "$rounds"); do
	(cd internal/iam && "$tmp/iam.test" -test.run xxx -test.bench 'BoundaryDecisionPaired' -test.benchtime "$benchtime")
	(cd internal/iam/policy && "$tmp/policy.test" -test.run xxx -test.bench 'EvaluateBoundary/paired' -test.benchtime "$benchtime")
done | tee /dev/stderr | awk '/^Benchmark(BoundaryDecisionPaired|EvaluateBoundary\/paired)/ {
		name = $1; sub(/-[0-9]+$/, "", name)
		for (i = 3; i < NF; i++) {
			if ($(i + 1) == "without-ns/op") wo[name] = wo[name] " " $i
			if ($(i + 1) == "with-ns/op") wi[name] = wi[name] " " $i
			if ($(i + 1) == "with/without") r[name] = r[name] " " $i
		}
	}
	function median(s,   v, k, i, j, x) {
		k = split(s, v, " ")
		for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (v[j] + 0 < v[i] + 0) { x = v[i]; v[i] = v[j]; v[j] = x }
		return k % 2 ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2
	}
	END {
		for (n in r) printf "%s: without %.0f ns/op, with %.0f ns/op, median ratio with/without %.2f (rounds:%s)\n", n, median(wo[n]), median(wi[n]), median(r[n]), r[n]
	}'
