#!/usr/bin/env bash
# apidiff.sh [BASE] lists the changes to the exported API of the library
# module (github.com/sessionkit/sessions, internal packages left out)
# between the commit BASE (default 640d6fd, the last release-like state
# before v0.1.0) and the working tree, with golang.org/x/exp/cmd/apidiff:
# incompatible changes (removed or changed names) first, then additions.
# CHANGELOG.md's lists of removed and renamed names come from it.
set -euo pipefail

base=${1:-640d6fd}
apidiff_version=v0.0.0-20261113113407-e3970619a1a4
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
module=github.com/sessionkit/sessions

gobin=$(go env GOBIN)
gobin=${gobin:-$(go env GOPATH)/bin}
if [ ! -x "$gobin/apidiff" ]; then
	go install "golang.org/x/exp/cmd/apidiff@$apidiff_version"
fi

tmp=$(mktemp -d)
cleanup() {
	git -C "$repo_root" worktree remove --force "$tmp/old" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

git -C "$repo_root" worktree add --detach --quiet "$tmp/old" "$base"
{
	(cd "$tmp/old" && "$gobin/apidiff" -m -w "$tmp/old.api" "$module")
	(cd "$repo_root" && "$gobin/apidiff" -m -w "$tmp/new.api" "$module")
	"$gobin/apidiff" -m "$tmp/old.api" "$tmp/new.api"
} 2>&1 | grep -v '^Ignoring internal package'
