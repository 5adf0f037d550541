#!/bin/sh
# The cost of one retention pass over a log directory holding a week of hourly files
# (the most rds.log_retention_period keeps), nothing due, against reading the directory.
set -e
cd "$(dirname "$0")/.."
go test -run XXX -bench BenchmarkTrimWeekOfHours -benchtime "${BENCHTIME:-2s}" -count "${COUNT:-3}" ./internal/dblog/
