#!/usr/bin/env bash
# bench.sh runs the benchmarks module and writes benchmarks/RESULTS.md and
# its charts: every engine through the middleware beside the raw floors
# and the peers (separately, interleaved, and interleaved in streaks of
# one side's requests), the network stores behind a
# delaying proxy, the session-size sweep, parallel load, the wrk load
# test, contention profiles, the observer's cost, the redesign's
# before/after (main at 4ab9a1e against this tree, through
# scripts/abbench.sh) and clearsessions at scale. The servers
# (PostgreSQL, MariaDB, Redis, Redis Cluster, memcached) are started by
# the benchmarks themselves through internal/testservers.
#
#   COUNT=5            runs of each benchmark (medians are reported)
#   BENCHTIME=1s       go test -benchtime
#   LOAD_COUNT=3       runs of each wrk load test
#   LOAD_DURATION=10s  length of each wrk run (after a 2 s warm-up)
#   CLEAR_ROWS=...     rows for the clearsessions benchmark (default 1000000)
#   NOTE="..."         a note printed at the top of RESULTS.md (e.g. "noisy run")
#   REDESIGN_BASE=4ab9a1e  the "before" commit of the redesign comparison
#                      (empty: skip it)
#   QUICK=1            a fast pass: COUNT=1, BENCHTIME=300x, LOAD_COUNT=1,
#                      LOAD_DURATION=3s, CLEAR_ROWS=20000
#
# With the defaults it took 27 minutes on 2 cores (2026-12-02, the ninth
# run; clearsessions over a million rows, the wrk runs and the redesign
# comparison, 6 alternating runs a side, are the longest steps);
# COUNT=3 LOAD_COUNT=2 took 17 minutes (before BenchmarkWarm), QUICK=1
# under 3.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../benchmarks"
export SESSIONS_REQUIRE_SERVERS=1
count=${COUNT:-5}
benchtime=${BENCHTIME:-1s}
load_count=${LOAD_COUNT:-3}
export LOAD_DURATION=${LOAD_DURATION:-10s}
clear_rows=${CLEAR_ROWS:-1000000}
if [ "${QUICK:-0}" = 1 ]; then
	count=1 benchtime=300x load_count=1 clear_rows=20000
	export LOAD_DURATION=3s
fi
out=results.txt
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: >"$out"
start=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
bench() { # bench PATTERN COUNT BENCHTIME [go test flags...]
	local pat=$1 n=$2 bt=$3
	shift 3
	go test -run '^$' -bench "$pat" -count "$n" -benchtime "$bt" -timeout 120m "$@" . | tee -a "$out"
}
echo "== per-request benchmarks, each side separately (count $count, benchtime $benchtime)"
bench '^Benchmark(Harness|Memory|SignedCookie|SQLite|Postgres|MariaDB|File|Bolt|Redis|RedisCluster|Memcached|CachedDB)$' "$count" "$benchtime" -benchmem
echo "== interleaved: ours, the floor and the peer in one loop (and in streaks)"
bench '^Benchmark(Paired|Warm|Context|Observer)$' "$count" "$benchtime" -benchmem
echo "== round trips to the store, counted"
bench '^BenchmarkRoundTrips$' 1 1x
echo "== network stores behind a delaying proxy (0.2 ms and 1 ms round trips)"
bench '^BenchmarkNetwork$' "$count" "$benchtime" -benchmem
echo "== session size sweep"
bench '^BenchmarkSize$' "$count" "$benchtime" -benchmem
echo "== parallel load"
bench '^BenchmarkParallel$' "$count" "$benchtime"
echo "== HTTP load test under wrk ($load_count runs of $LOAD_DURATION)"
bench '^BenchmarkLoad$' "$load_count" 1x
echo "== contention profiles of the parallel benchmark (memory engine)"
go test -run '^$' -bench '^BenchmarkParallelOurs$/^memory$' -benchtime 2s -count 1 \
	-mutexprofile mutex.out -blockprofile block.out -outputdir "$tmp" -o "$tmp/bench.test" . >/dev/null
go tool pprof -top -nodecount 40 "$tmp/bench.test" "$tmp/mutex.out" >"$tmp/mutex.txt" 2>/dev/null || true
go tool pprof -top -nodecount 40 "$tmp/bench.test" "$tmp/block.out" >"$tmp/block.txt" 2>/dev/null || true
redesign_base=${REDESIGN_BASE-4ab9a1e}
: >"$tmp/redesign.txt"
if [ -n "$redesign_base" ]; then
	echo "== before and after the redesign: $redesign_base against this tree (alternating)"
	ab_count=$((count > 6 ? count : 6))
	[ "${QUICK:-0}" = 1 ] && ab_count=1
	COUNT=$ab_count BENCHTIME=$benchtime PKG=./redesign bash ../scripts/abbench.sh "$redesign_base" . '^BenchmarkRedesign$' | tee "$tmp/redesign.txt"
fi
echo "== clearsessions ($clear_rows expired sessions; file and bolt get a tenth)"
CLEAR_ROWS="$clear_rows" go test -run '^$' -bench '^BenchmarkClearSessions$/^(sqlite|postgres)' -benchtime 1x -count 1 -timeout 60m . | tee -a "$out"
CLEAR_ROWS="$((clear_rows / 10))" go test -run '^$' -bench '^BenchmarkClearSessions$/^(file|bolt)' -benchtime 1x -count 1 -timeout 60m . | tee -a "$out"
load_end=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
go run ./report -in "$out" -md RESULTS.md -note "${NOTE:-}" -mutex "$tmp/mutex.txt" -block "$tmp/block.txt" -redesign "$tmp/redesign.txt" \
	-run "$(date -u +%Y-%m-%d), $(nproc) CPUs, load average (1, 5, 15 min) $load_start at the start and $load_end at the end, $((($(date +%s) - start) / 60)) min"
echo "wrote benchmarks/RESULTS.md and its charts in $(($(date +%s) - start)) s"
