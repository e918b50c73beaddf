package cacheddb_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/cacheddb"
	_ "github.com/sessionkit/sessions/backends/memcachestore"
	"github.com/sessionkit/sessions/backends/memstore"
	_ "github.com/sessionkit/sessions/backends/redisstore"
	_ "github.com/sessionkit/sessions/backends/sqlstore"
	"github.com/sessionkit/sessions/codec/pickle"
	"github.com/sessionkit/sessions/conformance"
	"github.com/sessionkit/sessions/internal/djcache"
	"github.com/sessionkit/sessions/internal/testservers"
	"github.com/sessionkit/sessions/internal/testutil"
	_ "modernc.org/sqlite"
)

var seq atomic.Int64

// redisSQLite returns the config of a cached_db over a shared Redis
// (own key prefix) and a fresh SQLite file.
func redisSQLite(t *testing.T) string {
	r := testservers.SharedRedis(t)
	cache := r.URL() + "?key_prefix=" + fmt.Sprintf("t%d", seq.Add(1))
	db := "sqlite://" + filepath.Join(t.TempDir(), "s.sqlite3") + "?create_table=true"
	return "cached-db:?cache=" + url.QueryEscape(cache) + "&db=" + url.QueryEscape(db)
}

func openEngine(t *testing.T, cfg string) sessions.Engine {
	e, err := sessions.OpenEngine(context.Background(), cfg, testutil.Settings())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e.(sessions.Engine)
}

func TestConformanceRedisSQLite(t *testing.T) {
	// The cache holds Django's unsigned pickle.
	h := conformance.Harness{New: func(t *testing.T) sessions.Backend { return openEngine(t, redisSQLite(t)) },
		Caps: conformance.Capabilities{Unsigned: true}}
	conformance.Run(t, h)
	conformance.RunManager(t, h)
}

func TestConformanceMemoryPair(t *testing.T) {
	h := conformance.Harness{New: func(t *testing.T) sessions.Backend {
		s, err := cacheddb.New(memstore.New(nil), memstore.New(nil), dbOptions())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, Caps: conformance.Capabilities{Unsigned: true}}
	conformance.Run(t, h)
	conformance.RunManager(t, h)
}

// counting wraps an engine and counts Load calls.
type counting struct {
	sessions.Engine
	loads atomic.Int64
}

func (c *counting) Load(ctx context.Context, key string) ([]byte, error) {
	c.loads.Add(1)
	return c.Engine.Load(ctx, key)
}

func (c *counting) LoadExpiry(ctx context.Context, key string) ([]byte, time.Time, error) {
	c.loads.Add(1)
	return c.Engine.(sessions.ExpiryReader).LoadExpiry(ctx, key)
}

func TestReadsHitTheCache(t *testing.T) {
	ctx := context.Background()
	db := &counting{Engine: memstore.New(nil)}
	cache := memstore.New(nil)
	st, _ := cacheddb.New(cache, db, dbOptions())
	m, err := sessions.New(st, testutil.Settings())
	if err != nil {
		t.Fatal(err)
	}
	s := m.NewSession(ctx)
	s.Set("user", "ann")
	s.Save(ctx)
	cacheddb.WaitInstalls(t, st)
	for range 5 {
		if m.Load(ctx, s.Key()).Get("user") != "ann" {
			t.Fatal("not loaded")
		}
	}
	if n := db.loads.Load(); n != 0 {
		t.Errorf("%d database reads for cached sessions", n)
	}
	// The cache holds Django's pickle, the database Django's signed JSON.
	cb, _ := cache.Load(ctx, s.Key())
	dbb, _ := db.Engine.Load(ctx, s.Key())
	if len(cb) == 0 || cb[0] != 0x80 || !strings.Contains(string(dbb), ":") {
		t.Errorf("cache %q, db %q", cb, dbb)
	}
	// Evicted from the cache: one database read refills it.
	cache.Delete(ctx, s.Key())
	m.Load(ctx, s.Key()).Get("user")
	m.Load(ctx, s.Key()).Get("user")
	if n := db.loads.Load(); n != 1 {
		t.Errorf("%d database reads after an eviction, want 1", n)
	}
	if _, err := cache.Load(ctx, s.Key()); err != nil {
		t.Error("the cache was not refilled")
	}
}

// The refilled cache entry lives exactly as long as the row.
func TestRefillKeepsRowExpiry(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	clock := func() time.Time { return now }
	db := memstore.New(&memstore.Options{Now: clock})
	cache := memstore.New(&memstore.Options{Now: clock})
	st, _ := cacheddb.New(cache, db, dbOptions())
	stt := testutil.Settings()
	stt.Clock = clock
	m, _ := sessions.New(st, stt)
	s := m.NewSession(ctx)
	s.Set("a", 1)
	s.SetExpiry(time.Minute)
	s.Save(ctx)
	cacheddb.WaitInstalls(t, st)
	cache.Delete(ctx, s.Key())
	m.Load(ctx, s.Key()).Get("a") // refill
	now = now.Add(61 * time.Second)
	if _, err := cache.Load(ctx, s.Key()); !errors.Is(err, sessions.ErrNotFound) {
		t.Errorf("cache copy outlived the row: %v", err)
	}
}

// With the cache down, reads are served from the database and writes are
// refused (the cache could not be invalidated first); the outage is logged
// once. Once the cache is back (restarted empty), writes work again.
func TestCacheDownServesFromDatabase(t *testing.T) {
	ctx := context.Background()
	r := testservers.StartRedis(t)
	var logs bytes.Buffer
	var mu sync.Mutex
	st := testutil.Settings()
	st.Logger = slog.New(slog.NewTextHandler(lockedWriter{&logs, &mu}, nil))
	cache := r.URL() + "?max_retries=-1&dialer_retries=1&dial_timeout=200ms&logical_prefix=" + url.QueryEscape(cacheddb.LogicalPrefix)
	db := "sqlite://" + filepath.Join(t.TempDir(), "s.sqlite3") + "?create_table=true"
	m, err := sessions.Open(ctx, "cached-db:?cache="+url.QueryEscape(cache)+"&db="+url.QueryEscape(db), st)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var lastErr error
	st.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		lastErr = err
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
	}
	m2, err := sessions.New(m.Backend().(sessions.Engine), st)
	if err != nil {
		t.Fatal(err)
	}
	h := m2.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessions.FromContext(r.Context())
		n, _ := sessions.Get[int](s, "n")
		if r.URL.Path == "/incr" {
			n++
			s.Set("n", n)
		}
		fmt.Fprint(w, n)
	}))
	var cookie string
	do := func(path string) (int, string) {
		req := httptest.NewRequest("GET", path, nil)
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: "sessionid", Value: cookie})
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		for _, c := range rec.Result().Cookies() {
			cookie = c.Value
		}
		return rec.Code, rec.Body.String()
	}
	do("/incr")
	do("/incr")
	r.Stop()
	for range 5 {
		if code, body := do("/"); code != 200 || body != "2" {
			t.Fatalf("read with the cache down: %d %q", code, body)
		}
		if code, _ := do("/incr"); code != http.StatusServiceUnavailable || !errors.Is(lastErr, cacheddb.ErrCacheUnavailable) {
			t.Fatalf("write with the cache down: %d, %v; want it refused with ErrCacheUnavailable", code, lastErr)
		}
	}
	if code, body := do("/"); code != 200 || body != "2" {
		t.Fatalf("a refused write changed the session: %d %q", code, body)
	}
	mu.Lock()
	if n := strings.Count(logs.String(), "cache unavailable"); n != 1 {
		t.Errorf("cache outage logged %d times, want once:\n%s", n, logs.String())
	}
	mu.Unlock()
	r.Start()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := do("/incr")
		if code == 200 {
			if body != "3" {
				t.Fatalf("first write after the outage: %q, want 3", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no recovery")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, body := do("/"); code != 200 || body != "3" {
		t.Errorf("after the cache came back: %d %q", code, body)
	}
}

type lockedWriter struct {
	b  *bytes.Buffer
	mu *sync.Mutex
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// downDB fails every write, as a database that went away.
type downDB struct{ *memstore.Store }

var errDown = errors.New("database unreachable")

func (downDB) Create(context.Context, string, []byte, time.Time) error { return errDown }
func (downDB) Update(context.Context, string, []byte, time.Time) error { return errDown }
func (downDB) Swap(context.Context, string, []byte, []byte, time.Time) error {
	return errDown
}

func TestDatabaseDownWritesNothingToTheCache(t *testing.T) {
	ctx := context.Background()
	cache := memstore.New(nil)
	st, _ := cacheddb.New(cache, downDB{memstore.New(nil)}, dbOptions())
	m, _ := sessions.New(st, testutil.Settings())
	s := m.NewSession(ctx)
	s.Set("a", 1)
	if err := s.Save(ctx); !errors.Is(err, errDown) {
		t.Fatalf("Save = %v, want the database's error", err)
	}
	// The write's claim may stay (the database's answer was no answer), but
	// no session is cached.
	cache.List(ctx, func(k string) bool {
		b, _ := cache.Load(ctx, k)
		if _, err := (pickle.Codec{}).Decode(djcache.StripRow(b)); err == nil {
			t.Errorf("a session was written to the cache alone")
		}
		return true
	})
	if _, err := st.Load(ctx, "neverwrittenkey1"); !errors.Is(err, sessions.ErrNotFound) {
		t.Errorf("Load = %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range []string{"cached-db:", "cached-db:?cache=%zz", "cached-db:?cache=memory%3A&db=cached-db%3A", "cached-db:?cache=memory%3A&bogus=1"} {
		if _, err := sessions.OpenEngine(ctx, cfg, testutil.Settings()); err == nil {
			t.Errorf("%q opened", cfg)
		}
	}
	s := testutil.Settings()
	s.CacheURL = testservers.SharedRedis(t).URL()
	s.DatabaseURL = "sqlite://" + filepath.Join(t.TempDir(), "a.db") + "?create_table=true"
	e, err := sessions.OpenEngine(ctx, "cached_db", s)
	if err != nil {
		t.Fatalf("cached_db alias: %v", err)
	}
	e.Close()
}

func TestCacheKeyIsDjangos(t *testing.T) {
	ctx := context.Background()
	r := testservers.SharedRedis(t)
	prefix := fmt.Sprintf("k%d", seq.Add(1))
	m, err := sessions.Open(ctx, "cached-db:?cache="+url.QueryEscape(r.URL()+"?key_prefix="+prefix)+"&db="+url.QueryEscape("sqlite://"+filepath.Join(t.TempDir(), "s.db")+"?create_table=true"), testutil.Settings())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s := m.NewSession(ctx)
	s.Set("a", 1)
	s.Save(ctx)
	rs := m.Backend().(sessions.Engine).(interface{ Describe() string }).Describe()
	if !strings.Contains(rs, prefix+":1:django.contrib.sessions.cached_db") {
		t.Errorf("cache keys: %s", rs)
	}
}

func TestConformanceMemcachedPostgres(t *testing.T) {
	mc1, mc2 := testservers.SharedMemcached(t), testservers.StartMemcached(t)
	pg := testservers.SharedPostgres(t)
	h := conformance.Harness{
		New: func(t *testing.T) sessions.Backend {
			n := seq.Add(1)
			cache := fmt.Sprintf("memcached://%s,%s?key_prefix=mp%d", mc1.Addr, mc2.Addr, n)
			db := pg.URL() + fmt.Sprintf("&create_table=true&table=cdb_%d_%d", time.Now().UnixNano()%1e6, n)
			return openEngine(t, "cached-db:?cache="+url.QueryEscape(cache)+"&db="+url.QueryEscape(db))
		},
		// The cache copy expires on memcached's whole-second clock.
		Caps: conformance.Capabilities{Unsigned: true, TTLResolution: time.Second},
	}
	conformance.Run(t, h)
	conformance.RunManager(t, h)
}

// TestFaults cuts and stalls the cache and, separately, the database
// behind proxies in the middle of requests (conformance.RunFaults). Reads
// survive either outage: a cut cache sends them to the database, a cut
// database leaves the cached copy.
func TestFaults(t *testing.T) {
	pg := testservers.SharedPostgres(t)
	for _, cacheName := range []string{"redis", "memcached"} {
		t.Run(cacheName, func(t *testing.T) {
			h := conformance.Harness{Caps: conformance.Capabilities{Unsigned: true, TTLResolution: time.Second}}
			h.NewFaulty = func(t *testing.T) (sessions.Backend, []conformance.Fault) {
				n := seq.Add(1)
				cacheURL := testservers.SharedRedis(t).URL()
				// The cache client's timeouts: go-redis's default (3 s)
				// cut to 1 s; memcached's default, 500 ms.
				cacheParams, cacheTimeout := "&read_timeout=1s&write_timeout=1s", time.Second
				if cacheName == "memcached" {
					cacheURL = "memcached://" + testservers.SharedMemcached(t).Addr
					cacheParams, cacheTimeout = "", 500*time.Millisecond
				}
				cu, cp := testservers.Proxied(t, cacheURL)
				du, dp := testservers.Proxied(t, pg.URL())
				cache := fmt.Sprintf("%s?key_prefix=f%d", cu, n) + cacheParams
				db := du + fmt.Sprintf("&create_table=true&table=cdbf_%d_%d&query_timeout=1s", time.Now().UnixNano()%1e6, n)
				e := openEngine(t, "cached-db:?cache="+url.QueryEscape(cache)+"&db="+url.QueryEscape(db))
				cf, df := testservers.Fault("cache", true, cp...), testservers.Fault("database", true, dp...)
				cf.Timeout, df.Timeout = cacheTimeout, time.Second
				// Pool sizes: the memcached engine's default max_conns,
				// ten per CPU; go-redis's (testservers.GoRedisStallConns);
				// PostgreSQL's max_open_conns, 20, with the connections
				// pgx holds while it closes those whose queries timed out
				// (see sqlstore's doc and its pgStallConns).
				cf.MaxConns, df.MaxConns = testservers.GoRedisStallConns(false), 4*20
				if cacheName == "memcached" {
					cf.MaxConns = 10 * runtime.GOMAXPROCS(0)
				}
				return e, []conformance.Fault{cf, df}
			}
			h.New = func(t *testing.T) sessions.Backend { e, _ := h.NewFaulty(t); return e }
			conformance.RunFaults(t, h)
		})
	}
}

// replicatedCacheFaults is a harness for conformance.RunFaults whose cache
// is a Redis master with one replica (testservers.ReplicatedRedis), opened
// with cacheParams: its Failover mode promotes a cache replica that missed
// the latest writes, claims and deletes included.
func replicatedCacheFaults(cacheParams string) conformance.Harness {
	h := conformance.Harness{Caps: conformance.Capabilities{Unsigned: true, TTLResolution: time.Second}}
	h.NewFaulty = func(t *testing.T) (sessions.Backend, []conformance.Fault) {
		n := seq.Add(1)
		cu, cf := testservers.ReplicatedRedis(t, "cache", true)
		cache := fmt.Sprintf("%s?key_prefix=rf%d&read_timeout=1s&write_timeout=1s", cu, n) + cacheParams
		db := "sqlite://" + filepath.Join(t.TempDir(), "s.sqlite3") + "?create_table=true"
		e := openEngine(t, "cached-db:?cache="+url.QueryEscape(cache)+"&db="+url.QueryEscape(db))
		cf.Timeout = time.Second
		cf.MaxConns = testservers.GoRedisStallConns(true) // the writes pipeline with wait_replicas
		return e, []conformance.Fault{cf}
	}
	h.New = func(t *testing.T) sessions.Backend { e, _ := h.NewFaulty(t); return e }
	return h
}

// TestFaultsReplicatedCache: with wait_replicas=1 on the cache, a
// failover of the cache to a replica that missed the latest writes
// undoes no acknowledged logout, save, CycleKey or DeleteUser.
func TestFaultsReplicatedCache(t *testing.T) {
	conformance.RunFaults(t, replicatedCacheFaults("&wait_replicas=1&wait_timeout=300ms"))
}
