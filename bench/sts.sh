#!/bin/sh
# Issue 18: the decision for an assumed-role session (the role's ten managed policies
# intersected with a session policy, the session token verified and the role read afresh)
# against a user with the same ten policies, in one run; the root user (no policy read) as
# the floor. Prints each benchmark's median ns/op over five runs and its ratio to the user's.
set -eu
cd "$(dirname "$0")/.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
go test -run XXX -bench 'BenchmarkSessionDecision|BenchmarkDecisionRoot' -benchtime 2000x -count 5 ./internal/iam/ >"$out"
median() { awk -v name="$1" '$1 ~ "^" name "-[0-9]+$" { print $3 }' "$out" | sort -n | sed -n 3p; }
user=$(median 'BenchmarkSessionDecision/user')
for b in BenchmarkDecisionRoot BenchmarkSessionDecision/user 'BenchmarkSessionDecision/assumed-role\+session-policy'; do
	echo "$b $(median "$b") $user" | awk '{ gsub(/\\/, "", $1); printf "%-52s %9d ns/op  %.2fx the user\n", $1, $2, $2 / $3 }'
done
