package filestore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/internal/expiry"
)

// E7 of the reference: a file Django wrote for {"hello": "world"} with
// SECRET_KEY "django_tests_secret_key".
const (
	e7Key  = "abcdefghijklmnopqrstuvwxyz012345"
	e7Data = "eyJoZWxsbyI6IndvcmxkIn0:1r31eq:tWy-azdqKYIwu_o6Ht3nBxc5SvPyROA4n-zKWAcm4Cc"
)

func newManager(t *testing.T) (*sessions.Manager, *Store) {
	t.Helper()
	settings := sessions.DefaultSettings()
	settings.SecretKey = testSecret
	settings.FilePath = newDir(t)
	e, err := sessions.OpenEngine(context.Background(), "file", settings)
	if err != nil {
		t.Fatal(err)
	}
	m, err := sessions.New(e, settings)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, e.(*Store)
}

func isoExpiry(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05+00:00") }

func TestDjangoFilesAreRead(t *testing.T) {
	ctx := context.Background()
	age := sessions.DefaultCookieAge
	withISO := func(exp time.Time) string {
		d := &codec.Dict{}
		d.Set("hello", "world")
		d.Set(sessions.ExpiryKey, isoExpiry(exp))
		b, err := testCodec.Encode(d)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	now := time.Now()
	for _, tc := range []struct {
		name  string
		data  string
		mtime time.Time
		alive bool
	}{
		{"E7 with a fresh mtime", e7Data, now, true},
		{"E7 written a day ago", e7Data, now.Add(-24 * time.Hour), true},
		{"E7 with an mtime older than the cookie age", e7Data, now.Add(-age - time.Second), false},
		{"future ISO expiry beats an old mtime", withISO(now.Add(time.Hour)), now.Add(-age - time.Hour), true},
		{"past ISO expiry beats a fresh mtime", withISO(now.Add(-time.Minute)), now, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, s := newManager(t)
			writeFile(t, filepath.Join(s.Dir(), "sessionid"+e7Key), []byte(tc.data), tc.mtime)
			sess := m.Load(ctx, e7Key)
			got := sess.Get("hello")
			if err := sess.Err(); err != nil {
				t.Fatal(err)
			}
			if tc.alive {
				if got != "world" || sess.Key() != e7Key {
					t.Fatalf("session %q = %v, want hello=world under the same key", sess.Key(), got)
				}
				return
			}
			if got != nil || sess.Key() != "" {
				t.Fatalf("expired session loaded: key %q, hello=%v", sess.Key(), got)
			}
			// Load never writes: DeleteExpired removes the file.
			if _, err := os.Stat(filepath.Join(s.Dir(), "sessionid"+e7Key)); err != nil {
				t.Fatalf("the expired file is gone after Load: %v", err)
			}
		})
	}
}

// TestFilesAreDjangos checks what Django will compute from the files the
// Manager writes: the data decode with Django's codec, the mtime is the
// save time, and mtime + the cookie age (or the ISO expiry in the data)
// is the session's expiry.
func TestFilesAreDjangos(t *testing.T) {
	ctx := context.Background()
	m, s := newManager(t)
	age := m.Settings().CookieAge

	// savedNow saves sess and checks that the file's mtime is the save time.
	savedNow := func(sess *sessions.Session) {
		t.Helper()
		before := time.Now()
		if err := sess.Save(ctx); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(s.Path(sess.Key()))
		if err != nil {
			t.Fatal(err)
		}
		if mt := fi.ModTime(); mt.Before(before) || mt.After(time.Now()) {
			t.Fatalf("mtime %v is not the save time (%v)", mt, before)
		}
	}
	sess := m.NewSession(ctx)
	sess.Set("hello", "world")
	savedNow(sess)
	key := sess.Key()
	raw, err := os.ReadFile(s.Path(key))
	if err != nil {
		t.Fatal(err)
	}
	d, err := testCodec.Decode(raw)
	if err != nil {
		t.Fatalf("Django's codec cannot read the file: %v", err)
	}
	if v, _ := d.Get("hello"); v != "world" {
		t.Fatalf("file decodes to %v", d.Map())
	}
	fi, _ := os.Stat(s.Path(key))
	if diff := fi.ModTime().Add(age).Sub(sess.ExpiryDate()); diff < -time.Second || diff > time.Second {
		t.Fatalf("mtime + cookie age is %v off the session's expiry", diff)
	}

	// A relative custom expiry: mtime is still the save time, and the
	// engine's rule gives mtime + 5 min.
	sess = m.Load(ctx, key)
	sess.SetExpiry(5 * time.Minute)
	savedNow(sess)
	fi, _ = os.Stat(s.Path(key))
	if r, err := s.read("sessionid" + key); err != nil || !r.expiry.Equal(fi.ModTime().Add(5*time.Minute)) {
		t.Fatalf("after SetExpiry(5m), the engine's expiry is %v (%v), want mtime + 5m", r.expiry, err)
	}

	// An absolute custom expiry rules, as in Django; mtime is the save time.
	at := time.Now().Add(3 * time.Hour).Truncate(time.Second)
	sess = m.Load(ctx, key)
	sess.SetExpiryAt(at)
	savedNow(sess)
	if r, err := s.read("sessionid" + key); err != nil || !r.expiry.Equal(at) {
		t.Fatalf("after SetExpiryAt, the engine's expiry is %v (%v), want %v", r.expiry, err, at)
	}
	raw, _ = os.ReadFile(s.Path(key))
	if exp, ok := expiry.AbsoluteOfData(testCodec, raw); !ok || !exp.Equal(at) {
		t.Fatalf("data expiry %v %v, want %v", exp, ok, at)
	}

	// An expiry in the past: the Manager deletes the session.
	sess = m.Load(ctx, key)
	sess.SetExpiryAt(time.Now().Add(-time.Minute))
	if err := sess.Save(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.Path(key)); !os.IsNotExist(err) {
		t.Fatalf("expired session still stored: %v", err)
	}
}

func TestManagerSaveEveryRequestTouches(t *testing.T) {
	ctx := context.Background()
	m, s := newManager(t)
	sess := m.NewSession(ctx)
	sess.Set("n", 1)
	if err := sess.Save(ctx); err != nil {
		t.Fatal(err)
	}
	key := sess.Key()
	before, _ := os.ReadFile(s.Path(key))
	// Age the file, then save the unchanged session: only the mtime moves.
	old := time.Now().Add(-m.Settings().CookieAge + time.Minute)
	os.Chtimes(s.Path(key), old, old)
	sess = m.Load(ctx, key)
	if sess.Get("n") == nil {
		t.Fatal("session lost")
	}
	if err := sess.Save(ctx); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(s.Path(key))
	if string(after) != string(before) {
		t.Fatal("an unchanged save rewrote the data")
	}
	fi, _ := os.Stat(s.Path(key))
	if time.Since(fi.ModTime()) > time.Minute {
		t.Fatalf("mtime not moved: %v", fi.ModTime())
	}

	// Another request deletes the session; this one's save must not
	// bring it back.
	sess = m.Load(ctx, key)
	sess.Set("n", 2)
	if err := s.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if err := sess.Save(ctx); !errors.Is(err, sessions.ErrInterrupted) {
		t.Fatalf("save of a deleted session: %v, want ErrInterrupted", err)
	}
	if _, err := os.Stat(s.Path(key)); !os.IsNotExist(err) {
		t.Fatalf("deleted session resurrected: %v", err)
	}
}
