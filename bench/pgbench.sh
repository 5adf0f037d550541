#!/usr/bin/env bash
# Measures what the cluster endpoint costs a PostgreSQL client, with pgbench over TLS, in
# one run: straight to the server's private port (the baseline); through the endpoint of a
# `borealis serve` with kernel steering (the default: admitted connections are handed to
# the server's socket by BPF sk_lookup); through the endpoint of a second serve started
# with --kernel-steering=false, whose gateway relays every byte (measured against its own
# server's private port); and through Debian's pgbouncer in session mode, in front of the
# steered endpoint (pgbouncer refuses to run as root, and the servers' private ports admit
# no other local account: see "The endpoint is the only door" in README.md). Prints tps and
# the ratios to direct. Each cell runs ROUNDS rounds of all of them in turn and reports
# median tps and the median of the per-round ratios, so that load from other processes
# hits them alike. Then, for one client select-only, the serve processes' and pgbouncer's
# syscalls (strace -c), context switches and CPU time per transaction.
# Usage: bench/pgbench.sh [seconds per run, default 5] [rounds, default 3]
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-5}
rounds=${2:-3}
make -s -C "$top" build
command -v pgbouncer >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null; }

work=$(mktemp -d /tmp/borealis-bench-XXXXXX)
chmod 755 "$work"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
api="127.0.0.1:$(free_port)"
cleanup() {
  # su does not pass the signal on: stop pgbouncer itself.
  [ -f "$work/pgbouncer.pid" ] && kill "$(cat "$work/pgbouncer.pid")" 2>/dev/null || true
  [ -n "${bouncer_pid:-}" ] && kill "$bouncer_pid" 2>/dev/null || true
  for p in ${serve_pid:-} ${relay_pid:-}; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done
  # The clusters' OS accounts (GECOS: engine.TenantMarker): serve removes one only with its
  # cluster.
  getent passwd | awk -F: -v w="$work/" '$5 == "Borealis PostgreSQL tenant" && index($6, w) == 1 {print $1}' |
    while read -r u; do userdel "$u" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# start_serve NAME [serve flags...]: a serve with one cluster open to 127.0.0.1; sets
# NAME_pid, NAME_port (the endpoint) and NAME_private (the server's own port).
start_serve() {
  local name=$1; shift
  local api="127.0.0.1:$(free_port)" dir=$work/$name
  "$top/bin/borealis" serve --data-dir "$dir" --api-addr "$api" --dns-addr off "$@" >"$work/$name.log" 2>&1 &
  printf -v "${name}_pid" %s $!
  for _ in $(seq 1 100); do curl -fsS "http://$api/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  awsb() { AWS_SHARED_CREDENTIALS_FILE=$dir/credentials aws --endpoint-url "http://$api" --region us-east-1 "$@"; }
  awsb rds create-db-cluster --db-cluster-identifier bench --engine aurora-postgresql \
    --master-username bench --master-user-password 'Bench-pass-1' >/dev/null
  awsb rds create-db-instance --db-instance-identifier bench-1 --db-cluster-identifier bench \
    --db-instance-class db.r6g.large --engine aurora-postgresql >/dev/null
  until [ "$(awsb rds describe-db-instances --db-instance-identifier bench-1 --query 'DBInstances[0].DBInstanceStatus' --output text)" = available ]; do sleep 0.5; done
  local sg port
  sg=$(awsb rds describe-db-clusters --db-cluster-identifier bench --query 'DBClusters[0].VpcSecurityGroups[0].VpcSecurityGroupId' --output text)
  port=$(awsb rds describe-db-clusters --db-cluster-identifier bench --query 'DBClusters[0].Port' --output text)
  awsb ec2 authorize-security-group-ingress --group-id "$sg" --protocol tcp --port "$port" --cidr 127.0.0.1/32 >/dev/null
  printf -v "${name}_port" %s "$port"
  printf -v "${name}_private" %s "$(sed -n "s/^port = '\([0-9]*\)'/\1/p" "$dir"/clusters/*/data/borealis.conf)"
}
start_serve serve
start_serve relay --kernel-steering=false
port=$serve_port private=$serve_private
grep -q 'kernel steering on' "$work/serve.log" || echo "warning: kernel steering is off in the first serve (see its log); both columns are relayed" >&2

# pgbouncer in session mode in front of the endpoint, TLS on both sides.
bport=$(free_port)
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/bouncer.key" -out "$work/bouncer.crt" -subj /CN=localhost -days 1 2>/dev/null
# The password itself: the master's is stored as SCRAM, and pgbouncer can answer a SCRAM
# challenge only from the password (an md5 hash would do for md5 servers alone).
printf '"bench" "%s"\n' 'Bench-pass-1' >"$work/userlist.txt"
cat >"$work/pgbouncer.ini" <<INI
[databases]
postgres = host=127.0.0.1 port=$port dbname=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bport
auth_type = md5
auth_file = $work/userlist.txt
pool_mode = session
max_client_conn = 200
default_pool_size = 50
client_tls_sslmode = require
client_tls_key_file = $work/bouncer.key
client_tls_cert_file = $work/bouncer.crt
server_tls_sslmode = require
logfile = $work/pgbouncer.log
pidfile = $work/pgbouncer.pid
INI
chown -R postgres "$work/bouncer.key" "$work/bouncer.crt" "$work/userlist.txt" "$work/pgbouncer.ini"
touch "$work/pgbouncer.log" && chown postgres "$work/pgbouncer.log" && chmod 777 "$work"
su postgres -s /bin/sh -c "pgbouncer $work/pgbouncer.ini" >/dev/null 2>&1 &
bouncer_pid=$!
# A column of zeros would read as a result: stop unless pgbouncer answers.
for i in $(seq 1 50); do
  PGPASSWORD='Bench-pass-1' psql "host=127.0.0.1 port=$bport user=bench dbname=postgres sslmode=require" -Atc 'SELECT 1' >/dev/null 2>&1 && break
  [ "$i" = 50 ] && { echo "pgbouncer does not answer; its log:" >&2; cat "$work/pgbouncer.log" >&2; exit 1; }
  sleep 0.2
done

export PGPASSWORD='Bench-pass-1' PGSSLMODE=require PGUSER=bench PGDATABASE=postgres
for p in "$port" "$relay_port"; do
  pgbench -q -i -s 10 -h 127.0.0.1 -p "$p" >"$work/init.log" 2>&1 || { cat "$work/init.log"; exit 1; }
done

tps() { # tps HOST_PORT CLIENTS [extra pgbench flags]
  local p=$1 c=$2; shift 2
  pgbench -h 127.0.0.1 -p "$p" -c "$c" -j "$c" -T "$secs" -n "$@" 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p'
}
printf '%-32s %7s %7s %7s %7s %9s %7s %7s %7s  %s\n' workload clients direct steered relayed pgbouncer st/dir rel/dir pgb/dir 'st/dir per round'
run() { # run NAME CLIENTS FLAGS...
  local name=$1 c=$2; shift 2
  for _ in $(seq 1 "$rounds"); do
    echo "$(tps "$private" "$c" "$@") $(tps "$port" "$c" "$@") $(tps "$relay_private" "$c" "$@") $(tps "$relay_port" "$c" "$@") $(tps "$bport" "$c" "$@")"
  done | awk -v n="$name" -v c="$c" '
    function med(a, k,   i, j, t) { for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
      return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2 }
    { d[NR] = $1; st[NR] = $2; rl[NR] = $4; b[NR] = $5; rs[NR] = $2 / $1; rr[NR] = $4 / $3; rb[NR] = $5 / $1; s = s sprintf(" %.2f", $2 / $1) }
    END { printf "%-32s %7s %7.0f %7.0f %7.0f %9.0f %7.2f %7.2f %7.2f %s\n", n, c, med(d, NR), med(st, NR), med(rl, NR), med(b, NR), med(rs, NR), med(rr, NR), med(rb, NR), s }'
}
for c in 1 4 16; do run "select-only (-S)" "$c" -S; done
for c in 1 4 16; do run "tpc-b-like" "$c"; done
run "connect per transaction (-C -S)" 4 -C -S

# What one select-only transaction costs the process in the middle.
tx=5000
cost() { # cost NAME PID PORT
  local name=$1 pid=$2 p=$3 tasks before after
  tasks() { for t in /proc/"$pid"/task/*; do awk '/^voluntary_ctxt/ { v = $2 } /^nonvoluntary_ctxt/ { n = $2 } END { printf "%d ", v + n }' "$t/status"; awk '{ print $14 + $15 }' "$t/stat"; done | awk '{ cs += $1; cpu += $2 } END { print cs, cpu }'; }
  before=$(tasks)
  pgbench -h 127.0.0.1 -p "$p" -c 1 -j 1 -t "$tx" -n -S >/dev/null 2>&1
  after=$(tasks)
  strace -f -c -o "$work/strace.$name" -p "$pid" 2>/dev/null & local st=$!
  sleep 1
  pgbench -h 127.0.0.1 -p "$p" -c 1 -j 1 -t "$tx" -n -S >/dev/null 2>&1
  kill -INT "$st"; wait "$st" 2>/dev/null || true
  local sys; sys=$(awk -v tx="$tx" '$NF != "total" && $4 ~ /^[0-9]+$/ { n[$NF] = $4; t += $4 } END {
      for (s in n) if (n[s] / tx >= 0.05) l = l sprintf(" %s %.2f", s, n[s] / tx); printf "%.2f (%s )", t / tx, l }' "$work/strace.$name")
  echo "$before $after" | awk -v n="$name" -v tx="$tx" -v hz="$(getconf CLK_TCK)" -v sys="$sys" \
    '{ printf "%-10s ctx switches/tx %.2f  cpu us/tx %.0f  syscalls/tx %s\n", n, ($3 - $1) / tx, ($4 - $2) * 1e6 / hz / tx, sys }'
}
if command -v strace >/dev/null; then
  echo
  echo "select-only, 1 client, per transaction, in the process between pgbench and PostgreSQL:"
  cost steered "$serve_pid" "$port"
  cost relayed "$relay_pid" "$relay_port"
  cost pgbouncer "$(cat "$work/pgbouncer.pid")" "$bport"
fi
