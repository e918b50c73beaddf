#!/usr/bin/env bash
# fuzz.sh runs every Go fuzz target in the module for the given time each
# (default 30s). Findings land in testdata/fuzz/ as regression cases.
#
# A run that fails with nothing but "context deadline exceeded" and writes
# no failing input is the fuzzing coordinator's own -fuzztime deadline
# escaping as a failure (golang/go#75804, a race in internal/fuzz fixed
# in Go 1.27; Go 1.26 has it, at any fuzz time), not a finding: it is run
# once more. A real finding says "Failing input written to".
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
t=${1:-30s}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
go list -f '{{.Dir}} {{.ImportPath}}' ./... | while read -r dir pkg; do
	for f in $(grep -hoE '^func (Fuzz[A-Za-z0-9_]+)' "$dir"/*_test.go 2>/dev/null | awk '{print $2}'); do
		for attempt in 1 2; do
			echo "== $pkg $f ($t)"
			if go test -run '^$' -fuzz "^${f}\$" -fuzztime "$t" "$pkg" >"$out" 2>&1; then
				cat "$out"
				break
			fi
			cat "$out"
			if [ "$attempt" = 1 ] && grep -q 'context deadline exceeded' "$out" && ! grep -q 'Failing input written to' "$out"; then
				echo "fuzz.sh: $f: the fuzzing engine's timeout, not a finding; running it once more"
				continue
			fi
			exit 1
		done
	done
done
