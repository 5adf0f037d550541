#!/usr/bin/env bash
# Installs what Borealis needs on a fresh Debian 12, and nothing that is already there.
#
#   scripts/install-deps.sh          to build and run (make build, make run): make, gcc and
#                                    the C library headers, curl and unzip, PostgreSQL 15
#                                    (server, client, and the server headers the guard
#                                    extension builds against), and the Go toolchain go.mod
#                                    names, into /usr/local/go (scripts/install-go.sh)
#   scripts/install-deps.sh --test   the same, and what the tests run (make test): the aws
#                                    CLI, Chromium (the console's browser tests), a Java
#                                    runtime and Debian's PostgreSQL JDBC driver, python3
#                                    with psycopg2 and asyncpg, and openssl
#
# Run it as root, or as a user who may sudo. It needs Debian's package mirrors and the Go
# module proxy (proxy.golang.org, or $GOPROXY).
set -euo pipefail
cd "$(dirname "$0")/.."

test=false
case ${1:-} in
  "") ;;
  --test) test=true ;;
  *) echo "usage: $0 [--test]" >&2; exit 2 ;;
esac

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-deps: run as root, or install sudo" >&2; exit 1; }
  sudo=(sudo)
fi

need=()
# want PACKAGE [COMMAND]: install PACKAGE unless it is installed, or COMMAND is on PATH (an
# aws CLI v2 or a JDK from elsewhere serves as well as Debian's).
want() {
  if [ -n "${2:-}" ] && command -v "$2" >/dev/null 2>&1; then
    return
  fi
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed' || need+=("$1")
}
want make make
want gcc gcc
want libc6-dev
want ca-certificates
want curl curl
want unzip unzip
want postgresql-15
want postgresql-client-15
want postgresql-server-dev-15
want postgresql-15-pgaudit
want pgbackrest pgbackrest # backups: WAL archiving, base backups, restore (internal/backup)
if $test; then
  want awscli aws
  want chromium chromium
  want default-jre-headless java
  want libpostgresql-jdbc-java
  want python3-psycopg2 # the DNS test's drivers (it installs node-postgres itself, with npm)
  want python3-asyncpg
  want python3 /usr/bin/python3 # the tests run the system's, as another account
  want openssl openssl
fi

if [ ${#need[@]} -gt 0 ]; then
  echo "install-deps: installing ${need[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

"${sudo[@]}" scripts/install-go.sh

# Debian's package may have created and started its own "main" cluster; Borealis runs its
# own servers and does not need it, but leaves it alone.
id postgres >/dev/null 2>&1 || { echo "install-deps: the postgres account is missing" >&2; exit 1; }
