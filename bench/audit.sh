#!/usr/bin/env bash
# The audit trail's cost per API call: the same signed Query call (SigV4 verification,
# authentication, authorization, the action, the answer) through internal/apiserver's
# handler with the trail off and on, in one run. "on" is a real trail in a temporary
# directory on this disk: each event appended and fsync'd before the answer, concurrent
# calls sharing an fsync. callers=1xGOMAXPROCS is one caller per core, 8x eight.
# Usage: bench/audit.sh [benchtime, default 2s] [count, default 3]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
out=$(go test -run '^$' -bench 'CallTrailOffVsOn' -benchtime "${1:-2s}" -count "${2:-3}" ./internal/apiserver/)
echo "$out" | grep Benchmark
echo "$out" | awk '/Benchmark/ { split($1, p, "/"); k = p[2] "/" p[3]; sub(/-[0-9]+$/, "", k); sum[k] += $3; n[k]++ }
END {
  for (c in n) if (c ~ /\/off$/) {
    base = substr(c, 1, length(c) - 4)
    off = sum[c] / n[c]; on = sum[base "/on"] / n[base "/on"]
    printf "%s: off %.0f ns/call, on %.0f ns/call, ratio %.2f (the trail adds %.0f us a call)\n", base, off, on, on / off, (on - off) / 1000
  }
}'
