#!/usr/bin/env bash
# Installs the Go toolchain that go.mod names (its toolchain line, else its go line) into
# PREFIX/go, unless a go at least that new is already there (or, without PREFIX/go, on
# PATH). It fetches the toolchain as the go command does when it switches toolchains: the
# module golang.org/toolchain from the Go module proxy, so it works where only package
# registries are reachable, and checks the archive against the checksum database's hash
# for it (fetched over HTTPS, from sum.golang.org or through the proxy) before installing.
#
#   scripts/install-go.sh [VERSION [PREFIX]]     defaults: go.mod's version, /usr/local
#
# GOPROXY, if set, names the proxy (its first http(s) or file: entry).
set -euo pipefail
cd "$(dirname "$0")/.."

want=${1:-$(awk '$1 == "toolchain" { t = substr($2, 3) } $1 == "go" { g = $2 } END { print (t != "" ? t : g) }' go.mod)}
prefix=${2:-/usr/local}
[ -n "$want" ] || { echo "install-go: no Go version in go.mod" >&2; exit 1; }

# at_least A B: version A is B or newer.
at_least() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n1)" = "$2" ]; }

# The go that make would run: PREFIX/go/bin/go comes first on the Makefile's PATH.
have=$prefix/go/bin/go
[ -x "$have" ] || have=$(command -v go || true)
if [ -n "$have" ]; then
  # From /, so that go.mod's go line cannot make it switch toolchains or refuse.
  v=$(cd / && GOTOOLCHAIN=local "$have" env GOVERSION 2>/dev/null || true)
  v=${v#go}
  if [ -n "$v" ] && at_least "$v" "$want"; then
    exit 0
  fi
  echo "install-go: $have is go${v:-?}; installing go$want into $prefix/go"
else
  echo "install-go: no go; installing go$want into $prefix/go"
fi

case $(uname -m) in
  x86_64) arch=amd64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "install-go: no Go toolchain module for $(uname -m)" >&2; exit 1 ;;
esac
mod=golang.org/toolchain
ver=v0.0.1-go$want.linux-$arch
proxy=$(printf '%s\n' "${GOPROXY:-https://proxy.golang.org}" | tr ',|' '\n\n' | grep -m1 -E '^(https?|file)://' || echo https://proxy.golang.org)
proxy=${proxy%/}

fetch() { curl -fsSL --retry 3 --connect-timeout 20 "$@"; }

# The checksum database's h1: hash of the module's zip (as go.sum records it): from
# sum.golang.org itself, else through the proxy (which serves it where sum.golang.org
# is not reachable).
sum=""
for lookup in "https://sum.golang.org/lookup/$mod@$ver" "$proxy/sumdb/sum.golang.org/lookup/$mod@$ver"; do
  sum=$(curl -fsSL --connect-timeout 10 "$lookup" 2>/dev/null | awk -v m="$mod" -v v="$ver" '$1 == m && $2 == v { print $3 }') && [ -n "$sum" ] && break
done
[ -n "$sum" ] || { echo "install-go: the checksum database has no hash for $mod@$ver (no such Go version, or neither $proxy nor sum.golang.org is reachable)" >&2; exit 1; }

mkdir -p "$prefix"
work=$(mktemp -d "$prefix/.install-go.XXXXXX") # beside the target: the final move is a rename
trap 'rm -rf "$work"' EXIT
fetch -o "$work/go.zip" "$proxy/$mod/@v/$ver.zip"
unzip -q "$work/go.zip" -d "$work/x"

# golang.org/x/mod/sumdb/dirhash Hash1: the SHA-256 of the lines "<sha256 hex>  <name>",
# one per file of the zip, sorted by name; base64.
lines=$(cd "$work/x" && zipinfo -1 "$work/go.zip" | LC_ALL=C sort | xargs -d '\n' sha256sum --)
if grep -q '^\\' <<<"$lines"; then # sha256sum escapes names it cannot print as they are
  echo "install-go: $mod@$ver has a file name the check cannot hash" >&2
  exit 1
fi
hex=$(printf '%s\n' "$lines" | sha256sum | cut -c1-64)
got=h1:$(printf "$(sed 's/../\\x&/g' <<<"$hex")" | base64)
if [ "$got" != "$sum" ]; then
  echo "install-go: $mod@$ver hashes to $got, the checksum database says $sum: not installed" >&2
  exit 1
fi

root=$work/x/$mod@$ver
# Module zips keep no file modes (the go command sets these bits the same way).
chmod -R a+x "$root/bin" "$root/pkg/tool"
"$root/bin/go" version >/dev/null
rm -rf "$prefix/go.old"
[ ! -e "$prefix/go" ] || mv "$prefix/go" "$prefix/go.old"
mv "$root" "$prefix/go"
rm -rf "$prefix/go.old"
echo "install-go: $("$prefix/go/bin/go" version) in $prefix/go (checksum $sum)"
