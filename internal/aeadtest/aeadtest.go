// Package aeadtest holds the encryption-at-rest cases that every engine's
// tests run (Settings.EncryptionKeys, package codec/aead): the whole
// Manager conformance suite with encryption on, a store that holds no
// plaintext (read by the store's own means: a SQL query, the file, a Redis
// GET), key rotation, and tampering.
package aeadtest

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/conformance"
)

// The encryption keys of the cases.
const (
	KeyOld = "aeadtest-old-key-0123456789abcdefghijklmn"
	KeyNew = "aeadtest-new-key-0123456789abcdefghijklmn"
)

// Marker is a value the cases store in sessions; no form of it may be
// found in the store.
const Marker = "sessionkit-plaintext-marker-3b9e"

// Target describes an engine to the cases.
type Target struct {
	// Harness gives fresh engines, as for conformance.RunManager.
	// Configure is replaced.
	Harness conformance.Harness
	// Stored returns every copy of a session's data the store holds
	// (cached_db: the row and the cache's copy), read by the store's own
	// means rather than through the engine where possible. It fails t
	// when a copy it expects is missing. For a client-side engine it
	// returns the cookie value, which is the key.
	Stored func(t *testing.T, e sessions.Backend, key string) [][]byte
}

// Run runs every case against t.
func Run(t *testing.T, tg Target) {
	t.Run("Manager", func(t *testing.T) {
		h := tg.Harness
		h.Configure = func(s *sessions.Settings) { s.EncryptionKeys = []string{KeyNew} }
		conformance.RunManager(t, h)
	})
	t.Run("NoPlaintext", func(t *testing.T) { noPlaintext(t, tg) })
	t.Run("Rotation", func(t *testing.T) { rotation(t, tg) })
	t.Run("Tamper", func(t *testing.T) { tamper(t, tg) })
}

// manager returns a Manager over e with the given encryption keys (none:
// Django's formats).
func manager(t *testing.T, e sessions.Backend, logs io.Writer, keys ...string) *sessions.Manager {
	t.Helper()
	s := sessions.DefaultSettings()
	s.SecretKey = conformance.SecretKey
	s.EncryptionKeys = keys
	if logs == nil {
		logs = io.Discard
	}
	s.Logger = slog.New(slog.NewTextHandler(logs, nil))
	m, err := sessions.New(e, s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func save(t *testing.T, m *sessions.Manager, values map[string]any) string {
	t.Helper()
	s := m.NewSession(context.Background())
	s.Update(values)
	if err := s.Save(context.Background()); err != nil {
		t.Fatalf("save: %v", err)
	}
	return s.Key()
}

func client(e sessions.Backend) bool {
	_, ok := e.(sessions.ClientSide)
	return ok
}

// noPlaintext stores the marker through an encrypting Manager, checks
// every stored copy after a create and an update, and checks that the
// same check finds the marker in what an unencrypted Manager stores.
func noPlaintext(t *testing.T, tg Target) {
	ctx := context.Background()
	e := tg.Harness.New(t)
	m := manager(t, e, nil, KeyNew)
	values := map[string]any{"secret": Marker, "profile": map[string]any{"email": Marker + "@example.com"}}
	key := save(t, m, values)
	check := func(stage string) {
		t.Helper()
		copies := tg.Stored(t, e, key)
		if len(copies) == 0 {
			t.Fatalf("%s: the store holds no copy", stage)
		}
		for i, c := range copies {
			if where := Revealed(c, Marker); where != "" {
				t.Errorf("%s: copy %d shows the data (%s): %.80q", stage, i, where, c)
			}
			d, err := m.Codec().Decode(c)
			if err != nil {
				t.Errorf("%s: copy %d does not decrypt (the test reads the wrong place?): %v", stage, i, err)
				continue
			}
			if v, _ := d.Get("secret"); v != Marker {
				t.Errorf("%s: copy %d holds %v", stage, i, d.Keys())
			}
		}
	}
	check("create")

	s := m.Load(ctx, key)
	s.Set("more", Marker+"-2")
	if err := s.Save(ctx); err != nil {
		t.Fatal(err)
	}
	key = s.Key()
	check("update")

	// Without the keys, nothing: not a session, not an error.
	plain := manager(t, e, nil)
	if p := plain.Load(ctx, key); p.Len() != 0 || p.Err() != nil {
		t.Errorf("a Manager without the keys read %d entries, error %v", p.Len(), p.Err())
	}

	// Control: the same check finds the data stored unencrypted, so it
	// can fail.
	pkey := save(t, plain, values)
	for i, c := range tg.Stored(t, e, pkey) {
		if Revealed(c, Marker) == "" {
			t.Errorf("control: unencrypted copy %d does not show the marker: %.80q", i, c)
		}
	}
}

// Revealed reports where marker can be read in a stored value: as is, or
// after the URL-safe base64 and zlib of Django's signed format. It returns
// "" when it cannot.
func Revealed(b []byte, marker string) string {
	if bytes.Contains(b, []byte(marker)) {
		return "as is"
	}
	for _, part := range strings.Split(string(b), ":") {
		part = strings.TrimPrefix(part, ".")
		raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(part, "="))
		if err != nil {
			continue
		}
		if bytes.Contains(raw, []byte(marker)) {
			return "base64"
		}
		if zr, err := zlib.NewReader(bytes.NewReader(raw)); err == nil {
			if out, _ := io.ReadAll(io.LimitReader(zr, 1<<24)); bytes.Contains(out, []byte(marker)) {
				return "base64 + zlib"
			}
		}
		if out, _ := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(raw)), 1<<24)); bytes.Contains(out, []byte(marker)) {
			return "base64 + deflate"
		}
	}
	return ""
}

// rotation: an old key listed after the new one still decrypts, new
// writes use the new key, and once the old key is removed its sessions are
// no session (never an error, never a 500).
func rotation(t *testing.T, tg Target) {
	ctx := context.Background()
	e := tg.Harness.New(t)
	mOld := manager(t, e, nil, KeyOld)
	keyA := save(t, mOld, map[string]any{"user": "ann"})
	keyB := save(t, mOld, map[string]any{"user": "bob"})

	mRot := manager(t, e, nil, KeyNew, KeyOld)
	a := mRot.Load(ctx, keyA)
	if a.Get("user") != "ann" || a.Err() != nil {
		t.Fatalf("old key as fallback: %v, error %v", a.Keys(), a.Err())
	}
	a.Set("visits", 2)
	if err := a.Save(ctx); err != nil {
		t.Fatal(err)
	}
	keyA = a.Key()

	mNew := manager(t, e, nil, KeyNew)
	if got := mNew.Load(ctx, keyA); got.Get("user") != "ann" || got.Get("visits") != int64(2) {
		t.Errorf("a session saved after the rotation is not under the new key: %v, error %v", got.Keys(), got.Err())
	}
	if got := mOld.Load(ctx, keyA); got.Len() != 0 {
		t.Error("a session saved after the rotation is still under the old key")
	}

	// B was never saved again: with the old key removed it is no session.
	if b := mNew.Load(ctx, keyB); b.Len() != 0 || b.Err() != nil {
		t.Errorf("removed key: %d entries, error %v", b.Len(), b.Err())
	}
	var seen = -1
	res := serve(mNew, keyB, func(s *sessions.Session) { seen = s.Len(); s.Set("fresh", true) })
	if res.StatusCode != http.StatusOK || seen != 0 {
		t.Errorf("request with a session under a removed key: status %d, %d entries", res.StatusCode, seen)
	}
	if c := cookie(res); c == nil || c.Value == keyB {
		t.Errorf("the session under a removed key was adopted or not replaced: %v", c)
	}
}

// tamper changes stored bytes at many places: each change gives no
// session, and a request with it gets a 200 and a new session.
func tamper(t *testing.T, tg Target) {
	ctx := context.Background()
	e := tg.Harness.New(t)
	var logs bytes.Buffer
	m := manager(t, e, &logs, KeyNew)
	key := save(t, m, map[string]any{"secret": Marker, "n": 1})
	var stored []byte
	if client(e) {
		stored = []byte(key)
	} else {
		var err error
		if stored, err = e.(sessions.Engine).Load(ctx, key); err != nil {
			t.Fatal(err)
		}
	}
	// Every byte of the header, nonce and first blocks, then a spread.
	var places []int
	for i := 0; i < len(stored); i++ {
		if i < 48 || i%(len(stored)/16+1) == 0 || i == len(stored)-1 {
			places = append(places, i)
		}
	}
	load := func(v []byte) *sessions.Session {
		if client(e) {
			return m.Load(ctx, string(v))
		}
		if err := e.(sessions.Engine).Update(ctx, key, v, time.Now().Add(time.Hour)); err != nil {
			t.Fatalf("writing the tampered value: %v", err)
		}
		return m.Load(ctx, key)
	}
	for n, i := range places {
		v := bytes.Clone(stored)
		v[i] ^= byte(1 << (n % 5)) // one bit, a different one each time
		if s := load(v); s.Len() != 0 || s.Err() != nil {
			t.Fatalf("byte %d changed: %d entries, error %v", i, s.Len(), s.Err())
		}
	}
	if s := load(stored[:len(stored)/2]); s.Len() != 0 || s.Err() != nil {
		t.Fatalf("truncated: %d entries, error %v", s.Len(), s.Err())
	}
	v := bytes.Clone(stored)
	v[len(v)/2] ^= 1
	if client(e) {
		key = string(v)
	} else if err := e.(sessions.Engine).Update(ctx, key, v, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	res := serve(m, key, func(s *sessions.Session) {})
	if res.StatusCode != http.StatusOK {
		t.Errorf("request with a tampered session: status %d", res.StatusCode)
	}
	if !strings.Contains(logs.String(), "Session data corrupted") {
		t.Errorf("tampering was not logged: %s", logs.String())
	}
	// Untouched, it still loads.
	if !client(e) {
		if err := e.(sessions.Engine).Update(ctx, key, stored, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	} else {
		key = string(stored)
	}
	if s := m.Load(ctx, key); s.Get("secret") != Marker {
		t.Errorf("the original value no longer loads: %v %v", s.Keys(), s.Err())
	}
}

func serve(m *sessions.Manager, key string, fn func(*sessions.Session)) *http.Response {
	req := httptest.NewRequest("GET", "http://example.com/", nil)
	req.AddCookie(&http.Cookie{Name: m.Settings().CookieName, Value: key})
	rec := httptest.NewRecorder()
	m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fn(sessions.FromContext(r.Context()))
	})).ServeHTTP(rec, req)
	return rec.Result()
}

func cookie(res *http.Response) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == sessions.DefaultCookieName {
			return c
		}
	}
	return nil
}
