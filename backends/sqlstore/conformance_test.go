package sqlstore_test

import (
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/conformance"
	"github.com/sessionkit/sessions/internal/testservers"
)

// harness gives the suite a fresh table for every engine, and two stores
// over one table for the shared-store case.
func harness(b backend) conformance.Harness {
	return conformance.Harness{
		New: func(t *testing.T) sessions.Backend { return fresh(t, b) },
		NewPair: func(t *testing.T) (sessions.Backend, sessions.Backend) {
			u := withParams(b.base(t), "table", uniqueTable("pair"), "create_table", "true")
			return open(t, u), open(t, u)
		},
		// Expiry is kept to the microsecond on every database.
		Caps: conformance.Capabilities{},
	}
}

func TestConformanceSQLite(t *testing.T)   { conformance.Run(t, harness(backends[0])) }
func TestConformancePostgres(t *testing.T) { conformance.Run(t, harness(backends[1])) }
func TestConformanceMariaDB(t *testing.T)  { conformance.Run(t, harness(backends[2])) }

func TestConformanceManagerSQLite(t *testing.T)   { conformance.RunManager(t, harness(backends[0])) }
func TestConformanceManagerPostgres(t *testing.T) { conformance.RunManager(t, harness(backends[1])) }
func TestConformanceManagerMariaDB(t *testing.T)  { conformance.RunManager(t, harness(backends[2])) }

// faultTimeout is the query_timeout of the stores the fault cases stall
// (shorter than the default, 10 s, which TestOpenQueryTimeout checks).
const faultTimeout = time.Second

// pgStallConns is the most connections the PostgreSQL engine holds to a
// stalled server in the stall case: max_open_conns (20), for each of them
// whose query timed out pgx's own two while it closes the connection in
// the background (it sends the server a cancel request on a connection of
// its own, and waits up to 15 s for both; see the package documentation),
// and the pool's replacements meanwhile: three pools, and up to 71
// connections measured on a busy machine. Still under the 96 calls the
// case makes: an engine that opened one per waiting call would exceed it.
const pgStallConns = 4 * 20

// faulty adds conformance.RunFaults's hook: the database server behind a
// proxy that the suite cuts and stalls.
func faulty(b backend) conformance.Harness {
	h := harness(b)
	h.NewFaulty = func(t *testing.T) (sessions.Backend, []conformance.Fault) {
		u, proxies := testservers.Proxied(t, b.base(t))
		e := open(t, withParams(u, "table", uniqueTable("f"), "create_table", "true", "query_timeout", faultTimeout.String()))
		f := testservers.Fault(b.name, false, proxies...)
		f.Timeout = faultTimeout
		f.MaxConns = 20 // the default max_open_conns
		if b.name == "Postgres" {
			f.MaxConns = pgStallConns
		}
		return e, []conformance.Fault{f}
	}
	return h
}

func TestFaultsPostgres(t *testing.T) { conformance.RunFaults(t, faulty(backends[1])) }
func TestFaultsMariaDB(t *testing.T)  { conformance.RunFaults(t, faulty(backends[2])) }
