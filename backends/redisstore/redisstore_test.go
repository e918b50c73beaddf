package redisstore_test

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/redisstore"
	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/conformance"
	"github.com/sessionkit/sessions/internal/testservers"
	"github.com/sessionkit/sessions/internal/testutil"
)

func open(t testing.TB, raw string) *redisstore.Store {
	t.Helper()
	e, err := sessions.OpenEngine(context.Background(), raw, testutil.QuietSettings())
	if err != nil {
		t.Fatalf("OpenEngine(%s): %v", sessions.Redact(raw), err)
	}
	t.Cleanup(func() { e.Close() })
	return e.(*redisstore.Store)
}

// harness opens engines at base with their own key prefixes. Django's
// pickle format is not signed (see TestPickleIsNotSigned), so the
// secret-key rotation case does not apply to it.
func harness(base string, params ...string) conformance.Harness {
	unsigned := true
	for i := 0; i+1 < len(params); i += 2 {
		if params[i] == "format" && params[i+1] == "json" {
			unsigned = false
		}
	}
	return conformance.Harness{
		Caps: conformance.Capabilities{Unsigned: unsigned, NativeExpiry: true},
		New: func(t *testing.T) sessions.Backend {
			return open(t, testutil.WithParams(base, append([]string{"key_prefix", testutil.Prefix(t)}, params...)...))
		},
		NewPair: func(t *testing.T) (sessions.Backend, sessions.Backend) {
			u := testutil.WithParams(base, append([]string{"key_prefix", testutil.Prefix(t)}, params...)...)
			return open(t, u), open(t, u)
		},
	}
}

func TestConformance(t *testing.T) {
	conformance.Run(t, harness(testservers.SharedRedis(t).URL()))
}

func TestManagerPickle(t *testing.T) {
	conformance.RunManager(t, harness(testservers.SharedRedis(t).URL()))
}

func TestManagerJSON(t *testing.T) {
	conformance.RunManager(t, harness(testservers.SharedRedis(t).URL(), "format", "json"))
}

// TestFaults cuts and stalls the server behind a proxy in the middle of
// requests (conformance.RunFaults).
func TestFaults(t *testing.T) {
	base := testservers.SharedRedis(t).URL()
	for _, format := range []string{"pickle", "json"} {
		t.Run(format, func(t *testing.T) {
			h := harness(base, "format", format)
			h.NewFaulty = func(t *testing.T) (sessions.Backend, []conformance.Fault) {
				u, proxies := testservers.Proxied(t, base)
				// Timeouts shorter than go-redis's (3 s) keep the stalled
				// cases short; the watcher ends a call by the shorter of
				// the two, retries included.
				e := open(t, testutil.WithParams(u, "key_prefix", testutil.Prefix(t), "format", format, "read_timeout", "1s", "write_timeout", "1s"))
				f := testservers.Fault("redis", false, proxies...)
				f.Timeout = time.Second
				f.MaxConns = testservers.GoRedisStallConns(false)
				return e, []conformance.Fault{f}
			}
			conformance.RunFaults(t, h)
		})
	}
}

func TestCluster(t *testing.T) {
	c := testservers.StartRedisCluster(t, 3)
	t.Run("Conformance", func(t *testing.T) { conformance.Run(t, harness(c.URL())) })
	t.Run("Manager", func(t *testing.T) {
		h := harness(c.URL(), "format", "json") // pickle's manager cases run on the single server
		conformance.RunManager(t, h)
	})
	t.Run("ListEveryMaster", func(t *testing.T) {
		s := open(t, testutil.WithParams(c.URL(), "key_prefix", testutil.Prefix(t)))
		ctx := context.Background()
		want := map[string]bool{}
		for range 60 {
			k := sessions.NewKey()
			if err := s.Create(ctx, k, []byte("x"), time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			want[k] = true
		}
		nodes := map[string]bool{}
		cc := s.Client().(*redis.ClusterClient)
		for k := range want {
			n, err := cc.MasterForKey(ctx, s.Key(k))
			if err != nil {
				t.Fatal(err)
			}
			nodes[n.Options().Addr] = true
		}
		got := map[string]bool{}
		if err := s.List(ctx, func(k string) bool { got[k] = true; return true }); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) || len(nodes) != 3 {
			t.Errorf("List found %d of %d keys spread over %d masters", len(got), len(want), len(nodes))
		}
	})
	t.Run("NodeFailure", func(t *testing.T) { testClusterNodeFailure(t, c) })
}

func TestSentinel(t *testing.T) {
	s := testservers.StartRedisSentinel(t)
	t.Run("Conformance", func(t *testing.T) { conformance.Run(t, harness(s.URL())) })
	t.Run("MasterRestart", func(t *testing.T) {
		testRestart(t, testutil.WithParams(s.URL(), "key_prefix", testutil.Prefix(t), "dial_timeout", "250ms", "read_timeout", "250ms", "max_retries", "-1"), s.Master)
	})
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

// serve runs one request that reads and writes the session.
func serve(m *sessions.Manager, cookie string) (*http.Response, string) {
	req := httptest.NewRequest("GET", "http://example.com/", nil)
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: "sessionid", Value: cookie})
	}
	rec := httptest.NewRecorder()
	m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessions.FromContext(r.Context())
		n, _ := sessions.Get[int](s, "n")
		s.Set("n", n+1)
		io.WriteString(w, "ok")
	})).ServeHTTP(rec, req)
	res := rec.Result()
	for _, c := range res.Cookies() {
		if c.Name == "sessionid" {
			return res, c.Value
		}
	}
	return res, cookie
}

// managerWithRecorder opens a Manager whose error handler records the
// errors and answers 503.
func managerWithRecorder(t testing.TB, raw string) (*sessions.Manager, *recorder) {
	t.Helper()
	rec := &recorder{}
	m := testutil.Open(t, raw, testutil.Quiet, func(s *sessions.Settings) { s.ErrorHandler = rec.handler })
	return m, rec
}

type stopStarter interface {
	Stop()
	Start()
}

// testRestart kills the server under a Manager: requests must fail through
// the error handler with a clear error, then work again by themselves once
// the server is back.
func testRestart(t *testing.T, raw string, srv stopStarter) {
	t.Helper()
	m, rec := managerWithRecorder(t, raw)
	res, cookie := serve(m, "")
	if res.StatusCode != 200 || cookie == "" {
		t.Fatalf("before the crash: %d", res.StatusCode)
	}
	srv.Stop()
	for range 3 {
		res, _ = serve(m, cookie)
		if res.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("with the server down: status %d, want the error handler's 503", res.StatusCode)
		}
	}
	err := rec.last()
	t.Logf("error while the server is down: %v", err)
	if err == nil || !strings.Contains(err.Error(), "redis unreachable") || !strings.Contains(err.Error(), "sessions: redis") {
		t.Errorf("error %v: want a clear 'redis unreachable' error", err)
	}
	srv.Start()
	deadline := time.Now().Add(5 * time.Second)
	for {
		res, _ := serve(m, cookie)
		if res.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("5 s after the restart requests still fail: %v", rec.last())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestServerRestart(t *testing.T) {
	srv := testservers.StartRedis(t)
	testRestart(t, testutil.WithParams(srv.URL(), "dial_timeout", "250ms", "read_timeout", "250ms", "max_retries", "-1"), srv)
}

func testClusterNodeFailure(t *testing.T, c *testservers.RedisCluster) {
	ctx := context.Background()
	m, rec := managerWithRecorder(t, testutil.WithParams(c.URL(), "key_prefix", testutil.Prefix(t), "dial_timeout", "250ms", "read_timeout", "250ms", "max_retries", "1"))
	s := m.Backend().(sessions.Engine).(*redisstore.Store)
	cc := s.Client().(*redis.ClusterClient)
	// Sessions on every node.
	byNode := map[string][]string{}
	for len(byNode) < 3 || len(byNode[c.Addrs[0]]) == 0 {
		res, cookie := serve(m, "")
		if res.StatusCode != 200 {
			t.Fatalf("status %d: %v", res.StatusCode, rec.last())
		}
		n, err := cc.MasterForKey(ctx, s.Key(cookie))
		if err != nil {
			t.Fatal(err)
		}
		byNode[n.Options().Addr] = append(byNode[n.Options().Addr], cookie)
	}
	onDead, onLive := byNode[c.Addrs[0]][0], byNode[c.Addrs[1]][0]
	c.StopNode(0)
	stopped := time.Now()
	res, _ := serve(m, onLive)
	t.Logf("%v after the crash, a session on a live node: status %d", time.Since(stopped).Round(time.Millisecond), res.StatusCode)
	if res, _ := serve(m, onDead); res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("session on the dead node: status %d", res.StatusCode)
	}
	t.Logf("%v after the crash, a session on the dead node: %v", time.Since(stopped).Round(time.Millisecond), rec.last())
	// After cluster-node-timeout the cluster is down as a whole (full
	// slot coverage is required), so every request fails.
	time.Sleep(testservers.ClusterNodeTimeout + time.Second)
	res, _ = serve(m, onLive)
	t.Logf("%v after the crash, a session on a live node: status %d, %v", time.Since(stopped).Round(time.Millisecond), res.StatusCode, rec.last())
	c.StartNode(0)
	restarted := time.Now()
	defer func() {
		t.Logf("requests work again %v after the node was back", time.Since(restarted).Round(time.Millisecond))
	}()
	deadline := time.Now().Add(10 * time.Second)
	for _, k := range []string{onLive, onDead} {
		for {
			res, _ := serve(m, k)
			if res.StatusCode == 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after the node came back requests still fail: %v", rec.last())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if r := m.Load(ctx, onLive); r.Get("n") == nil {
		t.Error("the session on a live node was lost")
	}
}

// counter counts the commands sent through a client.
type counter struct {
	mu    sync.Mutex
	names []string
}

func (c *counter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.mu.Lock()
		c.names = append(c.names, cmd.Name())
		c.mu.Unlock()
		return next(ctx, cmd)
	}
}
func (c *counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.mu.Lock()
		c.names = append(c.names, "pipeline")
		c.mu.Unlock()
		return next(ctx, cmds)
	}
}

func (c *counter) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.names
	c.names = nil
	return n
}

func TestRoundTrips(t *testing.T) {
	srv := testservers.SharedRedis(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer client.Close()
	cnt := &counter{}
	client.AddHook(cnt)
	store, err := redisstore.New(client, &redisstore.Options{KeyPrefix: testutil.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	m, err := sessions.New(store, testutil.QuietSettings())
	if err != nil {
		t.Fatal(err)
	}
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
	if err := client.Ping(context.Background()).Err(); err != nil { // connection set-up: HELLO, CLIENT SETINFO
		t.Fatal(err)
	}
	cnt.take()
	key := run(write, "")
	if got := cnt.take(); len(got) != 1 {
		t.Errorf("new session: %d commands %v, want 1 (SET NX)", len(got), got)
	}
	run(write, key) // the first swap may load the script into the server
	cnt.take()
	run(read, key)
	if got := cnt.take(); len(got) != 1 || got[0] != "get" {
		t.Errorf("read-only request: commands %v, want one GET", got)
	}
	run(write, key)
	if got := cnt.take(); len(got) != 2 || got[0] != "get" || got[1] != "evalsha" {
		t.Errorf("read-write request: commands %v, want GET, EVALSHA", got)
	}
	run(func(w http.ResponseWriter, r *http.Request) {}, key)
	if got := cnt.take(); len(got) != 0 {
		t.Errorf("request that does not touch the session: commands %v", got)
	}
	// Closing the Store leaves a client it did not create open.
	m.Close()
	if err := client.Ping(context.Background()).Err(); err != nil {
		t.Errorf("the caller's client was closed: %v", err)
	}
}

// rawClient returns a client on the shared server, for writing keys by
// hand.
func rawClient(t testing.TB) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: testservers.SharedRedis(t).Addr})
	t.Cleanup(func() { c.Close() })
	return c
}

func TestHostileValues(t *testing.T) {
	ctx := context.Background()
	raw := rawClient(t)
	p := testutil.Prefix(t)
	var logs strings.Builder
	var mu sync.Mutex
	st := testutil.QuietSettings()
	st.Logger = slog.New(slog.NewTextHandler(writerFunc(func(b []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(b)
	}), nil))
	called := false
	st.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) { called = true; w.WriteHeader(500) }
	m, err := sessions.Open(ctx, testutil.WithParams(testservers.SharedRedis(t).URL(), "key_prefix", p), st)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	store := m.Backend().(sessions.Engine).(*redisstore.Store)
	marker := t.TempDir() + "/pwned"
	evil := func(proto string) []byte {
		// pickle.dumps({"x": Evil()}) where Evil.__reduce__ returns
		// (os.system, ("touch <marker>",)), written by hand: GLOBAL or
		// STACK_GLOBAL, then REDUCE.
		cmd := "touch " + marker
		if proto == "0" {
			return []byte("(dp0\nVx\np1\ncposix\nsystem\np2\n(V" + cmd + "\np3\ntp4\nRp5\ns.")
		}
		b := []byte{0x80, 5, '}', 0x94, 0x8c, 1, 'x', 0x94, 0x8c, 5}
		b = append(b, "posix"...)
		b = append(b, 0x94, 0x8c, 6)
		b = append(b, "system"...)
		b = append(b, 0x94, 0x93, 0x94, 0x8c, byte(len(cmd)))
		b = append(b, cmd...)
		b = append(b, 0x94, 0x85, 0x94, 'R', 0x94, 's', '.')
		return b
	}
	for name, value := range map[string][]byte{
		// (An empty value is an empty session to the Manager, as for
		// Django's file engine, so it is not in this list.)
		"not a pickle":        []byte("this is not a pickle"),
		"signed json":         []byte("eyJhIjoiYiJ9:1r31eq:signature"),
		"GLOBAL + REDUCE":     evil("0"),
		"STACK_GLOBAL+REDUCE": evil("5"),
		"list":                {0x80, 5, ']', 0x94, '.'},
		"truncated":           {0x80, 5, 0x95, 0x28},
	} {
		t.Run(name, func(t *testing.T) {
			key := sessions.NewKey()
			if err := raw.Set(ctx, store.Key(key), value, time.Hour).Err(); err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest("GET", "/", nil)
			req.AddCookie(&http.Cookie{Name: "sessionid", Value: key})
			rec := httptest.NewRecorder()
			m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s := sessions.FromContext(r.Context())
				if s.Len() != 0 {
					t.Errorf("the session has %d keys", s.Len())
				}
				s.Set("fresh", true)
			})).ServeHTTP(rec, req)
			if rec.Code != 200 || called {
				t.Errorf("status %d, error handler called: %v", rec.Code, called)
			}
			var got string
			for _, c := range rec.Result().Cookies() {
				got = c.Value
			}
			if got == key || got == "" {
				t.Errorf("cookie %q: the bad session's key was kept", got)
			}
		})
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the pickle's command ran")
	}
	if n := strings.Count(logs.String(), "Session data corrupted"); n < 5 {
		t.Errorf("%d corrupt-data warnings logged:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "not plain data") {
		t.Errorf("the log does not say why the pickle was refused:\n%s", logs.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// The verified pickle of {"a": "b", "n": 1, "_session_expiry": 300} from
// the reference (django-sessions.md §7.5).
const djangoVector = "80059528000000000000007d94288c0161948c0162948c016e944b018c0f5f73657373696f6e5f657870697279944d2c01752e"

func TestDjangoFormat(t *testing.T) {
	ctx := context.Background()
	raw := rawClient(t)
	srv := testservers.SharedRedis(t)
	for _, tc := range []struct{ params, keyPrefix string }{
		{"", ":1:django.contrib.sessions.cache"},
		{"key_prefix=myapp&version=3", "myapp:3:django.contrib.sessions.cache"},
		{"logical_prefix=django.contrib.sessions.cached_db", ":1:django.contrib.sessions.cached_db"},
	} {
		m := testutil.Open(t, srv.URL()+"?"+tc.params, testutil.Quiet)
		// Django wrote this session.
		key := sessions.NewKey()
		b, _ := hex.DecodeString(djangoVector)
		if err := raw.Set(ctx, tc.keyPrefix+key, b, 300*time.Second).Err(); err != nil {
			t.Fatal(err)
		}
		s := m.Load(ctx, key)
		if s.Get("a") != "b" || s.Get("n") != int64(1) || s.ExpiryAge() != 300*time.Second {
			t.Errorf("%s: Django's session read as %v, expiry age %v", tc.keyPrefix, s.Keys(), s.ExpiryAge())
		}
		// A session written here, as Django would write it.
		w := m.NewSession(ctx)
		w.Set("a", "b")
		w.Set("n", 1)
		w.SetExpiry(300 * time.Second)
		if err := w.Save(ctx); err != nil {
			t.Fatal(err)
		}
		got, err := raw.Get(ctx, tc.keyPrefix+w.Key()).Bytes()
		if err != nil {
			t.Fatalf("%s: the session is not at Django's key: %v", tc.keyPrefix, err)
		}
		if hex.EncodeToString(got) != djangoVector {
			t.Errorf("%s: stored %x\nwant Django's %s", tc.keyPrefix, got, djangoVector)
		}
		ttl, _ := raw.PTTL(ctx, tc.keyPrefix+w.Key()).Result()
		if ttl <= 299*time.Second || ttl > 300*time.Second {
			t.Errorf("TTL %v, want the expiry age (300 s)", ttl)
		}
	}
}

// TestPythonReads hands a session written through the Manager to
// CPython's pickle.loads.
func TestPythonReads(t *testing.T) {
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		if testservers.Require() {
			t.Fatal(err)
		}
		t.Skip("no", python)
	}
	ctx := context.Background()
	m := testutil.Open(t, testutil.WithParams(testservers.SharedRedis(t).URL(), "key_prefix", testutil.Prefix(t)), testutil.Quiet)
	s := m.NewSession(ctx)
	s.Set("_auth_user_id", "42")
	s.Set("cart", []any{1, 2.5, "três", nil, true})
	s.Set("big", uint64(1)<<63)
	s.Set("prefs", map[string]any{"theme": "dark"})
	if err := s.Save(ctx); err != nil {
		t.Fatal(err)
	}
	store := m.Backend().(sessions.Engine).(*redisstore.Store)
	b, err := rawClient(t).Get(ctx, store.Key(s.Key())).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(python, "-c", "import pickle,sys; print(pickle.loads(bytes.fromhex(sys.argv[1])))", hex.EncodeToString(b)).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v: %s", err, out)
	}
	want := "{'_auth_user_id': '42', 'cart': [1, 2.5, 'três', None, True], 'big': 9223372036854775808, 'prefs': {'theme': 'dark'}}\n"
	if string(out) != want {
		t.Errorf("python read\n%s\nwant\n%s", out, want)
	}
}

// TestPickleIsNotSigned documents what stands in for SecretKeyFallbacks,
// the manager case skipped for the pickle format (Capabilities.Unsigned):
// Django's cache format has no signature, so rotating SECRET_KEY keeps cache sessions;
// whoever can write to Redis can write sessions.
func TestPickleIsNotSigned(t *testing.T) {
	ctx := context.Background()
	u := testutil.WithParams(testservers.SharedRedis(t).URL(), "key_prefix", testutil.Prefix(t))
	a := testutil.Open(t, u, testutil.Quiet)
	key := func() string {
		s := a.NewSession(ctx)
		s.Set("user", "alice")
		if err := s.Save(ctx); err != nil {
			t.Fatal(err)
		}
		return s.Key()
	}()
	st := testutil.QuietSettings()
	st.SecretKey = "another key entirely"
	b, err := sessions.Open(ctx, u, st)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Load(ctx, key).Get("user") != "alice" {
		t.Error("a pickle session did not load under another SECRET_KEY")
	}
	if _, ok := b.Codec().(codec.Signed); ok {
		t.Error("the pickle format uses the signed codec")
	}
	j := testutil.Open(t, testutil.WithParams(u, "format", "json"), testutil.Quiet)
	if _, ok := j.Codec().(codec.Signed); !ok {
		t.Errorf("format=json uses %T, want the signed JSON codec", j.Codec())
	}
}

func TestClearExpired(t *testing.T) {
	m := testutil.Open(t, testutil.WithParams(testservers.SharedRedis(t).URL(), "key_prefix", testutil.Prefix(t)), testutil.Quiet)
	if n, err := m.ClearExpired(context.Background()); n != 0 || err != nil {
		t.Errorf("ClearExpired = %d, %v; want 0, nil (Redis expires sessions itself)", n, err)
	}
}

func TestTTLNeverEarly(t *testing.T) {
	ctx := context.Background()
	s := open(t, testutil.WithParams(testservers.SharedRedis(t).URL(), "key_prefix", testutil.Prefix(t)))
	raw := rawClient(t)
	for _, d := range []time.Duration{time.Microsecond, 1500 * time.Microsecond, time.Second, 40 * 24 * time.Hour} {
		k := sessions.NewKey()
		exp := time.Now().Add(d)
		if err := s.Create(ctx, k, []byte("x"), exp); err != nil {
			t.Fatal(err)
		}
		ttl, err := raw.PTTL(ctx, s.Key(k)).Result()
		if err != nil {
			t.Fatal(err)
		}
		left := time.Until(exp)
		if left <= 0 {
			// The expiry passed while Create ran: whether the key is gone
			// or lives out its last rounded-up millisecond, it is not early.
			s.Delete(ctx, k)
			continue
		}
		if ttl < left.Truncate(time.Millisecond) {
			t.Errorf("expiry in %v: TTL %v is shorter", left, ttl)
		}
		s.Delete(ctx, k)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for raw, want := range map[string]string{
		"redis://127.0.0.1:1/0?poolsize=3":                      "poolsize",
		"redis://127.0.0.1:1/0?pool_size=0":                     "pool_size must be an integer between 1 and 10000",
		"redis://127.0.0.1:1/0?read_timeout=forever":            "read_timeout must be a duration",
		"redis://127.0.0.1:1/0?format=xml":                      "want pickle or json",
		"redis://127.0.0.1:1/0?version=0":                       "version must be an integer",
		"redis://127.0.0.1:1,127.0.0.1:2/0":                     "use redis+cluster://",
		"redis+cluster://127.0.0.1:1/3":                         "only database 0",
		"redis+sentinel://127.0.0.1:1/0":                        "needs the master's name",
		"redis://:s3cr3tpass@127.0.0.1:1/x":                     "invalid database number",
		"redis://:s3cr3tpass@127.0.0.1:1/0?client_nam=x":        "client_nam",
		"redis+sentinel://m:s3cr3tpass@127.0.0.1:1/0?nope=1":    "nope",
		"redis+sentinel://m@127.0.0.1:1/0?master_name=other":    "given twice",
		"redis+cluster://:s3cr3tpass@127.0.0.1:1?unknown_opt=1": "unknown_opt",
		// A parameter given twice (go-redis would take the last one).
		"redis://127.0.0.1:1/0?pool_size=2&pool_size=abc":               "pool_size is given 2 times",
		"redis://:s3cr3tpass@127.0.0.1:1/0?client_name=a&client_name=b": "client_name is given 2 times",
		"redis+cluster://127.0.0.1:1?key_prefix=a&key_prefix=b":         "key_prefix is given 2 times",
		"redis+sentinel://m@127.0.0.1:1/0?version=2&version=2":          "version is given 2 times",
		"redis://127.0.0.1:1/0?password=s3cr3tpass&password=s3cr3tpass": "password is given 2 times",
	} {
		_, err := sessions.OpenEngine(ctx, raw, testutil.QuietSettings())
		if !errors.Is(err, sessions.ErrBadConfig) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want ErrBadConfig mentioning %q", raw, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cr3tpass") {
			t.Errorf("%s: the error shows the password: %v", raw, err)
		}
	}
	// go-redis's own options and ours, all valid.
	s := open(t, "rediss://user:pw@127.0.0.1:1/2?client_name=app&dialer_retries=2&pool_size=5&min_idle_conns=0&dial_timeout=2&read_timeout=250ms&write_timeout=1s&pool_timeout=3s&max_retries=-1&conn_max_idle_time=1m&skip_verify=true&key_prefix=k&version=7")
	o := s.Client().(*redis.Client).Options()
	if o.PoolSize != 5 || o.DialTimeout != 2*time.Second || o.ReadTimeout != 250*time.Millisecond || o.MaxRetries != 0 /* -1: none */ ||
		o.DialerRetries != 2 || o.DB != 2 || o.Username != "user" || o.Password != "pw" || o.TLSConfig == nil || o.ClientName != "app" {
		t.Errorf("options %+v", o)
	}
	// max_retries=0 means no retries, not go-redis's default of 3 (which
	// its own URL parser makes of 0).
	for _, q := range []string{"max_retries=0", "max_retries=-1", "max_retries=2", ""} {
		want := map[string]int{"max_retries=0": 0, "max_retries=-1": 0, "max_retries=2": 2, "": 3}[q]
		if got := open(t, "redis://127.0.0.1:1/0?"+q).Client().(*redis.Client).Options().MaxRetries; got != want {
			t.Errorf("%q: MaxRetries %d, want %d", q, got, want)
		}
	}
	if k := s.Key("abcdefgh"); k != "k:7:django.contrib.sessions.cacheabcdefgh" {
		t.Errorf("Key = %q", k)
	}
	if d := s.Describe(); strings.Contains(d, "pw") || !strings.Contains(d, "127.0.0.1:1 db 2") {
		t.Errorf("Describe = %q", d)
	}
	st := testutil.QuietSettings()
	st.CacheKeyPrefix, st.CacheVersion = "fromsettings", 4
	e, err := sessions.OpenEngine(ctx, "cache", func() sessions.Settings { st.CacheURL = "redis://127.0.0.1:1/0"; return st }())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if k := e.(*redisstore.Store).Key("abcdefgh"); k != "fromsettings:4:django.contrib.sessions.cacheabcdefgh" {
		t.Errorf("Django's \"cache\" engine with the settings' prefix: Key = %q", k)
	}
	// addr is a list parameter of the cluster and Sentinel forms.
	c := open(t, "redis+cluster://127.0.0.1:1?addr=127.0.0.1:2&addr=127.0.0.1:3")
	if got := strings.Join(c.Client().(*redis.ClusterClient).Options().Addrs, ","); got != "127.0.0.1:1,127.0.0.1:2,127.0.0.1:3" {
		t.Errorf("cluster nodes %s", got)
	}
	f := open(t, "redis+sentinel://mymaster:pw@127.0.0.1:1,127.0.0.1:2/1")
	if d := f.Describe(); strings.Contains(d, "pw") || !strings.Contains(d, `"mymaster"`) || !strings.Contains(d, "127.0.0.1:2") {
		t.Errorf("Describe = %q", d)
	}
	if _, err := redisstore.New(nil, nil); !errors.Is(err, sessions.ErrBadConfig) {
		t.Errorf("New(nil) = %v", err)
	}
}

// An unreachable server gives a clear error, not a hang or a panic.
func TestUnreachable(t *testing.T) {
	s := open(t, "redis://127.0.0.1:1/0?dial_timeout=200ms&max_retries=-1")
	_, err := s.Load(context.Background(), sessions.NewKey())
	if err == nil || !strings.Contains(err.Error(), "redis unreachable (127.0.0.1:1 db 0)") {
		t.Errorf("Load = %v", err)
	}
}

// TestDjango has Django 4.2 itself (RedisCache, redis-py) read sessions
// written here and write one read here.
func TestDjango(t *testing.T) {
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import django, redis").Run(); err != nil {
		if testservers.Require() {
			t.Fatalf("%s with Django and redis-py: %v", python, err)
		}
		t.Skipf("%s with Django and redis-py: %v", python, err)
	}
	ctx := context.Background()
	srv := testservers.SharedRedis(t)
	p := testutil.Prefix(t)
	m := testutil.Open(t, testutil.WithParams(srv.URL(), "key_prefix", p, "version", "2"), testutil.Quiet)
	var keys []string
	for i := range 3 {
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
    CACHES={"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                        "LOCATION": sys.argv[1], "KEY_PREFIX": sys.argv[2], "VERSION": 2}})
django.setup()
from django.contrib.sessions.backends.cache import SessionStore
for k in sys.argv[3].split(","):
    s = SessionStore(session_key=k)
    print(s.session_key == k and s.get("from"), s.get("i"), s.get("cart"))
s = SessionStore()
s["from"] = "django"
s["n"] = 2**70
s.set_expiry(600)
s.save()
print(s.session_key)
`
	out, err := exec.Command(python, "-c", script, srv.URL(), p, strings.Join(keys, ",")).CombinedOutput()
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
