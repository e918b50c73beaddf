package cacheddb_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/cacheddb"
	"github.com/sessionkit/sessions/backends/memstore"
	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/internal/testservers"
	"github.com/sessionkit/sessions/internal/testutil"
)

// dbOptions are the options of a store over a database in Django's
// format, the Manager's default.
func dbOptions() *cacheddb.Options {
	return &cacheddb.Options{Codec: sessions.DefaultCodec(testutil.Settings())}
}

// noSwapDB is a database engine that cannot compare-and-swap.
type noSwapDB struct {
	sessions.Engine
	sessions.ExpiryReader
	sessions.Toucher
}

// A store over a database that cannot compare-and-swap does not claim it
// can: the Manager then writes with Update, instead of trusting a Swap
// that could not compare.
func TestSwapOnlyWithTheDatabases(t *testing.T) {
	ctx := context.Background()
	db := memstore.New(nil)
	e, err := cacheddb.New(memstore.New(nil), noSwapDB{db, db, db}, dbOptions())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := e.(sessions.Swapper); ok {
		t.Error("a store over a database without Swap is a sessions.Swapper")
	}
	for _, ok := range []bool{
		is[sessions.Toucher](e), is[sessions.ExpiredDeleter](e), is[sessions.Lister](e),
		is[sessions.UserIndexer](e), is[sessions.Codecer](e), is[sessions.Describer](e),
	} {
		if !ok {
			t.Errorf("the store without Swap lost another method: %T", e)
		}
	}
	m, err := sessions.New(e, testutil.Settings())
	if err != nil {
		t.Fatal(err)
	}
	s := m.NewSession(ctx)
	s.Set("a", 1)
	if err := s.Save(ctx); err != nil {
		t.Fatal(err)
	}
	s = m.Load(ctx, s.Key())
	s.Set("a", 2)
	if err := s.Save(ctx); err != nil {
		t.Fatal(err)
	}
	if got := m.Load(ctx, s.Key()).Get("a"); fmt.Sprint(got) != "2" {
		t.Errorf("after an update: a = %v", got)
	}
	e, err = cacheddb.New(memstore.New(nil), memstore.New(nil), dbOptions())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := e.(sessions.Swapper); !ok {
		t.Error("a store over a database with Swap is no sessions.Swapper")
	}
}

func is[T any](e sessions.Engine) bool { _, ok := e.(T); return ok }

// New takes the formats it converts between; without the database's (nor
// Verbatim) it cannot fill the cache, and says so.
func TestNewNeedsTheDatabasesFormat(t *testing.T) {
	if _, err := cacheddb.New(memstore.New(nil), memstore.New(nil), nil); !errors.Is(err, sessions.ErrBadConfig) || !strings.Contains(err.Error(), "Codec") {
		t.Errorf("New without a codec: %v", err)
	}
	if _, err := cacheddb.New(memstore.New(nil), memstore.New(nil), &cacheddb.Options{Verbatim: true}); err != nil {
		t.Errorf("New with Verbatim: %v", err)
	}
}

// The opener gives the store the settings' formats when it is built: with
// Settings.Codec (a Go-only format the Manager uses instead of the
// engine's), the cache holds the rows' bytes as they are, and serves
// them.
func TestOpenerWithSettingsCodec(t *testing.T) {
	ctx := context.Background()
	r := testservers.SharedRedis(t)
	cacheURL := fmt.Sprintf("%s?key_prefix=sc%d&logical_prefix=%s", r.URL(), seq.Add(1), url.QueryEscape(cacheddb.LogicalPrefix))
	dbURL := "sqlite://" + filepath.Join(t.TempDir(), "s.sqlite3") + "?create_table=true"
	st := testutil.Settings()
	st.Codec = codec.Signed{Key: "go-only", Salt: "app.sessions"}
	m, err := sessions.Open(ctx, "cached-db:?cache="+url.QueryEscape(cacheURL)+"&db="+url.QueryEscape(dbURL), st)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s := m.NewSession(ctx)
	s.Set("a", 1)
	if err := s.Save(ctx); err != nil {
		t.Fatal(err)
	}
	cache := openEngine(t, cacheURL)
	b, err := cache.Load(ctx, s.Key())
	if err != nil {
		t.Fatalf("the cache holds no copy: %v", err)
	}
	if d, err := st.Codec.Decode(b); err != nil || d.Len() != 1 {
		t.Errorf("the cache's copy is not in the Manager's format: %q (%v)", b, err)
	}
	if got := m.Load(ctx, s.Key()).Get("a"); fmt.Sprint(got) != "1" {
		t.Errorf("read back: a = %v", got)
	}
}

// A store built to convert rows to pickle, given to a Manager that
// encrypts, caches nothing (it cannot read the rows) and says why once.
func TestEncryptionWithoutVerbatimIsReported(t *testing.T) {
	ctx := context.Background()
	var logs bytes.Buffer
	var mu sync.Mutex
	o := dbOptions()
	o.Logger = slog.New(slog.NewTextHandler(lockedWriter{&logs, &mu}, nil))
	cache := memstore.New(nil)
	e, err := cacheddb.New(cache, memstore.New(nil), o)
	if err != nil {
		t.Fatal(err)
	}
	st := testutil.Settings()
	st.EncryptionKeys = []string{strings.Repeat("k", 32)}
	m, err := sessions.New(e, st)
	if err != nil {
		t.Fatal(err)
	}
	s := m.NewSession(ctx)
	s.Set("secret", "value")
	if err := s.Save(ctx); err != nil {
		t.Fatal(err)
	}
	if got := m.Load(ctx, s.Key()).Get("secret"); got != "value" {
		t.Errorf("read back: %v", got)
	}
	cache.List(ctx, func(k string) bool {
		b, _ := cache.Load(ctx, k)
		if bytes.Contains(b, []byte("value")) {
			t.Errorf("the cache holds the session readable: %q", b)
		}
		return true
	})
	mu.Lock()
	defer mu.Unlock()
	if n := strings.Count(logs.String(), "Verbatim"); n != 1 {
		t.Errorf("the mismatch was reported %d times, want once:\n%s", n, logs.String())
	}
}
