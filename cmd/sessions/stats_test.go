package main

import (
	"context"
	"encoding/json"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/internal/testservers"
)

func init() {
	// countfail counts with an error.
	sessions.Register(sessions.EngineInfo{Scheme: "test-countfail", Doc: "test engine whose Count fails"},
		func(ctx context.Context, u *url.URL, s sessions.Settings) (sessions.Backend, error) {
			return countFail{}, nil
		})
}

type countFail struct{ broken }

func (countFail) Count(context.Context, func(int64, int64)) (sessions.Counts, error) {
	return sessions.Counts{}, errBroken
}

// bindSessions stores n sessions bound to user through a Manager on config.
func bindSessions(t *testing.T, config, user string, n int) {
	t.Helper()
	ctx := context.Background()
	m, err := sessions.Open(ctx, config, testSettings())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for range n {
		s := m.NewSession(ctx)
		s.Set("u", user)
		if err := m.BindUser(ctx, s, user); err != nil {
			t.Fatal(err)
		}
		if err := s.Save(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// statsJSON runs "sessions stats --json" and decodes its output.
func statsJSON(t *testing.T, args ...string) statsOutput {
	t.Helper()
	code, out, errOut := cli(t, append([]string{"stats", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("stats --json: %d %q %q", code, out, errOut)
	}
	var o statsOutput
	if err := json.Unmarshal([]byte(out), &o); err != nil {
		t.Fatalf("stats --json printed %q: %v", out, err)
	}
	return o
}

func num(p *int64) string {
	if p == nil {
		return "null"
	}
	return group(*p)
}

func TestStats(t *testing.T) {
	dir := t.TempDir()
	files := filepath.Join(dir, "files")
	os.Mkdir(files, 0o700)
	for _, tc := range []struct{ name, config string }{
		{"file", "file://" + files},
		{"sqlite", "sqlite://" + filepath.Join(dir, "s.sqlite3") + "?create_table=true"},
		{"bolt", "bolt://" + filepath.Join(dir, "s.db")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setEnv(t, "SESSION_ENGINE", tc.config)
			o := statsJSON(t)
			if o.CountedBy != "engine" || num(o.Sessions) != "0" || num(o.Expired) != "0" || num(o.Users) != "0" || num(o.UserEntries) != "0" {
				t.Fatalf("an empty store: %+v", o)
			}
			// Two anonymous live sessions, three of alice's, one of
			// bob's, four expired.
			saveSession(t, tc.config, map[string]any{"a": 1}, 0)
			saveSession(t, tc.config, map[string]any{"b": 1}, time.Hour)
			bindSessions(t, tc.config, "alice", 3)
			bindSessions(t, tc.config, "bob", 1)
			storeExpired(t, tc.config, 4)
			code, out, errOut := cli(t, "stats")
			if code != 0 || errOut != "" {
				t.Fatalf("stats: %d %q %q", code, out, errOut)
			}
			for _, want := range []string{
				"Sessions in " + tc.name, ", counted in ",
				"\n  live sessions                                6\n",
				"\n  expired, awaiting clearsessions              4\n",
				"\n  users in the user index                      2\n",
				"\n  user index entries                           4\n",
				"\nRun \"sessions clearsessions\" to remove the 4 expired sessions.\n",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("stats output lacks %q:\n%s", want, out)
				}
			}
			o = statsJSON(t)
			if o.Engine != tc.name || o.Where == "" || num(o.Sessions) != "6" || num(o.Expired) != "4" || num(o.Users) != "2" || num(o.UserEntries) != "4" {
				t.Errorf("stats --json: %+v", o)
			}
			// After clearsessions, nothing is expired.
			if code, out, _ := cli(t, "clearsessions"); code != 0 || !strings.HasPrefix(out, "Removed 4 ") {
				t.Fatalf("clearsessions: %d %q", code, out)
			}
			code, out, _ = cli(t, "stats")
			if code != 0 || !strings.Contains(out, "\n  expired, awaiting clearsessions              0\n") || strings.Contains(out, "clearsessions\" to remove") {
				t.Errorf("stats after clearsessions: %d\n%s", code, out)
			}
		})
	}
}

func TestStatsEnginesThatCannotCount(t *testing.T) {
	setEnv(t)
	// Redis lists its keys only when asked.
	redisURL := testservers.StartRedis(t).URL()
	saveSession(t, redisURL, map[string]any{"a": 1}, 0)
	saveSession(t, redisURL, map[string]any{"b": 1}, 0)
	code, out, _ := cli(t, "stats", "--engine", redisURL)
	if code != 0 || !strings.Contains(out, "not counted: the redis engine cannot count its sessions cheaply; --list counts") {
		t.Errorf("redis without --list: %d %q", code, out)
	}
	if o := statsJSON(t, "--engine", redisURL); o.CountedBy != "none" || o.Sessions != nil || o.Note == "" {
		t.Errorf("redis --json without --list: %+v", o)
	}
	code, out, _ = cli(t, "stats", "--engine", redisURL, "--list")
	if code != 0 || !strings.Contains(out, "counted by listing every key in ") || !strings.Contains(out, "\n  live sessions                                2\n") ||
		!strings.Contains(out, "\n  expired, awaiting clearsessions        unknown\n") || !strings.Contains(out, "(Listing every key counts the live sessions only.)") {
		t.Errorf("redis --list: %d\n%s", code, out)
	}
	if o := statsJSON(t, "--engine", redisURL, "--list"); o.CountedBy != "listing" || num(o.Sessions) != "2" || o.Expired != nil || o.Users != nil || o.UserEntries != nil {
		t.Errorf("redis --list --json: %+v", o)
	}

	for engine, want := range map[string]string{
		"memcached://" + testservers.StartMemcached(t).Addr: "not counted: the memcached engine can neither count nor list its sessions.",
		"signed-cookies:": "not counted: the signed-cookies engine keeps each session in its cookie: the server stores none to count.",
	} {
		code, out, _ := cli(t, "stats", "--engine", engine, "--list")
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("%s: %d %q", engine, code, out)
		}
	}
	code, _, errOut := cli(t, "stats", "--engine", "test-countfail:")
	if code != 1 || !strings.Contains(errOut, "sessions stats: ") || !strings.Contains(errOut, "the store is on fire") {
		t.Errorf("a failing count: %d %q", code, errOut)
	}
	if code, _, _ := cli(t, "stats", "extra"); code != 2 {
		t.Errorf("extra argument: %d", code)
	}
}

func TestStatsProgress(t *testing.T) {
	for _, tc := range []struct {
		done, total int64
		want        string
	}{
		{5, 10, "Counting [###############...............]  50% 5 of 10, 1.2s"},
		{12, 10, "Counting [##############################] 100% 10 of 10, 1.2s"},
		{1234567, -1, "| Counting… 1,234,567 so far, 1.2s"},
		{0, -1, "| Counting… 1.2s"},
	} {
		if got := progressLine(0, "Counting", tc.done, tc.total, 1234*time.Millisecond); got != tc.want {
			t.Errorf("progressLine(%d, %d) = %q, want %q", tc.done, tc.total, got, tc.want)
		}
	}
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := group(n); got != want {
			t.Errorf("group(%d) = %q, want %q", n, got, want)
		}
	}

	oldDelay := spinnerDelay
	spinnerDelay = 0
	defer func() { spinnerDelay = oldDelay }()
	var buf syncBuffer
	p := &countProgress{}
	p.start(&buf, "Counting sessions in file")
	p.update(3, 4)
	time.Sleep(350 * time.Millisecond)
	p.stop()
	if out := buf.String(); !regexp.MustCompile(`\r\x1b\[KCounting sessions in file \[#+\.+\]  75% 3 of 4, `).MatchString(out) || !strings.HasSuffix(out, "\r\x1b[K") {
		t.Fatalf("progress output %q", out)
	}
	(&countProgress{}).stop() // never started: nothing to stop

	// Through the command: a terminal gets no progress line for a quick
	// count, and stdout only the counts.
	spinnerDelay = time.Hour
	setEnv(t)
	oldTTY := isTerminal
	isTerminal = func(io.Writer) bool { return true }
	defer func() { isTerminal = oldTTY }()
	code, out, errOut := cli(t, "stats", "--engine", "memory:")
	if code != 0 || !strings.HasPrefix(out, "Sessions in memory") || errOut != "" {
		t.Fatalf("%d %q %q", code, out, errOut)
	}
}
