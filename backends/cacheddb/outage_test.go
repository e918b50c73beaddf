package cacheddb_test

// Cache outages: the cache (real Redis or real memcached, behind a
// testservers.Proxy that cuts or stalls it) becomes unreachable while it
// keeps its data, before an operation or right after the operation's
// database write; then it comes back. Whatever the operation answered,
// the cache must never hold, nor the store serve, a session older than
// the database's (a deleted one above all), and an acknowledged
// operation must hold.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/cacheddb"
	"github.com/sessionkit/sessions/backends/sqlstore"
	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/codec/pickle"
	"github.com/sessionkit/sessions/internal/djcache"
	"github.com/sessionkit/sessions/internal/testservers"
	"github.com/sessionkit/sessions/internal/testutil"
)

// cacheTimeout is the cache clients' timeout in these tests: short, so a
// stalled cache fails fast.
const cacheTimeout = 250 * time.Millisecond

// hookDB is the database engine with hooks: arm(op, f) runs f once,
// right after the next successful database call op ("create", "update",
// "swap", "touch", "delete", "loadexpiry"), the moment to break the cache
// between the database write and the cache's; arm("before "+op, f) runs f
// once just before it.
type hookDB struct {
	*sqlstore.Store
	mu    sync.Mutex
	hooks map[string]func()
}

func (h *hookDB) arm(op string, f func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.hooks == nil {
		h.hooks = map[string]func(){}
	}
	h.hooks[op] = f
}

func (h *hookDB) take(op string) func() {
	h.mu.Lock()
	defer h.mu.Unlock()
	f := h.hooks[op]
	delete(h.hooks, op)
	return f
}

func (h *hookDB) before(op string) {
	if f := h.take("before " + op); f != nil {
		f()
	}
}

func (h *hookDB) fire(op string, err error) error {
	if err != nil {
		return err
	}
	if f := h.take(op); f != nil {
		f()
	}
	return nil
}

func (h *hookDB) Create(ctx context.Context, key string, data []byte, exp time.Time) error {
	h.before("create")
	return h.fire("create", h.Store.Create(ctx, key, data, exp))
}

func (h *hookDB) Update(ctx context.Context, key string, data []byte, exp time.Time) error {
	h.before("update")
	return h.fire("update", h.Store.Update(ctx, key, data, exp))
}

func (h *hookDB) Swap(ctx context.Context, key string, old, data []byte, exp time.Time) error {
	h.before("swap")
	return h.fire("swap", h.Store.Swap(ctx, key, old, data, exp))
}

func (h *hookDB) Touch(ctx context.Context, key string, exp time.Time) error {
	h.before("touch")
	return h.fire("touch", h.Store.Touch(ctx, key, exp))
}

func (h *hookDB) Delete(ctx context.Context, key string) error {
	h.before("delete")
	return h.fire("delete", h.Store.Delete(ctx, key))
}

func (h *hookDB) LoadExpiry(ctx context.Context, key string) ([]byte, time.Time, error) {
	b, exp, err := h.Store.LoadExpiry(ctx, key)
	return b, exp, h.fire("loadexpiry", err)
}

// rig is one app process: a cached_db store whose cache is reached
// through a proxy, a Manager and its middleware.
type rig struct {
	proxy  *testservers.Proxy
	cache  sessions.Engine // the store's cache engine, through the proxy
	direct sessions.Engine // the same cache, straight to the server
	db     *hookDB
	st     sessions.Engine
	m      *sessions.Manager
	h      http.Handler
}

// cacheServer starts (or shares) a cache server and returns its address
// and a function making a cache URL for an address.
func cacheServer(t *testing.T, kind string) (addr string, mkURL func(addr string) string) {
	prefix := fmt.Sprintf("o%d", seq.Add(1))
	lp := url.QueryEscape(cacheddb.LogicalPrefix)
	ms := fmt.Sprintf("%dms", cacheTimeout/time.Millisecond)
	switch kind {
	case "redis":
		return testservers.SharedRedis(t).Addr, func(a string) string {
			return "redis://" + a + "/0?key_prefix=" + prefix + "&logical_prefix=" + lp +
				"&max_retries=-1&dialer_retries=1&dial_timeout=" + ms + "&read_timeout=" + ms + "&write_timeout=" + ms + "&pool_timeout=" + ms
		}
	case "memcached":
		return testservers.SharedMemcached(t).Addr, func(a string) string {
			return "memcached://" + a + "?key_prefix=" + prefix + "&logical_prefix=" + lp + "&timeout=" + ms
		}
	}
	t.Fatalf("unknown cache %q", kind)
	return "", nil
}

func sqliteURL(t *testing.T) string {
	return "sqlite://" + filepath.Join(t.TempDir(), "s.sqlite3") + "?create_table=true"
}

func postgresURL(t *testing.T) string {
	return testservers.SharedPostgres(t).URL() + fmt.Sprintf("&create_table=true&table=out_%d_%d", time.Now().UnixNano()%1e6, seq.Add(1))
}

// newRig opens a store over the cache server at addr (through a new
// proxy) and the database at dbURL.
func newRig(t *testing.T, addr string, mkURL func(string) string, dbURL string, opts ...func(*cacheddb.Options)) *rig {
	t.Helper()
	ctx := context.Background()
	r := &rig{proxy: testservers.NewProxy(t, addr)}
	var err error
	if r.cache, err = openAsEngine(ctx, mkURL(r.proxy.Addr()), testutil.Settings()); err != nil {
		t.Fatal(err)
	}
	if r.direct, err = openAsEngine(ctx, mkURL(addr), testutil.Settings()); err != nil {
		t.Fatal(err)
	}
	db, err := sessions.OpenEngine(ctx, dbURL, testutil.Settings())
	if err != nil {
		t.Fatal(err)
	}
	r.db = &hookDB{Store: db.(*sqlstore.Store)}
	t.Cleanup(func() { r.cache.Close(); r.direct.Close(); db.Close() })
	o := outageOptions()
	for _, f := range opts {
		f(o)
	}
	if r.st, err = cacheddb.New(r.cache, r.db, o); err != nil {
		t.Fatal(err)
	}
	st := testutil.Settings()
	st.Logger = quietLogger() // refused writes are expected here
	if r.m, err = sessions.New(r.st, st); err != nil {
		t.Fatal(err)
	}
	r.h = r.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ctx := req.Context()
		s := sessions.FromContext(ctx)
		switch req.URL.Path {
		case "/logout":
			if err := s.Flush(ctx); err != nil {
				http.Error(w, "logout failed", http.StatusInternalServerError)
				return
			}
		case "/cycle":
			if err := s.CycleKey(ctx); err != nil {
				http.Error(w, "cycle failed", http.StatusInternalServerError)
				return
			}
		case "/incr":
			n, _ := sessions.Get[int](s, "n")
			s.Set("n", n+1)
		}
		user, _ := sessions.Get[string](s, "user")
		n, _ := sessions.Get[int](s, "n")
		fmt.Fprintf(w, "%s %d", user, n)
	}))
	return r
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// outageOptions are the store's options in the outage tests.
func outageOptions() *cacheddb.Options {
	o := dbOptions()
	o.Logger = quietLogger()
	return o
}

// do sends a request with the session cookie and returns the status, the
// body and the cookie value the response sets ("" if none).
func (r *rig) do(path, cookie string) (int, string, string) {
	req := httptest.NewRequest("GET", path, nil)
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: "sessionid", Value: cookie})
	}
	rec := httptest.NewRecorder()
	r.h.ServeHTTP(rec, req)
	set := ""
	for _, c := range rec.Result().Cookies() {
		if c.Name == "sessionid" {
			set = c.Value
		}
	}
	return rec.Code, rec.Body.String(), set
}

// login stores a session {user: ann, n: 1} bound to user u1.
func (r *rig) login(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	s := r.m.NewSession(ctx)
	s.Set("user", "ann")
	s.Set("n", 1)
	// The cache is healthy here, but its short timeout can pass on a
	// loaded machine: a refused write is retried, as a user would.
	for _, step := range []func() error{func() error { return s.Save(ctx) }, func() error { return r.m.BindUser(ctx, s, "u1") }} {
		err := step()
		for i := 0; i < 5 && errors.Is(err, cacheddb.ErrCacheUnavailable); i++ {
			time.Sleep(50 * time.Millisecond)
			err = step()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	cacheddb.WaitInstalls(t, r.st) // the copy is in the cache before what follows
	return s.Key()
}

// state is a session as a comparable string ("" for no session).
func state(d *codec.Dict) string {
	if d == nil {
		return ""
	}
	b, err := codec.MarshalPython(codec.NewDict(d.Map()))
	if err != nil {
		return fmt.Sprintf("unencodable %v", err)
	}
	return string(b)
}

// dbState is what the database holds under key.
func (r *rig) dbState(t *testing.T, key string) string {
	t.Helper()
	return r.loadState(t, r.db.Store, key, "database load", "database row")
}

// storeState is what the cached_db store serves under key.
func (r *rig) storeState(t *testing.T, key string) string {
	t.Helper()
	return r.loadState(t, r.st, key, "store load", "store load decodes")
}

// loadState is the session e holds under key, decoded with the Manager's
// codec ("" for none); loading, and decoding, names what fails.
func (r *rig) loadState(t *testing.T, e sessions.Engine, key, loading, decoding string) string {
	t.Helper()
	b, err := e.Load(context.Background(), key)
	if errors.Is(err, sessions.ErrNotFound) {
		return ""
	}
	if err != nil {
		t.Fatalf("%s: %v", loading, err)
	}
	d, err := r.m.Codec().Decode(b)
	if err != nil {
		t.Fatalf("%s: %v", decoding, err)
	}
	return state(d)
}

// cacheState is the session the cache server holds under key: "" when
// it holds none (nothing, or something that is not a session).
func (r *rig) cacheState(t *testing.T, key string) string {
	t.Helper()
	b, err := r.direct.Load(context.Background(), key)
	if errors.Is(err, sessions.ErrNotFound) {
		return ""
	}
	if err != nil {
		t.Fatalf("direct cache load: %v", err)
	}
	d, err := pickle.Codec{}.Decode(djcache.StripRow(b)) // with the row's bytes or not
	if err != nil {
		return ""
	}
	return state(d)
}

// consistent checks that the cache holds no session other than the
// database's and that the store serves the database's session, twice
// (the first read may refill the cache, the second then reads it).
func (r *rig) consistent(t *testing.T, key, what string) {
	t.Helper()
	want := r.dbState(t, key)
	if c := r.cacheState(t, key); c != "" && c != want {
		if want == "" {
			t.Errorf("%s: the cache holds a session the database no longer has: %q", what, c)
		} else {
			t.Errorf("%s: the cache holds a stale session %q, the database %q", what, c, want)
		}
	}
	for i := range 2 {
		if got := r.storeState(t, key); got != want {
			t.Errorf("%s: read %d serves %q, the database holds %q", what, i+1, got, want)
		}
	}
}

// waitCacheUsable waits until the store's cache client works again after
// a fault (its pooled connections were reset).
func (r *rig) waitCacheUsable(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	probe := "probe" + fmt.Sprint(seq.Add(1)) + "xxxx"
	ok := 0
	deadline := time.Now().Add(10 * time.Second)
	for ok < 3 {
		if _, err := r.cache.Load(ctx, probe); err == nil || errors.Is(err, sessions.ErrNotFound) {
			ok++
			continue
		}
		ok = 0
		if time.Now().After(deadline) {
			t.Fatal("the cache did not come back")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readsWork checks that reads during the outage are served, from the
// database, in bounded time.
func (r *rig) readsWork(t *testing.T, key string) {
	t.Helper()
	want := r.dbState(t, key)
	for i := range 3 {
		start := time.Now()
		if got := r.storeState(t, key); got != want {
			t.Errorf("read %d during the outage serves %q, the database holds %q", i+1, got, want)
		}
		exists, err := r.m.Exists(context.Background(), key)
		if err != nil || exists != (want != "") {
			t.Errorf("Exists during the outage = %v, %v; the database holds %q", exists, err, want)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("a read during the outage took %v", d)
		}
	}
}

// outageOp is an operation run while the cache is out.
type outageOp struct {
	name string
	// dbOp is the database write after which the "after the database
	// write" fault strikes.
	dbOp string
	// run performs the operation and reports whether it was
	// acknowledged, and a check of its effect (run when acknowledged).
	run func(t *testing.T, r *rig, key string) (acked bool, check func(t *testing.T))
}

func gone(r *rig, key string) func(t *testing.T) {
	return func(t *testing.T) {
		t.Helper()
		if d := r.dbState(t, key); d != "" {
			t.Errorf("acknowledged delete: the database still holds %q", d)
		}
		if s := r.storeState(t, key); s != "" {
			t.Errorf("acknowledged delete undone: the store serves %q", s)
		}
		if ok, _ := r.m.Exists(context.Background(), key); ok {
			t.Error("acknowledged delete undone: Manager.Exists is true")
		}
	}
}

// holds checks that key holds n (and user ann) in the database and the store.
func holds(r *rig, key string, n int) func(t *testing.T) {
	return func(t *testing.T) {
		t.Helper()
		d := &codec.Dict{}
		d.Set("user", "ann")
		d.Set("n", n)
		d.Set(sessions.BoundUserKey, "u1")
		want := state(d)
		if got := r.dbState(t, key); got != want {
			t.Errorf("acknowledged write: the database holds %q, want %q", got, want)
		}
		if got := r.storeState(t, key); got != want {
			t.Errorf("acknowledged write reads back %q, want %q", got, want)
		}
	}
}

func currentN(t *testing.T, r *rig, key string) int {
	t.Helper()
	b, err := r.db.Store.Load(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	d, err := r.m.Codec().Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := d.Get("n")
	n, err := strconv.Atoi(fmt.Sprint(v))
	if err != nil {
		t.Fatalf("n = %v", v)
	}
	return n
}

var outageOps = []outageOp{
	{name: "Engine.Delete", dbOp: "delete", run: func(t *testing.T, r *rig, key string) (bool, func(*testing.T)) {
		return r.st.Delete(context.Background(), key) == nil, gone(r, key)
	}},
	{name: "Flush", dbOp: "delete", run: func(t *testing.T, r *rig, key string) (bool, func(*testing.T)) {
		code, _, _ := r.do("/logout", key)
		return code == http.StatusOK, gone(r, key)
	}},
	{name: "DeleteUser", dbOp: "delete", run: func(t *testing.T, r *rig, key string) (bool, func(*testing.T)) {
		n, err := r.m.DeleteUser(context.Background(), "u1")
		return err == nil && n == 1, gone(r, key)
	}},
	{name: "CycleKey", dbOp: "delete", run: func(t *testing.T, r *rig, key string) (bool, func(*testing.T)) {
		code, body, newKey := r.do("/cycle", key)
		if code != http.StatusOK {
			return false, nil
		}
		return true, func(t *testing.T) {
			gone(r, key)(t)
			if body != "ann 1" || newKey == "" || newKey == key {
				t.Fatalf("cycle answered %q with key %q", body, newKey)
			}
			r.consistent(t, newKey, "the new key")
			holds(r, newKey, 1)(t)
		}
	}},
	{name: "Engine.Update", dbOp: "update", run: func(t *testing.T, r *rig, key string) (bool, func(*testing.T)) {
		n := currentN(t, r, key) + 1
		d := &codec.Dict{}
		d.Set("user", "ann")
		d.Set("n", n)
		d.Set(sessions.BoundUserKey, "u1")
		b, err := r.m.Codec().Encode(d)
		if err != nil {
			t.Fatal(err)
		}
		return r.st.Update(context.Background(), key, b, time.Now().Add(time.Hour)) == nil, holds(r, key, n)
	}},
	{name: "Save (Swap)", dbOp: "swap", run: func(t *testing.T, r *rig, key string) (bool, func(*testing.T)) {
		n := currentN(t, r, key) + 1
		code, body, _ := r.do("/incr", key)
		return code == http.StatusOK && body == fmt.Sprintf("ann %d", n), holds(r, key, n)
	}},
}

// TestOutage runs every operation with the cache cut or stalled, from
// before the operation or from right after its database write, on Redis
// and on memcached, over SQLite.
func TestOutage(t *testing.T) {
	for _, cache := range []string{"redis", "memcached"} {
		t.Run(cache, func(t *testing.T) {
			addr, mkURL := cacheServer(t, cache)
			for _, fault := range []string{"cut", "stall"} {
				for _, when := range []string{"before", "after-db-write"} {
					for _, o := range outageOps {
						t.Run(fault+"/"+when+"/"+o.name, func(t *testing.T) {
							runOutage(t, newRig(t, addr, mkURL, sqliteURL(t)), fault, when, o)
						})
					}
				}
			}
		})
	}
}

// TestOutagePostgres runs the operations with the cache cut from before
// the operation and stalled after the database write, on Redis over
// PostgreSQL.
func TestOutagePostgres(t *testing.T) {
	addr, mkURL := cacheServer(t, "redis")
	for _, c := range []struct{ fault, when string }{{"cut", "before"}, {"stall", "after-db-write"}} {
		for _, o := range outageOps {
			t.Run(c.fault+"/"+c.when+"/"+o.name, func(t *testing.T) {
				runOutage(t, newRig(t, addr, mkURL, postgresURL(t)), c.fault, c.when, o)
			})
		}
	}
}

func runOutage(t *testing.T, r *rig, fault, when string, o outageOp) {
	key := r.login(t)
	if r.cacheState(t, key) == "" {
		t.Fatal("the session is not in the cache before the outage: nothing would be stale")
	}
	r.consistent(t, key, "before the outage")
	strike := r.proxy.Cut
	if fault == "stall" {
		strike = r.proxy.Stall
	}
	r.waitCacheUsable(t) // pooled connections: requests are sent, not only handshakes
	if when == "before" {
		strike()
		r.readsWork(t, key)
	} else {
		r.db.arm(o.dbOp, strike)
	}
	acked, check := o.run(t, r, key)
	if when == "before" {
		r.readsWork(t, key)
	}
	r.proxy.Restore()
	r.waitCacheUsable(t)
	r.consistent(t, key, "after the outage")
	if acked {
		check(t)
		return
	}
	t.Logf("%s not acknowledged during the outage", o.name)
	if r.dbState(t, key) == "" {
		// Its delete took effect all the same (CycleKey's, before the
		// request's final save failed): it must hold.
		gone(r, key)(t)
		return
	}
	// It did not take effect: retried once the cache is back, it works
	// (within a few tries: the client's short timeout can pass on a loaded
	// machine).
	for i := 0; i < 3 && !acked; i++ {
		acked, check = o.run(t, r, key)
	}
	if !acked {
		t.Fatalf("%s failed again after the cache came back", o.name)
	}
	check(t)
	r.consistent(t, key, "after the retry")
}

// TestLateCacheWrite: a cache write that timed out lands after newer
// operations (the proxy holds it and delivers it late, as TCP does after
// a partition heals or a paused server does when it resumes). It must not
// bring back a deleted session or an older version.
func TestLateCacheWrite(t *testing.T) {
	for _, cache := range []string{"redis", "memcached"} {
		t.Run(cache, func(t *testing.T) {
			addr, mkURL := cacheServer(t, cache)
			t.Run("login then logout", func(t *testing.T) {
				r := newRig(t, addr, mkURL, sqliteURL(t))
				ctx := context.Background()
				r.waitCacheUsable(t) // a pooled connection, so the write is sent, not a handshake
				r.db.arm("create", r.proxy.Stall)
				s := r.m.NewSession(ctx)
				s.Set("user", "ann")
				if err := s.Save(ctx); err != nil {
					t.Fatalf("login: %v", err) // the database has it: acknowledged
				}
				key := s.Key()
				release := r.proxy.RestoreLate()
				r.waitCacheUsable(t)
				if err := r.st.Delete(ctx, key); err != nil {
					t.Fatalf("logout with the cache back: %v", err)
				}
				release()
				time.Sleep(300 * time.Millisecond) // the held write lands
				r.consistent(t, key, "after the late write")
				gone(r, key)(t)
			})
			t.Run("write then write", func(t *testing.T) {
				r := newRig(t, addr, mkURL, sqliteURL(t))
				key := r.login(t)
				r.db.arm("swap", r.proxy.Stall)
				if code, body, _ := r.do("/incr", key); code != http.StatusOK || body != "ann 2" {
					t.Fatalf("first write: %d %q", code, body)
				}
				release := r.proxy.RestoreLate()
				r.waitCacheUsable(t)
				if code, body, _ := r.do("/incr", key); code != http.StatusOK || body != "ann 3" {
					t.Fatalf("second write: %d %q, want 200 \"ann 3\": it read stale data", code, body)
				}
				release()
				time.Sleep(300 * time.Millisecond)
				r.consistent(t, key, "after the late write")
				holds(r, key, 3)(t)
			})
		})
	}
}

// TestPartialPartition: two app processes share the cache and the
// database; only one of them loses the cache. What it acknowledges must
// hold for the other one at once, which still reads the cache.
func TestPartialPartition(t *testing.T) {
	for _, cache := range []string{"redis", "memcached"} {
		t.Run(cache, func(t *testing.T) {
			addr, mkURL := cacheServer(t, cache)
			db := sqliteURL(t)
			a, b := newRig(t, addr, mkURL, db), newRig(t, addr, mkURL, db)
			key := b.login(t)
			a.proxy.Cut()
			code, _, _ := a.do("/incr", key)
			b.consistent(t, key, "the other process, after a write")
			if code == http.StatusOK {
				holds(b, key, 2)(t)
			}
			code, _, _ = a.do("/logout", key)
			b.consistent(t, key, "the other process, after a logout")
			if code == http.StatusOK {
				gone(b, key)(t)
			}
			a.proxy.Restore()
			a.waitCacheUsable(t)
			if code, _, _ := a.do("/logout", key); code != http.StatusOK {
				t.Fatalf("logout with the cache back: %d", code)
			}
			gone(b, key)(t)
			b.consistent(t, key, "the other process, after the outage")
		})
	}
}

// TestOutageSoak: two app processes, each through its own proxy to one
// cache, run writes, logouts and key cycles from several goroutines while
// their proxies are cut, stalled, restored, restored late and slowed at
// random. Afterwards nothing is stale anywhere, no acknowledged delete is
// undone and no acknowledged write is lost.
func TestOutageSoak(t *testing.T) {
	for _, cache := range []string{"redis", "memcached"} {
		t.Run(cache, func(t *testing.T) {
			addr, mkURL := cacheServer(t, cache)
			db := sqliteURL(t)
			rigs := []*rig{newRig(t, addr, mkURL, db), newRig(t, addr, mkURL, db)}
			var (
				mu      sync.Mutex
				keys    = map[string]bool{}
				deleted = map[string]bool{} // acknowledged deletes
				tried   = map[string]bool{} // deletes attempted, acknowledged or not
				acked   = map[string]int{}  // highest acknowledged n
			)
			note := func(key string, del bool, n int) {
				mu.Lock()
				defer mu.Unlock()
				keys[key] = true
				if del {
					deleted[key] = true
				}
				if n > acked[key] {
					acked[key] = n
				}
			}
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					cookie := ""
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						r := rigs[(w+i)%2]
						path := [...]string{"/incr", "/incr", "/incr", "/incr", "/cycle", "/logout"}[i%6]
						if path != "/incr" && cookie != "" {
							mu.Lock()
							tried[cookie] = true
							mu.Unlock()
						}
						code, body, set := r.do(path, cookie)
						if code != http.StatusOK {
							continue
						}
						var user string
						var n int
						fmt.Sscanf(body, "%s %d", &user, &n)
						switch path {
						case "/logout":
							if cookie != "" {
								note(cookie, true, 0)
							}
							cookie = ""
						case "/cycle":
							if cookie != "" && set != "" && set != cookie {
								note(cookie, true, 0)
							}
							fallthrough
						default:
							if set != "" {
								cookie = set
							}
							if cookie != "" {
								note(cookie, false, n)
							}
						}
					}
				}()
			}
			var releases []func()
			end := time.Now().Add(3 * time.Second)
			for time.Now().Before(end) {
				p := rigs[seq.Add(1)%2].proxy
				switch seq.Add(1) % 6 {
				case 0:
					p.Cut()
				case 1:
					p.Stall()
				case 2, 3:
					p.Restore()
				case 4:
					releases = append(releases, p.RestoreLate())
				case 5:
					p.SetDelay(time.Duration(seq.Add(1)%3) * time.Millisecond)
				}
				time.Sleep(time.Duration(20+seq.Add(1)%80) * time.Millisecond)
				if len(releases) > 0 && seq.Add(1)%3 == 0 {
					releases[0]()
					releases = releases[1:]
				}
			}
			for _, r := range rigs {
				r.proxy.SetDelay(0)
				r.proxy.Restore()
			}
			close(stop)
			wg.Wait()
			for _, rel := range releases {
				rel()
			}
			for _, r := range rigs {
				r.waitCacheUsable(t)
			}
			time.Sleep(300 * time.Millisecond) // late writes land
			if len(deleted) == 0 || len(keys) == len(deleted) {
				t.Fatalf("%d keys, %d deletes acknowledged: the soak did too little", len(keys), len(deleted))
			}
			t.Logf("%d sessions, %d acknowledged deletes", len(keys), len(deleted))
			for key := range keys {
				for i, r := range rigs {
					r.consistent(t, key, fmt.Sprintf("process %d", i))
				}
				if deleted[key] {
					gone(rigs[0], key)(t)
					continue
				}
				if rigs[0].dbState(t, key) == "" {
					// Only a delete may remove a session: one that failed
					// after its database write (a CycleKey whose final save
					// was refused) is allowed to have done it.
					if !tried[key] {
						t.Errorf("a session vanished without a delete")
					}
					continue
				}
				if got, want := currentN(t, rigs[0], key), acked[key]; got < want {
					t.Errorf("acknowledged n=%d lost: the database holds n=%d", want, got)
				}
			}
		})
	}
}

// update writes {user: ann, n: n} (bound to u1) under key with Engine.Update.
func (r *rig) update(t *testing.T, key string, n int) error {
	t.Helper()
	d := &codec.Dict{}
	d.Set("user", "ann")
	d.Set("n", n)
	d.Set(sessions.BoundUserKey, "u1")
	b, err := r.m.Codec().Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	return r.st.Update(context.Background(), key, b, time.Now().Add(time.Hour))
}

// TestRefillRace: a read that missed the cache reads the row, then a write
// changes it, then the read puts its copy in the cache. The older copy
// must not win. (Fails on the code before the leases: the refill
// overwrote the write's copy.)
func TestRefillRace(t *testing.T) {
	for _, cache := range []string{"redis", "memcached"} {
		t.Run(cache, func(t *testing.T) {
			addr, mkURL := cacheServer(t, cache)
			r := newRig(t, addr, mkURL, sqliteURL(t))
			key := r.login(t)
			if err := r.direct.Delete(context.Background(), key); err != nil { // evicted
				t.Fatal(err)
			}
			r.db.arm("loadexpiry", func() {
				if err := r.update(t, key, 2); err != nil {
					t.Errorf("the write between the read and the refill: %v", err)
				}
			})
			if got := r.storeState(t, key); !strings.Contains(got, `"n":1`) {
				t.Fatalf("the read returned %q", got)
			}
			r.consistent(t, key, "after the refill race")
			holds(r, key, 2)(t)
		})
	}
}

// TestOverlappingWrites: write B runs entirely while write A is under
// way, either before A's database write (B commits first, A's data
// wins) or after it (A commits first, B's data wins). The cache must
// end with the winner's copy or none, and once the writes are over the
// next write caches again. (The second case fails on the code before the
// claims: A's cache write, last, put back A's older copy.)
func TestOverlappingWrites(t *testing.T) {
	for _, cache := range []string{"redis", "memcached"} {
		for _, c := range []struct {
			hook   string
			winner int
		}{{"before update", 10}, {"update", 20}} {
			t.Run(cache+"/B "+c.hook+" of A", func(t *testing.T) {
				addr, mkURL := cacheServer(t, cache)
				const claimFor = time.Second // WriteTimeout and ClockSkew: claims end 2 s after they start
				r := newRig(t, addr, mkURL, sqliteURL(t), func(o *cacheddb.Options) { o.WriteTimeout, o.ClockSkew = claimFor, claimFor })
				key := r.login(t)
				r.db.arm(c.hook, func() {
					if err := r.update(t, key, 20); err != nil {
						t.Errorf("write B: %v", err)
					}
				})
				if err := r.update(t, key, 10); err != nil {
					t.Fatalf("write A: %v", err)
				}
				r.consistent(t, key, "after the overlapping writes")
				holds(r, key, c.winner)(t)
				// Once the claims are over, the next write caches its copy.
				time.Sleep(2*claimFor + 100*time.Millisecond)
				if err := r.update(t, key, 11); err != nil {
					t.Fatal(err)
				}
				r.consistent(t, key, "after a later write")
				holds(r, key, 11)(t)
				// The write's copy goes into the cache after it returned,
				// and the loads above no longer wait for it.
				cacheddb.WaitInstalls(t, r.st)
				if c := r.cacheState(t, key); !strings.Contains(c, `"n":11`) {
					t.Errorf("the write after the overlap cached %q", c)
				}
			})
		}
	}
}

// openAsEngine is sessions.OpenEngine for a server-side engine.
func openAsEngine(ctx context.Context, cfg string, st sessions.Settings) (sessions.Engine, error) {
	b, err := sessions.OpenEngine(ctx, cfg, st)
	if err != nil {
		return nil, err
	}
	return b.(sessions.Engine), nil
}
