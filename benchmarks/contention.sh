#!/usr/bin/env bash
# contention.sh profiles BenchmarkParallelOurs (ours alone) per store with the
# mutex and block profilers and prints, for each, the run's throughput and
# the top waits with file:line, for finding locks and pool waits on the
# request path. FINDINGS.md was written from its output.
#
#   bash benchmarks/contention.sh [store ...]   default: memory sqlite sqlite-mattn redis postgres
#   N=20000x                                      iterations per profile (go test -benchtime)
#   OUT=/tmp/contention                           where the profiles and reports go
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
export SESSIONS_REQUIRE_SERVERS=1
n=${N:-20000x}
out=${OUT:-/tmp/contention}
mkdir -p "$out"
stores=("$@")
[ "${#stores[@]}" -gt 0 ] || stores=(memory sqlite sqlite-mattn redis postgres)
go test -c -o "$out/bench.test" .
for s in "${stores[@]}"; do
	echo "=== $s"
	(cd "$out" && ./bench.test -test.run '^$' -test.bench "^BenchmarkParallelOurs\$/^$s\$" -test.benchtime "$n" \
		-test.benchmem -test.mutexprofile "$s.mutex" -test.blockprofile "$s.block") | grep '^Benchmark'
	for kind in mutex block; do
		echo "--- $kind (delay; frames of this repository and the clients' pools)"
		go tool pprof -top -lines -nodecount 200 "$out/bench.test" "$out/$s.$kind" 2>/dev/null |
			grep -E 'flat%|Showing nodes|sessionkit/sessions|database/sql|go-redis/v9/internal/pool|sync\.|chan' |
			grep -v 'sessions/benchmarks' | head -30
	done
done
