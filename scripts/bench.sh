#!/usr/bin/env bash
# bench.sh runs the benchmarks module (every engine through the middleware,
# the raw floors, the peers) and writes benchmarks/RESULTS.md and the chart.
# The servers (PostgreSQL, MariaDB, Redis, Redis Cluster, memcached) are
# started by the benchmarks themselves through internal/testservers.
#
#   COUNT=6            runs of each benchmark (medians are reported)
#   BENCHTIME=1s       go test -benchtime
#   CLEAR_ROWS=...     rows for the clearsessions benchmark (default 1000000)
#   QUICK=1            a fast pass: COUNT=2, BENCHTIME=2000x, CLEAR_ROWS=20000
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../benchmarks"
export SESSIONS_REQUIRE_SERVERS=1
count=${COUNT:-6}
benchtime=${BENCHTIME:-1s}
clear_rows=${CLEAR_ROWS:-1000000}
if [ "${QUICK:-0}" = 1 ]; then
	count=2 benchtime=2000x clear_rows=20000
fi
out=results.txt
: >"$out"
echo "== request benchmarks (count $count, benchtime $benchtime)"
go test -run '^$' -bench '^Benchmark(Harness|Memory|SignedCookie|SQLite|Postgres|MariaDB|File|Bolt|Redis|RedisCluster|Memcached|CachedDB|Paired)$' \
	-benchmem -count "$count" -benchtime "$benchtime" -timeout 120m . | tee -a "$out"
echo "== size and parallel benchmarks"
go test -run '^$' -bench '^Benchmark(Size|Parallel)$' -benchmem -count "$count" -benchtime "$benchtime" -cpu 1,2 -timeout 60m . | tee -a "$out"
echo "== clearsessions ($clear_rows expired sessions; file and bolt get a tenth)"
CLEAR_ROWS="$clear_rows" go test -run '^$' -bench '^BenchmarkClearSessions$/^(sqlite|postgres)' -benchtime 1x -count 1 -timeout 60m . | tee -a "$out"
CLEAR_ROWS="$((clear_rows / 10))" go test -run '^$' -bench '^BenchmarkClearSessions$/^(file|bolt)' -benchtime 1x -count 1 -timeout 60m . | tee -a "$out"
go run ./report -in "$out" -md RESULTS.md -chart ratios.png
echo "wrote benchmarks/RESULTS.md and benchmarks/ratios.png"
