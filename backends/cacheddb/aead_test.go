package cacheddb_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/cacheddb"
	"github.com/sessionkit/sessions/backends/redisstore"
	"github.com/sessionkit/sessions/backends/sqlstore"
	"github.com/sessionkit/sessions/conformance"
	"github.com/sessionkit/sessions/internal/aeadtest"
	"github.com/sessionkit/sessions/internal/testservers"
)

// encrypted is a cached_db over a shared Redis and a fresh SQLite file,
// keeping both engines for reading them directly.
type encrypted struct {
	*cacheddb.Store
	cache *redisstore.Store
	db    *sqlstore.Store
}

func newEncrypted(t *testing.T) sessions.Backend {
	r := testservers.SharedRedis(t)
	cache := openEngine(t, fmt.Sprintf("%s?key_prefix=aead%d&logical_prefix=%s", r.URL(), seq.Add(1), cacheddb.LogicalPrefix))
	db := openEngine(t, "sqlite://"+filepath.ToSlash(filepath.Join(t.TempDir(), "s.sqlite3"))+"?create_table=true")
	// The Manager encrypts: the cache holds the rows' bytes.
	s, err := cacheddb.New(cache, db, &cacheddb.Options{Verbatim: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &encrypted{Store: s.(*cacheddb.Store), cache: cache.(*redisstore.Store), db: db.(*sqlstore.Store)}
}

// TestEncrypted runs the Manager suite and the encryption cases with
// Settings.EncryptionKeys. Both copies must be there and encrypted: the
// row (read with a query) and the cache's (read with a GET), which
// without encryption is Django's unsigned pickle.
func TestEncrypted(t *testing.T) {
	aeadtest.Run(t, aeadtest.Target{
		Harness: conformance.Harness{New: newEncrypted},
		Stored: func(t *testing.T, e sessions.Backend, key string) [][]byte {
			s := e.(*encrypted)
			ctx := context.Background()
			cacheddb.WaitInstalls(t, s.Store) // the write's copy, installed after it returned
			_, w := s.db.DB()
			var row string
			if err := w.QueryRowContext(ctx, "SELECT session_data FROM "+s.db.Table()+" WHERE session_key = ?", key).Scan(&row); err != nil {
				t.Fatalf("reading the row: %v", err)
			}
			cached, err := s.cache.Client().Get(ctx, s.cache.Key(key)).Bytes()
			if err != nil {
				t.Fatalf("the cache holds no copy (GET: %v): every request would read the database", err)
			}
			return [][]byte{[]byte(row), cached}
		},
	})
}
