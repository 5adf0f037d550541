#!/usr/bin/env bash
# What watching the backups of idle clusters costs per cluster and minute, before and now
# (issue 16: serve ran `pgbackrest info` and a pg_stat_archiver query on every cluster every
# 30 s). Two measurements, one run:
#  1. how often each kind of check runs: BenchmarkIdleClusterBackupChecks
#     (internal/reconcile) runs the reconciler's backup passes for 50 idle clusters over a
#     simulated day (one automated backup each) against a counting backup engine, with
#     the schedule before (a repository read and an archiver query at every pass) and now;
#  2. what one check costs on a real writer and repository: BenchmarkRepositoryReadCost
#     (internal/backup; root, pgBackRest, PostgreSQL 15): `pgbackrest info`, the
#     pg_stat_archiver connection and query, and the directory reads that replace them.
# Prints both and the estimated milliseconds per cluster-minute, before and now, and
# their ratio.
# Usage: bench/backupchecks.sh [cost rounds, default 20]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-20}
counts=$(go test -count=1 -run XXX -bench BenchmarkIdleClusterBackupChecks -benchtime 1x ./internal/reconcile/ | grep '^Benchmark')
costs=$(go test -count=1 -run XXX -bench BenchmarkRepositoryReadCost -benchtime "${rounds}x" ./internal/backup/ | grep '^Benchmark')
echo "$counts"
echo "$costs"
{ echo "$counts"; echo "$costs"; } | awk '
  function metric(line, unit,   i, n, f) { n = split(line, f, /[ \t]+/); for (i = 2; i <= n; i++) if (f[i] == unit) return f[i-1]; return 0 }
  /IdleClusterBackupChecks\/before/ { br = metric($0, "reads/cluster-min"); bq = metric($0, "queries/cluster-min"); bd = metric($0, "dirreads/cluster-min") }
  /IdleClusterBackupChecks\/now/    { nr = metric($0, "reads/cluster-min"); nq = metric($0, "queries/cluster-min"); nd = metric($0, "dirreads/cluster-min") }
  /RepositoryReadCost\/info/        { info = metric($0, "ns/op") / 1e6; infocpu = metric($0, "cpu-ms/op") }
  /RepositoryReadCost\/directories/ { dir = metric($0, "ns/op") / 1e6 }
  /RepositoryReadCost\/archiver/    { query = metric($0, "ns/op") / 1e6 }
  END {
    before = br * info + bq * query + bd * dir
    now = nr * info + nq * query + nd * dir
    printf "per check (ms, wall): info %.1f (pgBackRest CPU %.1f), archiver query %.1f, directory reads %.3f\n", info, infocpu, query, dir
    printf "before: %.3f info + %.3f queries + %.3f dir reads per cluster-minute = %.1f ms\n", br, bq, bd, before
    printf "now:    %.3f info + %.3f queries + %.3f dir reads per cluster-minute = %.1f ms\n", nr, nq, nd, now
    printf "info runs: %.1fx fewer; wall time per cluster-minute: %.1fx less\n", br / nr, before / now
  }'
