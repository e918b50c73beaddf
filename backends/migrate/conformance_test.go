package migrate

import (
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/conformance"
	"github.com/sessionkit/sessions/internal/testservers"
	"github.com/sessionkit/sessions/internal/testutil"
)

// The migrations the suite runs over: in one process, between two real
// stores of one format (file to PostgreSQL), and across formats both ways
// (signed JSON in SQLite to Django's pickle in Redis, and back).
var suitePairs = []pairKinds{
	{memoryKind, memoryKind},
	{sqliteKind, redisKind},
	{redisKind, sqliteKind},
	{fileKind, postgresKind},
}

// TestMigrateConformance runs the storage contract and the Manager's
// behaviour over migrating engines, twice: with the sessions created in
// the new store (the engine in steady state), and with every session the
// suite creates put in the old store first (each case then finds,
// converts and moves it).
func TestMigrateConformance(t *testing.T) {
	for _, p := range suitePairs {
		t.Run(p.name(), func(t *testing.T) {
			for _, seeded := range []bool{false, true} {
				mode := "new"
				if seeded {
					mode = "old"
				}
				h := harness(p, seeded, nil)
				t.Run(mode+"/Storage", func(t *testing.T) { conformance.Run(t, h) })
				t.Run(mode+"/Manager", func(t *testing.T) { conformance.RunManager(t, h) })
			}
		})
	}
}

// TestMigrateEncrypted runs the Manager's behaviour with encryption at
// rest across formats: sessions are decrypted, converted and encrypted
// again when they move.
func TestMigrateEncrypted(t *testing.T) {
	h := harness(pairKinds{memoryKind, redisKind}, true, func(s *sessions.Settings) {
		s.EncryptionKeys = []string{"0123456789abcdef0123456789abcdef"}
	})
	conformance.RunManager(t, h)
}

// TestMigrateFaults cuts and stalls each store of a migration between two
// network stores (PostgreSQL to Redis) in the middle of requests.
func TestMigrateFaults(t *testing.T) {
	h := harness(pairKinds{postgresKind, redisKind}, false, nil)
	h.NewFaulty = func(t *testing.T) (sessions.Backend, []conformance.Fault) {
		fu, fp := testservers.Proxied(t, postgresKind.url(t))
		tu, tp := testservers.Proxied(t, redisKind.url(t))
		// Timeouts of 1 s for both stores keep the stalled cases short.
		fu = testutil.WithParams(fu, "query_timeout", "1s")
		tu = testutil.WithParams(tu, "read_timeout", "1s", "write_timeout", "1s")
		st := newMigrating(t, openEngine(t, fu), openEngine(t, tu), nil)
		// The suite's sessions are in the new store: the old one's outage
		// leaves their loads working.
		from, to := testservers.Fault("old-postgres", true, fp...), testservers.Fault("new-redis", false, tp...)
		from.Timeout, to.Timeout = time.Second, time.Second
		// Pool sizes: PostgreSQL's max_open_conns, 20, with the
		// connections pgx holds while it closes those whose queries timed
		// out (see sqlstore's doc and its pgStallConns); go-redis's
		// pool (testservers.GoRedisStallConns).
		from.MaxConns, to.MaxConns = 4*20, testservers.GoRedisStallConns(false)
		return st.engine(), []conformance.Fault{from, to}
	}
	conformance.RunFaults(t, h)
}
