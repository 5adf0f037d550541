#!/usr/bin/env bash
# Measures what a restart of `borealis serve` (kill -9, then started again at once, as a
# supervisor would) costs the clients of a cluster, for this tree's binary and a baseline
# built from an earlier commit, in one run: the sessions open through the cluster endpoint
# that still answer afterwards, and how long new connections through the endpoint fail
# (from the kill to the first client that logs in over verify-full TLS and runs a query;
# bench/restartprobe does the client side). Each binary gets its own serve and cluster,
# and this tree's binary a third one with --kernel-steering=false ("relay": its gateway
# carries every byte, the documented exception); the rounds alternate between them so that
# load from other processes hits them alike.
# Prints each round and the medians.
# Usage: bench/restart.sh [restarts per binary, default 5] [baseline commit, default 04841a8]
# (BASE_BIN=path/to/borealis skips building the baseline; its guard.so must be beside it.)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-5}
base_commit=${2:-04841a8}
sessions=8
make -s -C "$top" build

work=$(mktemp -d /tmp/borealis-restart-bench-XXXXXX)
chmod 755 "$work"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
cleanup() {
  for name in new base relay; do
    [ -f "$work/$name.pid" ] && kill -TERM "$(cat "$work/$name.pid")" 2>/dev/null || true
  done
  sleep 2
  if [ -d "$work/base-src" ]; then git -C "$top" worktree remove --force "$work/base-src" 2>/dev/null || true; fi
  # The clusters' OS accounts (GECOS: engine.TenantMarker): serve removes one only with its
  # cluster.
  getent passwd | awk -F: -v w="$work/" '$5 == "Borealis PostgreSQL tenant" && index($6, w) == 1 {print $1}' |
    while read -r u; do userdel "$u" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

base_bin=${BASE_BIN:-}
if [ -z "$base_bin" ]; then
  git -C "$top" worktree add -q --detach "$work/base-src" "$base_commit"
  (cd "$work/base-src" && go build -o bin/borealis ./cmd/borealis && make -s bin/guard.so DEPS=) >"$work/base-build.log" 2>&1 ||
    { cat "$work/base-build.log"; exit 1; }
  base_bin=$work/base-src/bin/borealis
fi
go build -C "$top" -o "$work/restartprobe" ./bench/restartprobe

# start_serve NAME BINARY [serve flags...]: a serve with one cluster open to 127.0.0.1 (the
# restart command in $work/NAME.restart starts it again); sets NAME_conninfo.
start_serve() {
  local name=$1 bin=$2 dir=$work/$1 api="127.0.0.1:$(free_port)" extra=""
  shift 2
  "$bin" serve --help 2>&1 | grep -q -- --dns-addr && extra="--dns-addr off"
  extra="$extra $*"
  printf '%q serve --data-dir %q --api-addr %q %s >>%q 2>&1 & echo $! >%q\n' "$bin" "$dir" "$api" "$extra" "$work/$name.log" "$work/$name.pid" >"$work/$name.restart"
  sh "$work/$name.restart"
  echo "$api" >"$work/$name.api"
  wait_healthy "$name"
  awsb() { AWS_SHARED_CREDENTIALS_FILE=$dir/credentials aws --endpoint-url "http://$api" --region us-east-1 "$@"; }
  awsb rds create-db-cluster --db-cluster-identifier bench --engine aurora-postgresql --port "$(free_port)" \
    --master-username bench --master-user-password 'Bench-pass-1' >/dev/null
  awsb rds create-db-instance --db-instance-identifier bench-1 --db-cluster-identifier bench \
    --db-instance-class db.r6g.large --engine aurora-postgresql >/dev/null
  wait_available "$name"
  local sg port endpoint
  sg=$(awsb rds describe-db-clusters --db-cluster-identifier bench --query 'DBClusters[0].VpcSecurityGroups[0].VpcSecurityGroupId' --output text)
  port=$(awsb rds describe-db-clusters --db-cluster-identifier bench --query 'DBClusters[0].Port' --output text)
  endpoint=$(awsb rds describe-db-clusters --db-cluster-identifier bench --query 'DBClusters[0].Endpoint' --output text)
  awsb ec2 authorize-security-group-ingress --group-id "$sg" --protocol tcp --port "$port" --cidr 127.0.0.1/32 >/dev/null
  printf -v "${name}_conninfo" '%s' "host=$endpoint port=$port user=bench password=Bench-pass-1 dbname=postgres sslmode=verify-full sslrootcert=$dir/global-bundle.pem"
}
wait_healthy() {
  local api; api=$(cat "$work/$1.api")
  for _ in $(seq 1 600); do curl -fsS "http://$api/healthz" >/dev/null 2>&1 && return; sleep 0.1; done
  echo "$1: serve did not answer; its log:" >&2; tail -20 "$work/$1.log" >&2; exit 1
}
wait_available() {
  local api dir=$work/$1; api=$(cat "$work/$1.api")
  for _ in $(seq 1 600); do
    [ "$(AWS_SHARED_CREDENTIALS_FILE=$dir/credentials aws --endpoint-url "http://$api" --region us-east-1 rds describe-db-instances \
      --db-instance-identifier bench-1 --query 'DBInstances[0].DBInstanceStatus' --output text 2>/dev/null)" = available ] && return
    sleep 0.2
  done
  echo "$1: instance not available; serve's log:" >&2; tail -20 "$work/$1.log" >&2; exit 1
}
start_serve new "$top/bin/borealis"
start_serve base "$base_bin"
start_serve relay "$top/bin/borealis" --kernel-steering=false
grep -q 'kernel steering on' "$work/new.log" || echo "warning: no kernel steering here: this tree's endpoint is relayed and its sessions end with serve" >&2

# One restart of NAME: prints the probe's line.
restart() {
  local name=$1 conninfo
  conninfo=${name}_conninfo
  "$work/restartprobe" -conninfo "${!conninfo}" -sessions "$sessions" -kill "$(cat "$work/$name.pid")" -restart "sh $work/$name.restart"
  wait_healthy "$name"
  wait_available "$name"
  sleep 1 # let the restarted serve's first passes settle before the next round
}
printf '%-6s %5s %18s %16s %15s %11s\n' binary round first_success_ms failed_attempts sessions_alive connect_ms
for i in $(seq 1 "$rounds"); do
  for name in new base relay; do
    restart "$name" | awk -v n="$name" -v i="$i" '{ printf "%-6s %5d %18.1f %16d %12d/%-2d %11.1f\n", n, i, $2, $4, $6, $8, $10 }'
  done
done | tee "$work/rounds"
echo
awk '
  function med(a, k,   i, j, t) { for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2 }
  { n = $1; k[n]++; fs[n, k[n]] = $3; split($5, s, "/"); alive[n] += s[1]; total[n] += s[2]; cm[n, k[n]] = $6 }
  END {
    printf "%-6s %22s %26s %24s\n", "binary", "sessions surviving", "median first success (ms)", "median connect (ms)"
    split("new base relay", names, " ")
    for (j = 1; j <= 3; j++) {
      n = names[j]; if (!k[n]) continue
      delete a; for (i = 1; i <= k[n]; i++) a[i] = fs[n, i]; m = med(a, k[n])
      delete b; for (i = 1; i <= k[n]; i++) b[i] = cm[n, i]; c = med(b, k[n])
      printf "%-6s %14d/%-3d (%3.0f%%) %26.1f %24.1f\n", n, alive[n], total[n], 100 * alive[n] / total[n], m, c
    }
  }' "$work/rounds"
