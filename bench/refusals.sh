#!/usr/bin/env bash
# Measures what issue 17's per-source counting of refused connections costs, in one run,
# with the sk_lookup program without the counting (the baseline: the program as before it)
# and with it (package steer's benchmarks; needs root, BPF and cgroup v2):
#  1. BenchmarkLookupProgram: the program alone, in the kernel (BPF_PROG_TEST_RUN, a
#     million runs a call, the two programs alternated), for an admitted and a refused source;
#  2. BenchmarkConnect: connect() to a kernel-steered endpoint, admitted (steered to the
#     server's socket) and refused at the SYN, the two programs swapped in place in the
#     link every 100 connects so that both meet the same moments of a shared machine.
# Prints each run, the medians of ROUNDS runs and the median of the runs' ratios.
# Usage: bench/refusals.sh [rounds, default 5] [connects per run, default 4000]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-5}
n=${2:-4000}
cd "$top"
summarize() { # unit-suffix: the two metrics are ns/UNIT-off and ns/UNIT-counting
	awk -v unit="$1" '/^Benchmark/ {
		print
		name=$1; sub(/-[0-9]+$/, "", name)
		for (i = 4; i < NF; i++) {
			if ($(i+1) == "ns/" unit "-off") o = $i
			if ($(i+1) == "ns/" unit "-counting") c = $i
		}
		off[name] = off[name] " " o; on[name] = on[name] " " c; ratio[name] = ratio[name] " " c / o
	}
	function median(s,   a, k, i, j, t) {
		k = split(s, a, " ")
		for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
		return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
	}
	END {
		for (p in off)
			printf "%s: median ns/%s off %.1f, counting %.1f; time counting/off, median of the runs: %.3f\n", p, unit, median(off[p]), median(on[p]), median(ratio[p])
	}'
}
go test -count="$rounds" -run '^$' -bench '^BenchmarkLookupProgram$' -benchtime 4x ./internal/steer/ | summarize run
go test -count="$rounds" -run '^$' -bench '^BenchmarkConnect$' -benchtime "${n}x" ./internal/steer/ | summarize connect
