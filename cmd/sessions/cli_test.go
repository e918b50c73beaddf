package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/memstore"
	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/conformance"
	"github.com/sessionkit/sessions/internal/testservers"
)

// cli runs the command line in-process.
func cli(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// setEnv gives the commands a clean environment: SECRET_KEY and the
// given variables, every other SESSION_* unset.
func setEnv(t *testing.T, kv ...string) {
	t.Helper()
	for _, e := range os.Environ() {
		name, _, _ := strings.Cut(e, "=")
		if strings.HasPrefix(name, "SESSION_") || name == "SECRET_KEY" || name == "SECRET_KEY_FALLBACKS" || name == "DATABASE_URL" {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
	t.Setenv("SECRET_KEY", testSecret)
	for i := 0; i+1 < len(kv); i += 2 {
		t.Setenv(kv[i], kv[i+1])
	}
}

// Test engines, registered for the command-line tests only.
func init() {
	// noexpire keeps sessions but cannot clear expired ones.
	sessions.Register(sessions.EngineInfo{Scheme: "test-noexpire", Doc: "test engine without ExpiredDeleter"},
		func(ctx context.Context, u *url.URL, s sessions.Settings) (sessions.Backend, error) {
			e, err := sessions.OpenEngine(ctx, "memory:", s)
			return noExpire{e.(sessions.Engine)}, err
		})
	// unsupported says it cannot clear expired sessions, as cached_db
	// does over a database without clean-up.
	sessions.Register(sessions.EngineInfo{Scheme: "test-unsupported", Doc: "test engine whose DeleteExpired is unsupported"},
		func(ctx context.Context, u *url.URL, s sessions.Settings) (sessions.Backend, error) {
			e, err := sessions.OpenEngine(ctx, "memory:", s)
			return unsupported{noExpire{e.(sessions.Engine)}}, err
		})
	// broken fails every operation.
	sessions.Register(sessions.EngineInfo{Scheme: "test-broken", Doc: "test engine that always fails"},
		func(ctx context.Context, u *url.URL, s sessions.Settings) (sessions.Backend, error) {
			return broken{}, nil
		})
}

type noExpire struct{ e sessions.Engine }

func (n noExpire) Load(ctx context.Context, k string) ([]byte, error) { return n.e.Load(ctx, k) }
func (n noExpire) Create(ctx context.Context, k string, d []byte, t time.Time) error {
	return n.e.Create(ctx, k, d, t)
}
func (n noExpire) Update(ctx context.Context, k string, d []byte, t time.Time) error {
	return n.e.Update(ctx, k, d, t)
}
func (n noExpire) Delete(ctx context.Context, k string) error { return n.e.Delete(ctx, k) }
func (n noExpire) Close() error                               { return n.e.Close() }
func (noExpire) Name() string                                 { return "test-noexpire" }
func (noExpire) Describe() string                             { return "process memory, no clean-up" }

type unsupported struct{ noExpire }

func (unsupported) DeleteExpired(context.Context) (int64, error) { return 0, sessions.ErrUnsupported }

var errBroken = errors.New("the store is on fire")

type broken struct{}

func (broken) Load(context.Context, string) ([]byte, error)            { return nil, errBroken }
func (broken) Create(context.Context, string, []byte, time.Time) error { return errBroken }
func (broken) Update(context.Context, string, []byte, time.Time) error { return errBroken }
func (broken) Delete(context.Context, string) error                    { return errBroken }
func (broken) Close() error                                            { return nil }
func (broken) DeleteExpired(context.Context) (int64, error)            { return 0, errBroken }

func TestUsageAndHelp(t *testing.T) {
	setEnv(t)
	if code, _, errOut := cli(t); code != 2 || !strings.Contains(errOut, "Commands:") {
		t.Errorf("no arguments: %d %q", code, errOut)
	}
	if code, out, _ := cli(t, "--help"); code != 0 || !strings.Contains(out, "clearsessions") {
		t.Errorf("--help: %d %q", code, out)
	}
	if code, _, errOut := cli(t, "frobnicate"); code != 2 || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: %d %q", code, errOut)
	}
	for _, c := range commands {
		code, out, _ := cli(t, c.name, "--help")
		if code != 0 || !strings.HasPrefix(out, "Usage: sessions "+c.name) {
			t.Errorf("%s --help: %d %q", c.name, code, out)
		}
		if c.name != "engines" && c.name != "migrate" && !strings.Contains(out, "-engine") { // migrate takes two: --from and --to
			t.Errorf("%s --help does not document --engine", c.name)
		}
		if code, _, _ := cli(t, "help", c.name); code != 0 {
			t.Errorf("help %s: %d", c.name, code)
		}
		if code, _, errOut := cli(t, c.name, "--no-such-flag"); code != 2 || !strings.Contains(errOut, "no-such-flag") {
			t.Errorf("%s with a bad flag: %d %q", c.name, code, errOut)
		}
	}
}

func TestEnginesCommand(t *testing.T) {
	setEnv(t)
	code, out, _ := cli(t, "engines")
	if code != 0 {
		t.Fatal(code)
	}
	for _, want := range []string{"memory:", "signed-cookies:", "file:///", "bolt:///", "sqlite:///", "postgres://", "mysql://", "signed_cookies", "cached_db"} {
		if !strings.Contains(out, want) {
			t.Errorf("engines output lacks %q", want)
		}
	}
	code, out, _ = cli(t, "engines", "--json")
	var list []struct {
		Scheme  string   `json:"scheme"`
		Aliases []string `json:"aliases"`
		Forms   []string `json:"forms"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != len(sessions.Engines()) {
		t.Fatalf("engines --json: %d %q", code, out)
	}
	if code, _, _ := cli(t, "engines", "extra"); code != 2 {
		t.Errorf("extra argument: %d", code)
	}
}

func TestMissingSecretKey(t *testing.T) {
	setEnv(t)
	os.Unsetenv("SECRET_KEY")
	for _, args := range [][]string{{"inspect", "--engine", "memory:", strings.Repeat("a", 32)}, {"clearsessions", "--engine", "memory:"}, {"check", "--engine", "memory:"}} {
		code, _, errOut := cli(t, args...)
		if code != 1 || !strings.Contains(errOut, "SECRET_KEY is not set") {
			t.Errorf("%v: %d %q", args, code, errOut)
		}
	}
}

func TestBadEngine(t *testing.T) {
	setEnv(t)
	code, _, errOut := cli(t, "clearsessions", "--engine", "nosuch://x")
	if code != 1 || !strings.Contains(errOut, `unknown session engine "nosuch"`) {
		t.Errorf("%d %q", code, errOut)
	}
	setEnv(t, "SESSION_ENGINE", "postgres://app:hunter2@127.0.0.1:1/app?bogus=1")
	code, _, errOut = cli(t, "check")
	if code != 1 || strings.Contains(errOut, "hunter2") {
		t.Errorf("a bad URL must fail without printing its password: %d %q", code, errOut)
	}
}

// saveSession stores data under a new key through a Manager on config and
// returns the key.
func saveSession(t *testing.T, config string, data map[string]any, expiry time.Duration) string {
	t.Helper()
	ctx := context.Background()
	m, err := sessions.Open(ctx, config, testSettings())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s := m.NewSession(ctx)
	for k, v := range data {
		s.Set(k, v)
	}
	if expiry != 0 {
		s.SetExpiry(expiry)
	}
	if err := s.Save(ctx); err != nil {
		t.Fatal(err)
	}
	return s.Key()
}

func TestInspect(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "sessions.sqlite3") + "?create_table=true"
	setEnv(t, "SESSION_ENGINE", db)
	ctx := context.Background()
	m, err := sessions.Open(ctx, db, testSettings())
	if err != nil {
		t.Fatal(err)
	}
	s := m.NewSession(ctx)
	s.Set("zebra", "first")
	s.Set("_auth_user_id", "1")
	s.Set("cart", map[string]any{"mug": 2})
	s.Set("name", "Chloé")
	s.SetExpiry(time.Hour)
	if err := s.Save(ctx); err != nil {
		t.Fatal(err)
	}
	key := s.Key()
	m.Close()

	code, out, errOut := cli(t, "inspect", key)
	if code != 0 {
		t.Fatalf("inspect: %d %s", code, errOut)
	}
	// Keys in stored order, Python's escapes.
	if !regexp.MustCompile(`(?s)"zebra".*"_auth_user_id".*"cart".*"name": "Chlo\\u00e9".*"_session_expiry": 3600`).MatchString(out) {
		t.Errorf("inspect output not in stored order or not Python's JSON:\n%s", out)
	}
	var got struct {
		Data                 map[string]any `json:"data"`
		ExpiryAge            int            `json:"expiry_age"`
		ExpiryDate           time.Time      `json:"expiry_date"`
		ExpireAtBrowserClose bool           `json:"expire_at_browser_close"`
		Raw                  string         `json:"raw"`
		StoredExpiry         time.Time      `json:"stored_expiry"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if got.Data["name"] != "Chloé" || got.ExpiryAge != 3600 || got.ExpireAtBrowserClose || time.Until(got.ExpiryDate) > time.Hour+time.Minute {
		t.Errorf("inspect: %+v", got)
	}
	if got.Raw != "" {
		t.Error("raw without --raw")
	}
	if d := time.Until(got.StoredExpiry); d < 59*time.Minute || d > time.Hour {
		t.Errorf("stored_expiry %v, want the record's expire_date, an hour from now", got.StoredExpiry)
	}
	code, out, _ = cli(t, "inspect", "--raw", key)
	if json.Unmarshal([]byte(out), &got) != nil || code != 0 || strings.Count(got.Raw, ":") != 2 {
		t.Errorf("inspect --raw: %d %q", code, out)
	}
	// Not found, invalid, wrong usage.
	code, _, errOut = cli(t, "inspect", strings.Repeat("0", 32))
	if code != 1 || !strings.Contains(errOut, "no session") {
		t.Errorf("unknown key: %d %q", code, errOut)
	}
	code, _, errOut = cli(t, "inspect", "NOT-A-KEY!")
	if code != 1 || !strings.Contains(errOut, "not a session key") {
		t.Errorf("invalid key: %d %q", code, errOut)
	}
	if code, _, _ := cli(t, "inspect"); code != 2 {
		t.Errorf("no key: %d", code)
	}
	// Another SECRET_KEY cannot read it.
	t.Setenv("SECRET_KEY", "another secret")
	if code, _, _ := cli(t, "inspect", key); code != 1 {
		t.Errorf("wrong secret: %d", code)
	}
}

// storeRaw stores Python's JSON of a session (as Django would have
// written it) under a new key and returns the key.
func storeRaw(t *testing.T, config, pythonJSON string) string {
	t.Helper()
	ctx := context.Background()
	m, err := sessions.Open(ctx, config, testSettings())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	d, err := codec.UnmarshalPython([]byte(pythonJSON))
	if err != nil {
		t.Fatal(err)
	}
	data, err := m.Codec().Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	key := sessions.NewKey()
	if err := m.Backend().(sessions.Engine).Create(ctx, key, data, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	return key
}

func TestInspectPrintsTheStoredSession(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "sessions.sqlite3") + "?create_table=true"
	setEnv(t, "SESSION_ENGINE", db)
	// Nested objects keep their stored key order, not sorted.
	key := storeRaw(t, db, `{"prefs":{"zeta":1,"alpha":{"y":2,"b":3}},"a":"<b>&"}`)
	code, out, errOut := cli(t, "inspect", key)
	if code != 0 {
		t.Fatalf("inspect: %d %s", code, errOut)
	}
	want := `{
  "data": {
    "prefs": {
      "zeta": 1,
      "alpha": {
        "y": 2,
        "b": 3
      }
    },
    "a": "<b>&"
  },
  "expiry_age": 1209600,
  "expiry_date": "`
	if !strings.HasPrefix(out, want) || !strings.HasSuffix(out, "\"\n}\n") {
		t.Errorf("inspect output:\n%s\nwant it to start with:\n%s", out, want)
	}
	// Python's json writes NaN and Infinity, which JSON lacks: the data
	// stay as Python wrote them, the rest is indented as usual.
	key = storeRaw(t, db, `{"x":NaN,"y":[Infinity,-Infinity],"z":{"b":1,"a":2}}`)
	code, out, errOut = cli(t, "inspect", "--raw", key)
	want = "{\n  \"data\": {\"x\":NaN,\"y\":[Infinity,-Infinity],\"z\":{\"b\":1,\"a\":2}},\n  \"expiry_age\": 1209600,\n"
	if code != 0 || !strings.HasPrefix(out, want) || !strings.Contains(out, `"raw": "`) {
		t.Errorf("inspect of NaN: %d %q %q, want it to start with %q", code, out, errOut, want)
	}
}

func TestInspectSignedCookie(t *testing.T) {
	setEnv(t, "SESSION_ENGINE", "signed_cookies")
	ctx := context.Background()
	m, err := sessions.Open(ctx, "signed_cookies", testSettings())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s := m.NewSession(ctx)
	s.Set("theme", "dark")
	if err := s.Save(ctx); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := cli(t, "inspect", "--raw", s.Key())
	if code != 0 || !strings.Contains(out, `"theme": "dark"`) || !strings.Contains(out, s.Key()) {
		t.Fatalf("%d %s %s", code, out, errOut)
	}
	if code, _, _ := cli(t, "inspect", s.Key()+"x"); code != 1 {
		t.Fatalf("tampered cookie: %d", code)
	}
}

// storeExpired stores n sessions that expired an hour ago, as a store
// holds them until clearsessions runs.
func storeExpired(t *testing.T, config string, n int) {
	t.Helper()
	ctx := context.Background()
	m, err := sessions.Open(ctx, config, testSettings())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	d := &codec.Dict{}
	d.Set("old", true)
	data, err := m.Codec().Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		if err := m.Backend().(sessions.Engine).Create(ctx, sessions.NewKey(), data, time.Now().Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestClearSessions(t *testing.T) {
	dir := t.TempDir()
	files := filepath.Join(dir, "files")
	os.Mkdir(files, 0o700)
	for _, tc := range []struct {
		name, config string
		persistent   bool
	}{
		{"memory", "memory:", false},
		{"file", "file://" + files, true},
		{"sqlite", "sqlite://" + filepath.Join(dir, "s.sqlite3") + "?create_table=true", true},
		{"bolt", "bolt://" + filepath.Join(dir, "s.db"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setEnv(t, "SESSION_ENGINE", tc.config)
			want := 0
			if tc.persistent {
				// Two live sessions, three expired ones.
				saveSession(t, tc.config, map[string]any{"a": 1}, 0)
				saveSession(t, tc.config, map[string]any{"b": 1}, time.Hour)
				storeExpired(t, tc.config, 3)
				want = 3
			}
			code, out, errOut := cli(t, "clearsessions")
			if code != 0 || !strings.HasPrefix(out, "Removed "+strconv.Itoa(want)+" expired ") {
				t.Fatalf("clearsessions: %d %q %q", code, out, errOut)
			}
			if errOut != "" {
				t.Errorf("stderr is not a terminal, yet: %q", errOut)
			}
			code, out, _ = cli(t, "clearsessions")
			if code != 0 || !strings.HasPrefix(out, "Removed 0 expired sessions") {
				t.Fatalf("second run: %d %q", code, out)
			}
		})
	}
}

func TestClearSessionsEnginesWithoutCleanup(t *testing.T) {
	setEnv(t)
	code, out, _ := cli(t, "clearsessions", "--engine", "signed-cookies:")
	if code != 0 || !strings.Contains(out, "Removed 0 expired sessions: the signed-cookies engine expires sessions by itself.") {
		t.Errorf("signed cookies: %d %q", code, out)
	}
	for name, start := range map[string]func(*testing.T) string{
		"redis":     func(t *testing.T) string { return testservers.StartRedis(t).URL() },
		"memcached": func(t *testing.T) string { return "memcached://" + testservers.StartMemcached(t).Addr },
	} {
		t.Run(name, func(t *testing.T) {
			if !registered(name) {
				t.Fatalf("the %s engine is not registered: all/ must import it", name)
			}
			code, out, errOut := cli(t, "clearsessions", "--engine", start(t))
			if code != 0 || !strings.HasPrefix(out, "Removed 0 expired sessions") {
				t.Errorf("%s expires sessions by itself: %d %q %q", name, code, out, errOut)
			}
		})
	}
	// An engine without ExpiredDeleter expires its records by itself
	// (the Engine contract).
	code, out, errOut := cli(t, "clearsessions", "--engine", "test-noexpire:")
	if code != 0 || out != "Removed 0 expired sessions: the test-noexpire engine expires sessions by itself.\n" || errOut != "" {
		t.Errorf("engine without ExpiredDeleter: %d %q %q", code, out, errOut)
	}
	// One with an ExpiredDeleter that found nothing says where it looked.
	code, out, _ = cli(t, "clearsessions", "--engine", "memory:")
	if code != 0 || !strings.HasPrefix(out, "Removed 0 expired sessions from memory (process memory") {
		t.Errorf("memory: %d %q", code, out)
	}
	code, _, errOut = cli(t, "clearsessions", "--engine", "test-unsupported:")
	if code != 1 || errOut != "Session engine 'test-unsupported:' doesn't support clearing expired sessions.\n" {
		t.Errorf("engine that cannot clear: %d %q", code, errOut)
	}
	code, _, errOut = cli(t, "clearsessions", "--engine", "test-broken:")
	if code != 1 || !strings.Contains(errOut, "the store is on fire") {
		t.Errorf("failing engine: %d %q", code, errOut)
	}
}

// syncBuffer is a bytes.Buffer safe for the progress goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestClearSessionsProgressOnTerminal(t *testing.T) {
	var buf syncBuffer
	oldDelay := spinnerDelay
	spinnerDelay = 0
	defer func() { spinnerDelay = oldDelay }()
	stop := startProgress(&buf, "Clearing expired sessions from sqlite")
	time.Sleep(350 * time.Millisecond)
	stop()
	out := buf.String()
	if !strings.Contains(out, "\r\x1b[K| Clearing expired sessions from sqlite… ") || !strings.HasSuffix(out, "\r\x1b[K") {
		t.Fatalf("progress output %q", out)
	}
	// A quick run shows nothing at all.
	var quiet syncBuffer
	spinnerDelay = time.Hour
	stop = startProgress(&quiet, "x")
	time.Sleep(150 * time.Millisecond)
	stop()
	if quiet.String() != "" {
		t.Fatalf("progress before the delay: %q", quiet.String())
	}

	// Through the command: a terminal gets the progress line on stderr.
	setEnv(t)
	oldTTY := isTerminal
	isTerminal = func(io.Writer) bool { return true }
	defer func() { isTerminal = oldTTY }()
	code, out, errOut := cli(t, "clearsessions", "--engine", "memory:")
	if code != 0 || !strings.HasPrefix(out, "Removed 0") || strings.Contains(errOut, "Clearing") {
		t.Fatalf("%d %q %q", code, out, errOut)
	}
}

func TestCheckCommand(t *testing.T) {
	dir := t.TempDir()
	files := filepath.Join(dir, "files")
	os.Mkdir(files, 0o700)
	configs := map[string]func(t *testing.T) string{
		"memory": func(*testing.T) string { return "memory:" },
		"file":   func(*testing.T) string { return "file://" + files },
		"sqlite": func(*testing.T) string { return "sqlite://" + filepath.Join(dir, "s.sqlite3") + "?create_table=true" },
		"bolt":   func(*testing.T) string { return "bolt://" + filepath.Join(dir, "s.db") },
		// The servers an operator most wants to check.
		"redis":     func(t *testing.T) string { return testservers.StartRedis(t).URL() },
		"memcached": func(t *testing.T) string { return "memcached://" + testservers.StartMemcached(t).Addr },
	}
	for _, name := range []string{"memory", "file", "sqlite", "bolt", "redis", "memcached"} {
		t.Run(name, func(t *testing.T) {
			if !registered(name) {
				t.Fatalf("the %s engine is not registered: all/ must import it", name)
			}
			setEnv(t, "SESSION_ENGINE", configs[name](t))
			code, out, errOut := cli(t, "check")
			if code != 0 {
				t.Fatalf("check: %d\n%s%s", code, out, errOut)
			}
			// Every quick case, named as Check names it for the memory
			// engine (which implements every optional interface).
			for _, r := range conformance.CheckResults(context.Background(), memstore.New(nil)) {
				if !regexp.MustCompile(`(?m)^  (OK|SKIP) +` + r.Name + `\b`).MatchString(out) {
					t.Errorf("no OK for %s:\n%s", r.Name, out)
				}
			}
			if !strings.Contains(out, " 0 failed") {
				t.Errorf("summary: %s", out)
			}
		})
	}
	setEnv(t)
	code, out, _ := cli(t, "check", "--engine", "signed_cookies")
	if code != 0 || !strings.Contains(out, "OK    SealOpen") {
		t.Errorf("signed cookies: %d %q", code, out)
	}
	code, out, _ = cli(t, "check", "--engine", "test-broken:")
	if code != 1 || !strings.Contains(out, "FAIL  CreateLoad") || !strings.Contains(out, "the store is on fire") {
		t.Errorf("broken engine: %d %q", code, out)
	}
}

func TestDemoSecret(t *testing.T) {
	dir := t.TempDir()
	s, from, err := demoSecret("from-env", dir)
	if err != nil || s != "from-env" || !strings.Contains(from, "SECRET_KEY environment variable") {
		t.Fatalf("env: %q %q %v", s, from, err)
	}
	s1, from, err := demoSecret("", dir)
	if err != nil || len(s1) != 50 || !strings.Contains(from, "generated") {
		t.Fatalf("generated: %q %q %v", s1, from, err)
	}
	st, err := os.Stat(filepath.Join(dir, secretFileName))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st.Mode(), err)
	}
	s2, from, err := demoSecret("", dir)
	if err != nil || s2 != s1 || !strings.Contains(from, "read from") {
		t.Fatalf("reread: %q %q %v", s2, from, err)
	}
	os.Chmod(filepath.Join(dir, secretFileName), 0o644)
	demoSecret("", dir)
	if st, _ := os.Stat(filepath.Join(dir, secretFileName)); st.Mode().Perm() != 0o600 {
		t.Fatalf("a readable key file was left readable: %v", st.Mode())
	}
	os.WriteFile(filepath.Join(dir, secretFileName), []byte("\n"), 0o600)
	if _, _, err := demoSecret("", dir); err == nil {
		t.Fatal("an empty key file was accepted")
	}
}

func TestDemoFlags(t *testing.T) {
	setEnv(t)
	if code, _, _ := cli(t, "demo", "extra"); code != 2 {
		t.Errorf("extra argument: %d", code)
	}
	code, _, errOut := cli(t, "demo", "--data-dir", t.TempDir(), "--engine", "nosuch:", "--addr", "127.0.0.1:0")
	if code != 1 || !strings.Contains(errOut, "unknown session engine") {
		t.Errorf("bad engine: %d %q", code, errOut)
	}
	// The data directory is private.
	dir := filepath.Join(t.TempDir(), "data")
	cli(t, "demo", "--data-dir", dir, "--engine", "nosuch:")
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("data dir: %v %v", st, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, ".gitignore")); err != nil || !strings.HasSuffix(string(b), "\n*\n") {
		t.Errorf("the new data dir does not keep itself out of git: %q %v", b, err)
	}
}

// registered reports whether an engine scheme is built in.
func registered(scheme string) bool {
	for _, e := range sessions.Engines() {
		if e.Scheme == scheme || slices.Contains(e.Aliases, scheme) {
			return true
		}
	}
	return false
}
