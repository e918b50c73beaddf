#!/usr/bin/env bash
# bench-smoke.sh: every benchmark of the benchmarks module once, then the
# report on that output, into a temporary directory (RESULTS.md and the
# charts in the tree are make bench's and stay untouched). make bench
# takes 25 minutes and is run by hand; without this stage a fixture, a
# floor or the report that broke would show only then. The figures of a
# single iteration mean nothing and are not checked; what is checked is
# that every benchmark runs to the end against the real servers, that
# the report's own tests pass, and that the report renders every section
# from real output without a missing figure where one was measured.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../benchmarks"
export SESSIONS_REQUIRE_SERVERS=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "== every benchmark once (LOAD_DURATION=1s, CLEAR_ROWS=2000)"
if ! LOAD_DURATION=1s CLEAR_ROWS=2000 go test -run '^$' -bench . -benchtime 1x -count 1 -timeout 20m . >"$tmp/results.txt" 2>&1; then
	cat "$tmp/results.txt"
	echo "bench-smoke: a benchmark failed (output above)"
	exit 1
fi
echo "$(grep -c '^Benchmark' "$tmp/results.txt") benchmark results"
echo "== the report's tests (TestRealResults on that output)"
REPORT_RESULTS="$tmp/results.txt" go test -race -count=1 ./report/...
echo "== the report on that output"
go run ./report -in "$tmp/results.txt" -md "$tmp/RESULTS.md" -run "bench-smoke"
fail=0
for section in '## Issue 17 targets' '## Per request, interleaved' '## What the check-and-set costs' \
	'## One request after another side' "## What honouring the request's context costs" '## What the observer costs' \
	'## A store on another machine' '## Parallel load' '## HTTP load test' '## Cost against session size' \
	'## Every engine, benchmarked separately' '## clearsessions at scale' '## Every benchmark'; do
	if ! grep -q "^$section" "$tmp/RESULTS.md"; then
		echo "bench-smoke: RESULTS.md has no section starting \"$section\""
		fail=1
	fi
done
if ! grep -Eq '^[0-9]+ of 30 targets met in this run' "$tmp/RESULTS.md"; then
	echo "bench-smoke: the targets' summary does not count 30 targets:"
	grep -E 'targets met in this run' "$tmp/RESULTS.md" || true
	fail=1
fi
if grep -n 'NaN' "$tmp/RESULTS.md"; then
	echo "bench-smoke: RESULTS.md prints NaN (above)"
	fail=1
fi
for png in ratios overhead size parallel load; do
	[ -s "$tmp/$png.png" ] || { echo "bench-smoke: $png.png was not drawn"; fail=1; }
done
if [ "$fail" -ne 0 ]; then
	echo "--- RESULTS.md"
	cat "$tmp/RESULTS.md"
	exit 1
fi
echo "bench-smoke: ok"
