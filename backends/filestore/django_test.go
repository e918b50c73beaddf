package filestore

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/interop"
)

// djangoScript runs Django's own file engine over a directory: it reads
// a JSON list of commands on stdin and prints a JSON list of results.
const djangoScript = `
import json, sys
import django
from django.conf import settings
settings.configure(
    SECRET_KEY=sys.argv[2], SESSION_FILE_PATH=sys.argv[1], USE_TZ=True,
    SESSION_ENGINE="django.contrib.sessions.backends.file",
    INSTALLED_APPS=["django.contrib.sessions"],
)
django.setup()
from django.contrib.sessions.backends.file import SessionStore
out = []
for cmd in json.load(sys.stdin):
    op = cmd["op"]
    if op == "load":
        s = SessionStore(session_key=cmd["key"])
        data = dict(s.items())
        out.append({"data": data, "key": s.session_key, "age": s.get_expiry_age()})
    elif op == "exists":
        out.append({"exists": SessionStore().exists(cmd["key"])})
    elif op == "save":
        s = SessionStore()
        s.update(cmd["data"])
        if "expiry" in cmd:
            s.set_expiry(cmd["expiry"])
        s.save()
        out.append({"key": s.session_key})
    elif op == "clear_expired":
        SessionStore.clear_expired()
        out.append({})
print(json.dumps(out))
`

type djangoResult struct {
	Data   map[string]any `json:"data"`
	Key    *string        `json:"key"`
	Age    float64        `json:"age"`
	Exists bool           `json:"exists"`
}

func runDjango(t *testing.T, v interop.Django, dir string, cmds ...map[string]any) []djangoResult {
	t.Helper()
	in, _ := json.Marshal(cmds)
	cmd := v.Command(context.Background(), "-c", djangoScript, dir, testSecret)
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("django: %v\n%s", err, stderr)
	}
	var res []djangoResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("django output %q: %v", out, err)
	}
	return res
}

// TestRealDjango shares a directory between a Manager over this engine
// and Django's own file engine (every version interop.Versions finds:
// 5.2, 4.2 and 3.2), both ways.
func TestRealDjango(t *testing.T) {
	for _, v := range interop.Versions(t) {
		t.Run("django-"+v.Major(), func(t *testing.T) { testRealDjango(t, v) })
	}
}

func testRealDjango(t *testing.T, v interop.Django) {
	ctx := context.Background()
	// Django 3.2 cannot read an ISO _session_expiry (it stores datetimes
	// it cannot serialize); only 4.1 and later can.
	iso := v.ReadsISOExpiry()
	m, s := newManager(t)
	dir := s.Dir()
	age := m.Settings().CookieAge.Seconds()

	// Sessions written by Go.
	plain := m.NewSession(ctx)
	plain.Set("hello", "go")
	absolute := m.NewSession(ctx)
	absolute.Set("n", 2)
	absolute.SetExpiryAt(time.Now().Add(time.Hour))
	for _, sess := range []*sessions.Session{plain, absolute} {
		if err := sess.Save(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if !iso {
		// Stands in for the absolute one: a relative expiry of an hour.
		absolute.SetExpiry(time.Hour)
		if err := absolute.Save(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// One the store holds with an expiry already passed: the file is
	// still there (Load never writes), with an mtime that Django reads as
	// expired.
	expiredKey := sessions.NewKey()
	enc, _ := m.Codec().Encode(&codec.Dict{})
	if err := s.Create(ctx, expiredKey, enc, time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}

	ran := time.Now()
	res := runDjango(t, v, dir,
		map[string]any{"op": "load", "key": plain.Key()},
		map[string]any{"op": "load", "key": absolute.Key()},
		map[string]any{"op": "exists", "key": plain.Key()},
		map[string]any{"op": "save", "data": map[string]any{"from": "django"}},
		map[string]any{"op": "save", "data": map[string]any{"from": "django", "short": true}, "expiry": 3600},
	)
	if got := res[0].Data["hello"]; got != "go" || res[0].Key == nil || *res[0].Key != plain.Key() {
		t.Fatalf("Django read %v under %v, want hello=go under the same key", res[0].Data, res[0].Key)
	}
	if math.Abs(res[0].Age-age) > 5 {
		t.Errorf("Django's expiry age %v, want about %v", res[0].Age, age)
	}
	// The absolute expiry counts down while Django starts (seconds on a
	// busy machine); the relative one does not.
	if slack := time.Since(ran).Seconds() + 2; res[1].Data["n"] != float64(2) || res[1].Age > 3600 || res[1].Age < 3600-slack {
		t.Errorf("Django read %v with age %v, want n=2 and about 3600 s", res[1].Data, res[1].Age)
	}
	if !res[2].Exists {
		t.Error("Django's exists() is false for a Go session")
	}
	djangoKey, djangoShort := *res[3].Key, *res[4].Key

	// Sessions written by Django.
	for _, k := range []string{djangoKey, djangoShort} {
		sess := m.Load(ctx, k)
		if sess.Get("from") != "django" || sess.Key() != k {
			t.Fatalf("Go read %v under %q from Django's file", sess.Get("from"), sess.Key())
		}
	}
	// Django's file for a 3600 s session: mtime = now, _session_expiry =
	// 3600; Go sees it alive until mtime + 3600 s (expiry_test.go).
	if _, err := s.Load(ctx, djangoShort); err != nil {
		t.Fatal(err)
	}

	// Go's DeleteExpired removes only the expired one; Django's
	// clear_expired agrees that the rest are alive.
	n, err := s.DeleteExpired(ctx)
	if err != nil || n != 1 {
		t.Fatalf("DeleteExpired = %d, %v; want 1", n, err)
	}
	runDjango(t, v, dir, map[string]any{"op": "clear_expired"})
	for _, k := range []string{plain.Key(), absolute.Key(), djangoKey, djangoShort} {
		if _, err := os.Stat(filepath.Join(dir, "sessionid"+k)); err != nil {
			t.Errorf("a live session was removed: %v", err)
		}
	}

	// A Go session whose mtime says expired to Django: Django refuses it
	// (and, being Django, deletes the file and starts a new session).
	gone := m.NewSession(ctx)
	gone.Set("x", 1)
	gone.Save(ctx)
	if err := s.Touch(ctx, gone.Key(), time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	res = runDjango(t, v, dir, map[string]any{"op": "load", "key": gone.Key()})
	if len(res[0].Data) != 0 {
		t.Fatalf("Django loaded an expired Go session: %v", res[0].Data)
	}
}
