package filestore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/interop"
)

// These tests check that the file engine judges expiry by one rule,
// whoever wrote the file, against Django's own file engine (every version
// interop.Versions finds). Django's rule (backends/file.py, the same in
// 3.2, 4.2 and 5.2): expiry = the data's _session_expiry, or, when that is
// falsy, the file's mtime + SESSION_COOKIE_AGE; get_expiry_age of it <= 0
// means expired. Go follows it, with one deliberate difference: Django
// reads an integer _session_expiry (set_expiry(seconds), Go's SetExpiry)
// as an age that never runs down, so such a session never expires on
// Django's side; Go expires it that many seconds after the file's mtime,
// as Django's db and cache engines do.

// djangoFiles runs commands in Django's file engine over dir.
func djangoFiles(t *testing.T, dj interop.Django, dir string, cmds ...interop.Cmd) []interop.Result {
	t.Helper()
	all := append([]interop.Cmd{{"op": "configure", "settings": map[string]any{
		"SESSION_ENGINE":    "django.contrib.sessions.backends.file",
		"SESSION_FILE_PATH": dir,
		"SECRET_KEY":        testSecret,
	}}}, cmds...)
	res := dj.Run(t, all...)[1:]
	for i, r := range res {
		if e := r.Err(); e != "" {
			t.Fatalf("Django %s %v: %s: %v", dj.Version, cmds[i]["op"], e, r["message"])
		}
	}
	return res
}

// djangoAlive reports whether Django's load found the session under key
// (an expired one is deleted and replaced by a new, empty session).
func djangoAlive(r interop.Result, key string) bool {
	data, _ := r["data"].(map[string]any)
	return r["exists"] == true && r["key"] == key && len(data) > 0
}

// goAlive reports whether the engine returns the session under key.
func goAlive(t *testing.T, s *Store, key string) bool {
	t.Helper()
	_, err := s.Load(context.Background(), key)
	switch {
	case err == nil:
		return true
	case errors.Is(err, sessions.ErrNotFound):
		return false
	}
	t.Fatalf("Load: %v", err)
	return false
}

func mtime(t *testing.T, s *Store, key string) time.Time {
	t.Helper()
	fi, err := os.Stat(s.Path(key))
	if err != nil {
		t.Fatal(err)
	}
	return fi.ModTime()
}

// backdate moves the mtime of key's file back by d, as if it had been
// written d earlier.
func backdate(t *testing.T, s *Store, key string, d time.Duration) {
	t.Helper()
	setMtime(t, s, key, mtime(t, s, key).Add(-d))
}

func setMtime(t *testing.T, s *Store, key string, m time.Time) {
	t.Helper()
	if err := os.Chtimes(s.Path(key), m, m); err != nil {
		t.Fatal(err)
	}
}

// TestGoShortExpiryBothSides: a session Go saves with SetExpiry(1) has its
// file's mtime at the save time, is alive for Go and Django at once, and
// after 2 s is gone for Go (and for Go's DeleteExpired). Django keeps it:
// its file engine never expires an integer expiry (the documented
// difference), which the test asserts so that a Django that changes this
// is noticed.
func TestGoShortExpiryBothSides(t *testing.T) {
	for _, dj := range interop.Versions(t) {
		t.Run("django-"+dj.Major(), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			m, s := newManager(t)
			sess := m.NewSession(ctx)
			sess.Set("a", 1)
			sess.SetExpiry(time.Second)
			before := time.Now()
			if err := sess.Save(ctx); err != nil {
				t.Fatal(err)
			}
			after := time.Now()
			key := sess.Key()
			if mt := mtime(t, s, key); mt.Before(before) || mt.After(after) {
				t.Fatalf("mtime %v is not the save time (between %v and %v)", mt, before, after)
			}
			if !goAlive(t, s, key) {
				t.Fatal("Go does not load the session it just saved")
			}
			r := djangoFiles(t, dj, s.Dir(), interop.Cmd{"op": "session_load", "key": key})[0]
			if !djangoAlive(r, key) || fmt.Sprint(r["expiry_age"]) != "1" {
				t.Fatalf("Django's view of the fresh session: %v", r)
			}

			time.Sleep(time.Until(after.Add(2 * time.Second)))
			if goAlive(t, s, key) {
				t.Fatal("Go still loads a SetExpiry(1) session after 2 s")
			}
			if got := m.Load(ctx, key); got.Len() != 0 || got.Key() != "" || got.Err() != nil {
				t.Fatalf("the Manager still loads it: %q %v %v", got.Key(), got.Keys(), got.Err())
			}
			r = djangoFiles(t, dj, s.Dir(), interop.Cmd{"op": "session_load", "key": key})[0]
			if !djangoAlive(r, key) {
				t.Errorf("Django %s now expires an integer-expiry file session after its age (%v): drop the difference from the README and make Go agree", dj.Version, r)
			}
			if n, err := s.DeleteExpired(ctx); n != 1 || err != nil {
				t.Fatalf("DeleteExpired = %d, %v; want 1", n, err)
			}
			r = djangoFiles(t, dj, s.Dir(), interop.Cmd{"op": "session_load", "key": key})[0]
			if djangoAlive(r, key) {
				t.Fatal("Django loads the session Go's DeleteExpired removed")
			}
		})
	}
}

// TestDjangoExpiriesAgree: sessions Django's file engine writes, with each
// kind of expiry and files of various ages, are alive for Go's Load, List
// and DeleteExpired exactly when Django's load finds them alive (but for
// the integer-expiry difference).
func TestDjangoExpiriesAgree(t *testing.T) {
	age := sessions.DefaultCookieAge
	type tc struct {
		name      string
		cmd       interop.Cmd   // session_create arguments besides data
		age       time.Duration // how long ago the file was written
		iso       bool          // needs a Django that reads ISO expiries (4.1+)
		goAlive   bool
		djAlive   bool
		different bool // the documented difference: Django never expires an integer expiry
	}
	now := time.Now()
	cases := []tc{
		{name: "default fresh", goAlive: true, djAlive: true},
		{name: "default a day old", age: 24 * time.Hour, goAlive: true, djAlive: true},
		{name: "default older than the cookie age", age: age + time.Minute},
		{name: "browser-close fresh", cmd: interop.Cmd{"expiry": 0}, goAlive: true, djAlive: true},
		{name: "browser-close older than the cookie age", cmd: interop.Cmd{"expiry": 0}, age: age + time.Minute},
		{name: "3600 s fresh", cmd: interop.Cmd{"expiry": 3600}, goAlive: true, djAlive: true},
		{name: "3600 s written 55 min ago", cmd: interop.Cmd{"expiry": 3600}, age: 55 * time.Minute, goAlive: true, djAlive: true},
		{name: "3600 s written 2 h ago", cmd: interop.Cmd{"expiry": 3600}, age: 2 * time.Hour, djAlive: true, different: true},
		{name: "3600 s older than the cookie age", cmd: interop.Cmd{"expiry": 3600}, age: age + time.Minute, djAlive: true, different: true},
		{name: "negative", cmd: interop.Cmd{"expiry": -10}},
		{name: "ISO in an hour, file older than the cookie age", cmd: interop.Cmd{"expiry_at": isoExpiry(now.Add(time.Hour))},
			age: age + time.Hour, iso: true, goAlive: true, djAlive: true},
		{name: "ISO a minute ago, fresh file", cmd: interop.Cmd{"expiry_at": isoExpiry(now.Add(-time.Minute))}, iso: true},
	}
	for _, dj := range interop.Versions(t) {
		t.Run("django-"+dj.Major(), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			_, s := newManager(t)
			var run []tc
			var cmds []interop.Cmd
			for _, c := range cases {
				if c.iso && !dj.ReadsISOExpiry() {
					continue
				}
				run = append(run, c)
				// Two copies: one for Django's load, which deletes what
				// it finds expired, one for Go's DeleteExpired.
				for range 2 {
					cmd := interop.Cmd{"op": "session_create", "data": map[string]any{"case": c.name}}
					for k, v := range c.cmd {
						cmd[k] = v
					}
					cmds = append(cmds, cmd)
				}
			}
			res := djangoFiles(t, dj, s.Dir(), cmds...)
			keys := make([][2]string, len(run))
			for i := range run {
				for j := range 2 {
					keys[i][j], _ = res[2*i+j]["key"].(string)
					backdate(t, s, keys[i][j], run[i].age)
				}
			}
			listed := map[string]bool{}
			if err := s.List(ctx, func(k string) bool { listed[k] = true; return true }); err != nil {
				t.Fatal(err)
			}
			for i, c := range run {
				for _, k := range keys[i] {
					if got := goAlive(t, s, k); got != c.goAlive {
						t.Errorf("%s: Go's Load alive = %v, want %v", c.name, got, c.goAlive)
					}
					if listed[k] != c.goAlive {
						t.Errorf("%s: List reports it %v, want %v", c.name, listed[k], c.goAlive)
					}
				}
			}
			var loads []interop.Cmd
			for i := range run {
				loads = append(loads, interop.Cmd{"op": "session_load", "key": keys[i][0]})
			}
			res = djangoFiles(t, dj, s.Dir(), loads...)
			for i, c := range run {
				if got := djangoAlive(res[i], keys[i][0]); got != c.djAlive {
					t.Errorf("%s: Django's load alive = %v, want %v (%v)", c.name, got, c.djAlive, res[i])
				}
				if c.goAlive != c.djAlive && !c.different {
					t.Errorf("%s: the test expects Go and Django to differ", c.name)
				}
			}
			if _, err := s.DeleteExpired(ctx); err != nil {
				t.Fatal(err)
			}
			for i, c := range run {
				_, err := os.Stat(s.Path(keys[i][1]))
				if kept := err == nil; kept != c.goAlive {
					t.Errorf("%s: after DeleteExpired the file is there = %v, want %v", c.name, kept, c.goAlive)
				}
			}
		})
	}
}

// TestExpiryIgnoresTheWriter: a session written by one side and rewritten
// by the other keeps one expiry rule. Go's SetExpiry(1h) session, changed
// by Django (mtime = Django's save time), is gone for Go an hour after
// that save; Django's set_expiry(60) session, changed by Go, gets the save
// time as mtime, as Django would give it.
func TestExpiryIgnoresTheWriter(t *testing.T) {
	for _, dj := range interop.Versions(t) {
		t.Run("django-"+dj.Major(), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			m, s := newManager(t)

			g := m.NewSession(ctx)
			g.Set("by", "go")
			g.SetExpiry(time.Hour)
			if err := g.Save(ctx); err != nil {
				t.Fatal(err)
			}
			before := time.Now()
			djangoFiles(t, dj, s.Dir(), interop.Cmd{"op": "session_update", "key": g.Key(), "set": map[string]any{"django": true}})
			if mt := mtime(t, s, g.Key()); mt.Before(before) || mt.After(time.Now()) {
				t.Fatalf("Django's save left mtime %v", mt)
			}
			if !goAlive(t, s, g.Key()) {
				t.Fatal("Go lost the session Django just saved")
			}
			// As if Django had saved it 61 and 59 minutes ago.
			setMtime(t, s, g.Key(), time.Now().Add(-61*time.Minute))
			if goAlive(t, s, g.Key()) {
				t.Error("Go loads a SetExpiry(1h) session 61 min after Django saved it")
			}
			setMtime(t, s, g.Key(), time.Now().Add(-59*time.Minute))
			if !goAlive(t, s, g.Key()) {
				t.Error("Go refuses a SetExpiry(1h) session 59 min after Django saved it")
			}

			key := djangoFiles(t, dj, s.Dir(), interop.Cmd{"op": "session_create", "data": map[string]any{"by": "django"}, "expiry": 60})[0]["key"].(string)
			sess := m.Load(ctx, key)
			if sess.Get("by") != "django" || sess.ExpiryAge() != time.Minute {
				t.Fatalf("Go read %v, age %v", sess.Keys(), sess.ExpiryAge())
			}
			sess.Set("go", true)
			before = time.Now()
			if err := sess.Save(ctx); err != nil {
				t.Fatal(err)
			}
			if mt := mtime(t, s, key); mt.Before(before) || mt.After(time.Now()) {
				t.Fatalf("Go's save of Django's session left mtime %v, not the save time", mt)
			}
			r := djangoFiles(t, dj, s.Dir(), interop.Cmd{"op": "session_load", "key": key})[0]
			if !djangoAlive(r, key) || r["data"].(map[string]any)["go"] != true || fmt.Sprint(r["expiry_age"]) != "60" {
				t.Fatalf("Django reads back %v", r)
			}
		})
	}
}

// TestMtimeFollowsTheRule checks, without Django, the mtime every write
// path gives a file: the save time whenever the expiry the Manager passes
// is the one the data imply (mtime + their lifetime); when it is sooner
// (an idle timeout), the mtime is moved back so that the rule yields
// exactly that expiry; data with an absolute expiry keep the save time,
// since the rule reads no mtime for them.
func TestMtimeFollowsTheRule(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC)
	s := newStore(t, func(o *Options) { o.Now = func() time.Time { return now } })
	age := sessions.DefaultCookieAge
	enc := func(expiry any) []byte {
		d := &codec.Dict{}
		d.Set("a", 1)
		if expiry != nil {
			d.Set(sessions.ExpiryKey, expiry)
		}
		b, err := testCodec.Encode(d)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	abs := now.Add(3 * time.Hour)
	for _, c := range []struct {
		name       string
		data       []byte
		expiry     time.Time // what the Manager passes
		wantMtime  time.Time
		wantExpiry time.Time // what the engine then reads back
	}{
		{"default", enc(nil), now.Add(age), now, now.Add(age)},
		{"default, idle timeout of an hour", enc(nil), now.Add(time.Hour), now.Add(time.Hour - age), now.Add(time.Hour)},
		{"browser close", enc(int64(0)), now.Add(age), now, now.Add(age)},
		{"relative 600 s", enc(int64(600)), now.Add(10 * time.Minute), now, now.Add(10 * time.Minute)},
		{"relative 600 s, idle timeout of 60 s", enc(int64(600)), now.Add(time.Minute), now.Add(-9 * time.Minute), now.Add(time.Minute)},
		{"absolute", enc(isoformatUS(abs)), abs, now, abs},
		// The rule has no place for a sooner expiry: the data's date rules.
		{"absolute, idle timeout of an hour", enc(isoformatUS(abs)), now.Add(time.Hour), now, abs},
		{"undecodable data", []byte("not signed"), now.Add(time.Hour), now.Add(time.Hour - age), now.Add(time.Hour)},
		{"empty placeholder", nil, now.Add(age), now, now.Add(age)},
	} {
		t.Run(c.name, func(t *testing.T) {
			key0 := sessions.NewKey()
			check := func(op string) {
				t.Helper()
				if mt := mtime(t, s, key0); !mt.Equal(c.wantMtime) {
					t.Errorf("%s: mtime %v, want %v", op, mt, c.wantMtime)
				}
				r, err := s.read("sessionid" + key0)
				if err != nil || !r.expiry.Equal(c.wantExpiry) {
					t.Errorf("%s: expiry read back %v (%v), want %v", op, r.expiry, err, c.wantExpiry)
				}
			}
			if err := s.Create(ctx, key0, c.data, c.expiry); err != nil {
				t.Fatal(err)
			}
			check("Create")
			if err := s.Update(ctx, key0, c.data, c.expiry); err != nil {
				t.Fatal(err)
			}
			check("Update")
			if err := s.Swap(ctx, key0, c.data, c.data, c.expiry); err != nil {
				t.Fatal(err)
			}
			check("Swap")
			backdate(t, s, key0, 10*time.Second)
			if err := s.Touch(ctx, key0, c.expiry); err != nil {
				t.Fatal(err)
			}
			check("Touch")
		})
	}
}

// isoformatUS writes t as Python's isoformat with microseconds.
func isoformatUS(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000+00:00")
}
