package filestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/internal/textutil"
)

const testSecret = "django_tests_secret_key"

var testCodec = sessions.DefaultCodec(sessions.Settings{SecretKey: testSecret})

// newDir returns a private directory inside a fresh parent, so tests can
// check that nothing appears next to it either.
func newDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "sessions")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

func newStore(t *testing.T, mod ...func(*Options)) *Store {
	t.Helper()
	o := Options{Dir: newDir(t), Codec: testCodec}
	for _, f := range mod {
		f(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func hour() time.Time { return time.Now().Add(time.Hour) }

// listDir returns the names in dir, sorted.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func TestFileLayout(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		cookieName string
		age        time.Duration
		prefix     string
	}{
		{"defaults", "", 0, "sessionid"},
		{"custom cookie name and age", "my_session", 90 * time.Second, "my_session"},
		{"age with fraction is truncated", "", 90*time.Second + 500*time.Millisecond, "sessionid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t, func(o *Options) { o.CookieName = tc.cookieName; o.CookieAge = tc.age })
			key := sessions.NewKey()
			data := []byte("eyJhIjoiYiJ9:1r31eq:signature")
			expiry := time.Now().Add(30 * time.Minute).Round(0)
			if err := s.Create(ctx, key, data, expiry); err != nil {
				t.Fatal(err)
			}
			names := listDir(t, s.Dir())
			if want := []string{tc.prefix + key}; !slices.Equal(names, want) {
				t.Fatalf("directory holds %q, want %q", names, want)
			}
			path := filepath.Join(s.Dir(), tc.prefix+key)
			if s.Path(key) != path {
				t.Errorf("Path = %q, want %q", s.Path(key), path)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Errorf("file holds %q, want exactly %q", got, data)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("file mode %v, want 0600", fi.Mode().Perm())
			}
			age := tc.age.Truncate(time.Second)
			if age == 0 {
				age = sessions.DefaultCookieAge
			}
			// Django computes mtime + SESSION_COOKIE_AGE.
			if got := fi.ModTime().Add(age); !got.Equal(expiry) {
				t.Errorf("mtime + cookie age = %v, want the expiry %v", got, expiry)
			}
		})
	}
}

func TestContract(t *testing.T) {
	ctx := context.Background()
	past := func() time.Time { return time.Now().Add(-time.Second) }
	type step struct {
		op     string // create, update, swap, touch, delete, load
		data   string
		old    string
		expiry func() time.Time
		want   error  // nil = success
		loaded string // for load
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"load unknown", []step{{op: "load", want: sessions.ErrNotFound}}},
		{"create load", []step{{op: "create", data: "v1"}, {op: "load", loaded: "v1"}}},
		{"create empty data", []step{{op: "create", data: ""}, {op: "load", loaded: ""}}},
		{"create existing refused, unchanged", []step{{op: "create", data: "v1"}, {op: "create", data: "v2", want: sessions.ErrExists}, {op: "load", loaded: "v1"}}},
		{"create over expired replaces", []step{{op: "create", data: "v1", expiry: past}, {op: "create", data: "v2"}, {op: "load", loaded: "v2"}}},
		{"create with past expiry is not found", []step{{op: "create", data: "v1", expiry: past}, {op: "load", want: sessions.ErrNotFound}}},
		{"update replaces", []step{{op: "create", data: "v1"}, {op: "update", data: "v2"}, {op: "load", loaded: "v2"}}},
		{"update missing", []step{{op: "update", data: "v1", want: sessions.ErrNotFound}, {op: "load", want: sessions.ErrNotFound}}},
		{"update expired", []step{{op: "create", data: "v1", expiry: past}, {op: "update", data: "v2", want: sessions.ErrNotFound}, {op: "load", want: sessions.ErrNotFound}}},
		{"update after delete does not resurrect", []step{{op: "create", data: "v1"}, {op: "delete"}, {op: "update", data: "v2", want: sessions.ErrNotFound}, {op: "load", want: sessions.ErrNotFound}}},
		{"update to past expiry", []step{{op: "create", data: "v1"}, {op: "update", data: "v2", expiry: past}, {op: "load", want: sessions.ErrNotFound}}},
		{"delete absent", []step{{op: "delete"}}},
		{"delete twice", []step{{op: "create", data: "v1"}, {op: "delete"}, {op: "delete"}, {op: "load", want: sessions.ErrNotFound}}},
		{"swap matching", []step{{op: "create", data: "v1"}, {op: "swap", old: "v1", data: "v2"}, {op: "load", loaded: "v2"}}},
		{"swap conflict", []step{{op: "create", data: "v1"}, {op: "swap", old: "vX", data: "v2", want: sessions.ErrConflict}, {op: "load", loaded: "v1"}}},
		{"swap missing", []step{{op: "swap", old: "v1", data: "v2", want: sessions.ErrNotFound}, {op: "load", want: sessions.ErrNotFound}}},
		{"swap expired", []step{{op: "create", data: "v1", expiry: past}, {op: "swap", old: "v1", data: "v2", want: sessions.ErrNotFound}}},
		{"swap same bytes extends", []step{{op: "create", data: "v1"}, {op: "swap", old: "v1", data: "v1"}, {op: "load", loaded: "v1"}}},
		{"touch keeps data", []step{{op: "create", data: "v1"}, {op: "touch"}, {op: "load", loaded: "v1"}}},
		{"touch to past expires", []step{{op: "create", data: "v1"}, {op: "touch", expiry: past}, {op: "load", want: sessions.ErrNotFound}}},
		{"touch missing", []step{{op: "touch", want: sessions.ErrNotFound}, {op: "load", want: sessions.ErrNotFound}}},
		{"touch expired", []step{{op: "create", data: "v1", expiry: past}, {op: "touch", want: sessions.ErrNotFound}, {op: "load", want: sessions.ErrNotFound}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, noLink := range []bool{false, true} {
				s := newStore(t)
				s.noLink.Store(noLink)
				key := sessions.NewKey()
				for i, st := range tc.steps {
					exp := hour()
					if st.expiry != nil {
						exp = st.expiry()
					}
					var err error
					var got []byte
					switch st.op {
					case "create":
						err = s.Create(ctx, key, []byte(st.data), exp)
					case "update":
						err = s.Update(ctx, key, []byte(st.data), exp)
					case "swap":
						err = s.Swap(ctx, key, []byte(st.old), []byte(st.data), exp)
					case "touch":
						err = s.Touch(ctx, key, exp)
					case "delete":
						err = s.Delete(ctx, key)
					case "load":
						got, err = s.Load(ctx, key)
					}
					if st.want == nil && err != nil || st.want != nil && !errors.Is(err, st.want) {
						t.Fatalf("noLink=%v step %d %s: error %v, want %v", noLink, i, st.op, err, st.want)
					}
					if st.op == "load" && err == nil && string(got) != st.loaded {
						t.Fatalf("noLink=%v step %d load: %q, want %q", noLink, i, got, st.loaded)
					}
				}
				// Nothing but the session file is ever left behind.
				for _, n := range listDir(t, s.Dir()) {
					if n != s.prefix+key {
						t.Fatalf("noLink=%v: stray file %q", noLink, n)
					}
				}
			}
		})
	}
}

func TestLoadReturnsCopyAndExpiryPasses(t *testing.T) {
	ctx := context.Background()
	var now atomic.Int64
	base := time.Now()
	now.Store(base.UnixNano())
	s := newStore(t, func(o *Options) { o.Now = func() time.Time { return time.Unix(0, now.Load()) } })
	key := sessions.NewKey()
	if err := s.Create(ctx, key, []byte("original"), base.Add(150*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	copy(got, "xxxxxxxx")
	if again, _ := s.Load(ctx, key); string(again) != "original" {
		t.Fatalf("Load after changing the returned slice: %q", again)
	}
	now.Store(base.Add(200 * time.Millisecond).UnixNano())
	if _, err := s.Load(ctx, key); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("Load after expiry: %v, want ErrNotFound", err)
	}
	// Load never writes: the expired file is still there for DeleteExpired.
	if _, err := os.Stat(s.Path(key)); err != nil {
		t.Fatalf("Load removed the expired file: %v", err)
	}
	n, err := s.DeleteExpired(ctx)
	if err != nil || n != 1 {
		t.Fatalf("DeleteExpired = %d, %v; want 1", n, err)
	}
}

func TestClockOption(t *testing.T) {
	ctx := context.Background()
	var now atomic.Int64
	base := time.Now()
	now.Store(base.UnixNano())
	s := newStore(t, func(o *Options) { o.Now = func() time.Time { return time.Unix(0, now.Load()) } })
	key := sessions.NewKey()
	if err := s.Create(ctx, key, []byte("x"), base.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, key); err != nil {
		t.Fatal(err)
	}
	now.Store(base.Add(time.Minute).UnixNano())
	if _, err := s.Load(ctx, key); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("Load at the expiry instant: %v, want ErrNotFound", err)
	}
}

func TestExtremeExpiries(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	for _, tc := range []struct {
		expiry time.Time
		live   bool
	}{
		{time.Time{}, false},
		{time.Unix(0, 0), false},
		{time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), true},
	} {
		key := sessions.NewKey()
		if err := s.Create(ctx, key, []byte("x"), tc.expiry); err != nil {
			t.Fatalf("Create with expiry %v: %v", tc.expiry, err)
		}
		_, err := s.Load(ctx, key)
		if tc.live != (err == nil) {
			t.Errorf("expiry %v: Load error %v, want live=%v", tc.expiry, err, tc.live)
		}
	}
}

// hostileKeys are keys every method must refuse before building a path.
var hostileKeys = []string{
	"", "..", "../../etc/passwd", "a/b", `a\b`, "../../../../../../tmp/x",
	"abcdefgh/../../x", "abcdefgh\x00ijkl", "abcdefgh\x00/../../etc/passwd",
	strings.Repeat("a", 300), strings.Repeat("a", 41), "short", "ABCDEFGHIJKLMNOP", "abcdefghIJKL",
	"..........", "abcdefgh%2f..", "abcdéfghijkl", "abcdefgh ijkl", "abcdefgh_out_1",
	"/etc/passwd", "abcdefgh\nijkl", ".abcdefghijkl",
}

func TestHostileKeys(t *testing.T) {
	ctx := context.Background()
	parent := t.TempDir()
	dir := filepath.Join(parent, "sessions")
	sibling := filepath.Join(parent, "sibling")
	for _, d := range []string{dir, sibling} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// A file the keys try to reach.
	if err := os.WriteFile(filepath.Join(sibling, "target"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Dir: dir, Codec: testCodec})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	snapshot := func() string {
		var b strings.Builder
		filepath.WalkDir(parent, func(p string, d fs.DirEntry, err error) error {
			fi, _ := d.Info()
			fmt.Fprintf(&b, "%s %v %d %v\n", p, fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
			return nil
		})
		return b.String()
	}
	before := snapshot()
	for _, key := range hostileKeys {
		ops := map[string]func() error{
			"Load":           func() error { _, err := s.Load(ctx, key); return err },
			"Create":         func() error { return s.Create(ctx, key, []byte("x"), hour()) },
			"Update":         func() error { return s.Update(ctx, key, []byte("x"), hour()) },
			"Swap":           func() error { return s.Swap(ctx, key, []byte("secret"), []byte("x"), hour()) },
			"Touch":          func() error { return s.Touch(ctx, key, hour()) },
			"Delete":         func() error { return s.Delete(ctx, key) },
			"AddUserSession": func() error { return s.AddUserSession(ctx, "user", key, nil, hour()) },
			"RemoveUserSessions": func() error {
				return s.RemoveUserSessions(ctx, "user", []string{sessions.NewKey(), key})
			},
		}
		for name, op := range ops {
			if err := op(); !errors.Is(err, sessions.ErrInvalidKey) {
				t.Errorf("%s(%q): %v, want ErrInvalidKey", name, key, err)
			}
		}
		if s.Path(key) != "" {
			t.Errorf("Path(%q) = %q, want empty", key, s.Path(key))
		}
	}
	if after := snapshot(); after != before {
		t.Fatalf("hostile keys changed the file system:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if n := listDir(t, dir); len(n) != 0 {
		t.Fatalf("session directory holds %q", n)
	}
}

func TestDirectoryChecks(t *testing.T) {
	parent := t.TempDir()
	mk := func(name string, mode fs.FileMode) string {
		p := filepath.Join(parent, name)
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	file := filepath.Join(parent, "plainfile")
	os.WriteFile(file, nil, 0o600)
	for _, tc := range []struct {
		name    string
		o       Options
		wantErr string // substring; "" = success
	}{
		{"private 0700", Options{Dir: mk("private", 0o700)}, ""},
		{"readable by others 0755", Options{Dir: mk("readable", 0o755)}, ""},
		{"group-writable 0770", Options{Dir: mk("group", 0o770)}, "group or others can write"},
		{"world-writable 0777", Options{Dir: mk("world", 0o777)}, "group or others can write"},
		{"sticky like /tmp 1777", Options{Dir: mk("sticky", 0o1777)}, "group or others can write"},
		{"shared allowed", Options{Dir: mk("shared", 0o777), AllowSharedDir: true}, ""},
		{"missing", Options{Dir: filepath.Join(parent, "nope")}, "SESSION_FILE_PATH) does not exist"},
		{"not a directory", Options{Dir: file}, "SESSION_FILE_PATH"},
		{"empty", Options{}, "no directory"},
		{"cookie name with slash", Options{Dir: mk("c1", 0o700), CookieName: "a/b"}, "cookie name"},
		{"cookie name dotdot", Options{Dir: mk("c2", 0o700), CookieName: ".."}, "cookie name"},
		{"sub-second cookie age", Options{Dir: mk("c3", 0o700), CookieAge: time.Millisecond}, "cookie age"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.o)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				s.Close()
				return
			}
			if err == nil {
				s.Close()
				t.Fatalf("New succeeded, want an error containing %q", tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, sessions.ErrBadConfig) {
				t.Fatalf("error %q, want one matching ErrBadConfig containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestTempDirNeverUsed(t *testing.T) {
	s := sessions.DefaultSettings()
	s.SecretKey = testSecret
	if _, err := sessions.OpenEngine(context.Background(), "file", s); err == nil || !strings.Contains(err.Error(), "FilePath") {
		t.Fatalf("file engine without FilePath: %v, want an error naming FilePath", err)
	}
	if _, err := New(Options{Dir: os.TempDir()}); err == nil {
		t.Fatalf("New accepted the shared temporary directory %s", os.TempDir())
	}
}

func TestOpenURL(t *testing.T) {
	ctx := context.Background()
	dir := newDir(t)
	wd, _ := os.Getwd()
	rel, err := filepath.Rel(wd, dir)
	if err != nil {
		t.Fatal(err)
	}
	spaced := filepath.Join(filepath.Dir(dir), "with space")
	os.Mkdir(spaced, 0o700)
	settings := sessions.DefaultSettings()
	settings.SecretKey = testSecret
	withPath := func(p string) sessions.Settings { s := settings; s.FilePath = p; return s }
	for _, tc := range []struct {
		config  string
		s       sessions.Settings
		dir     string
		sync    bool
		wantErr string
	}{
		{config: "file://" + dir, s: settings, dir: dir, sync: true},
		{config: "file://localhost" + dir, s: settings, dir: dir, sync: true},
		{config: "file:" + filepath.ToSlash(rel), s: settings, dir: rel, sync: true},
		{config: "file:" + dir, s: settings, dir: dir, sync: true},
		{config: "file://" + dir + "?sync=false", s: settings, dir: dir, sync: false},
		{config: "file://" + dir + "?sync=true&allow_shared_dir=false", s: settings, dir: dir, sync: true},
		{config: (&url.URL{Scheme: "file", Path: spaced}).String(), s: settings, dir: spaced, sync: true},
		{config: "file", s: withPath(dir), dir: dir, sync: true},
		{config: "django.contrib.sessions.backends.file", s: withPath(dir), dir: dir, sync: true},
		{config: "file", s: withPath(rel), dir: rel, sync: true},
		{config: "", s: func() sessions.Settings { s := withPath(dir); s.Engine = "file"; return s }(), dir: dir, sync: true},
		{config: "file://" + dir + "?synk=false", s: settings, wantErr: "unknown parameter synk"},
		{config: "file://" + dir + "?sync=maybe", s: settings, wantErr: "sync must be true or false"},
		{config: "file://otherhost/x", s: settings, wantErr: "host"},
		{config: "file:", s: settings, wantErr: "needs a directory"},
		{config: "file://user:pw@localhost/x", s: settings, wantErr: "no user"},
		{config: "file://" + dir + "/missing", s: settings, wantErr: "does not exist"},
	} {
		t.Run(tc.config, func(t *testing.T) {
			e, err := sessions.OpenEngine(ctx, tc.config, tc.s)
			if tc.wantErr != "" {
				if err == nil {
					e.Close()
					t.Fatalf("opened, want error containing %q", tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, sessions.ErrBadConfig) {
					t.Fatalf("error %q, want ErrBadConfig containing %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "pw") {
					t.Fatalf("error %q shows the password", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			s := e.(*Store)
			if s.Dir() != tc.dir || s.sync != tc.sync {
				t.Fatalf("dir %q sync %v, want %q %v", s.Dir(), s.sync, tc.dir, tc.sync)
			}
			if s.codec == nil {
				t.Fatal("no codec from the settings")
			}
			if d := s.Describe(); !strings.Contains(d, tc.dir) {
				t.Errorf("Describe() = %q", d)
			}
		})
	}
}

func TestErrorsDoNotShowKeys(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	key := sessions.NewKey()
	// A directory where the session file should be: every operation fails.
	if err := os.Mkdir(s.Path(key), 0o700); err != nil {
		t.Fatal(err)
	}
	errs := []error{
		func() error { _, err := s.Load(ctx, key); return err }(),
		s.Update(ctx, key, []byte("x"), hour()),
		s.Swap(ctx, key, nil, []byte("x"), hour()),
		s.Touch(ctx, key, hour()),
		s.Create(ctx, key, []byte("x"), hour()),
	}
	for i, err := range errs {
		if err == nil {
			t.Fatalf("op %d succeeded on a directory", i)
		}
		if strings.Contains(err.Error(), key) {
			t.Errorf("error %q shows the whole session key", err)
		}
		if !strings.Contains(err.Error(), textutil.RedactKey(key)) {
			t.Errorf("error %q does not name the redacted key", err)
		}
	}
}

func TestTooLarge(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, func(o *Options) { o.MaxFileSize = 100 })
	key := sessions.NewKey()
	if err := s.Create(ctx, key, bytes.Repeat([]byte("a"), 101), hour()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, key); !errors.Is(err, sessions.ErrTooLarge) {
		t.Fatalf("Load of a 101-byte file with limit 100: %v, want ErrTooLarge", err)
	}
}

func TestListAndDeleteExpired(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, func(o *Options) { o.NoSync = true })
	dir := s.Dir()
	now := time.Now()
	var live, expired []string
	for i := range 1300 { // several ReadDir chunks
		key := sessions.NewKey()
		exp := now.Add(time.Hour)
		if i%3 == 0 {
			exp = now.Add(-time.Minute)
			expired = append(expired, key)
		} else {
			live = append(live, key)
		}
		if err := s.Create(ctx, key, []byte("v"), exp); err != nil {
			t.Fatal(err)
		}
	}
	// An expired mtime, but the data carry a later absolute expiry: alive.
	isoKey := sessions.NewKey()
	d := &codec.Dict{}
	d.Set(sessions.ExpiryKey, now.Add(time.Hour).UTC().Format("2006-01-02T15:04:05.000000+00:00"))
	isoData, _ := testCodec.Encode(d)
	writeFile(t, filepath.Join(dir, "sessionid"+isoKey), isoData, now.Add(-30*24*time.Hour))
	live = append(live, isoKey)
	// A live mtime, but an absolute expiry in the past: expired for Load,
	// List and DeleteExpired.
	pastISOKey := sessions.NewKey()
	d.Set(sessions.ExpiryKey, now.Add(-time.Hour).UTC().Format("2006-01-02T15:04:05+00:00"))
	pastISO, _ := testCodec.Encode(d)
	writeFile(t, filepath.Join(dir, "sessionid"+pastISOKey), pastISO, now)
	expired = append(expired, pastISOKey)
	// An empty placeholder file: a live, empty session.
	emptyKey := sessions.NewKey()
	writeFile(t, filepath.Join(dir, "sessionid"+emptyKey), nil, now)
	live = append(live, emptyKey)
	// Files that are not sessions, all with ancient mtimes.
	ancient := now.Add(-365 * 24 * time.Hour)
	others := []string{
		"README", "sessionid", "sessionidshort", "sessionidUPPERCASEKEY1", "othercookie" + sessions.NewKey(),
		"sessionid" + sessions.NewKey() + ".bak", "sessionid" + strings.Repeat("a", 41),
		"sessionid" + sessions.NewKey() + "_out_" + "fresh1", // Django's temp file, fresh
	}
	for _, n := range others {
		writeFile(t, filepath.Join(dir, n), []byte("x"), ancient)
	}
	os.Chtimes(filepath.Join(dir, others[len(others)-1]), now, now)
	// Stale temporary files: ours (time in the name) and Django's (mtime).
	staleOurs := "sessionid" + sessions.NewKey() + "_out_" + "1.abc" // 1970
	staleDjango := "sessionid" + sessions.NewKey() + "_out_" + "abcd_efg"
	writeFile(t, filepath.Join(dir, staleOurs), []byte("x"), now) // mtime is no guide for ours
	writeFile(t, filepath.Join(dir, staleDjango), []byte("x"), ancient)
	// A fresh temp of ours with an old (artificial) mtime stays.
	freshOurs := "sessionid" + sessions.NewKey() + "_out_" + strconv.FormatInt(now.Unix(), 36) + ".xyz"
	writeFile(t, filepath.Join(dir, freshOurs), []byte("x"), ancient)
	// A directory with a session name is ignored.
	os.Mkdir(filepath.Join(dir, "sessionid"+sessions.NewKey()), 0o700)

	var listed []string
	if err := s.List(ctx, func(k string) bool { listed = append(listed, k); return true }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(listed)
	slices.Sort(live)
	if !slices.Equal(listed, live) {
		t.Fatalf("List gave %d keys, want the %d live ones", len(listed), len(live))
	}
	// Stopping early.
	count := 0
	if err := s.List(ctx, func(string) bool { count++; return count < 10 }); err != nil || count != 10 {
		t.Fatalf("List stopped after %d calls (%v), want 10", count, err)
	}
	// fn may call back into the store.
	if err := s.List(ctx, func(k string) bool { _, err := s.Load(ctx, k); return err == nil }); err != nil {
		t.Fatal(err)
	}

	n, err := s.DeleteExpired(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len(expired)) {
		t.Fatalf("DeleteExpired = %d, want %d", n, len(expired))
	}
	for _, k := range expired {
		if _, err := os.Stat(filepath.Join(dir, "sessionid"+k)); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("expired session still there: %v", err)
		}
	}
	for _, k := range live {
		if _, err := os.Stat(filepath.Join(dir, "sessionid"+k)); err != nil {
			t.Fatalf("DeleteExpired removed a session it should keep: %v", err)
		}
	}
	for _, n := range append(others, freshOurs) {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Fatalf("DeleteExpired removed %q, not a session: %v", n, err)
		}
	}
	for _, n := range []string{staleOurs, staleDjango} {
		if _, err := os.Stat(filepath.Join(dir, n)); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("stale temporary file %q kept: %v", n, err)
		}
	}
	if n, err := s.DeleteExpired(ctx); n != 0 || err != nil {
		t.Fatalf("second DeleteExpired = %d, %v", n, err)
	}
}

func writeFile(t *testing.T, path string, data []byte, mtime time.Time) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func TestDeleteExpiredSparesRewritten(t *testing.T) {
	// A session whose mtime said expired when the directory was read, but
	// that was replaced before its turn, is kept: the decision is taken
	// again under the key's lock.
	ctx := context.Background()
	s := newStore(t)
	key := sessions.NewKey()
	if err := s.Create(ctx, key, []byte("v"), time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	// The directory listing saw the expired file; now it is replaced.
	if err := s.Create(ctx, key, []byte("new"), hour()); err != nil {
		t.Fatal(err)
	}
	removed, err := s.deleteIfExpired(ctx, key, time.Now())
	if err != nil || removed {
		t.Fatalf("deleteIfExpired removed a live session (%v)", err)
	}
	if got, err := s.Load(ctx, key); err != nil || string(got) != "new" {
		t.Fatalf("Load = %q, %v", got, err)
	}
}

func TestConcurrency(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	shared := sessions.NewKey()
	if err := s.Create(ctx, shared, []byte("0"), hour()); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errc := make(chan error, 1000)
	for g := range 16 {
		wg.Go(func() {
			own := sessions.NewKey()
			for i := range 40 {
				v := []byte(fmt.Sprintf("g%d-%d", g, i))
				switch i % 8 {
				case 0:
					if err := s.Create(ctx, own, v, hour()); err != nil && !errors.Is(err, sessions.ErrExists) {
						errc <- err
					}
				case 1, 2:
					if err := s.Update(ctx, shared, v, hour()); err != nil && !errors.Is(err, sessions.ErrNotFound) {
						errc <- err
					}
				case 3:
					if got, err := s.Load(ctx, shared); err == nil && !bytes.HasPrefix(got, []byte("g")) && string(got) != "0" {
						errc <- fmt.Errorf("torn read %q", got)
					} else if err != nil && !errors.Is(err, sessions.ErrNotFound) {
						errc <- err
					}
				case 4:
					if err := s.Touch(ctx, shared, hour()); err != nil && !errors.Is(err, sessions.ErrNotFound) {
						errc <- err
					}
				case 5:
					old, err := s.Load(ctx, shared)
					if err == nil {
						err = s.Swap(ctx, shared, old, v, hour())
					}
					if err != nil && !errors.Is(err, sessions.ErrNotFound) && !errors.Is(err, sessions.ErrConflict) {
						errc <- err
					}
				case 6:
					if g%4 == 0 {
						s.Delete(ctx, shared)
						s.Create(ctx, shared, v, hour())
					}
					if err := s.Update(ctx, own, v, hour()); err != nil {
						errc <- err
					}
				case 7:
					if got, err := s.Load(ctx, own); err != nil || !bytes.HasPrefix(got, []byte(fmt.Sprintf("g%d-", g))) {
						errc <- fmt.Errorf("own key: %q, %v", got, err)
					}
				}
			}
		})
	}
	wg.Go(func() {
		for range 5 {
			if _, err := s.DeleteExpired(ctx); err != nil {
				errc <- err
			}
			if err := s.List(ctx, func(string) bool { return true }); err != nil {
				errc <- err
			}
		}
	})
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	for _, n := range listDir(t, s.Dir()) {
		if strings.Contains(n, "_out_") {
			t.Errorf("temporary file %q left behind", n)
		}
	}
}

// TestSwapContentionWithoutLinks runs the suite's SwapContention case
// over the fallback for file systems without hard links, which the suite
// does not reach.
func TestSwapContentionWithoutLinks(t *testing.T) {
	s := newStore(t)
	s.noLink.Store(true)
	for round := range 20 {
		contendSwap(t, round, []*Store{s}, 12)
	}
}

// contendSwap creates a session, starts per concurrent swaps from its
// value through each of stores, and checks that exactly one wins.
func contendSwap(t *testing.T, round int, stores []*Store, per int) {
	t.Helper()
	ctx := context.Background()
	key := sessions.NewKey()
	if err := stores[0].Create(ctx, key, []byte("start"), hour()); err != nil {
		t.Fatal(err)
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, s := range stores {
		for j := range per {
			wg.Go(func() {
				<-start
				err := s.Swap(ctx, key, []byte("start"), []byte(fmt.Sprint("winner", i, j)), hour())
				switch {
				case err == nil:
					wins.Add(1)
				case !errors.Is(err, sessions.ErrConflict):
					t.Errorf("Swap: %v", err)
				}
			})
		}
	}
	close(start)
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("round %d: %d swaps from the same old value won (%d stores), want exactly 1", round, wins.Load(), len(stores))
	}
}

func TestConcurrentCreateSameKey(t *testing.T) {
	// Two stores over one directory stand for two processes: the hard
	// link makes exactly one Create win.
	ctx := context.Background()
	dir := newDir(t)
	var stores []*Store
	for range 4 {
		s, err := New(Options{Dir: dir, Codec: testCodec})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores = append(stores, s)
	}
	for round := range 30 {
		key := sessions.NewKey()
		var wins atomic.Int32
		var wg sync.WaitGroup
		for i, s := range stores {
			for j := range 3 {
				wg.Go(func() {
					err := s.Create(ctx, key, []byte(fmt.Sprint(i, j)), hour())
					switch {
					case err == nil:
						wins.Add(1)
					case !errors.Is(err, sessions.ErrExists):
						t.Errorf("Create: %v", err)
					}
				})
			}
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("round %d: %d creates won, want 1", round, wins.Load())
		}
	}
}

func TestRedundantSyncOff(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, func(o *Options) { o.NoSync = true })
	key := sessions.NewKey()
	if err := s.Create(ctx, key, []byte("v"), hour()); err != nil {
		t.Fatal(err)
	}
	if err := s.Touch(ctx, key, hour()); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, key, []byte("w"), hour()); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Load(ctx, key); err != nil || string(got) != "w" {
		t.Fatalf("Load = %q, %v", got, err)
	}
}

// Several stores over one directory stand for several processes: their
// in-process locks are separate, so only the file locks keep them apart.
func sharedStores(t *testing.T, n int) []*Store {
	t.Helper()
	if !crossProcessLocks {
		t.Skip("no flock on this platform: writes are serialized within a process only")
	}
	dir := newDir(t)
	var out []*Store
	for range n {
		s, err := New(Options{Dir: dir, Codec: testCodec})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		out = append(out, s)
	}
	return out
}

func TestCrossProcessSwap(t *testing.T) {
	stores := sharedStores(t, 4)
	for round := range 30 {
		contendSwap(t, round, stores, 3)
	}
}

func TestCrossProcessNoResurrection(t *testing.T) {
	ctx := context.Background()
	stores := sharedStores(t, 3)
	for round := range 40 {
		key := sessions.NewKey()
		if err := stores[0].Create(ctx, key, []byte("v"), hour()); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for _, s := range stores[:2] {
			wg.Go(func() {
				for deadline := time.Now().Add(5 * time.Second); ; {
					if time.Now().After(deadline) {
						t.Error("Update still succeeds long after Delete: the session keeps coming back")
						return
					}
					err := s.Update(ctx, key, []byte("updated"), hour())
					if errors.Is(err, sessions.ErrNotFound) {
						return
					}
					if err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Go(func() {
			time.Sleep(time.Duration(round%5) * time.Millisecond)
			if err := stores[2].Delete(ctx, key); err != nil {
				t.Error(err)
			}
		})
		wg.Wait()
		if got, err := stores[2].Load(ctx, key); !errors.Is(err, sessions.ErrNotFound) {
			t.Fatalf("round %d: a session deleted by one store was brought back by another: %q, %v", round, got, err)
		}
	}
}

func TestLockWaitHonoursContext(t *testing.T) {
	if !crossProcessLocks {
		t.Skip("no flock on this platform")
	}
	s := newStore(t)
	key := sessions.NewKey()
	if err := s.Create(context.Background(), key, []byte("v"), hour()); err != nil {
		t.Fatal(err)
	}
	// Another process holds the file's lock.
	other, err := os.Open(s.Path(key))
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := tryLock(other); !ok || err != nil {
		t.Fatalf("tryLock: %v %v", ok, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	for name, op := range map[string]func(context.Context) error{
		"Update": func(ctx context.Context) error { return s.Update(ctx, key, []byte("w"), hour()) },
		"Delete": func(ctx context.Context) error { return s.Delete(ctx, key) },
		"Touch":  func(ctx context.Context) error { return s.Touch(ctx, key, hour()) },
	} {
		if err := op(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s while another process holds the lock: %v, want DeadlineExceeded", name, err)
		}
	}
	// Released: the write goes through.
	other.Close()
	if err := s.Update(context.Background(), key, []byte("w"), hour()); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Load(context.Background(), key); string(got) != "w" {
		t.Fatalf("Load = %q", got)
	}
}
