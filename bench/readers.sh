#!/usr/bin/env bash
# Measures issue 15's readers in one run, on one serve and one cluster (a writer and two
# readers, tiers 0 and 1), in this order:
#  1. reader creation: create-db-instance to `available` (polled with the AWS CLI every
#     0.2 s: a poll costs ~0.5 s here, the resolution), for an empty cluster, then for one
#     that pgbench -i -s SCALE filled (~15 MB a scale unit; that third reader is deleted);
#  2. the reader endpoint: pgbench -S through the reader endpoint (two readers) against
#     pgbench -S on one reader's instance endpoint, alternated twice, SECONDS each, 4 clients,
#     verify-full TLS (both steered in the kernel: the reader endpoint spreads over the
#     readers' sockets at the SYN);
#  2b. kernel-steered against relayed: a second serve with --kernel-steering=false and the
#     same cluster (a writer, two readers, pgbench -i -s SCALE); pgbench -S through each
#     one's reader endpoint, alternated twice (steered first, then relayed first), SECONDS
#     each, 4 clients, verify-full TLS;
#  3. automatic failover (the pgbench tables dropped first): the writer's postmaster killed
#     (kill -9) with its restart prevented (its PG_VERSION removed first, as test/e2e
#     TestFailover does), to the first write that commits through the cluster endpoint (a
#     new connection, verify-full TLS, tried every 10 ms by bench/failoverprobe); every
#     instance available again before the next round; then whether every instance has a row
#     written through the cluster endpoint afterwards;
#  4. the floor of 3: a plain PostgreSQL 15 primary and a pg_basebackup standby on this
#     machine, `pg_ctl promote -W` of the standby (run through runuser: ~40 ms of it) to the
#     first committed write on it (a new connection over TCP to 127.0.0.1, no TLS), the same
#     probe, a fresh standby each round.
# Prints each measurement and the medians.
# Usage: bench/readers.sh [failover rounds, default 10] [scale, default 14] [pgbench seconds, default 5]
# CREATION_ONLY=1 runs step 1 alone (both creations, the second after pgbench -i -s SCALE).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-10}
scale=${2:-14}
secs=${3:-5}
pgbin=/usr/lib/postgresql/15/bin
make -s -C "$top" build

work=$(mktemp -d /tmp/borealis-readers-bench-XXXXXX)
chmod 755 "$work"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
cleanup() {
  for f in "$work/serve.pid" "$work/serve2.pid"; do [ -f "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null || true; done
  for d in primary standby; do [ -f "$work/floor/$d/postmaster.pid" ] && runuser -u postgres -- "$pgbin/pg_ctl" stop -m immediate -D "$work/floor/$d" >/dev/null 2>&1 || true; done
  sleep 2
  getent passwd | awk -F: -v w="$work/" '$5 == "Borealis PostgreSQL tenant" && index($6, w) == 1 {print $1}' |
    while read -r u; do userdel "$u" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
go build -C "$top" -o "$work/failoverprobe" ./bench/failoverprobe
go build -C "$top" -o "$work/endpointaddr" ./bench/endpointaddr # where a name listens (serve's DNS is off)
now() { date +%s.%N; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b - a) * 1000 }'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

dir=$work/serve api="127.0.0.1:$(free_port)"
"$top/bin/borealis" serve --data-dir "$dir" --api-addr "$api" --dns-addr off >>"$work/serve.log" 2>&1 &
echo $! >"$work/serve.pid"
for _ in $(seq 1 600); do curl -fsS "http://$api/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
awsb() { AWS_SHARED_CREDENTIALS_FILE=$dir/credentials aws --endpoint-url "http://$api" --region us-east-1 "$@"; }
status() { awsb rds describe-db-instances --db-instance-identifier "$1" --query 'DBInstances[0].DBInstanceStatus' --output text 2>/dev/null || true; }
wait_available() {
  for id in "$@"; do
    for _ in $(seq 1 1500); do [ "$(status "$id")" = available ] && continue 2; sleep 0.2; done
    echo "$id not available; serve's log:" >&2; tail -30 "$work/serve.log" >&2; exit 1
  done
}
create() { awsb rds create-db-instance --db-instance-identifier "$1" --db-cluster-identifier bench \
  --db-instance-class db.r6g.large --engine aurora-postgresql "${@:2}" >/dev/null; }

port=$(free_port)
awsb rds create-db-cluster --db-cluster-identifier bench --engine aurora-postgresql --port "$port" \
  --master-username bench --master-user-password 'Bench-pass-1' --database-name bench >/dev/null
create bench-w
wait_available bench-w
sg=$(awsb rds describe-db-clusters --db-cluster-identifier bench --query 'DBClusters[0].VpcSecurityGroups[0].VpcSecurityGroupId' --output text)
awsb ec2 authorize-security-group-ingress --group-id "$sg" --protocol tcp --port "$port" --cidr 127.0.0.1/32 >/dev/null
endpoint=$(awsb rds describe-db-clusters --db-cluster-identifier bench --query 'DBClusters[0].Endpoint' --output text)
reader_endpoint=$(awsb rds describe-db-clusters --db-cluster-identifier bench --query 'DBClusters[0].ReaderEndpoint' --output text)
rid=$(awsb rds describe-db-clusters --db-cluster-identifier bench --query 'DBClusters[0].DbClusterResourceId' --output text)
conninfo() { echo "host=$1 hostaddr=$("$work/endpointaddr" "$1") port=$port user=bench password=Bench-pass-1 dbname=bench sslmode=verify-full sslrootcert=$dir/global-bundle.pem"; }
psql "$(conninfo "$endpoint")" -qc 'CREATE TABLE failover_probe (t timestamptz)'

echo "== reader creation (load $(load))"
for r in "bench-r0 0" "bench-r1 1"; do
  set -- $r
  t0=$(now); create "$1" --promotion-tier "$2"; wait_available "$1"
  echo "empty cluster: $1 available after $(ms "$t0" "$(now)") ms (load $(load))"
done

if [ "${CREATION_ONLY:-}" = 1 ]; then
  PGSSLMODE=verify-full pgbench -i -q -s "$scale" "$(conninfo "$endpoint")" 2>&1 | tail -1
  wait_available bench-w bench-r0 bench-r1
  echo "== reader creation, cluster filled by pgbench -i -s $scale (load $(load))"
  size=$(psql "$(conninfo "$endpoint")" -Atc "SELECT pg_size_pretty(sum(pg_database_size(datname))) FROM pg_database")
  t0=$(now); create bench-r2 --promotion-tier 2; wait_available bench-r2
  echo "$size of databases: bench-r2 available after $(ms "$t0" "$(now)") ms (load $(load))"
  exit 0
fi

echo "== the reader endpoint: pgbench -S, $secs s each, 4 clients (load $(load))"
PGSSLMODE=verify-full pgbench -i -q -s "$scale" "$(conninfo "$endpoint")" 2>&1 | tail -1
wait_available bench-w bench-r0 bench-r1
sleep 2 # the readers replay the load
one=$(awsb rds describe-db-clusters --db-cluster-identifier bench --query 'DBClusters[0].DBClusterMembers[?!IsClusterWriter].DBInstanceIdentifier | [0]' --output text)
one_endpoint=$(awsb rds describe-db-instances --db-instance-identifier "$one" --query 'DBInstances[0].Endpoint.Address' --output text)
for pass in 1 2; do
  for target in "reader-endpoint $reader_endpoint" "instance-$one $one_endpoint"; do
    set -- $target
    pgbench -S -n -c 4 -j 2 -T "$secs" "$(conninfo "$2")" >"$work/pgbench.out" 2>&1 || { cat "$work/pgbench.out"; exit 1; }
    tps=$(awk '/^tps/ { print $3 }' "$work/pgbench.out")
    echo "pass $pass $1: tps $tps (load $(load))"
  done
done

echo "== the reader endpoint kernel-steered against relayed (a second serve, --kernel-steering=false) (load $(load))"
dir2=$work/serve2 api2="127.0.0.1:$(free_port)" port2=$(free_port)
"$top/bin/borealis" serve --data-dir "$dir2" --api-addr "$api2" --dns-addr off --kernel-steering=false >>"$work/serve2.log" 2>&1 &
echo $! >"$work/serve2.pid"
for _ in $(seq 1 600); do curl -fsS "http://$api2/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
awsb2() { AWS_SHARED_CREDENTIALS_FILE=$dir2/credentials aws --endpoint-url "http://$api2" --region us-east-1 "$@"; }
awsb2 rds create-db-cluster --db-cluster-identifier relayed --engine aurora-postgresql --port "$port2" \
  --master-username bench --master-user-password 'Bench-pass-1' --database-name bench >/dev/null
for r in "relayed-w 1" "relayed-r0 0" "relayed-r1 1"; do
  set -- $r
  awsb2 rds create-db-instance --db-instance-identifier "$1" --db-cluster-identifier relayed --promotion-tier "$2" \
    --db-instance-class db.r6g.large --engine aurora-postgresql >/dev/null
  for _ in $(seq 1 1500); do
    [ "$(awsb2 rds describe-db-instances --db-instance-identifier "$1" --query 'DBInstances[0].DBInstanceStatus' --output text 2>/dev/null)" = available ] && break
    sleep 0.2
  done
done
sg2=$(awsb2 rds describe-db-clusters --db-cluster-identifier relayed --query 'DBClusters[0].VpcSecurityGroups[0].VpcSecurityGroupId' --output text)
awsb2 ec2 authorize-security-group-ingress --group-id "$sg2" --protocol tcp --port "$port2" --cidr 127.0.0.1/32 >/dev/null
endpoint2=$(awsb2 rds describe-db-clusters --db-cluster-identifier relayed --query 'DBClusters[0].Endpoint' --output text)
reader_endpoint2=$(awsb2 rds describe-db-clusters --db-cluster-identifier relayed --query 'DBClusters[0].ReaderEndpoint' --output text)
conninfo2() { echo "host=$1 hostaddr=$("$work/endpointaddr" "$1") port=$port2 user=bench password=Bench-pass-1 dbname=bench sslmode=verify-full sslrootcert=$dir2/global-bundle.pem"; }
PGSSLMODE=verify-full pgbench -i -q -s "$scale" "$(conninfo2 "$endpoint2")" 2>&1 | tail -1
sleep 10 # the readers replay the load and settle
steered="kernel-steered $(conninfo "$reader_endpoint" | tr ' ' '|')" relayed="relayed $(conninfo2 "$reader_endpoint2" | tr ' ' '|')"
for pass in 1 2; do
  order=("$steered" "$relayed")
  [ "$pass" = 2 ] && order=("$relayed" "$steered") # neither always goes first
  for target in "${order[@]}"; do
    set -- $target
    pgbench -S -n -c 4 -j 2 -T "$secs" "$(echo "$2" | tr '|' ' ')" >"$work/pgbench.out" 2>&1 || { cat "$work/pgbench.out"; exit 1; }
    tps=$(awk '/^tps/ { print $3 }' "$work/pgbench.out")
    echo "pass $pass reader endpoint $1: tps $tps (load $(load))" | tee -a "$work/steered"
  done
done
awk '/kernel-steered/ { k += $7; nk++ } /relayed/ { r += $7; nr++ } END { printf "mean tps: kernel-steered %.0f, relayed %.0f, ratio %.2f\n", k / nk, r / nr, (k / nk) / (r / nr) }' "$work/steered"
kill -TERM "$(cat "$work/serve2.pid")" && rm -f "$work/serve2.pid"

echo "== reader creation, cluster filled by pgbench -i -s $scale (load $(load))"
size=$(psql "$(conninfo "$endpoint")" -Atc "SELECT pg_size_pretty(sum(pg_database_size(datname))) FROM pg_database")
t0=$(now); create bench-r2 --promotion-tier 2; wait_available bench-r2
echo "$size of databases: bench-r2 available after $(ms "$t0" "$(now)") ms (load $(load))"
awsb rds delete-db-instance --db-instance-identifier bench-r2 --skip-final-snapshot >/dev/null
pgbench -i -I d "$(conninfo "$endpoint")" >/dev/null 2>&1 # the failovers below copy the former writer afresh each time
echo "== automatic failover, $rounds rounds (load $(load))"
# The writer's data directory: the one whose server runs and is no standby.
writer_dir() {
  for d in "$dir/clusters/$rid"/*/; do
    [ -f "$d/postmaster.pid" ] && [ ! -f "$d/standby.signal" ] && { echo "${d%/}"; return; }
  done
}
for i in $(seq 1 "$rounds"); do
  wd=$(writer_dir); pid=$(head -1 "$wd/postmaster.pid")
  out=$("$work/failoverprobe" -addr 127.0.0.1 -conninfo "$(conninfo "$endpoint" | sed "s/ hostaddr=127.0.0.1//")" -trigger "rm -f $wd/PG_VERSION && kill -9 $pid")
  echo "borealis round $i: $out (load $(load))" | tee -a "$work/failover"
  wait_available bench-w bench-r0 bench-r1
  sleep 1
done


echo "== after the failovers: does every instance have a row written through the cluster endpoint?"
psql "$(conninfo "$endpoint")" -qc "CREATE TABLE marker AS SELECT 'after' AS v"
for id in bench-w bench-r0 bench-r1; do
  addr=$(awsb rds describe-db-instances --db-instance-identifier "$id" --query 'DBInstances[0].Endpoint.Address' --output text)
  seen=no
  for _ in $(seq 1 30); do
    [ "$(psql "$(conninfo "$addr")" -Atc 'SELECT v FROM marker' 2>/dev/null)" = after ] && { seen=yes; break; }
    sleep 0.5
  done
  echo "$id ($(psql "$(conninfo "$addr")" -Atc 'SELECT CASE WHEN pg_is_in_recovery() THEN $$reader$$ ELSE $$writer$$ END' 2>&1 | head -1)): has the row within 15 s: $seen"
done
echo "== floor: pg_ctl promote of a plain standby (load $(load))"
mkdir -p "$work/floor" && chown postgres "$work/floor"
pport=$(free_port) sport=$(free_port)
asp() { runuser -u postgres -- "$@"; }
asp "$pgbin/initdb" -D "$work/floor/primary" -U postgres --auth=trust >/dev/null
asp "$pgbin/pg_ctl" start -w -D "$work/floor/primary" -l "$work/floor/primary.log" -o "-p $pport -k $work/floor" >/dev/null
asp psql -h "$work/floor" -p "$pport" -U postgres -qc 'CREATE TABLE failover_probe (t timestamptz)'
for i in $(seq 1 "$rounds"); do
  asp "$pgbin/pg_basebackup" -h "$work/floor" -p "$pport" -U postgres -D "$work/floor/standby" -R
  asp "$pgbin/pg_ctl" start -w -D "$work/floor/standby" -l "$work/floor/standby.log" -o "-p $sport -k $work/floor" >/dev/null
  out=$("$work/failoverprobe" -conninfo "host=127.0.0.1 port=$sport user=postgres dbname=postgres sslmode=disable" \
    -trigger "runuser -u postgres -- $pgbin/pg_ctl promote -W -D $work/floor/standby")
  echo "floor round $i: $out (load $(load))" | tee -a "$work/floor.rounds"
  asp "$pgbin/pg_ctl" stop -m fast -w -D "$work/floor/standby" >/dev/null
  rm -rf "$work/floor/standby"
done
if [ "$rounds" -gt 0 ]; then
med() { sort -n | awk '{ a[NR] = $1 } END { print NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
fo=$(awk '{ print $5 }' "$work/failover" | med)
fl=$(awk '{ print $5 }' "$work/floor.rounds" | med)
echo "median first write: borealis failover $fo ms, promote floor $fl ms, ratio $(awk -v a="$fo" -v b="$fl" 'BEGIN { printf "%.1f", a / b }')"
fi

