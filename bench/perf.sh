#!/usr/bin/env bash
# perf.sh runs the comparison with scs on the server engines and bbolt and
# writes the Performance tables of the repository's README.md (with the
# machine and the date) through `go run ./cmd/benchtable -readme`.
#
# It needs the servers: SESSIONGEN_REDIS_ADDR, SESSIONGEN_POSTGRES_DSN and
# SESSIONGEN_MYSQL_DSN (as in bench/README.md). COUNT (default 5) is the
# number of runs of each benchmark; the population benchmark, which seeds
# a million sessions per engine, runs POP_COUNT times (default 1). Run it
# on a quiet machine: the tables say which one and when.
set -euo pipefail
cd "$(dirname "$0")"
: "${COUNT:=5}" "${POP_COUNT:=1}"
for v in SESSIONGEN_REDIS_ADDR SESSIONGEN_POSTGRES_DSN SESSIONGEN_MYSQL_DSN; do
	[ -n "${!v:-}" ] || { echo "perf.sh: $v is not set" >&2; exit 1; }
done
out=${OUT:-$(mktemp /tmp/sessiongen-perf.XXXXXX)}
go test -run '^$' -bench '^Benchmark(Redis|Postgres|MySQL|Bolt)$' -benchmem -count "$COUNT" -timeout 0 . | tee "$out"
go test -run '^$' -bench '^Benchmark(Population|CachePolicy)$' -benchmem -count "$POP_COUNT" -timeout 0 . | tee -a "$out"
go run ./cmd/benchtable -readme ../README.md < "$out"
echo "perf.sh: README.md's Performance tables rewritten from $out"
