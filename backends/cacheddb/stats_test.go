package cacheddb_test

import (
	"context"
	"testing"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/cacheddb"
	"github.com/sessionkit/sessions/backends/memstore"
	"github.com/sessionkit/sessions/internal/counttest"
	"github.com/sessionkit/sessions/internal/testutil"
)

// The store counts with its database (the database holds every session;
// the cache holds copies), so "sessions stats" does not list every key.
func TestCount(t *testing.T) {
	for _, swap := range []bool{true, false} {
		db := memstore.New(nil)
		var dbe sessions.Engine = db
		if !swap { // a database that counts, lists and indexes, without Swap
			dbe = struct {
				noSwapDB
				sessions.Counter
				sessions.Lister
				sessions.UserIndexer
				sessions.ExpiredDeleter
			}{noSwapDB{db, db, db}, db, db, db, db}
		}
		e, err := cacheddb.New(memstore.New(nil), dbe, dbOptions())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		counttest.Check(t, e)
	}
}

// Over a database that cannot count, Stats lists the keys, as it does for
// any engine that lists but cannot count.
func TestCountByListing(t *testing.T) {
	ctx := context.Background()
	db := memstore.New(nil)
	e, err := cacheddb.New(memstore.New(nil), struct {
		sessions.Engine
		sessions.Lister
	}{db, db}, dbOptions())
	if err != nil {
		t.Fatal(err)
	}
	m := testutil.Manager(t, e)
	for range 3 {
		s := m.NewSession(ctx)
		s.Set("a", 1)
		if err := s.Save(ctx); err != nil {
			t.Fatal(err)
		}
	}
	n, err := m.Stats(ctx, nil)
	if err != nil || n.Sessions != 3 || n.Expired != -1 {
		t.Errorf("Stats = %+v, %v; want 3 sessions listed, the other counts unknown (-1)", n, err)
	}
}
