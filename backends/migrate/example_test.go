package migrate_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/sessionkit/sessions"
	_ "github.com/sessionkit/sessions/all"
)

// Change stores without logging anybody out: the application opens
// "migrate:?from=OLD&to=NEW" instead of NEW, and each session moves on
// its first request (`sessions migrate` moves the rest in bulk). Here from
// one SQLite file to another; in practice from the file engine to
// PostgreSQL, or from the database to Redis.
func Example() {
	dir, err := os.MkdirTemp("", "migrate-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	settings := sessions.DefaultSettings()
	settings.SecretKey = "change-me-to-a-long-random-string"
	oldURL := "sqlite://" + filepath.ToSlash(filepath.Join(dir, "old.sqlite3")) + "?create_table=true"
	newURL := "sqlite://" + filepath.ToSlash(filepath.Join(dir, "new.sqlite3")) + "?create_table=true"

	// Yesterday's application, on the old store.
	before, err := sessions.Open(ctx, oldURL, settings)
	if err != nil {
		fmt.Println(err)
		return
	}
	s := before.NewSession(ctx)
	s.Set("user", "ann")
	before.Save(ctx, s)
	before.Close()

	// Today's, migrating.
	m, err := sessions.Open(ctx, "migrate:?from="+url.QueryEscape(oldURL)+"&to="+url.QueryEscape(newURL), settings)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Load(ctx, s.Key()).Get("user")) // still logged in: moved on this read
	m.Close()

	for _, store := range []struct{ name, url string }{{"old", oldURL}, {"new", newURL}} {
		m, err := sessions.Open(ctx, store.url, settings)
		if err != nil {
			fmt.Println(err)
			return
		}
		ok, err := m.Exists(ctx, s.Key())
		fmt.Println(store.name, "store has it:", ok, err)
		m.Close()
	}
	// Output:
	// ann
	// old store has it: false <nil>
	// new store has it: true <nil>
}
