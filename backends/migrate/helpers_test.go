package migrate

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	_ "github.com/sessionkit/sessions/backends/cookiestore"
	_ "github.com/sessionkit/sessions/backends/filestore"
	_ "github.com/sessionkit/sessions/backends/memstore"
	_ "github.com/sessionkit/sessions/backends/redisstore"
	_ "github.com/sessionkit/sessions/backends/sqlstore"
	"github.com/sessionkit/sessions/conformance"
	"github.com/sessionkit/sessions/internal/testservers"
	"github.com/sessionkit/sessions/internal/testutil"

	_ "github.com/jackc/pgx/v5/stdlib" // postgres:
	_ "modernc.org/sqlite"             // sqlite:
)

// testSettings are the settings of every engine and Manager of the tests.
func testSettings() sessions.Settings {
	s := sessions.DefaultSettings()
	s.SecretKey = conformance.SecretKey
	s.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return s
}

var seq atomic.Int64

// unique returns a name no other test uses (a table, a key prefix).
func unique(t testing.TB, prefix string) string {
	name := regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "_")
	if len(name) > 30 {
		name = name[len(name)-30:]
	}
	return fmt.Sprintf("%s%d_%s", prefix, seq.Add(1), strings.ToLower(name))
}

// kind is a real store the tests migrate from or to.
type kind struct {
	name string
	// url returns the config string of a fresh, isolated store; "" for
	// the in-process memory engine (shared by passing the instance).
	url func(t testing.TB) string
	// pickle: the store holds Django's pickle (a cache engine).
	pickle bool
	// native: the store expires records by itself.
	native bool
}

var (
	memoryKind = kind{name: "memory", url: func(testing.TB) string { return "memory:" }}
	sqliteKind = kind{name: "sqlite", url: func(t testing.TB) string {
		return "sqlite://" + filepath.ToSlash(filepath.Join(t.TempDir(), "sessions.sqlite3")) + "?create_table=true"
	}}
	postgresKind = kind{name: "postgres", url: func(t testing.TB) string {
		return testutil.WithParams(testservers.SharedPostgres(t).URL(), "table", unique(t, "m"), "create_table", "true")
	}}
	redisKind = kind{name: "redis", pickle: true, native: true, url: func(t testing.TB) string {
		return testutil.WithParams(testservers.SharedRedis(t).URL(), "key_prefix", unique(t, "m"))
	}}
	fileKind = kind{name: "file", url: func(t testing.TB) string {
		dir := filepath.Join(t.TempDir(), "sessions")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		return "file://" + filepath.ToSlash(dir)
	}}
)

// openEngine opens a server-side engine from a config string, closed at
// the end of the test.
func openEngine(t testing.TB, config string) sessions.Engine {
	t.Helper()
	b, err := sessions.OpenEngine(context.Background(), config, testSettings())
	if err != nil {
		t.Fatalf("OpenEngine(%s): %v", sessions.Redact(config), err)
	}
	t.Cleanup(func() { b.Close() })
	e, ok := b.(sessions.Engine)
	if !ok {
		t.Fatalf("%s is not a server-side engine", sessions.Redact(config))
	}
	return e
}

// newMigrating returns the store moving sessions from src to dst, with
// the test settings' formats.
func newMigrating(t testing.TB, src, dst sessions.Engine, o *Options) *store {
	t.Helper()
	set := testSettings()
	if o == nil {
		o = &Options{}
	}
	if o.Settings == nil {
		o.Settings = &set
	}
	if o.Logger == nil {
		o.Logger = set.Logger
	}
	st, err := newStore(src, dst, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// seededStore is a migrating engine whose Create and AddUserSession write
// the old store, as if every session of a test had been created before
// the migration started: the whole conformance suite then runs on
// sessions that must be found in the old store, converted and moved.
type seededStore struct{ *store }

// Create stores data (in the new store's format, as the Manager encodes
// it) in the old store, converted to the old store's format.
func (s seededStore) Create(ctx context.Context, key string, data []byte, expiry time.Time) error {
	p, err := s.find(ctx, key, false)
	if err != nil {
		return err
	}
	if p.where != absent {
		return sessions.ErrExists
	}
	if f := s.formats; f != nil && !f.same && len(data) > 0 {
		if d, err := f.dst.Decode(data); err == nil {
			if b, err := f.src.Encode(d); err == nil {
				data = b
			}
		}
	}
	return s.src.Create(ctx, key, data, expiry)
}

// AddUserSession records the entry in the old store's index, when it has
// one.
func (s seededStore) AddUserSession(ctx context.Context, userID, key string, meta []byte, expiry time.Time) error {
	if s.srcUsers != nil {
		return s.srcUsers.AddUserSession(ctx, userID, key, meta, expiry)
	}
	return s.store.AddUserSession(ctx, userID, key, meta, expiry)
}

// pairKinds are the migrations the conformance suite runs over.
type pairKinds struct{ from, to kind }

func (p pairKinds) name() string { return p.from.name + "-to-" + p.to.name }

// harness runs the suite over migrating engines from p.from to p.to;
// seeded puts every session the suite creates in the old store.
// configure, when not nil, changes the settings of the suite's Managers
// and so those the engines are built with (Options.Settings).
func harness(p pairKinds, seeded bool, configure func(*sessions.Settings)) conformance.Harness {
	// Where the suite's records live: the new store, or (seeded) the old
	// one until they are moved.
	home := p.to
	if seeded {
		home = p.from
	}
	caps := conformance.Capabilities{
		// Either store may hold a record: the weaker check applies when
		// one of them expires records by itself.
		NativeExpiry: p.from.native || p.to.native,
		// The Manager writes the new store's format, pickle for a cache;
		// seeded sessions are read first in the old store's.
		Unsigned: p.to.pickle || home.pickle,
	}
	if p.from.name != "memory" || p.to.name != "memory" {
		// A call on a migrating engine makes several round trips (a load
		// that misses the new store asks the old one; a session in the
		// old store is found, claimed and moved): the expiry cases get
		// more room than 20 ms on a loaded machine (a redis-to-sqlite
		// run with the sessions in the new store missed 20 ms at a load
		// average of 17).
		caps.TTLResolution = 100 * time.Millisecond
	}
	set := testSettings()
	if configure != nil {
		configure(&set)
	}
	open := func(t *testing.T, src, dst sessions.Engine) sessions.Backend {
		st := newMigrating(t, src, dst, &Options{Settings: &set})
		if seeded {
			return variant(seededStore{st})
		}
		return st.engine()
	}
	return conformance.Harness{
		Caps:      caps,
		Configure: configure,
		New: func(t *testing.T) sessions.Backend {
			return open(t, openEngine(t, p.from.url(t)), openEngine(t, p.to.url(t)))
		},
		NewPair: func(t *testing.T) (sessions.Backend, sessions.Backend) {
			fu, tu := p.from.url(t), p.to.url(t)
			if p.from.name == "memory" || p.to.name == "memory" {
				src, dst := openEngine(t, fu), openEngine(t, tu)
				return open(t, src, dst), open(t, src, dst)
			}
			return open(t, openEngine(t, fu), openEngine(t, tu)), open(t, openEngine(t, fu), openEngine(t, tu))
		},
	}
}
