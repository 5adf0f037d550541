#!/usr/bin/env bash
# Measures issue 16's continuous backup against PostgreSQL's own tools, in one run on one
# PostgreSQL 15 server (run as the postgres account, Borealis' server defaults: 16 MB
# shared_buffers), with pgBackRest configured as internal/backup configures it (aes-256-cbc,
# lz4, process-max 2, start-fast, full backups):
#  1. backup: `pgbackrest backup --type=full` against `pg_basebackup -Ft -X fetch -c fast`
#     (uncompressed tar) of the same pgbench -i -s SCALE database, alternated, ROUNDS each;
#  2. restore: `pgbackrest restore --type=immediate` then `pg_ctl start -w` (replay to
#     consistency and promotion) against extracting the pg_basebackup tar then `pg_ctl
#     start -w` (crash recovery from the WAL in the tar), into a fresh directory each round;
#  3. the cost of continuous backup: pgbench -S (and pgbench's TPC-B-like default, which
#     writes) for SECONDS each, 4 clients, with archive_mode on (archive_command pgbackrest
#     archive-push, archive_timeout 60s) against off, alternated twice.
# Prints each measurement and the medians.
# Usage: bench/backup.sh [scale, default 10] [rounds, default 3] [pgbench seconds, default 10]
set -euo pipefail

scale=${1:-10}
rounds=${2:-3}
secs=${3:-10}
pgbin=/usr/lib/postgresql/15/bin
command -v pgbackrest >/dev/null || { echo "bench/backup.sh: pgbackrest is needed (scripts/install-deps.sh)" >&2; exit 1; }

work=$(mktemp -d /tmp/borealis-backup-bench-XXXXXX)
chmod 755 "$work"
chown postgres: "$work"
as() { runuser -u postgres -- "$@"; }
cleanup() {
  for d in "$work"/pg "$work"/r-*; do [ -f "$d/postmaster.pid" ] && as "$pgbin/pg_ctl" stop -m immediate -D "$d" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b - a) * 1000 }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

port=$(free_port)
pg=$work/pg
conf=$work/pgbackrest.conf
as mkdir -p "$work/repo" "$work/br" "$work/sock"
as "$pgbin/initdb" -D "$pg" -U postgres -E UTF8 --locale=C.UTF-8 >/dev/null
as tee "$conf" >/dev/null <<CONF
[global]
repo1-path=$work/repo
repo1-cipher-type=aes-256-cbc
repo1-cipher-pass=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
repo1-retention-full=9999999
lock-path=$work/br
spool-path=$work/br
log-path=$work/br
log-level-file=off
log-level-console=warn
log-level-stderr=off
compress-type=lz4
start-fast=y
process-max=2
archive-timeout=120
[bench]
pg1-path=$pg
pg1-port=$port
pg1-socket-path=$work/sock
CONF
as chmod 600 "$conf"
settings() { # archive on|off
  as tee "$pg/postgresql.auto.conf" >/dev/null <<SET
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$work/sock'
shared_buffers = '16MB'
max_wal_size = '1GB'
archive_mode = '$1'
archive_command = 'pgbackrest --config=$conf --stanza=bench archive-push %p'
archive_timeout = '60s'
SET
}
start() { as "$pgbin/pg_ctl" start -w -D "$1" -l "$1.log" >/dev/null; }
stop() { as "$pgbin/pg_ctl" stop -m fast -w -D "$1" >/dev/null; }
psqlb() { as psql -h "$work/sock" -p "$port" -U postgres -qAtX "$@"; }

settings on
start "$pg"
as pgbackrest --config="$conf" --stanza=bench stanza-create
echo "pgbench -i -s $scale (load $(load))"
as "$pgbin/pgbench" -h "$work/sock" -p "$port" -U postgres -i -s "$scale" -q postgres 2>&1 | tail -1
echo "database: $(psqlb -c "SELECT pg_size_pretty(pg_database_size('postgres'))")"

echo "== 1. backup (ms), load $(load)"
b_br=() b_bb=()
for i in $(seq 1 "$rounds"); do
  t0=$(now); as pgbackrest --config="$conf" --stanza=bench backup --type=full; t1=$(now)
  rm -rf "$work/bb"; as mkdir "$work/bb"
  t2=$(now); as "$pgbin/pg_basebackup" -h "$work/sock" -p "$port" -U postgres -D "$work/bb" -Ft -X fetch -c fast; t3=$(now)
  b_br+=("$(ms "$t0" "$t1")"); b_bb+=("$(ms "$t2" "$t3")")
  echo "round $i: pgbackrest ${b_br[-1]}, pg_basebackup ${b_bb[-1]}"
done
echo "sizes: pgbackrest set $(as pgbackrest --config="$conf" --stanza=bench info --output=json | python3 -c 'import json,sys; b=json.load(sys.stdin)[0]["backup"][-1]["info"]; print(b["repository"]["delta"]//1048576, "MB in the repository of", b["size"]//1048576, "MB")'), pg_basebackup tar $(du -sm "$work/bb" | cut -f1) MB"

echo "== 2. restore to a started server (ms), load $(load)"
r_br=() r_bb=()
rport=$(free_port)
for i in $(seq 1 "$rounds"); do
  d=$work/r-br; as mkdir -p "$d"; as chmod 700 "$d"
  t0=$(now)
  as pgbackrest --config="$conf" --stanza=bench restore --pg1-path="$d" --type=immediate --target-action=promote
  as sed -i "s/^port = .*/port = $rport/; s/^archive_mode = .*/archive_mode = 'off'/" "$d/postgresql.auto.conf"
  start "$d"; t1=$(now); stop "$d"; rm -rf "$d" "$d.log"
  d=$work/r-bb; as mkdir -p "$d"; as chmod 700 "$d"
  t2=$(now)
  as tar -xf "$work/bb/base.tar" -C "$d"
  as sed -i "s/^port = .*/port = $rport/; s/^archive_mode = .*/archive_mode = 'off'/" "$d/postgresql.auto.conf"
  start "$d"; t3=$(now); stop "$d"; rm -rf "$d" "$d.log"
  r_br+=("$(ms "$t0" "$t1")"); r_bb+=("$(ms "$t2" "$t3")")
  echo "round $i: pgbackrest ${r_br[-1]}, pg_basebackup tar ${r_bb[-1]}"
done

echo "== 3. pgbench tps, archiving off vs on, load $(load)"
s_on=() s_off=() w_on=() w_off=()
tps() { as "$pgbin/pgbench" -h "$work/sock" -p "$port" -U postgres -c 4 -j 2 -T "$secs" "$@" postgres 2>/dev/null | awk '/^tps/ { printf "%.0f\n", $3 }'; }
for i in 1 2; do
  for mode in off on; do
    stop "$pg"; settings "$mode"; start "$pg"
    s=$(tps -S); w=$(tps)
    if [ "$mode" = on ]; then s_on+=("$s"); w_on+=("$w"); else s_off+=("$s"); w_off+=("$w"); fi
    echo "archive_mode=$mode: pgbench -S $s tps, pgbench (TPC-B-like) $w tps"
  done
done

mb=$(printf '%s\n' "${b_br[@]}" | median) mbb=$(printf '%s\n' "${b_bb[@]}" | median)
mr=$(printf '%s\n' "${r_br[@]}" | median) mrb=$(printf '%s\n' "${r_bb[@]}" | median)
mso=$(printf '%s\n' "${s_on[@]}" | median) msf=$(printf '%s\n' "${s_off[@]}" | median)
mwo=$(printf '%s\n' "${w_on[@]}" | median) mwf=$(printf '%s\n' "${w_off[@]}" | median)
echo "== medians (scale $scale)"
echo "backup:  pgbackrest $mb ms, pg_basebackup $mbb ms, ratio $(awk -v a="$mb" -v b="$mbb" 'BEGIN { printf "%.2f", a / b }')"
echo "restore: pgbackrest $mr ms, pg_basebackup tar $mrb ms, ratio $(awk -v a="$mr" -v b="$mrb" 'BEGIN { printf "%.2f", a / b }')"
echo "pgbench -S: on $mso, off $msf tps, ratio $(awk -v a="$mso" -v b="$msf" 'BEGIN { printf "%.3f", a / b }')"
echo "pgbench TPC-B-like: on $mwo, off $mwf tps, ratio $(awk -v a="$mwo" -v b="$mwf" 'BEGIN { printf "%.3f", a / b }')"
