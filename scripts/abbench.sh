#!/usr/bin/env bash
# abbench.sh runs the same benchmark source (this tree's benchmarks
# module) against the library at two commits, A and B, alternately in one
# run, and prints medians, the change and each side's spread
# (benchmarks/cmd/abstat). Use it for before/after figures on a shared
# machine: both sides see the same load, run by run, and it is the
# change in CPU time per request and allocations, steadier than wall
# time, that should be read first.
#
#   scripts/abbench.sh A B PATTERN
#
# A and B are commits (anything git rev-parse takes) or "." for the
# working tree. The library of each side is checked out in a temporary
# worktree; the benchmark source is copied beside it with its replace
# directive pointed there, so it must compile against both (the
# benchmarks/redesign package uses only API that 4ab9a1e and core share).
#
#   COUNT=6          runs per side (alternating A,B then B,A)
#   BENCHTIME=1s     go test -benchtime
#   PKG=.            package of the benchmarks module (./redesign, ...)
#   CPU=             go test -cpu, if set
#   OUT=             directory for a.txt and b.txt (default: a temp dir)
set -euo pipefail
if [ $# -ne 3 ]; then
	sed -n '2,/^set -e/p' "$0" | sed '$d;s/^# \{0,1\}//' >&2
	exit 2
fi
a=$1 b=$2 pat=$3
count=${COUNT:-6}
benchtime=${BENCHTIME:-1s}
pkg=${PKG:-.}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tmp=$(mktemp -d)
out=${OUT:-$tmp}
mkdir -p "$out"
worktrees=()
cleanup() {
	for w in "${worktrees[@]}"; do git -C "$root" worktree remove --force "$w" >/dev/null 2>&1 || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
export SESSIONS_REQUIRE_SERVERS=${SESSIONS_REQUIRE_SERVERS:-1}

# build SIDE REV: the test binary of $pkg against the library at REV.
build() {
	local side=$1 rev=$2 lib
	if [ "$rev" = . ]; then
		lib=$root
	else
		lib=$tmp/lib-$side
		git -C "$root" worktree add --detach --quiet "$lib" "$rev"
		worktrees+=("$lib")
	fi
	mkdir -p "$tmp/bench-$side"
	(cd "$root/benchmarks" && tar --exclude=results.txt --exclude='*.png' -cf - .) | tar -C "$tmp/bench-$side" -xf -
	(
		cd "$tmp/bench-$side"
		go mod edit -replace "github.com/sessionkit/sessions=$lib"
		GOFLAGS=-mod=mod go test -c -o "$tmp/$side.test" "$pkg"
	)
	echo "$side = $rev ($(git -C "$lib" rev-parse --short HEAD)$( [ "$rev" = . ] && ! git -C "$root" diff --quiet && echo ', with uncommitted changes'))"
}
build a "$a"
build b "$b"

: >"$out/a.txt"
: >"$out/b.txt"
run() { # run SIDE
	local flags=(-test.run '^$' -test.bench "$pat" -test.count 1 -test.benchtime "$benchtime" -test.benchmem -test.timeout 60m)
	[ -n "${CPU:-}" ] && flags+=(-test.cpu "$CPU")
	(cd "$tmp/bench-$1/$pkg" && "$tmp/$1.test" "${flags[@]}") | grep '^Benchmark' | tee -a "$out/$1.txt"
}
start=$(date +%s)
for i in $(seq 1 "$count"); do
	if [ $((i % 2)) = 1 ]; then run a; run b; else run b; run a; fi
done
echo "== A = $a, B = $b; $count runs each, alternating; $(($(date +%s) - start)) s; load average $(cut -d' ' -f1-3 /proc/loadavg)"
(cd "$root/benchmarks" && go run ./cmd/abstat "$out/a.txt" "$out/b.txt")
