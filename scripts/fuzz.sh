#!/usr/bin/env bash
# fuzz.sh runs every Go fuzz target in the module for the given time each
# (default 30s). Findings land in testdata/fuzz/ as regression cases.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
t=${1:-30s}
go list -f '{{.Dir}} {{.ImportPath}}' ./... | while read -r dir pkg; do
	for f in $(grep -hoE '^func (Fuzz[A-Za-z0-9_]+)' "$dir"/*_test.go 2>/dev/null | awk '{print $2}'); do
		echo "== $pkg $f ($t)"
		go test -run '^$' -fuzz "^${f}\$" -fuzztime "$t" "$pkg"
	done
done
