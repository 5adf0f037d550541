#!/usr/bin/env bash
# Measures what issue 17's per-source counting of refused connections costs (package
# steer's BenchmarkConnect): connects to a kernel-steered endpoint, admitted (steered to the
# server's socket) and refused at the SYN, with the sk_lookup program without the counting
# (the baseline) and with it, swapped in place in its link every 100 connects, so that both
# share the machine's moments. Only connect() is timed. Needs root, BPF and cgroup v2.
# Prints each run, the medians of ROUNDS runs, and the median of the runs' rate ratios
# counting/off (each run's two programs met the same moments).
# Usage: bench/refusals.sh [rounds, default 5] [connects per run, default 4000]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-5}
n=${2:-4000}
cd "$top"
go test -count="$rounds" -run '^$' -bench '^BenchmarkConnect$' -benchtime "${n}x" ./internal/steer/ |
	tee /dev/stderr |
	awk '/^BenchmarkConnect\// {
		name=$1; sub(/^BenchmarkConnect\//, "", name); sub(/-[0-9]+$/, "", name)
		for (i = 4; i < NF; i++) {
			if ($(i+1) == "ns/connect-off") o = $i
			if ($(i+1) == "ns/connect-counting") c = $i
		}
		off[name] = off[name] " " o; on[name] = on[name] " " c; ratio[name] = ratio[name] " " o / c
	}
	function median(s,   a, k, i, j, t) {
		k = split(s, a, " ")
		for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
		return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
	}
	END {
		for (p in off) {
			o = median(off[p]); c = median(on[p])
			printf "%s: median ns/connect off %.0f, counting %.0f; connect rate counting/off, median of the runs: %.3f\n", p, o, c, median(ratio[p])
		}
	}'
