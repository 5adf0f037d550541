#!/usr/bin/env bash
# Measures what the endpoint gateway costs a PostgreSQL client, with pgbench over TLS, in
# one run: straight to the server's private port (the baseline), through the cluster
# endpoint (the gateway), and through Debian's pgbouncer in session mode. Prints tps and the
# ratios to direct. Usage: bench/pgbench.sh [seconds per run, default 15]
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-15}
make -s -C "$top" build
command -v pgbouncer >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null; }

work=$(mktemp -d /tmp/borealis-bench-XXXXXX)
chmod 755 "$work"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
api="127.0.0.1:$(free_port)"
cleanup() {
  [ -n "${bouncer_pid:-}" ] && kill "$bouncer_pid" 2>/dev/null || true
  [ -n "${serve_pid:-}" ] && { kill -TERM "$serve_pid" 2>/dev/null; wait "$serve_pid" 2>/dev/null || true; }
  rm -rf "$work"
}
trap cleanup EXIT

"$top/bin/borealis" serve --data-dir "$work/data" --api-addr "$api" >"$work/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 1 100); do curl -fsS "http://$api/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

export AWS_SHARED_CREDENTIALS_FILE=$work/data/credentials
awsb() { aws --endpoint-url "http://$api" --region us-east-1 "$@"; }
awsb rds create-db-cluster --db-cluster-identifier bench --engine aurora-postgresql \
  --master-username bench --master-user-password 'Bench-pass-1' >/dev/null
awsb rds create-db-instance --db-instance-identifier bench-1 --db-cluster-identifier bench \
  --db-instance-class db.r6g.large --engine aurora-postgresql >/dev/null
until [ "$(awsb rds describe-db-instances --db-instance-identifier bench-1 --query 'DBInstances[0].DBInstanceStatus' --output text)" = available ]; do sleep 0.5; done
# Open the endpoint to this host where security groups are enforced.
sg=$(awsb rds describe-db-clusters --db-cluster-identifier bench --query 'DBClusters[0].VpcSecurityGroups[0].VpcSecurityGroupId' --output text)
port=$(awsb rds describe-db-clusters --db-cluster-identifier bench --query 'DBClusters[0].Port' --output text)
if [ "$sg" != "None" ]; then
  awsb ec2 authorize-security-group-ingress --group-id "$sg" --protocol tcp --port "$port" --cidr 127.0.0.1/32 >/dev/null
fi
private=$(sed -n "s/^port = '\([0-9]*\)'/\1/p" "$work"/data/clusters/*/data/borealis.conf)

# pgbouncer in session mode in front of the private port, TLS on both sides.
bport=$(free_port)
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/bouncer.key" -out "$work/bouncer.crt" -subj /CN=localhost -days 1 2>/dev/null
hash="md5$(printf '%s' 'Bench-pass-1bench' | md5sum | cut -d' ' -f1)"
printf '"bench" "%s"\n' "$hash" >"$work/userlist.txt"
cat >"$work/pgbouncer.ini" <<INI
[databases]
postgres = host=127.0.0.1 port=$private dbname=postgres
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
sleep 1

export PGPASSWORD='Bench-pass-1' PGSSLMODE=require PGUSER=bench PGDATABASE=postgres
pgbench -q -i -s 10 -h 127.0.0.1 -p "$port" >"$work/init.log" 2>&1 || { cat "$work/init.log"; exit 1; }

tps() { # tps HOST_PORT CLIENTS [extra pgbench flags]
  local p=$1 c=$2; shift 2
  pgbench -h 127.0.0.1 -p "$p" -c "$c" -j "$c" -T "$secs" -n "$@" 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p'
}
printf '%-28s %8s %10s %10s %10s %8s %8s\n' workload clients direct gateway pgbouncer gw/dir pgb/dir
run() { # run NAME CLIENTS FLAGS...
  local name=$1 c=$2; shift 2
  local d g b
  d=$(tps "$private" "$c" "$@"); g=$(tps "$port" "$c" "$@"); b=$(tps "$bport" "$c" "$@")
  awk -v n="$name" -v c="$c" -v d="$d" -v g="$g" -v b="$b" \
    'BEGIN { printf "%-28s %8s %10.0f %10.0f %10.0f %8.2f %8.2f\n", n, c, d, g, b, g / d, b / d }'
}
run "select-only (-S)" 1 -S
run "select-only (-S)" 4 -S
run "select-only (-S)" 16 -S
run "tpc-b-like" 4
run "connect per transaction (-C -S)" 4 -C -S
