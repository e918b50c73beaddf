#!/usr/bin/env bash
# install-deps.sh installs the Debian packages the test suite needs (real
# servers, headless Chromium, Debian's python3 with Django 4.2 from
# bookworm-backports, Django 3.2 and 5.2 unpacked beside it), wrk for the
# HTTP load test of make bench, and downloads the Go modules.
#
# Idempotent and fast when everything is already installed: packages are
# checked with dpkg first, and apt-get update/install only run for what is
# missing. Services are prevented from auto-starting on their default ports
# (policy-rc.d) because the tests start their own instances on free ports.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
	SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive

log() { printf 'install-deps: %s\n' "$*"; }

# installed PKG reports whether a Debian package is fully installed.
installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

apt_updated=0
apt_update() {
	if [ "$apt_updated" -eq 0 ]; then
		log "apt-get update"
		"${SUDO[@]}" apt-get update -q
		apt_updated=1
	fi
}

# 1. Keep package postinst scripts from starting system services (they would
#    listen on 3306/5432/6379/11211). Must happen before any install.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	log "creating /usr/sbin/policy-rc.d (exit 101) so services do not auto-start"
	printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
	"${SUDO[@]}" chmod 755 /usr/sbin/policy-rc.d
fi

# 2. Plain packages from the main archive.
packages=(
	redis-server redis-tools
	memcached
	postgresql
	mariadb-server mariadb-client
	chromium
	python3
	python3-tz
	python3-psycopg2 python3-redis python3-pymemcache python3-mysqldb
	wrk
	gcc libc6-dev # cgo: the race detector, and internal/mattntest's github.com/mattn/go-sqlite3
	tzdata        # make test runs the conformance suites in America/New_York too
)
missing=()
for p in "${packages[@]}"; do
	if ! installed "$p"; then
		missing+=("$p")
	fi
done
if [ "${#missing[@]}" -gt 0 ]; then
	apt_update
	log "installing: ${missing[*]}"
	"${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
else
	log "already installed: ${packages[*]}"
fi

# 3. Django 4.2 for Debian's /usr/bin/python3, from bookworm-backports
#    (bookworm itself only has 3.2).
django_version() {
	/usr/bin/python3 -c 'import django; print(django.get_version())' 2>/dev/null || true
}
dv=$(django_version)
case "$dv" in
4.2*)
	log "already installed: python3-django $dv (bookworm-backports)"
	;;
*)
	if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
		uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
		uri=${uri:-http://deb.debian.org/debian}
		log "adding apt source bookworm-backports ($uri)"
		printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" |
			"${SUDO[@]}" tee /etc/apt/sources.list.d/bookworm-backports.sources >/dev/null
		apt_updated=0
	fi
	apt_update
	log "installing: python3-django from bookworm-backports"
	"${SUDO[@]}" apt-get install -y --no-install-recommends -t bookworm-backports python3-django
	dv=$(django_version)
	case "$dv" in
	4.2*) log "installed python3-django $dv" ;;
	*)
		log "error: /usr/bin/python3 reports Django '${dv:-none}', want 4.2"
		exit 1
		;;
	esac
	;;
esac

# 3b. Django 3.2 (what bookworm itself ships) beside it, unpacked into a
#     cache directory and used through PYTHONPATH by the interop tests, so
#     both versions are tested without replacing the installed 4.2.
dj32_dir="${XDG_CACHE_HOME:-$HOME/.cache}/sessionkit/django-3.2"
if [ ! -f "$dj32_dir/usr/lib/python3/dist-packages/django/__init__.py" ]; then
	log "unpacking python3-django 3.2 from bookworm into $dj32_dir"
	tmp=$(mktemp -d)
	chmod 777 "$tmp"
	(cd "$tmp" && { apt-get download python3-django/bookworm-security 2>/dev/null || apt-get download python3-django/bookworm; })
	mkdir -p "$dj32_dir"
	dpkg-deb -x "$tmp"/python3-django_*.deb "$dj32_dir"
	rm -rf "$tmp"
fi
dv32=$(PYTHONPATH="$dj32_dir/usr/lib/python3/dist-packages" /usr/bin/python3 -c 'import django; print(django.get_version())' 2>/dev/null || true)
case "$dv32" in
3.2*) log "Django $dv32 available in $dj32_dir" ;;
*)
	log "error: Django 3.2 in $dj32_dir reports '${dv32:-nothing}'"
	exit 1
	;;
esac

# 3c. Django 5.2 (Debian sid's python3-django, with the python3-asgiref
#     3.8+ it needs) beside them, unpacked into a cache directory the same
#     way. Both packages are architecture-independent pure Python and run
#     on bookworm's python3 (3.11). They are fetched with a private apt
#     state (its own sources list naming sid, lists and cache in a
#     temporary directory, signatures checked against Debian's archive
#     keyring), so the machine's apt sources and the installed Django 4.2
#     are left alone.
dj52_dir="${XDG_CACHE_HOME:-$HOME/.cache}/sessionkit/django-5.2"
dj52_path="$dj52_dir/usr/lib/python3/dist-packages"
django52_version() {
	PYTHONPATH="$dj52_path" /usr/bin/python3 -c '
import asgiref, django
from django.contrib.sessions.backends import file  # imports asgiref.sync
print(django.get_version())' 2>/dev/null || true
}
dv52=$(django52_version)
case "$dv52" in
5.2*) ;;
*)
	log "unpacking python3-django 5.2 and python3-asgiref from Debian sid into $dj52_dir"
	uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
	uri=${uri:-http://deb.debian.org/debian}
	keyring=/usr/share/keyrings/debian-archive-keyring.gpg
	tmp=$(mktemp -d)
	chmod 755 "$tmp" # apt's download sandbox user (_apt) must reach it
	mkdir -p "$tmp/state/lists/partial" "$tmp/cache/archives/partial" "$tmp/etc/sources.list.d" "$tmp/debs"
	chmod 777 "$tmp/debs"
	printf 'deb [signed-by=%s] %s sid main\n' "$keyring" "$uri" >"$tmp/etc/sources.list"
	apt_sid=(
		-o Dir::State="$tmp/state" -o Dir::Cache="$tmp/cache"
		-o Dir::Etc::SourceList="$tmp/etc/sources.list"
		-o Dir::Etc::SourceParts="$tmp/etc/sources.list.d"
		-o Acquire::Languages=none
		-o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false
		-o Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false
		-o Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false
	)
	apt-get -q "${apt_sid[@]}" update
	(cd "$tmp/debs" && apt-get -q "${apt_sid[@]}" download python3-django python3-asgiref)
	rm -rf "$dj52_dir"
	mkdir -p "$dj52_dir"
	for deb in "$tmp"/debs/*.deb; do
		dpkg-deb -x "$deb" "$dj52_dir"
	done
	rm -rf "$tmp"
	dv52=$(django52_version)
	;;
esac
case "$dv52" in
5.2*) log "Django $dv52 available in $dj52_dir" ;;
*)
	log "error: Django 5.2 in $dj52_dir reports '${dv52:-nothing}' (sid may have moved past 5.2)"
	exit 1
	;;
esac

# 3d. Byte-compile the unpacked trees. Debian compiles an installed
#     package's modules when it installs it (so 4.2 has its .pyc files);
#     the unpacked 3.2 and 5.2 have none, and where PYTHONDONTWRITEBYTECODE
#     is set (as on the machines CI runs on) every Django the interop tests start
#     would compile all of Django again: 0.9 s a start instead of 0.5 s.
#     compileall skips what is up to date.
for dir in "$dj32_dir/usr/lib/python3/dist-packages" "$dj52_path"; do
	/usr/bin/python3 -m compileall -q -j0 "$dir" >/dev/null
done

# 4. Go modules, and staticcheck (make check) at a pinned version.
staticcheck_version=v0.8.2
if command -v go >/dev/null 2>&1; then
	log "go mod download (root, otel, e2e, adapters, internal/mattntest)"
	(cd "$repo_root" && go mod download)
	(cd "$repo_root/otel" && go mod download)
	(cd "$repo_root/e2e" && go mod download)
	for d in gin echo fiber; do (cd "$repo_root/adapters/$d" && go mod download); done
	(cd "$repo_root/internal/mattntest" && go mod download)
	gobin=$(go env GOBIN)
	gobin=${gobin:-$(go env GOPATH)/bin}
	if "$gobin/staticcheck" -version 2>/dev/null | grep -qF "(${staticcheck_version#v})"; then
		log "already installed: staticcheck $staticcheck_version"
	else
		log "go install honnef.co/go/tools/cmd/staticcheck@$staticcheck_version"
		go install "honnef.co/go/tools/cmd/staticcheck@$staticcheck_version"
	fi
else
	log "warning: go not on PATH, skipping go mod download"
fi

log "done"
