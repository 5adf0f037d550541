#!/usr/bin/env bash
# Installs what Borealis needs on a Debian 12 machine, as root, and nothing that is already
# there: PostgreSQL 15 (server, contrib, and the server headers the guard extension builds
# against), the aws CLI for the end-to-end tests, Chromium for the console's browser tests,
# a Java runtime with Debian's PostgreSQL JDBC driver for the IAM token login test, and
# psycopg2 and asyncpg for the DNS test's drivers (it installs node-postgres itself, with npm).
set -euo pipefail

need=()
for pkg in postgresql-15 postgresql-server-dev-15 postgresql-client-15 libpostgresql-jdbc-java python3-psycopg2 python3-asyncpg; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
command -v aws >/dev/null 2>&1 || need+=(awscli)
command -v psql >/dev/null 2>&1 || need+=(postgresql-client-15)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v java >/dev/null 2>&1 || need+=(default-jre-headless)

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing ${need[*]}; run as root (or install them) first" >&2
    exit 1
  fi
  echo "install-deps: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Debian's package may have created and started its own "main" cluster; Borealis runs its
# own servers and does not need it, but leaves it alone.
id postgres >/dev/null 2>&1 || { echo "install-deps: the postgres account is missing" >&2; exit 1; }
