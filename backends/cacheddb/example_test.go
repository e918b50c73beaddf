package cacheddb_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/cacheddb"
	"github.com/sessionkit/sessions/backends/memstore"
	"github.com/sessionkit/sessions/backends/sqlstore"
	_ "modernc.org/sqlite" // the SQLite driver (pure Go)
)

// Django's cached_db: a database that holds the truth, a cache in front
// that serves the reads. In production the cache is Redis or memcached
// and the whole engine is one config string (Django's "cached_db" with
// Settings.CacheURL and Settings.DatabaseURL, or
// "cached-db:?cache=<escaped URL>&db=<escaped URL>"); here the engines
// are built by hand, with an in-memory cache, so that the example runs
// anywhere.
func Example() {
	dir, err := os.MkdirTemp("", "cacheddb-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	settings := sessions.DefaultSettings()
	settings.SecretKey = "example secret key: use your Django SECRET_KEY"

	db, err := sql.Open("sqlite", filepath.Join(dir, "app.db"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	rows, err := sqlstore.New(db, sqlstore.SQLite, &sqlstore.Options{CreateTable: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rows.Close()

	// open puts a cache in front of the database. The cache engine must
	// compare-and-swap (memstore, redisstore and memcachestore do); the
	// rows are in the Manager's format, which the cache's copies are
	// converted from.
	open := func(cache sessions.Engine) *sessions.Manager {
		e, err := cacheddb.New(cache, rows, &cacheddb.Options{Codec: sessions.DefaultCodec(settings)})
		if err != nil {
			panic(err)
		}
		m, err := sessions.New(e, settings)
		if err != nil {
			panic(err)
		}
		return m
	}

	m := open(memstore.New(nil))
	s := m.NewSession(ctx)
	s.Set("cart", []string{"mug"})
	if err := m.Save(ctx, s); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Load(ctx, s.Key()).Get("cart")) // served by the cache

	// The cache restarts empty (or evicts the session): nobody is
	// logged out, the database still has it.
	restarted := open(memstore.New(nil))
	fmt.Println(restarted.Load(ctx, s.Key()).Get("cart"))
	// Output:
	// [mug]
	// [mug]
}
