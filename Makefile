# sessionkit: Django's session framework for Go.
#
#   make deps    install the Debian packages and Go modules the tests need
#   make test    deps, then every test with the race detector (what CI runs),
#                of the root module and of the nested MODULES, the
#                conformance suites again in a time zone far from UTC, and
#                every fuzz target for two seconds, and every benchmark once
#                with the report rendered from its output (scripts/bench-smoke.sh)
#   make demo    run the demo shop on the embedded SQLite engine
#   make bench   benchmarks (engines, raw floors, peers); writes benchmarks/RESULTS.md
#   make fuzz    run every fuzz target for FUZZTIME each
#   make soak    long fault soak (not part of make test)
#   make check   gofmt + go vet + staticcheck (root, MODULES and benchmarks)

GO        ?= go
FUZZTIME  ?= 30s
TESTFLAGS ?=
PKGS      ?= ./...
# Nested modules (their own go.mod) that make test and make check cover
# beside the root, which go test ./... does not enter. benchmarks/ is
# make bench's; make test runs it once (scripts/bench-smoke.sh) and make
# check checks it.
MODULES   ?= otel e2e adapters/gin adapters/echo adapters/fiber internal/mattntest
# staticcheck, at the version scripts/install-deps.sh installs (make deps).
STATICCHECK_VERSION := $(shell sed -n 's/^staticcheck_version=//p' scripts/install-deps.sh)
STATICCHECK ?= $(or $(shell $(GO) env GOBIN),$(shell $(GO) env GOPATH)/bin)/staticcheck

.PHONY: all deps test test-short check demo bench fuzz soak clean

all: check test

deps:
	bash scripts/install-deps.sh

test: deps
	$(GO) test -race -timeout 25m $(TESTFLAGS) $(PKGS)
	@# The allocation budgets skip under the race detector (it allocates on
	@# its own): run them once without it, so CI checks them too.
	$(GO) test -count=1 -run 'Allocation' $(TESTFLAGS) .
	@# Sessions expire at instants that the databases store in UTC, as
	@# Django does: run the conformance suites of every engine, and the
	@# packages that handle time, again in a zone far from UTC, where a
	@# local time taken for UTC (or the reverse) shows. Without the zone's
	@# file Go would quietly fall back to UTC.
	@test -e /usr/share/zoneinfo/America/New_York || { echo "tzdata is missing: run make deps"; exit 1; }
	TZ=America/New_York $(GO) test -count=1 $(TESTFLAGS) . ./codec/... ./signing/...
	TZ=America/New_York $(GO) test -count=1 -run 'Conformance' $(TESTFLAGS) ./backends/...
	TZ=America/New_York $(GO) test -count=1 -run '^TestMemcached$$/^Conformance' $(TESTFLAGS) ./backends/memcachestore/
	@# Every fuzz target for two seconds (about a minute in all): go test
	@# runs only their seeds, and a target whose expectation has gone stale
	@# fails at its first mutations, which the seeds never reach.
	bash scripts/fuzz.sh 2s
	@for d in $(MODULES); do echo "cd $$d && $(GO) test -race ./..."; (cd $$d && $(GO) test -race -timeout 25m $(TESTFLAGS) ./...) || exit 1; done
	@# The benchmarks module: the report's tests, every benchmark once
	@# against the real servers, and the report rendered from that output
	@# (about two minutes; make bench is the real run).
	bash scripts/bench-smoke.sh

test-short:
	$(GO) test -race -short $(TESTFLAGS) $(PKGS)
	@for d in $(MODULES); do (cd $$d && $(GO) test -race -short $(TESTFLAGS) ./...) || exit 1; done

check:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@for d in $(MODULES) benchmarks; do echo "cd $$d && $(GO) vet ./..."; (cd $$d && $(GO) vet ./...) || exit 1; done
	@v=$$($(STATICCHECK) -version 2>/dev/null); case "$$v" in *"($(STATICCHECK_VERSION:v%=%))"*) ;; *) echo "staticcheck $(STATICCHECK_VERSION) is not at $(STATICCHECK) (found: $${v:-nothing}): run make deps"; exit 1;; esac
	$(STATICCHECK) -tags soak ./...
	@for d in $(MODULES) benchmarks; do echo "cd $$d && staticcheck ./..."; (cd $$d && $(STATICCHECK) ./...) || exit 1; done

demo:
	$(GO) run ./cmd/sessions demo

bench: deps
	bash scripts/bench.sh

fuzz:
	bash scripts/fuzz.sh $(FUZZTIME)

soak: deps
	SESSIONS_REQUIRE_SERVERS=1 $(GO) test -race -run 'TestSoak' -timeout 60m -tags soak -v ./internal/soak/

clean:
	rm -rf bin
