package memcachestore_test

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/memcachestore"
	"github.com/sessionkit/sessions/conformance"
	"github.com/sessionkit/sessions/internal/testservers"
	"github.com/sessionkit/sessions/internal/testutil"
)

func open(t testing.TB, raw string) *memcachestore.Store {
	t.Helper()
	e, err := sessions.OpenEngine(context.Background(), raw, testutil.QuietSettings())
	if err != nil {
		t.Fatalf("OpenEngine(%s): %v", raw, err)
	}
	t.Cleanup(func() { e.Close() })
	return e.(*memcachestore.Store)
}

// harness opens engines at base with their own key prefixes. Memcached
// counts whole seconds, and its items hold at most 1 MiB including the
// key and the item header. Django's pickle format is not signed, so the
// secret-key rotation case does not apply to it.
func harness(base string, params ...string) conformance.Harness {
	caps := conformance.Capabilities{TTLResolution: time.Second, MaxValueSize: 1<<20 - 1024, Unsigned: true, NativeExpiry: true}
	for i := 0; i+1 < len(params); i += 2 {
		if params[i] == "format" && params[i+1] == "json" {
			caps.Unsigned = false
		}
	}
	return conformance.Harness{
		New: func(t *testing.T) sessions.Backend {
			return open(t, testutil.WithParams(base, append([]string{"key_prefix", testutil.Prefix(t)}, params...)...))
		},
		NewPair: func(t *testing.T) (sessions.Backend, sessions.Backend) {
			u := testutil.WithParams(base, append([]string{"key_prefix", testutil.Prefix(t)}, params...)...)
			return open(t, u), open(t, u)
		},
		Caps: caps,
	}
}

// TestMemcached runs everything that needs two servers on one pair.
func TestMemcached(t *testing.T) {
	a, b := testservers.StartMemcached(t), testservers.StartMemcached(t)
	base := "memcached://" + a.Addr + "," + b.Addr
	t.Run("Conformance", func(t *testing.T) { conformance.Run(t, harness(base)) })
	t.Run("ConformanceCRC32", func(t *testing.T) {
		h := harness(base, "distribution", "crc32")
		conformance.Run(t, h)
	})
	t.Run("ManagerPickle", func(t *testing.T) { conformance.RunManager(t, harness(base)) })
	t.Run("ManagerJSON", func(t *testing.T) { conformance.RunManager(t, harness(base, "format", "json")) })
	t.Run("Faults", func(t *testing.T) {
		h := harness(base)
		h.NewFaulty = func(t *testing.T) (sessions.Backend, []conformance.Fault) {
			u, proxies := testservers.Proxied(t, base)
			f := testservers.Fault("memcached", false, proxies...)
			f.Timeout = memcache.DefaultTimeout     // the URL's default timeout
			f.MaxConns = 10 * runtime.GOMAXPROCS(0) // the URL's default max_conns
			return open(t, testutil.WithParams(u, "key_prefix", testutil.Prefix(t))), []conformance.Fault{f}
		}
		conformance.RunFaults(t, h)
	})
	t.Run("BothServersUsed", func(t *testing.T) { testBothServersUsed(t, a, b) })
	t.Run("DjangoFormat", func(t *testing.T) { testDjangoFormat(t, base, a, b) })
	t.Run("Django", func(t *testing.T) { testDjango(t, a, b) })
	t.Run("HostileValues", func(t *testing.T) { testHostileValues(t, base, a, b) })
	t.Run("TooLarge", func(t *testing.T) { testTooLarge(t, base) })
	t.Run("RoundTrips", func(t *testing.T) { testRoundTrips(t, a) })
	t.Run("ClearExpired", func(t *testing.T) {
		m := testutil.Open(t, testutil.WithParams(base, "key_prefix", testutil.Prefix(t)), testutil.Quiet)
		if n, err := m.ClearExpired(context.Background()); n != 0 || err != nil {
			t.Errorf("ClearExpired = %d, %v; want 0, nil (memcached expires sessions itself)", n, err)
		}
	})
}

// rawGet reads a key from whichever of the servers holds it.
func rawGet(t testing.TB, key string, servers ...*testservers.Memcached) *memcache.Item {
	t.Helper()
	for _, s := range servers {
		it, err := memcache.New(s.Addr).Get(key)
		if err == nil {
			return it
		}
	}
	t.Fatalf("no server holds %q", key)
	return nil
}

func testBothServersUsed(t *testing.T, a, b *testservers.Memcached) {
	ctx := context.Background()
	s := open(t, testutil.WithParams("memcached://"+a.Addr+","+b.Addr, "key_prefix", testutil.Prefix(t)))
	ca, cb := memcache.New(a.Addr), memcache.New(b.Addr)
	on := map[string]int{}
	for range 40 {
		k := sessions.NewKey()
		if err := s.Create(ctx, k, []byte("x"), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		_, errA := ca.Get(s.Key(k))
		_, errB := cb.Get(s.Key(k))
		switch {
		case errA == nil && errB != nil:
			on["a"]++
		case errB == nil && errA != nil:
			on["b"]++
		default:
			t.Fatalf("key on both or neither server: %v, %v", errA, errB)
		}
	}
	if on["a"] == 0 || on["b"] == 0 {
		t.Errorf("40 sessions all went to one server: %v", on)
	}
}

// The verified pickle of {"a": "b", "n": 1, "_session_expiry": 300} from
// the reference (django-sessions.md §7.5).
const djangoVector = "80059528000000000000007d94288c0161948c0162948c016e944b018c0f5f73657373696f6e5f657870697279944d2c01752e"

func testDjangoFormat(t *testing.T, base string, a, b *testservers.Memcached) {
	ctx := context.Background()
	for _, tc := range []struct{ params, keyPrefix string }{
		{"", ":1:django.contrib.sessions.cache"},
		{"key_prefix=myapp&version=3", "myapp:3:django.contrib.sessions.cache"},
	} {
		m := testutil.Open(t, base+"?"+tc.params, testutil.Quiet)
		store := m.Backend().(sessions.Engine).(*memcachestore.Store)
		key := sessions.NewKey()
		// Django wrote this session (flags 1, 300 s) on the server
		// pymemcache picks.
		sel, _ := memcachestore.NewPymemcacheSelector(a.Addr, b.Addr)
		addr, _ := sel.PickServer(tc.keyPrefix + key)
		v, _ := hex.DecodeString(djangoVector)
		if err := memcache.New(addr.String()).Set(&memcache.Item{Key: tc.keyPrefix + key, Value: v, Flags: 1, Expiration: 300}); err != nil {
			t.Fatal(err)
		}
		s := m.Load(ctx, key)
		if s.Get("a") != "b" || s.Get("n") != int64(1) || s.ExpiryAge() != 300*time.Second {
			t.Errorf("%s: Django's session read as %v", tc.keyPrefix, s.Keys())
		}
		w := m.NewSession(ctx)
		w.Set("a", "b")
		w.Set("n", 1)
		w.SetExpiry(300 * time.Second)
		if err := w.Save(ctx); err != nil {
			t.Fatal(err)
		}
		if store.Key(w.Key()) != tc.keyPrefix+w.Key() {
			t.Errorf("Key = %q", store.Key(w.Key()))
		}
		it := rawGet(t, tc.keyPrefix+w.Key(), a, b)
		if hex.EncodeToString(it.Value) != djangoVector || it.Flags != 1 { // pymemcache's FLAG_PICKLE
			t.Errorf("%s: stored %x with flags %d\nwant Django's %s with flags 1", tc.keyPrefix, it.Value, it.Flags, djangoVector)
		}
	}
}

// testDjango has Django 4.2 itself (PyMemcacheCache over the two servers)
// read a session written here and write one read here.
func testDjango(t *testing.T, a, b *testservers.Memcached) {
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import django, pymemcache").Run(); err != nil {
		if testservers.Require() {
			t.Fatalf("%s with Django and pymemcache: %v", python, err)
		}
		t.Skipf("%s with Django and pymemcache: %v", python, err)
	}
	ctx := context.Background()
	m := testutil.Open(t, "memcached://"+a.Addr+","+b.Addr+"?key_prefix=shared", testutil.Quiet)
	var keys []string
	for i := range 6 { // several sessions, so that both servers are used
		s := m.NewSession(ctx)
		s.Set("from", "go")
		s.Set("i", i)
		s.Set("cart", []any{1, "two", 3.5})
		if err := s.Save(ctx); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, s.Key())
	}
	script := `
import sys, django
from django.conf import settings
settings.configure(SECRET_KEY="x", SESSION_ENGINE="django.contrib.sessions.backends.cache",
    CACHES={"default": {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
                        "LOCATION": sys.argv[1].split(","), "KEY_PREFIX": "shared"}})
django.setup()
from django.contrib.sessions.backends.cache import SessionStore
for k in sys.argv[2].split(","):
    s = SessionStore(session_key=k)
    print(s.session_key == k and s.get("from"), s.get("i"), s.get("cart"))
s = SessionStore()
s["from"] = "django"
s["n"] = 2**70
s.set_expiry(600)
s.save()
print(s.session_key)
`
	out, err := exec.Command(python, "-c", script, a.Addr+","+b.Addr, strings.Join(keys, ",")).CombinedOutput()
	if err != nil {
		t.Fatalf("django: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(keys)+1 {
		t.Fatalf("django said:\n%s", out)
	}
	for i := range keys {
		if want := fmt.Sprintf("go %d [1, 'two', 3.5]", i); lines[i] != want {
			t.Errorf("Django read session %d as %q, want %q", i, lines[i], want)
		}
	}
	s := m.Load(ctx, lines[len(keys)])
	if s.Get("from") != "django" || fmt.Sprint(s.Get("n")) != "1180591620717411303424" || s.ExpiryAge() != 600*time.Second {
		t.Errorf("Django's session read as %v: from=%v n=%v", s.Keys(), s.Get("from"), s.Get("n"))
	}
}

func testHostileValues(t *testing.T, base string, a, b *testservers.Memcached) {
	ctx := context.Background()
	called := false
	m := testutil.Open(t, testutil.WithParams(base, "key_prefix", testutil.Prefix(t)), testutil.Quiet, func(s *sessions.Settings) {
		s.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) { called = true; w.WriteHeader(500) }
	})
	store := m.Backend().(sessions.Engine).(*memcachestore.Store)
	marker := t.TempDir() + "/pwned"
	cmd := "touch " + marker
	// pickle.dumps({"x": Evil()}) where Evil.__reduce__ returns
	// (os.system, (cmd,)), protocols 0 and 5, written by hand.
	evil0 := []byte("(dp0\nVx\np1\ncposix\nsystem\np2\n(V" + cmd + "\np3\ntp4\nRp5\ns.")
	evil5 := []byte{0x80, 5, '}', 0x94, 0x8c, 1, 'x', 0x94, 0x8c, 5}
	evil5 = append(evil5, "posix"...)
	evil5 = append(evil5, 0x94, 0x8c, 6)
	evil5 = append(evil5, "system"...)
	evil5 = append(evil5, 0x94, 0x93, 0x94, 0x8c, byte(len(cmd)))
	evil5 = append(evil5, cmd...)
	evil5 = append(evil5, 0x94, 0x85, 0x94, 'R', 0x94, 's', '.')
	sel, _ := memcachestore.NewPymemcacheSelector(a.Addr, b.Addr)
	for name, value := range map[string][]byte{
		"not a pickle": []byte("this is not a pickle"),
		"GLOBAL":       evil0,
		"STACK_GLOBAL": evil5,
		"str pickle":   {0x80, 5, 0x8c, 1, 'x', 0x94, '.'},
	} {
		key := sessions.NewKey()
		addr, _ := sel.PickServer(store.Key(key))
		if err := memcache.New(addr.String()).Set(&memcache.Item{Key: store.Key(key), Value: value, Flags: 1, Expiration: 60}); err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest("GET", "/", nil)
		req.AddCookie(&http.Cookie{Name: "sessionid", Value: key})
		rec := httptest.NewRecorder()
		m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s := sessions.FromContext(r.Context())
			if s.Len() != 0 {
				t.Errorf("%s: the session has %d keys", name, s.Len())
			}
			s.Set("fresh", true)
		})).ServeHTTP(rec, req)
		if rec.Code != 200 || called {
			t.Errorf("%s: status %d, error handler called %v", name, rec.Code, called)
		}
		for _, c := range rec.Result().Cookies() {
			if c.Value == key {
				t.Errorf("%s: the bad session's key was kept", name)
			}
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the pickle's command ran")
	}
	_ = ctx
}

func testTooLarge(t *testing.T, base string) {
	ctx := context.Background()
	s := open(t, testutil.WithParams(base, "key_prefix", testutil.Prefix(t)))
	big := make([]byte, 1<<20)
	if err := s.Create(ctx, sessions.NewKey(), big, time.Now().Add(time.Hour)); !errors.Is(err, sessions.ErrTooLarge) {
		t.Errorf("Create of 1 MiB: %v, want ErrTooLarge", err)
	}
	// Past the pre-check (a client that believes the limit is higher),
	// the server's refusal maps to ErrTooLarge too.
	loose := open(t, testutil.WithParams(base, "key_prefix", testutil.Prefix(t), "max_item_size", "2m"))
	err := loose.Create(ctx, sessions.NewKey(), big, time.Now().Add(time.Hour))
	if !errors.Is(err, sessions.ErrTooLarge) || !strings.Contains(err.Error(), "object too large for cache") {
		t.Errorf("Create refused by the server: %v, want ErrTooLarge", err)
	}
	k := sessions.NewKey()
	if err := s.Create(ctx, k, []byte("small"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, k, big, time.Now().Add(time.Hour)); !errors.Is(err, sessions.ErrTooLarge) {
		t.Errorf("Update: %v", err)
	}
	if err := s.Swap(ctx, k, []byte("small"), big, time.Now().Add(time.Hour)); !errors.Is(err, sessions.ErrTooLarge) {
		t.Errorf("Swap: %v", err)
	}
	// Through the Manager: a session over the item limit (but under
	// MaxDataSize) fails to save with ErrTooLarge, reported to the error
	// handler.
	var got error
	m := testutil.Open(t, testutil.WithParams(base, "key_prefix", testutil.Prefix(t)), testutil.Quiet, func(s *sessions.Settings) {
		s.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) { got = err; w.WriteHeader(500) }
	})
	rec := httptest.NewRecorder()
	m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sessions.FromContext(r.Context()).Set("blob", strings.Repeat("x", 1100000))
	})).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 500 || !errors.Is(got, sessions.ErrTooLarge) {
		t.Errorf("status %d, error %v", rec.Code, got)
	}
	t.Logf("error: %v", got)
}

// countingDialer counts the writes (one per command for small values) on
// the connections it makes.
type countingDialer struct{ n atomic.Int64 }

func (d *countingDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return countingConn{c, &d.n}, nil
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Write(b []byte) (int, error) {
	c.n.Add(1)
	return c.Conn.Write(b)
}

func testRoundTrips(t *testing.T, srv *testservers.Memcached) {
	d := &countingDialer{}
	client := memcache.New(srv.Addr)
	client.DialContext = d.dial
	store, err := memcachestore.New(client, &memcachestore.Options{KeyPrefix: testutil.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	m, err := sessions.New(store, testutil.QuietSettings())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	run := func(h http.HandlerFunc, cookie string) string {
		req := httptest.NewRequest("GET", "/", nil)
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: "sessionid", Value: cookie})
		}
		rec := httptest.NewRecorder()
		m.Handler(h).ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("status %d", rec.Code)
		}
		for _, c := range rec.Result().Cookies() {
			return c.Value
		}
		return cookie
	}
	write := func(w http.ResponseWriter, r *http.Request) {
		s := sessions.FromContext(r.Context())
		s.Set("n", fmt.Sprint(s.Get("n"), "+"))
	}
	read := func(w http.ResponseWriter, r *http.Request) { sessions.FromContext(r.Context()).Get("n") }
	key := run(write, "")
	if n := d.n.Swap(0); n != 1 {
		t.Errorf("new session: %d round trips, want 1 (add)", n)
	}
	run(read, key)
	if n := d.n.Swap(0); n != 1 {
		t.Errorf("read-only request: %d round trips, want 1 (gets)", n)
	}
	run(write, key)
	if n := d.n.Swap(0); n != 2 {
		t.Errorf("read-write request: %d round trips, want 2 (gets, cas)", n)
	}
	// Closing the Store leaves a client it did not create usable.
	m.Close()
	if err := client.Set(&memcache.Item{Key: "still-usable", Value: []byte("x")}); err != nil {
		t.Errorf("the caller's client no longer works: %v", err)
	}
}

// TestSwapAfterOtherWrites: the CAS id remembered from a load is stale
// once another client wrote; Swap must then compare the bytes again.
func TestSwapAfterOtherWrites(t *testing.T) {
	ctx := context.Background()
	u := testutil.WithParams("memcached://"+testservers.SharedMemcached(t).Addr, "key_prefix", testutil.Prefix(t))
	s, other := open(t, u), open(t, u)
	exp := time.Now().Add(time.Hour)
	k := sessions.NewKey()
	if err := s.Create(ctx, k, []byte("v1"), exp); err != nil {
		t.Fatal(err)
	}
	s.Load(ctx, k)
	if err := other.Update(ctx, k, []byte("v2"), exp); err != nil {
		t.Fatal(err)
	}
	if err := s.Swap(ctx, k, []byte("v1"), []byte("v3"), exp); !errors.Is(err, sessions.ErrConflict) {
		t.Errorf("Swap after another client changed the data: %v, want ErrConflict", err)
	}
	s.Load(ctx, k)
	if err := other.Update(ctx, k, []byte("v2"), exp); err != nil { // same bytes, new CAS id
		t.Fatal(err)
	}
	if err := s.Swap(ctx, k, []byte("v2"), []byte("v3"), exp); err != nil {
		t.Errorf("Swap after another client rewrote the same bytes: %v", err)
	}
	s.Load(ctx, k)
	if err := other.Delete(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := s.Swap(ctx, k, []byte("v3"), []byte("v4"), exp); !errors.Is(err, sessions.ErrNotFound) {
		t.Errorf("Swap after another client deleted: %v, want ErrNotFound", err)
	}
	if _, err := s.Load(ctx, k); !errors.Is(err, sessions.ErrNotFound) {
		t.Errorf("the deleted session came back: %v", err)
	}
}

type recorder struct {
	mu   sync.Mutex
	errs []error
}

func (r *recorder) handler(w http.ResponseWriter, req *http.Request, err error) {
	r.mu.Lock()
	r.errs = append(r.errs, err)
	r.mu.Unlock()
	http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
}

func (r *recorder) last() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) == 0 {
		return nil
	}
	return r.errs[len(r.errs)-1]
}

func serve(m *sessions.Manager, cookie string) (int, string) {
	req := httptest.NewRequest("GET", "/", nil)
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: "sessionid", Value: cookie})
	}
	rec := httptest.NewRecorder()
	m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessions.FromContext(r.Context())
		n, _ := sessions.Get[int](s, "n")
		s.Set("n", n+1)
	})).ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.Name == "sessionid" {
			return rec.Code, c.Value
		}
	}
	return rec.Code, cookie
}

// TestServerRestart kills one of two servers: sessions on it fail through
// the error handler with a clear error, sessions on the other keep
// working, and once the server is back requests work again by themselves
// (the sessions it held are gone: those users start over).
func TestServerRestart(t *testing.T) {
	a, b := testservers.StartMemcached(t), testservers.StartMemcached(t)
	rec := &recorder{}
	m := testutil.Open(t, "memcached://"+a.Addr+","+b.Addr+"?timeout=250ms", testutil.Quiet, func(s *sessions.Settings) { s.ErrorHandler = rec.handler })
	sel, _ := memcachestore.NewPymemcacheSelector(a.Addr, b.Addr)
	store := m.Backend().(sessions.Engine).(*memcachestore.Store)
	var onA, onB string
	for onA == "" || onB == "" {
		code, k := serve(m, "")
		if code != 200 {
			t.Fatalf("status %d: %v", code, rec.last())
		}
		addr, _ := sel.PickServer(store.Key(k))
		if addr.String() == a.Addr {
			onA = k
		} else {
			onB = k
		}
	}
	a.Stop()
	if code, _ := serve(m, onA); code != http.StatusServiceUnavailable {
		t.Errorf("session on the dead server: status %d", code)
	}
	err := rec.last()
	t.Logf("error for a session on the dead server: %v", err)
	if err == nil || !strings.Contains(err.Error(), "memcached unreachable") || !strings.Contains(err.Error(), a.Addr) {
		t.Errorf("error %v: want a clear 'memcached unreachable' error", err)
	}
	if code, _ := serve(m, onB); code != 200 {
		t.Errorf("session on the live server: status %d (%v)", code, rec.last())
	}
	a.Start()
	// The client's idle connections to the old process are stale; the
	// engine notices and dials again, so the first request already works.
	code, k := serve(m, onA)
	if code != 200 {
		t.Fatalf("first request after the restart: status %d, %v", code, rec.last())
	}
	if k == onA {
		t.Error("the session of the restarted server survived its restart")
	}
	for range 20 {
		if code, _ := serve(m, k); code != 200 {
			t.Fatalf("request after the restart: status %d, %v", code, rec.last())
		}
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for raw, want := range map[string]string{
		"memcached://127.0.0.1:1?timout=1s":                              "timout",
		"memcached://127.0.0.1:1?timeout=0":                              "timeout must be between",
		"memcached://127.0.0.1:1?max_idle_conns=0":                       "max_idle_conns must be",
		"memcached://127.0.0.1:1?max_conns=0":                            "max_conns must be",
		"memcached://127.0.0.1:1?pool_timeout=0":                         "pool_timeout must be between",
		"memcached://127.0.0.1:1?format=xml":                             "want pickle or json",
		"memcached://127.0.0.1:1?distribution=ketama":                    "want pymemcache or crc32",
		"memcached://127.0.0.1:1?max_item_size=lots":                     "max_item_size",
		"memcached://127.0.0.1:1?key_prefix=" + strings.Repeat("p", 180): "over memcached's limit of 250",
		"memcached://127.0.0.1:1?key_prefix=a%20b":                       "spaces or control characters",
		"memcached://127.0.0.1:1?key_prefix=a%0Ab":                       "spaces or control characters",
		"memcached://127.0.0.1:1/path":                                   "no path",
		"memcached:":                                                     "no server",
		"memcached://127.0.0.1:1,,127.0.0.1:2":                           "empty server",
		// memcached takes no credentials (issue 13.10).
		"memcached://user:s3cr3tpass@127.0.0.1:1":                       "memcached takes no user name or password",
		"memcached://:s3cr3tpass@127.0.0.1:11211":                       "memcached takes no user name or password",
		"memcached://user@127.0.0.1:1":                                  "memcached takes no user name or password",
		"memcache://user:s3cr3tpass@/tmp/mc.sock":                       "memcached takes no user name or password",
		"memcached://u:s3cr3tpass@127.0.0.1:1?x=1":                      "memcached takes no user name or password",
		"memcached://127.0.0.1:1?timeout=1s&timeout=2s":                 "timeout is given 2 times",
		"memcached://127.0.0.1:1?max_idle_conns=2&max_idle_conns=abc":   "max_idle_conns is given 2 times",
		"memcached://127.0.0.1:1?key_prefix=a&format=json&key_prefix=a": "key_prefix is given 2 times",
		"memcached://127.0.0.1:1?secret=s3cr3tpass&secret=s3cr3tpass":   "secret is given 2 times",
	} {
		_, err := sessions.OpenEngine(ctx, raw, testutil.QuietSettings())
		if !errors.Is(err, sessions.ErrBadConfig) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want ErrBadConfig mentioning %q", raw, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cr3tpass") {
			t.Errorf("%s: the error shows the password: %v", raw, err)
		}
	}
	// The longest prefix that fits: 250 - 40 (session key) - len(":1:") - len(logical prefix).
	ok := strings.Repeat("p", 250-40-3-len("django.contrib.sessions.cache"))
	s := open(t, "memcache://127.0.0.1?key_prefix="+ok+"&timeout=100ms&max_idle_conns=3&max_item_size=2m&version=5")
	if c := s.Client(); c.Timeout != 100*time.Millisecond || c.MaxIdleConns != 3 {
		t.Errorf("client timeout %v, max idle %d", c.Timeout, c.MaxIdleConns)
	}
	if k := s.Key(strings.Repeat("a", 40)); len(k) != 250 || !strings.HasPrefix(k, ok+":5:") {
		t.Errorf("Key = %q (%d bytes)", k, len(k))
	}
	if d := s.Describe(); !strings.Contains(d, "127.0.0.1:11211") {
		t.Errorf("Describe = %q", d)
	}
	if _, err := memcachestore.New(nil, nil); !errors.Is(err, sessions.ErrBadConfig) {
		t.Errorf("New(nil) = %v", err)
	}
	if _, err := memcachestore.New(memcache.New("127.0.0.1:1"), &memcachestore.Options{KeyPrefix: strings.Repeat("x", 200)}); !errors.Is(err, sessions.ErrBadConfig) {
		t.Errorf("New with a long prefix = %v", err)
	}
}

// TestMaxConns: with max_conns calls waiting on a paused server, the
// next call waits pool_timeout for a connection and fails with a timeout
// that says why, opening none; once the server answers, every call works.
func TestMaxConns(t *testing.T) {
	srv := testservers.StartMemcached(t)
	s := open(t, "memcached://"+srv.Addr+"?max_conns=2&pool_timeout=100ms&timeout=3s")
	key := sessions.NewKey()
	ctx := context.Background()
	if err := s.Create(ctx, key, []byte("v"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	srv.Pause()
	resumed := false
	defer func() {
		if !resumed {
			srv.Resume()
		}
	}()
	blocked := make(chan error, 2)
	for range 2 {
		go func() { _, err := s.Load(ctx, key); blocked <- err }()
	}
	time.Sleep(200 * time.Millisecond) // both hold a connection, waiting for the server
	start := time.Now()
	_, err := s.Load(ctx, key)
	took := time.Since(start)
	want := "memcached unreachable (" + srv.Addr + "): all 2 connections (max_conns) busy for 100ms (pool_timeout)"
	if err == nil || err.Error() != want || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("a third call with 2 waiting on a paused server: %v; want %q, matching os.ErrDeadlineExceeded", err, want)
	}
	if took < 100*time.Millisecond || took > 2*time.Second {
		t.Errorf("it failed after %v; want pool_timeout, 100ms", took)
	}
	srv.Resume()
	resumed = true
	for range 2 {
		if err := <-blocked; err != nil {
			t.Errorf("a call waiting on the paused server, once it answers: %v", err)
		}
	}
	if got, err := s.Load(ctx, key); err != nil || string(got) != "v" {
		t.Errorf("Load after the pause = %q, %v", got, err)
	}
}

// TestUnreachable: a server that refuses connections gives a clear error.
func TestUnreachable(t *testing.T) {
	s := open(t, "memcached://127.0.0.1:1?timeout=200ms")
	_, err := s.Load(context.Background(), sessions.NewKey())
	if err == nil || !strings.Contains(err.Error(), "memcached unreachable (127.0.0.1:1)") {
		t.Errorf("Load = %v", err)
	}
}
