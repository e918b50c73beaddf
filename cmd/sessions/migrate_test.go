package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/sqlstore"
	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/codec/pickle"
	"github.com/sessionkit/sessions/internal/testservers"
	"github.com/sessionkit/sessions/internal/testutil"
)

// interruptAt is a terminal that cancels the command once its progress bar
// passes a percentage, while the next batch is under way.
type interruptAt struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	percent int
	cancel  context.CancelFunc
	once    sync.Once
}

var barPercent = regexp.MustCompile(`\] +(\d+)% `)

func (w *interruptAt) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if m := barPercent.FindSubmatch(p); m != nil && w.cancel != nil {
		if n, _ := strconv.Atoi(string(m[1])); n >= w.percent {
			w.once.Do(func() { time.AfterFunc(5*time.Millisecond, w.cancel) })
		}
	}
	return w.buf.Write(p)
}

func (w *interruptAt) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// keysOf lists the live keys of an engine.
func keysOf(t *testing.T, config string) map[string]bool {
	t.Helper()
	b, err := sessions.OpenEngine(context.Background(), config, testSettings())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	keys := map[string]bool{}
	if err := b.(sessions.Lister).List(context.Background(), func(k string) bool { keys[k] = true; return true }); err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestMigrate100k moves 100,000 sessions from PostgreSQL (Django's db
// engine: signed JSON) to Redis (Django's cache engine: pickle) with
// "sessions migrate" on a terminal, interrupted in the middle of a batch
// and run again: every session ends in Redis exactly once, with its data,
// expiry and user index entry, and none is left in PostgreSQL.
func TestMigrate100k(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 10_000
	}
	setEnv(t)
	from := testutil.WithParams(testservers.SharedPostgres(t).URL(), "table", fmt.Sprintf("mig100k_%d", time.Now().UnixNano()%1e9), "create_table", "true")
	to := testutil.WithParams(testservers.SharedRedis(t).URL(), "key_prefix", fmt.Sprintf("mig100k%d:", time.Now().UnixNano()%1e9))
	exp := seedPostgres(t, from, n)

	old := migrateTerminal
	migrateTerminal = func(io.Writer) bool { return true }
	t.Cleanup(func() { migrateTerminal = old })
	args := []string{"--from", from, "--to", to, "--batch", "2000"}

	// The first run is interrupted at 40%.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	term := &interruptAt{percent: 40, cancel: cancel}
	var out bytes.Buffer
	code := runMigrate(ctx, args, &out, term)
	t.Logf("first run: %s", strings.TrimSpace(out.String()))
	if code != 1 || !strings.Contains(term.String(), "interrupted") || !strings.Contains(out.String(), "Stopped moving sessions from postgres to redis") {
		t.Fatalf("the interrupted run: exit %d, stderr %q", code, tail(term.String()))
	}
	for _, want := range []string{"[=====", "/" + group(int64(n)) + " · copied ", "\r\x1b[K"} {
		if !strings.Contains(term.String(), want) {
			t.Errorf("no progress bar on the terminal (%q missing): %q", want, tail(term.String()))
		}
	}
	src, dst := keysOf(t, from), keysOf(t, to)
	union := len(src)
	for k := range dst {
		if !src[k] {
			union++
		}
	}
	t.Logf("after the interruption: %d in PostgreSQL, %d in Redis", len(src), len(dst))
	if union != n || len(dst) < n*4/10 || len(src) == 0 {
		t.Fatalf("after the interruption: %d in PostgreSQL, %d in Redis, %d distinct; want %d, about 40%% moved", len(src), len(dst), union, n)
	}

	// The second run moves the rest.
	out.Reset()
	term2 := &interruptAt{}
	if code := runMigrate(context.Background(), args, &out, term2); code != 0 {
		t.Fatalf("the resumed run: exit %d, stdout %q, stderr %q", code, out.String(), tail(term2.String()))
	}
	t.Logf("second run: %s", strings.TrimSpace(out.String()))
	if !strings.Contains(out.String(), "0 skipped (expired), 0 failed.") {
		t.Errorf("summary: %q", out.String())
	}
	if src, dst := keysOf(t, from), keysOf(t, to); len(src) != 0 || len(dst) != n {
		t.Fatalf("after the resumed run: %d in PostgreSQL, %d in Redis; want 0 and %d", len(src), len(dst), n)
	}
	checkRedis(t, to, n, exp)
}

func tail(s string) string {
	if len(s) > 600 {
		return "…" + s[len(s)-600:]
	}
	return s
}

// seedKey is the key of seeded session i.
func seedKey(i int) string { return fmt.Sprintf("seed%028d", i) }

// seedPostgres writes n sessions in Django's db format, 1,000 rows per
// statement (session i holds {"n": i, ...}; every 100th is bound to
// user-<i%7> in the user index), and returns their expiry.
func seedPostgres(t *testing.T, config string, n int) time.Time {
	t.Helper()
	ctx := context.Background()
	b, err := sessions.OpenEngine(ctx, config, testSettings())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	s := b.(*sqlstore.Store)
	_, w := s.DB()
	table := regexp.MustCompile(`[?&]table=([a-z0-9_]+)`).FindStringSubmatch(config)[1]
	exp := time.Now().Add(2 * time.Hour).Truncate(time.Millisecond)
	c := sessions.DefaultCodec(testSettings())
	for lo := 0; lo < n; lo += 1000 {
		var sql strings.Builder
		var args []any
		fmt.Fprintf(&sql, `INSERT INTO %q ("session_key", "session_data", "expire_date") VALUES `, table)
		for i := lo; i < min(lo+1000, n); i++ {
			v := map[string]any{"n": i, "cart": []any{"apple", i}}
			if i%100 == 0 {
				v[sessions.BoundUserKey] = fmt.Sprint("user-", i%7)
			}
			data, err := c.Encode(codec.NewDict(v))
			if err != nil {
				t.Fatal(err)
			}
			if i > lo {
				sql.WriteString(", ")
			}
			p := len(args)
			fmt.Fprintf(&sql, "($%d, $%d, $%d)", p+1, p+2, p+3)
			args = append(args, seedKey(i), string(data), exp)
		}
		if _, err := w.ExecContext(ctx, sql.String(), args...); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < n; i += 100 {
		if err := s.AddUserSession(ctx, fmt.Sprint("user-", i%7), seedKey(i), nil, exp); err != nil {
			t.Fatal(err)
		}
	}
	return exp
}

// checkRedis checks the moved sessions: every 10th one's data (pickled,
// as Django's cache engine stores it) and expiry, and every bound one's
// user index entry.
func checkRedis(t *testing.T, config string, n int, exp time.Time) {
	t.Helper()
	ctx := context.Background()
	b, err := sessions.OpenEngine(ctx, config, testSettings())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	er := b.(sessions.ExpiryReader)
	for i := 0; i < n; i += 10 {
		raw, got, err := er.LoadExpiry(ctx, seedKey(i))
		if err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
		// Redis counts a TTL from when it runs the command, which a
		// loaded machine delays.
		if d := got.Sub(exp); d > 2*time.Second || d < -time.Second {
			t.Fatalf("session %d: expiry %v, want %v", i, got, exp)
		}
		d, err := pickle.Codec{}.Decode(raw)
		if err != nil {
			t.Fatalf("session %d is not Django's pickle: %v", i, err)
		}
		if v, _ := d.Get("n"); fmt.Sprint(v) != fmt.Sprint(i) {
			t.Fatalf("session %d holds n=%v", i, v)
		}
	}
	ix := b.(sessions.UserIndexer)
	total := 0
	for u := range 7 {
		keys, err := ix.UserSessions(ctx, fmt.Sprint("user-", u))
		if err != nil {
			t.Fatal(err)
		}
		total += len(keys)
	}
	if want := n / 100; total != want {
		t.Fatalf("Redis's user index lists %d sessions, want %d", total, want)
	}
}

// TestMigrateCommand checks the command's other paths on small stores: a
// dry run writes nothing, a failed session gives exit status 1, and
// usage errors give 2.
func TestMigrateCommand(t *testing.T) {
	setEnv(t)
	dir := t.TempDir()
	from := "sqlite://" + dir + "/old.sqlite3?create_table=true"
	to := "sqlite://" + dir + "/new.sqlite3?create_table=true"
	for i := range 5 {
		saveSession(t, from, map[string]any{"i": i}, 0)
	}
	code, out, errOut := cli(t, "migrate", "--from", from, "--to", to, "--dry-run")
	if code != 0 || !strings.Contains(out, "nothing written: 5 would be copied") {
		t.Fatalf("dry run: %d %q %q", code, out, errOut)
	}
	if len(keysOf(t, to)) != 0 {
		t.Fatal("the dry run wrote")
	}
	code, out, errOut = cli(t, "migrate", "--from", from, "--to", to)
	if code != 0 || !strings.Contains(out, "Moved sessions from sqlite to sqlite") || !strings.Contains(out, "5 copied") || strings.Contains(errOut, "\x1b[K") {
		t.Fatalf("migrate: %d %q %q", code, out, errOut)
	}
	if len(keysOf(t, from)) != 0 || len(keysOf(t, to)) != 5 {
		t.Fatal("the sessions were not moved")
	}
	// A session signed with another key cannot be converted to Redis's
	// pickle: it fails, stays in the old store, and the exit status says
	// so.
	ctx := context.Background()
	other := testSettings()
	other.SecretKey = "another application's key"
	m, err := sessions.Open(ctx, from, other)
	if err != nil {
		t.Fatal(err)
	}
	foreign := m.NewSession(ctx)
	foreign.Set("a", 1)
	if err := foreign.Save(ctx); err != nil {
		t.Fatal(err)
	}
	m.Close()
	saveSession(t, from, map[string]any{"ok": true}, 0)
	cache := testutil.WithParams(testservers.SharedRedis(t).URL(), "key_prefix", fmt.Sprintf("migcmd%d:", time.Now().UnixNano()%1e9))
	code, out, errOut = cli(t, "migrate", "--from", from, "--to", cache)
	if code != 1 || !strings.Contains(out, "1 copied") || !strings.Contains(out, "1 failed") || !strings.Contains(errOut, "1 failed and stayed in the old store") {
		t.Fatalf("a session that cannot be converted: %d %q %q", code, out, errOut)
	}
	if left := keysOf(t, from); len(left) != 1 || !left[foreign.Key()] {
		t.Fatalf("the old store keeps %d sessions, want the foreign one", len(left))
	}
	for _, args := range [][]string{
		{"migrate", "--from", from},
		{"migrate", "--to", to},
		{"migrate", "--from", from, "--to", to, "extra"},
		{"migrate", "--from", from, "--to", to, "--workers", "0"},
	} {
		if code, _, _ := cli(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	code, _, errOut = cli(t, "migrate", "--from", "postgres://app:hunter2@127.0.0.1:1/app?bogus=1", "--to", to)
	if code != 1 || strings.Contains(errOut, "hunter2") || !strings.Contains(errOut, "--from") {
		t.Errorf("a bad --from: %d %q", code, errOut)
	}
	t.Setenv("SECRET_KEY", "")
	if code, _, errOut := cli(t, "migrate", "--from", from, "--to", to); code != 1 || !strings.Contains(errOut, "SECRET_KEY is not set") {
		t.Errorf("no SECRET_KEY: %d %q", code, errOut)
	}
}
