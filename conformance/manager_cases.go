package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/signing"
)

// SecretKey is the SECRET_KEY RunManager uses: the one in Django's own
// test settings, so vectors from Django's suite apply.
const SecretKey = "django_tests_secret_key"

// mgr is what a manager case gets.
type mgr struct {
	t      *testing.T
	h      Harness
	ctx    context.Context
	engine sessions.Backend
	client bool
	logs   *logBuffer
}

// settings returns the default settings of the suite.
func (c *mgr) settings() sessions.Settings {
	s := sessions.DefaultSettings()
	s.SecretKey = SecretKey
	s.Logger = newLogger(c.logs)
	if c.h.Configure != nil {
		c.h.Configure(&s)
	}
	return s
}

func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// manager returns a Manager over the case's engine with settings changed
// by fn.
func (c *mgr) manager(fn func(*sessions.Settings)) *sessions.Manager {
	c.t.Helper()
	s := c.settings()
	if fn != nil {
		fn(&s)
	}
	m, err := sessions.New(c.engine, s)
	if err != nil {
		c.t.Fatalf("sessions.New: %v", err)
	}
	return m
}

// eng returns the case's engine as a server-side engine (server-only
// cases).
func (c *mgr) eng() sessions.Engine { return asEngine(c.t, c.engine) }

// saved returns the key (cookie value) of a saved session holding values.
func (c *mgr) saved(m *sessions.Manager, values map[string]any) string {
	c.t.Helper()
	s := m.NewSession(c.ctx)
	for k, v := range values {
		s.Set(k, v)
	}
	if err := s.Save(c.ctx); err != nil {
		c.t.Fatalf("Save: %v", err)
	}
	if s.Key() == "" {
		c.t.Fatal("Save left the session without a key")
	}
	return s.Key()
}

// serve runs one request through m.Handler(h) with an optional session
// cookie.
func (c *mgr) serve(m *sessions.Manager, h http.HandlerFunc, cookie string) *http.Response {
	c.t.Helper()
	req := httptest.NewRequest("GET", "http://example.com/", nil)
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: m.Settings().CookieName, Value: cookie})
	}
	rec := httptest.NewRecorder()
	m.Handler(h).ServeHTTP(rec, req)
	return rec.Result()
}

// sessionCookie returns the Set-Cookie for the session cookie, or nil.
func sessionCookie(res *http.Response, name string) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func rawSetCookie(res *http.Response, name string) string {
	for _, v := range res.Header.Values("Set-Cookie") {
		if strings.HasPrefix(v, name+"=") {
			return v
		}
	}
	return ""
}

func hasVaryCookie(res *http.Response) bool {
	for _, v := range res.Header.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), "Cookie") {
				return true
			}
		}
	}
	return false
}

type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

type managerCase struct {
	name   string
	reason string
	// serverOnly cases need server-side storage (skipped for ClientSide).
	serverOnly bool
	run        func(c *mgr)
}

// RunManager runs the Manager, Session and middleware cases over engines
// from h: Django's SessionTestsMixin and SessionMiddlewareTests, plus the
// rules this module adds (no fixation, no 500 on bad input, no lost
// updates where the engine can swap). Each case gets a fresh engine.
func RunManager(t *testing.T, h Harness) {
	t.Helper()
	cases := managerCases()
	cases = append(cases, fidelityCases()...)
	cases = append(cases, interleaveCases()...)
	for _, mc := range cases {
		t.Run(mc.name, func(t *testing.T) {
			if mc.serverOnly && h.Caps.ClientSide {
				t.Skipf("%s: signed-cookie sessions keep no server state", mc.reason)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			c := &mgr{t: t, h: h, ctx: ctx, engine: h.New(t), client: h.Caps.ClientSide, logs: &logBuffer{}}
			mc.run(c)
			if t.Failed() {
				t.Logf("rule: %s", mc.reason)
			}
		})
	}
	t.Logf("conformance: %d manager cases", len(cases))
}

func managerCases() []managerCase {
	return []managerCase{
		// Django's SessionTestsMixin.
		{name: "NewSession", reason: "a new session is neither modified nor accessed (test_new_session)", run: func(c *mgr) {
			s := c.manager(nil).NewSession(c.ctx)
			if s.Modified() || s.Accessed() {
				c.t.Errorf("Modified=%v Accessed=%v, want false false", s.Modified(), s.Accessed())
			}
		}},
		{name: "GetEmpty", reason: "Get on an empty session returns nil (test_get_empty)", run: func(c *mgr) {
			if v := c.manager(nil).NewSession(c.ctx).Get("cat"); v != nil {
				c.t.Errorf("Get = %v", v)
			}
		}},
		{name: "Store", reason: "Set marks modified and Pop returns the value (test_store)", run: func(c *mgr) {
			s := c.manager(nil).NewSession(c.ctx)
			s.Set("cat", "dog")
			if !s.Modified() {
				c.t.Error("not modified after Set")
			}
			if v, _ := s.Pop("cat"); v != "dog" {
				c.t.Errorf("Pop = %v", v)
			}
		}},
		{name: "Pop", reason: "Pop of a present key returns it and marks accessed and modified (test_pop)", run: func(c *mgr) {
			m := c.manager(nil)
			s := m.Load(c.ctx, c.saved(m, map[string]any{"some key": "exists"}))
			v, ok := s.Pop("some key")
			if v != "exists" || !ok || !s.Accessed() || !s.Modified() || s.Has("some key") {
				c.t.Errorf("Pop = %v,%v accessed=%v modified=%v", v, ok, s.Accessed(), s.Modified())
			}
		}},
		{name: "PopDefault", reason: "Pop of a missing key marks accessed but not modified (test_pop_default)", run: func(c *mgr) {
			m := c.manager(nil)
			s := m.Load(c.ctx, c.saved(m, map[string]any{"x": 1}))
			v, ok := s.Pop("some key")
			if v != nil || ok || !s.Accessed() || s.Modified() {
				c.t.Errorf("Pop = %v,%v accessed=%v modified=%v", v, ok, s.Accessed(), s.Modified())
			}
		}},
		{name: "SetDefault", reason: "SetDefault inserts once and then returns the stored value (test_setdefault)", run: func(c *mgr) {
			s := c.manager(nil).NewSession(c.ctx)
			if v := s.SetDefault("foo", "bar"); v != "bar" {
				c.t.Errorf("first SetDefault = %v", v)
			}
			if v := s.SetDefault("foo", "baz"); v != "bar" {
				c.t.Errorf("second SetDefault = %v", v)
			}
			if !s.Accessed() || !s.Modified() {
				c.t.Error("flags not set")
			}
		}},
		{name: "SetDefaultExisting", reason: "SetDefault on a present key does not mark modified", run: func(c *mgr) {
			m := c.manager(nil)
			s := m.Load(c.ctx, c.saved(m, map[string]any{"foo": "bar"}))
			if v := s.SetDefault("foo", "baz"); v != "bar" || s.Modified() {
				c.t.Errorf("SetDefault = %v, modified=%v", v, s.Modified())
			}
		}},
		{name: "Update", reason: "Update marks accessed and modified, even with nothing to add (test_update)", run: func(c *mgr) {
			s := c.manager(nil).NewSession(c.ctx)
			s.Update(map[string]any{"update key": 1})
			if !s.Accessed() || !s.Modified() || s.Get("update key") != 1 {
				c.t.Errorf("after Update: %v", s.Get("update key"))
			}
			m := c.manager(nil)
			s2 := m.Load(c.ctx, c.saved(m, map[string]any{"x": 1}))
			s2.Update(map[string]any{})
			if !s2.Modified() {
				c.t.Error("Update of nothing did not mark modified")
			}
		}},
		{name: "HasKey", reason: "Has marks accessed, not modified (test_has_key)", run: func(c *mgr) {
			m := c.manager(nil)
			s := m.Load(c.ctx, c.saved(m, map[string]any{"some key": 1}))
			if !s.Has("some key") || !s.Accessed() || s.Modified() {
				c.t.Errorf("Has=%v accessed=%v modified=%v", s.Has("some key"), s.Accessed(), s.Modified())
			}
		}},
		{name: "ValuesKeysItems", reason: "Values, Keys and All mark accessed, not modified (test_values, test_keys, test_items)", run: func(c *mgr) {
			m := c.manager(nil)
			e := m.NewSession(c.ctx)
			if len(e.Values()) != 0 || !e.Accessed() {
				c.t.Error("empty Values")
			}
			s := m.Load(c.ctx, c.saved(m, map[string]any{"x": 1}))
			if v := s.Values(); len(v) != 1 || fmt.Sprint(v[0]) != "1" {
				c.t.Errorf("Values = %v", v)
			}
			if k := s.Keys(); !slices.Equal(k, []string{"x"}) {
				c.t.Errorf("Keys = %v", k)
			}
			n := 0
			for k, v := range s.All() {
				n++
				if k != "x" || fmt.Sprint(v) != "1" {
					c.t.Errorf("All gave %s=%v", k, v)
				}
			}
			if n != 1 || !s.Accessed() || s.Modified() || s.Len() != 1 {
				c.t.Errorf("n=%d accessed=%v modified=%v", n, s.Accessed(), s.Modified())
			}
		}},
		{name: "Clear", reason: "Clear empties the data and marks accessed and modified (test_clear)", run: func(c *mgr) {
			m := c.manager(nil)
			s := m.Load(c.ctx, c.saved(m, map[string]any{"x": 1}))
			s.Clear()
			if s.Len() != 0 || !s.Accessed() || !s.Modified() {
				c.t.Errorf("after Clear: len=%d", s.Len())
			}
		}},
		{name: "Save", serverOnly: true, reason: "after Save the session exists in the store (test_save)", run: func(c *mgr) {
			m := c.manager(nil)
			key := c.saved(m, map[string]any{"x": 1})
			if ok, err := m.Exists(c.ctx, key); !ok || err != nil {
				c.t.Errorf("Exists = %v, %v", ok, err)
			}
		}},
		{name: "Flush", reason: "Flush deletes the stored session, drops the key and marks accessed and modified (test_flush)", run: func(c *mgr) {
			m := c.manager(nil)
			key := c.saved(m, map[string]any{"foo": "bar"})
			s := m.Load(c.ctx, key)
			if err := s.Flush(c.ctx); err != nil {
				c.t.Fatal(err)
			}
			if s.Key() != "" || !s.Modified() || !s.Accessed() || s.Get("foo") != nil {
				c.t.Errorf("after Flush: key=%q modified=%v", s.Key(), s.Modified())
			}
			if !c.client {
				if ok, _ := m.Exists(c.ctx, key); ok {
					c.t.Error("old key still exists after Flush")
				}
			}
		}},
		{name: "Cycle", serverOnly: true, reason: "CycleKey keeps the data under a new key and deletes the old one (test_cycle)", run: func(c *mgr) {
			m := c.manager(nil)
			s := m.NewSession(c.ctx)
			s.Set("a", "c")
			s.Set("b", "d")
			s.Save(c.ctx)
			old := s.Key()
			if err := s.CycleKey(c.ctx); err != nil {
				c.t.Fatal(err)
			}
			if s.Key() == old || s.Key() == "" {
				c.t.Errorf("key did not change")
			}
			if ok, _ := m.Exists(c.ctx, old); ok {
				c.t.Error("old key still exists")
			}
			r := m.Load(c.ctx, s.Key())
			if r.Get("a") != "c" || r.Get("b") != "d" {
				c.t.Errorf("data after cycle: %v", r.Keys())
			}
		}},
		{name: "CycleWithNoSessionCache", serverOnly: true, reason: "CycleKey on a session not loaded yet keeps the stored data (test_cycle_with_no_session_cache)", run: func(c *mgr) {
			m := c.manager(nil)
			key := c.saved(m, map[string]any{"a": "c", "b": "d"})
			s := m.Load(c.ctx, key)
			if err := s.CycleKey(c.ctx); err != nil {
				c.t.Fatal(err)
			}
			r := m.Load(c.ctx, s.Key())
			if r.Get("a") != "c" || r.Get("b") != "d" {
				c.t.Errorf("data after cycle: %v", r.Keys())
			}
		}},
		{name: "SaveDoesntClearData", reason: "the data stay readable after Save (test_save_doesnt_clear_data)", run: func(c *mgr) {
			s := c.manager(nil).NewSession(c.ctx)
			s.Set("a", "b")
			s.Save(c.ctx)
			if s.Get("a") != "b" {
				c.t.Error("data lost on save")
			}
		}},
		{name: "InvalidKey", serverOnly: true, reason: "a session built with an invalid key saves under a new key with no data (test_invalid_key)", run: func(c *mgr) {
			m := c.manager(nil)
			s := m.Load(c.ctx, "1")
			if err := s.Save(c.ctx); err != nil {
				c.t.Fatal(err)
			}
			if s.Key() == "1" || s.Key() == "" || s.Get("cat") != nil {
				c.t.Errorf("key=%q", s.Key())
			}
		}},
		{name: "SessionKeyValidity", reason: "empty and short keys are no key; an 8-character [a-z0-9] key is kept until loaded; a client-side engine keeps any value of 8 or more characters until it opens it (test_session_key_*)", run: func(c *mgr) {
			m := c.manager(nil)
			want := map[string]string{"": "", "1234567": "", "12345678": "12345678", "ABCDEFGH": "", "abc/defgh": "", strings.Repeat("a", 41): ""}
			if c.client {
				want = map[string]string{"": "", "1234567": "", "12345678": "12345678", "ABCDEFGH": "ABCDEFGH", "abc/defgh": "abc/defgh", strings.Repeat("a", 41): strings.Repeat("a", 41)}
			}
			for in, want := range want {
				if got := m.Load(c.ctx, in).Key(); got != want {
					c.t.Errorf("Load(%q).Key() = %q, want %q", in, got, want)
				}
			}
		}},
		{name: "DefaultExpiry", reason: "the default expiry age is the cookie age, also after SetExpiry(0) (test_default_expiry)", run: func(c *mgr) {
			s := c.manager(nil).NewSession(c.ctx)
			if got := s.ExpiryAge(); got != sessions.DefaultCookieAge {
				c.t.Errorf("ExpiryAge = %v", got)
			}
			s.SetExpiry(0)
			if got := s.ExpiryAge(); got != sessions.DefaultCookieAge {
				c.t.Errorf("ExpiryAge after SetExpiry(0) = %v", got)
			}
		}},
		{name: "CustomExpirySeconds", reason: "SetExpiry(10s): expiry date is now + 10 s and age 10 s (test_custom_expiry_seconds)", run: func(c *mgr) {
			now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
			m := c.manager(func(s *sessions.Settings) { s.Clock = func() time.Time { return now } })
			s := m.NewSession(c.ctx)
			s.SetExpiry(10 * time.Second)
			if d := s.ExpiryDate(); !d.Equal(now.Add(10 * time.Second)) {
				c.t.Errorf("ExpiryDate = %v", d)
			}
			if a := s.ExpiryAge(); a != 10*time.Second {
				c.t.Errorf("ExpiryAge = %v", a)
			}
		}},
		{name: "CustomExpiryDatetime", reason: "SetExpiryAt(now+10s): same date and age (test_custom_expiry_datetime, test_custom_expiry_timedelta)", run: func(c *mgr) {
			now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
			m := c.manager(func(s *sessions.Settings) { s.Clock = func() time.Time { return now } })
			s := m.NewSession(c.ctx)
			s.SetExpiryAt(now.Add(10 * time.Second))
			if d := s.ExpiryDate(); !d.Equal(now.Add(10 * time.Second)) {
				c.t.Errorf("ExpiryDate = %v", d)
			}
			if a := s.ExpiryAge(); a != 10*time.Second {
				c.t.Errorf("ExpiryAge = %v", a)
			}
			if v := s.Get(sessions.ExpiryKey); v != "2030-01-02T03:04:15+00:00" {
				c.t.Errorf("stored expiry %v, want Django's isoformat", v)
			}
		}},
		{name: "CustomExpiryReset", reason: "ResetExpiry goes back to the cookie age (test_custom_expiry_reset)", run: func(c *mgr) {
			s := c.manager(nil).NewSession(c.ctx)
			s.SetExpiry(10 * time.Second)
			s.ResetExpiry()
			if a := s.ExpiryAge(); a != sessions.DefaultCookieAge {
				c.t.Errorf("ExpiryAge = %v", a)
			}
		}},
		{name: "ExpireAtBrowserClose", reason: "custom expiry 10 → false, 0 → true, none → the setting (test_get_expire_at_browser_close)", run: func(c *mgr) {
			for _, setting := range []bool{false, true} {
				m := c.manager(func(s *sessions.Settings) { s.ExpireAtBrowserClose = setting })
				s := m.NewSession(c.ctx)
				s.SetExpiry(10 * time.Second)
				if s.ExpireAtBrowserClose() {
					c.t.Errorf("setting %v, expiry 10: true", setting)
				}
				s.SetExpiry(0)
				if !s.ExpireAtBrowserClose() {
					c.t.Errorf("setting %v, expiry 0: false", setting)
				}
				s.ResetExpiry()
				if s.ExpireAtBrowserClose() != setting {
					c.t.Errorf("setting %v, no expiry: %v", setting, !setting)
				}
			}
		}},
		{name: "Decode", reason: "Decode(Encode(d)) == d with the engine's codec (test_decode)", run: func(c *mgr) {
			m := c.manager(nil)
			d := codec.NewDict(map[string]any{"a test key": "a test value"})
			b, err := m.Codec().Encode(d)
			if err != nil {
				c.t.Fatal(err)
			}
			back, err := m.Codec().Decode(b)
			if err != nil {
				c.t.Fatal(err)
			}
			if v, _ := back.Get("a test key"); v != "a test value" {
				c.t.Errorf("decoded %v", v)
			}
		}},
		{name: "DecodeFailureLogged", serverOnly: true, reason: "stored data with a bad signature load as an empty session, logged as a security warning (test_decode_failure_logged_to_security)", run: func(c *mgr) {
			m := c.manager(nil)
			for _, bad := range []string{"Zmxhc2tkajphbGtkamY=", "bad:encoded:value"} {
				key := sessions.NewKey()
				if err := c.eng().Create(c.ctx, key, []byte(bad), time.Now().Add(time.Hour)); err != nil {
					c.t.Fatal(err)
				}
				s := m.Load(c.ctx, key)
				if s.Len() != 0 || s.Err() != nil {
					c.t.Errorf("corrupt data gave %d keys, err %v", s.Len(), s.Err())
				}
			}
			if !strings.Contains(c.logs.String(), "Session data corrupted") {
				c.t.Errorf("no security warning logged; log: %s", c.logs.String())
			}
		}},
		{name: "DecodeSerializerException", serverOnly: true, reason: "validly signed data that is not a JSON object loads as an empty session, never a panic (test_decode_serializer_exception)", run: func(c *mgr) {
			m := c.manager(nil)
			for _, payload := range []string{"[1,2]", "not json", "\"str\"", "{\"a\":"} {
				key := sessions.NewKey()
				raw, err := signedPayload(payload)
				if err != nil {
					c.t.Fatal(err)
				}
				if err := c.eng().Create(c.ctx, key, raw, time.Now().Add(time.Hour)); err != nil {
					c.t.Fatal(err)
				}
				if s := m.Load(c.ctx, key); s.Len() != 0 {
					c.t.Errorf("payload %q gave data", payload)
				}
			}
		}},
		{name: "ActualExpiry", serverOnly: true, reason: "a session saved with a past expiry is gone for the next request (test_actual_expiry)", run: func(c *mgr) {
			m := c.manager(nil)
			s := m.NewSession(c.ctx)
			s.Set("foo", "bar")
			s.Save(c.ctx)
			key := s.Key()
			s.SetExpiryAt(time.Now().Add(-10 * time.Second))
			if err := s.Save(c.ctx); err != nil {
				c.t.Fatal(err)
			}
			if r := m.Load(c.ctx, key); r.Has("foo") {
				c.t.Error("expired session still loads")
			}
		}},
		{name: "ShortExpiry", serverOnly: true, reason: "a session with a 1-second expiry is gone once it has passed, on every engine", run: func(c *mgr) {
			if c.h.Caps.SlowExpiry {
				c.t.Skip("the engine declares SlowExpiry")
			}
			m := c.manager(nil)
			s := m.NewSession(c.ctx)
			s.Set("foo", "bar")
			s.SetExpiry(time.Second)
			s.Save(c.ctx)
			if r := m.Load(c.ctx, s.Key()); !r.Has("foo") {
				c.t.Fatal("not there before expiry")
			}
			time.Sleep(1100*time.Millisecond + 2*c.h.Caps.TTLResolution)
			if r := m.Load(c.ctx, s.Key()); r.Has("foo") {
				c.t.Error("still there after expiry")
			}
		}},
		{name: "LoadDoesNotCreateRecord", serverOnly: true, reason: "loading an unknown key stores nothing and drops the key (test_session_load_does_not_create_record, CVE-2015-5143)", run: func(c *mgr) {
			m := c.manager(nil)
			key := sessions.NewKey()
			s := m.Load(c.ctx, key)
			if s.Len() != 0 || s.Key() != "" {
				c.t.Errorf("len=%d key kept=%v", s.Len(), s.Key() != "")
			}
			if ok, _ := m.Exists(c.ctx, key); ok {
				c.t.Error("loading created a record")
			}
		}},
		{name: "SaveDoesNotResurrect", serverOnly: true, reason: "saving a session another request deleted gives ErrInterrupted and does not bring it back (test_session_save_does_not_resurrect_session_logged_out_in_other_context)", run: func(c *mgr) {
			m := c.manager(nil)
			key := c.saved(m, map[string]any{"logged_in": true})
			s1 := m.Load(c.ctx, key)
			s1.Get("logged_in")
			s2 := m.Load(c.ctx, key)
			if err := s2.Flush(c.ctx); err != nil {
				c.t.Fatal(err)
			}
			s1.Set("modified", true)
			if err := s1.Save(c.ctx); !errors.Is(err, sessions.ErrInterrupted) {
				c.t.Errorf("Save = %v, want ErrInterrupted", err)
			}
			if r := m.Load(c.ctx, key); r.Len() != 0 {
				c.t.Error("session resurrected")
			}
		}},
		{name: "TestCookie", reason: "SetTestCookie, TestCookieWorked, DeleteTestCookie (test_test_cookie)", run: func(c *mgr) {
			s := c.manager(nil).NewSession(c.ctx)
			if s.TestCookieWorked() {
				c.t.Error("worked before set")
			}
			s.SetTestCookie()
			if !s.TestCookieWorked() {
				c.t.Error("did not work after set")
			}
			s.DeleteTestCookie()
			if s.TestCookieWorked() {
				c.t.Error("worked after delete")
			}
		}},
		{name: "IsEmpty", reason: "IsEmpty neither loads nor marks accessed; a stored key is not empty (test_is_empty)", run: func(c *mgr) {
			m := c.manager(nil)
			if !m.NewSession(c.ctx).IsEmpty() {
				c.t.Error("new session not empty")
			}
			s := m.Load(c.ctx, c.saved(m, map[string]any{"x": 1}))
			if s.IsEmpty() || s.Accessed() {
				c.t.Error("stored session empty or accessed")
			}
		}},
		{name: "TypedRoundTrip", reason: "values come back losslessly: ints beyond 2^53, floats, unicode, nested data", run: func(c *mgr) {
			m := c.manager(nil)
			key := c.saved(m, map[string]any{"big": int64(1) << 60, "f": 1.5, "i": 42, "u": "Zoë ☃ 😀", "n": nil,
				"nested": map[string]any{"list": []any{1, "two", 3.5, true}}})
			s := m.Load(c.ctx, key)
			if v, _ := sessions.Get[int64](s, "big"); v != 1<<60 {
				c.t.Errorf("big = %v", s.Get("big"))
			}
			if v, _ := sessions.Get[float64](s, "f"); v != 1.5 {
				c.t.Errorf("f = %v", s.Get("f"))
			}
			if v, _ := sessions.Get[int](s, "i"); v != 42 {
				c.t.Errorf("i = %#v", s.Get("i"))
			}
			if v, _ := sessions.Get[string](s, "u"); v != "Zoë ☃ 😀" {
				c.t.Errorf("u = %v", s.Get("u"))
			}
			if v, ok := s.Lookup("n"); v != nil || !ok {
				c.t.Errorf("n = %v %v", v, ok)
			}
			type nested struct {
				List []any `json:"list"`
			}
			if v, ok := sessions.Get[nested](s, "nested"); !ok || len(v.List) != 4 {
				c.t.Errorf("nested = %#v", s.Get("nested"))
			}
		}},

		// Django's SessionMiddlewareTests.
		{name: "SecureSessionCookie", reason: "CookieSecure sets Secure (test_secure_session_cookie)", run: func(c *mgr) {
			m := c.manager(func(s *sessions.Settings) { s.CookieSecure = true })
			res := c.serve(m, func(w http.ResponseWriter, r *http.Request) { sessions.FromContext(r.Context()).Set("hello", "world") }, "")
			if ck := sessionCookie(res, "sessionid"); ck == nil || !ck.Secure {
				c.t.Errorf("cookie %v", rawSetCookie(res, "sessionid"))
			}
		}},
		{name: "HTTPOnlySessionCookie", reason: "HttpOnly is set by default (test_httponly_session_cookie)", run: func(c *mgr) {
			res := c.serve(c.manager(nil), func(w http.ResponseWriter, r *http.Request) { sessions.FromContext(r.Context()).Set("hello", "world") }, "")
			if ck := sessionCookie(res, "sessionid"); ck == nil || !ck.HttpOnly {
				c.t.Errorf("cookie %v", rawSetCookie(res, "sessionid"))
			}
		}},
		{name: "SameSiteSessionCookie", reason: "CookieSameSite Strict renders SameSite=Strict (test_samesite_session_cookie)", run: func(c *mgr) {
			m := c.manager(func(s *sessions.Settings) { s.CookieSameSite = http.SameSiteStrictMode })
			res := c.serve(m, func(w http.ResponseWriter, r *http.Request) { sessions.FromContext(r.Context()).Set("hello", "world") }, "")
			if !strings.Contains(rawSetCookie(res, "sessionid"), "SameSite=Strict") {
				c.t.Errorf("cookie %v", rawSetCookie(res, "sessionid"))
			}
		}},
		{name: "NoHTTPOnlySessionCookie", reason: "CookieHTTPOnly false omits HttpOnly (test_no_httponly_session_cookie)", run: func(c *mgr) {
			m := c.manager(func(s *sessions.Settings) { s.CookieHTTPOnly = false })
			res := c.serve(m, func(w http.ResponseWriter, r *http.Request) { sessions.FromContext(r.Context()).Set("hello", "world") }, "")
			if raw := rawSetCookie(res, "sessionid"); raw == "" || strings.Contains(raw, "HttpOnly") {
				c.t.Errorf("cookie %v", raw)
			}
		}},
		{name: "SessionSaveOn5xx", reason: "a 500 or 503 response saves nothing and sets no cookie (test_session_save_on_500, test_session_save_on_5xx)", run: func(c *mgr) {
			m := c.manager(nil)
			key := c.saved(m, map[string]any{"x": 1})
			for _, code := range []int{500, 503} {
				res := c.serve(m, func(w http.ResponseWriter, r *http.Request) {
					sessions.FromContext(r.Context()).Set("hello", "world")
					w.WriteHeader(code)
				}, key)
				if rawSetCookie(res, "sessionid") != "" {
					c.t.Errorf("%d: cookie set", code)
				}
				if !c.client && m.Load(c.ctx, key).Has("hello") {
					c.t.Errorf("%d: session saved", code)
				}
			}
		}},
		{name: "SessionUpdateErrorRedirect", serverOnly: true, reason: "a view that creates a session with Save and then deletes its record gets 400 with Django's message (test_session_update_error_redirect, ported literally)", run: func(c *mgr) {
			m := c.manager(nil)
			res := c.serve(m, func(w http.ResponseWriter, r *http.Request) {
				s := sessions.FromContext(r.Context())
				// request.session.save(must_create=True); request.session.delete()
				if err := s.Save(r.Context()); err != nil {
					c.t.Errorf("Save: %v", err)
				}
				if err := c.eng().Delete(r.Context(), s.Key()); err != nil {
					c.t.Errorf("Delete: %v", err)
				}
				io.WriteString(w, "handler body")
			}, "")
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != 400 || !strings.Contains(string(body), "logged out in a concurrent request") {
				c.t.Errorf("status %d body %q, want 400 with Django's SessionInterrupted message", res.StatusCode, body)
			}
			if strings.Contains(string(body), "handler body") {
				c.t.Error("the handler's body leaked into the 400 response")
			}
		}},
		{name: "SessionDeletedDuringRequest", serverOnly: true, reason: "a loaded session deleted by another request and then changed answers 400", run: func(c *mgr) {
			m := c.manager(nil)
			key := c.saved(m, map[string]any{"x": 1})
			res := c.serve(m, func(w http.ResponseWriter, r *http.Request) {
				s := sessions.FromContext(r.Context())
				s.Get("x")
				c.eng().Delete(c.ctx, key) // another request logs out
				s.Set("foo", "bar")
			}, key)
			if res.StatusCode != 400 {
				c.t.Errorf("status %d, want 400", res.StatusCode)
			}
		}},
		{name: "SessionDeleteOnEnd", reason: "Flush with an incoming cookie sends the deletion cookie and Vary: Cookie (test_session_delete_on_end)", run: func(c *mgr) {
			m := c.manager(nil)
			key := c.saved(m, map[string]any{"x": 1})
			res := c.serve(m, func(w http.ResponseWriter, r *http.Request) { sessions.FromContext(r.Context()).Flush(r.Context()) }, key)
			raw := rawSetCookie(res, "sessionid")
			for _, want := range []string{"sessionid=;", "Path=/", "Expires=Thu, 01 Jan 1970 00:00:00 GMT", "Max-Age=0", "SameSite=Lax"} {
				if !strings.Contains(raw+";", want) {
					c.t.Errorf("deletion cookie %q lacks %q", raw, want)
				}
			}
			if !hasVaryCookie(res) {
				c.t.Error("no Vary: Cookie")
			}
		}},
		{name: "SessionDeleteOnEndCustomDomainPath", reason: "the deletion cookie carries the configured Domain and Path (test_session_delete_on_end_with_custom_domain_and_path)", run: func(c *mgr) {
			m := c.manager(func(s *sessions.Settings) { s.CookieDomain = ".example.local"; s.CookiePath = "/example/" })
			key := c.saved(m, map[string]any{"x": 1})
			req := httptest.NewRequest("GET", "http://www.example.local/example/", nil)
			req.AddCookie(&http.Cookie{Name: "sessionid", Value: key})
			rec := httptest.NewRecorder()
			m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { sessions.FromContext(r.Context()).Flush(r.Context()) })).ServeHTTP(rec, req)
			raw := rawSetCookie(rec.Result(), "sessionid")
			if !strings.Contains(raw, "Domain=example.local") || !strings.Contains(raw, "Path=/example/") || !strings.Contains(raw, "Max-Age=0") {
				c.t.Errorf("deletion cookie %q", raw)
			}
		}},
		{name: "FlushEmptyWithoutCookie", reason: "Flush without an incoming cookie sets no cookie but adds Vary: Cookie (test_flush_empty_without_session_cookie_doesnt_set_cookie)", run: func(c *mgr) {
			res := c.serve(c.manager(nil), func(w http.ResponseWriter, r *http.Request) { sessions.FromContext(r.Context()).Flush(r.Context()) }, "")
			if rawSetCookie(res, "sessionid") != "" || !hasVaryCookie(res) {
				c.t.Errorf("Set-Cookie %q Vary %v", rawSetCookie(res, "sessionid"), res.Header.Values("Vary"))
			}
		}},
		{name: "SaveEveryRequestRenews", reason: "SaveEveryRequest re-sends the cookie of an untouched non-empty session, with Vary: Cookie (CVE-2026-35192)", run: func(c *mgr) {
			m := c.manager(func(s *sessions.Settings) { s.SaveEveryRequest = true })
			key := c.saved(m, map[string]any{"x": 1})
			res := c.serve(m, func(w http.ResponseWriter, r *http.Request) {}, key)
			ck := sessionCookie(res, "sessionid")
			if ck == nil || !hasVaryCookie(res) {
				c.t.Fatalf("cookie %q vary %v", rawSetCookie(res, "sessionid"), res.Header.Values("Vary"))
			}
			if !c.client && ck.Value != key {
				c.t.Error("SaveEveryRequest changed the key")
			}
			if r := m.Load(c.ctx, ck.Value); fmt.Sprint(r.Get("x")) != "1" {
				c.t.Error("data lost by the renewal")
			}
		}},
		{name: "EmptySessionSaved", serverOnly: true, reason: "a session emptied with Delete keeps its key, is saved empty and its cookie re-sent (test_empty_session_saved)", run: func(c *mgr) {
			m := c.manager(nil)
			key := c.saved(m, map[string]any{"foo": "bar"})
			res := c.serve(m, func(w http.ResponseWriter, r *http.Request) { sessions.FromContext(r.Context()).Delete("foo") }, key)
			ck := sessionCookie(res, "sessionid")
			if ck == nil || ck.Value != key || !hasVaryCookie(res) {
				c.t.Fatalf("cookie %q", rawSetCookie(res, "sessionid"))
			}
			if ok, _ := m.Exists(c.ctx, key); !ok {
				c.t.Error("emptied session not stored")
			}
		}},

		// Rules this module adds.
		{name: "UntouchedNoCookieNoVary", reason: "a request that never touches the session gets neither Set-Cookie nor Vary", run: func(c *mgr) {
			res := c.serve(c.manager(nil), func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi") }, "")
			if len(res.Header.Values("Set-Cookie")) > 0 || hasVaryCookie(res) {
				c.t.Errorf("headers %v", res.Header)
			}
		}},
		{name: "ReadOnlyVaryOnly", reason: "reading the session adds Vary: Cookie but saves nothing and sets no cookie", run: func(c *mgr) {
			m := c.manager(nil)
			key := c.saved(m, map[string]any{"x": 1})
			res := c.serve(m, func(w http.ResponseWriter, r *http.Request) { sessions.FromContext(r.Context()).Get("x") }, key)
			if rawSetCookie(res, "sessionid") != "" || !hasVaryCookie(res) {
				c.t.Errorf("headers %v", res.Header)
			}
		}},
		{name: "NewSessionCookie", reason: "a new session's cookie has the key, Max-Age = cookie age, Expires, Path=/, HttpOnly, SameSite=Lax", run: func(c *mgr) {
			m := c.manager(nil)
			res := c.serve(m, func(w http.ResponseWriter, r *http.Request) { sessions.FromContext(r.Context()).Set("hello", "world") }, "")
			ck := sessionCookie(res, "sessionid")
			if ck == nil {
				c.t.Fatal("no cookie")
			}
			if ck.MaxAge != int(sessions.DefaultCookieAge/time.Second) || ck.Expires.IsZero() || ck.Path != "/" || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode {
				c.t.Errorf("cookie %q", rawSetCookie(res, "sessionid"))
			}
			if !c.client && (len(ck.Value) != sessions.KeyLength || !sessions.ValidKey(ck.Value)) {
				c.t.Errorf("key %q is not 32 characters of [a-z0-9]", ck.Value)
			}
			if r := m.Load(c.ctx, ck.Value); r.Get("hello") != "world" {
				c.t.Error("not stored")
			}
		}},
		{name: "UnknownKeyNotAdopted", serverOnly: true, reason: "a well-formed but unknown key from the client is replaced by a fresh one (no session fixation)", run: func(c *mgr) {
			m := c.manager(nil)
			planted := sessions.NewKey()
			res := c.serve(m, func(w http.ResponseWriter, r *http.Request) { sessions.FromContext(r.Context()).Set("user", "alice") }, planted)
			ck := sessionCookie(res, "sessionid")
			if ck == nil || ck.Value == planted || ck.Value == "" {
				c.t.Fatalf("cookie %q", rawSetCookie(res, "sessionid"))
			}
			if ok, _ := m.Exists(c.ctx, planted); ok {
				c.t.Error("the planted key was stored")
			}
		}},
		{name: "BadCookieReadDeletesCookie", reason: "a malformed, tampered or unknown cookie that the view reads gives an empty session and a deletion cookie, never an error", run: func(c *mgr) {
			m := c.manager(nil)
			good := c.saved(m, map[string]any{"x": 1})
			bad := []string{"garbage!!", sessions.NewKey(), "a", strings.Repeat("z", 5000), good[:len(good)-1] + flip(good[len(good)-1]),
				"eyJhIjoxfQ:1r31eq:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", ".eJzLSM3JyQcABiwCFQ:0:x", "e30:zzzzzzzzzzzzzzzzz:x"}
			for _, v := range bad {
				res := c.serve(m, func(w http.ResponseWriter, r *http.Request) {
					if n := sessions.FromContext(r.Context()).Len(); n != 0 {
						c.t.Errorf("cookie %.20q loaded %d keys", v, n)
					}
				}, v)
				if res.StatusCode != 200 {
					c.t.Errorf("cookie %.20q: status %d", v, res.StatusCode)
				}
				ck := sessionCookie(res, "sessionid")
				if ck == nil || ck.Value != "" || ck.MaxAge >= 0 {
					c.t.Errorf("cookie %.20q: Set-Cookie %q, want a deletion", v, rawSetCookie(res, "sessionid"))
				}
			}
		}},
		{name: "BadCookieUntouched", reason: "a bogus cookie of 8 or more characters on a request that never touches the session changes nothing", run: func(c *mgr) {
			res := c.serve(c.manager(nil), func(w http.ResponseWriter, r *http.Request) {}, "garbage!garbage")
			if len(res.Header.Values("Set-Cookie")) > 0 || hasVaryCookie(res) {
				c.t.Errorf("headers %v", res.Header)
			}
		}},
		{name: "ShortCookieIsNoKey", reason: "a cookie shorter than 8 characters is no key at all (Django's _validate_session_key): an untouched request gets the deletion cookie and Vary: Cookie", run: func(c *mgr) {
			m := c.manager(nil)
			for _, v := range []string{"a", "garbage", "1234567"} {
				if k := m.Load(c.ctx, v).Key(); k != "" {
					c.t.Errorf("Load(%q).Key() = %q, want none", v, k)
				}
				res := c.serve(m, func(w http.ResponseWriter, r *http.Request) {}, v)
				ck := sessionCookie(res, "sessionid")
				if ck == nil || ck.Value != "" || ck.MaxAge >= 0 || !hasVaryCookie(res) {
					c.t.Errorf("cookie %q: Set-Cookie %q, Vary %q; want a deletion and Vary: Cookie", v, rawSetCookie(res, "sessionid"), res.Header.Values("Vary"))
				}
			}
		}},
		{name: "SaveEveryRequestBogusCookie", reason: "with SaveEveryRequest a bogus or unknown cookie creates no stored empty session (Django's bug, ticket #25489) and is deleted", run: func(c *mgr) {
			m := c.manager(func(s *sessions.Settings) { s.SaveEveryRequest = true })
			for _, v := range []string{sessions.NewKey(), "garbage"} {
				res := c.serve(m, func(w http.ResponseWriter, r *http.Request) {}, v)
				ck := sessionCookie(res, "sessionid")
				if ck != nil && ck.Value != "" {
					c.t.Errorf("cookie %.20q: a new session was created: %q", v, rawSetCookie(res, "sessionid"))
				}
			}
			if l, ok := c.engine.(sessions.Lister); ok && !c.client {
				n := 0
				l.List(c.ctx, func(string) bool { n++; return true })
				if n != 0 {
					c.t.Errorf("%d sessions stored", n)
				}
			}
		}},
		{name: "BrowserCloseCookie", reason: "a browser-close session's cookie has neither Max-Age nor Expires", run: func(c *mgr) {
			m := c.manager(func(s *sessions.Settings) { s.ExpireAtBrowserClose = true })
			res := c.serve(m, func(w http.ResponseWriter, r *http.Request) { sessions.FromContext(r.Context()).Set("a", 1) }, "")
			raw := rawSetCookie(res, "sessionid")
			if raw == "" || strings.Contains(raw, "Max-Age") || strings.Contains(raw, "Expires") {
				c.t.Errorf("cookie %q", raw)
			}
			m2 := c.manager(nil)
			res = c.serve(m2, func(w http.ResponseWriter, r *http.Request) { sessions.FromContext(r.Context()).SetExpiry(0) }, "")
			raw = rawSetCookie(res, "sessionid")
			if raw == "" || strings.Contains(raw, "Max-Age") {
				c.t.Errorf("SetExpiry(0) cookie %q", raw)
			}
		}},
		{name: "CustomExpiryCookie", reason: "a custom expiry sets the cookie's Max-Age", run: func(c *mgr) {
			res := c.serve(c.manager(nil), func(w http.ResponseWriter, r *http.Request) {
				sessions.FromContext(r.Context()).SetExpiry(3600 * time.Second)
			}, "")
			if ck := sessionCookie(res, "sessionid"); ck == nil || ck.MaxAge != 3600 {
				c.t.Errorf("cookie %q", rawSetCookie(res, "sessionid"))
			}
		}},
		{name: "CookieBeforeBody", reason: "the cookie is written before the body even when the handler never calls WriteHeader", run: func(c *mgr) {
			m := c.manager(nil)
			srv := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				sessions.FromContext(r.Context()).Set("a", 1)
				io.WriteString(w, "body")
			})))
			defer srv.Close()
			res, err := srv.Client().Get(srv.URL)
			if err != nil {
				c.t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if sessionCookie(res, "sessionid") == nil || string(body) != "body" {
				c.t.Errorf("cookie %q body %q", rawSetCookie(res, "sessionid"), body)
			}
		}},
		{name: "ResponseControllerFlush", reason: "http.ResponseController flushing works through the middleware and commits the cookie first", run: func(c *mgr) {
			m := c.manager(nil)
			rec := httptest.NewRecorder()
			m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				sessions.FromContext(r.Context()).Set("a", 1)
				if err := http.NewResponseController(w).Flush(); err != nil {
					c.t.Errorf("Flush: %v", err)
				}
				io.WriteString(w, "after flush")
			})).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			if !rec.Flushed || sessionCookie(rec.Result(), "sessionid") == nil {
				c.t.Errorf("flushed=%v cookie %q", rec.Flushed, rawSetCookie(rec.Result(), "sessionid"))
			}
		}},
		{name: "VaryMerged", reason: "Vary: Cookie is appended to an existing Vary, once", run: func(c *mgr) {
			res := c.serve(c.manager(nil), func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Vary", "Accept-Encoding, cookie")
				sessions.FromContext(r.Context()).Set("a", 1)
			}, "")
			if v := res.Header.Values("Vary"); len(v) != 1 || v[0] != "Accept-Encoding, cookie" {
				c.t.Errorf("Vary %v", v)
			}
			res = c.serve(c.manager(nil), func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Vary", "Accept-Encoding")
				sessions.FromContext(r.Context()).Set("a", 1)
			}, "")
			if v := res.Header.Values("Vary"); len(v) != 1 || v[0] != "Accept-Encoding, Cookie" {
				c.t.Errorf("Vary %v", v)
			}
		}},
		{name: "UnencodableValue", reason: "a value JSON cannot encode fails the save with a clear error to the error handler, not a silent loss", run: func(c *mgr) {
			var got error
			m := c.manager(func(s *sessions.Settings) {
				s.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) { got = err; w.WriteHeader(500) }
			})
			res := c.serve(m, func(w http.ResponseWriter, r *http.Request) {
				sessions.FromContext(r.Context()).Set("ch", make(chan int))
			}, "")
			if res.StatusCode != 500 || !errors.Is(got, codec.ErrUnencodable) || !strings.Contains(fmt.Sprint(got), `"ch"`) {
				c.t.Errorf("status %d error %v", res.StatusCode, got)
			}
		}},
		{name: "StoreFailureErrorHandler", serverOnly: true, reason: "a store that fails sends the request to Settings.ErrorHandler, with the handler's own response discarded", run: func(c *mgr) {
			var got error
			m := c.manager(func(s *sessions.Settings) {
				s.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) { got = err; w.WriteHeader(503) }
			})
			key := c.saved(m, map[string]any{"x": 1})
			c.engine.Close()
			res := c.serve(m, func(w http.ResponseWriter, r *http.Request) {
				sessions.FromContext(r.Context()).Get("x")
				io.WriteString(w, "secret page")
			}, key)
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != 503 || !errors.Is(got, sessions.ErrClosed) || strings.Contains(string(body), "secret") {
				c.t.Errorf("status %d error %v body %q", res.StatusCode, got, body)
			}
		}},
		{name: "LoginCycle", serverOnly: true, reason: "CycleKey in a login request issues a new cookie; the old key no longer loads", run: func(c *mgr) {
			m := c.manager(nil)
			res := c.serve(m, func(w http.ResponseWriter, r *http.Request) { sessions.FromContext(r.Context()).Set("cart", []any{1}) }, "")
			first := sessionCookie(res, "sessionid").Value
			res = c.serve(m, func(w http.ResponseWriter, r *http.Request) {
				s := sessions.FromContext(r.Context())
				if err := s.CycleKey(r.Context()); err != nil {
					c.t.Error(err)
				}
				s.Set("_auth_user_id", "1")
			}, first)
			second := sessionCookie(res, "sessionid")
			if second == nil || second.Value == first {
				c.t.Fatalf("cookie %q", rawSetCookie(res, "sessionid"))
			}
			if m.Load(c.ctx, first).Len() != 0 {
				c.t.Error("old key still loads")
			}
			if r := m.Load(c.ctx, second.Value); r.Get("_auth_user_id") != "1" || r.Get("cart") == nil {
				c.t.Errorf("new session holds %v", r.Keys())
			}
		}},
		{name: "SecretKeyFallbacks", reason: "sessions signed with an old key load after rotation when it is listed in SecretKeyFallbacks, and not otherwise", run: func(c *mgr) {
			if c.h.Caps.Unsigned {
				c.t.Skip("the engine's stored format is not signed (Capabilities.Unsigned)")
			}
			old := c.manager(func(s *sessions.Settings) { s.SecretKey = "old-secret" })
			key := c.saved(old, map[string]any{"user": "alice"})
			rotated := c.manager(func(s *sessions.Settings) { s.SecretKey = "new-secret"; s.SecretKeyFallbacks = []string{"old-secret"} })
			if rotated.Load(c.ctx, key).Get("user") != "alice" {
				c.t.Error("fallback key not accepted")
			}
			without := c.manager(func(s *sessions.Settings) { s.SecretKey = "new-secret" })
			if without.Load(c.ctx, key).Len() != 0 {
				c.t.Error("session accepted without the fallback")
			}
		}},
		{name: "ConcurrentRequests", reason: "many concurrent requests through the middleware on the same and different sessions: no error, no race", run: func(c *mgr) {
			m := c.manager(nil)
			shared := c.saved(m, map[string]any{"n": 0})
			h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s := sessions.FromContext(r.Context())
				s.Set(r.URL.Query().Get("k"), r.URL.Query().Get("v"))
			}))
			var wg sync.WaitGroup
			var mu sync.Mutex
			var bad []int
			for i := range 40 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					req := httptest.NewRequest("GET", fmt.Sprintf("/?k=k%d&v=%d", i%5, i), nil)
					if i%2 == 0 {
						req.AddCookie(&http.Cookie{Name: "sessionid", Value: shared})
					}
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != 200 {
						mu.Lock()
						bad = append(bad, rec.Code)
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			if len(bad) > 0 {
				c.t.Errorf("statuses %v", bad)
			}
		}},
		{name: "NoLostUpdates", serverOnly: true, reason: "concurrent requests that each set a different key on one session all keep their change (Swapper engines)", run: func(c *mgr) {
			if _, ok := c.engine.(sessions.Swapper); !ok {
				c.t.Skip("the engine does not implement Swapper: last writer wins, as in Django")
			}
			m := c.manager(nil)
			key := c.saved(m, map[string]any{"start": true})
			const n = 12
			var loaded, wg sync.WaitGroup
			loaded.Add(n)
			h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s := sessions.FromContext(r.Context())
				s.Get("start")
				loaded.Done()
				loaded.Wait() // every request has loaded the same version
				s.Set("k"+r.URL.Query().Get("i"), true)
			}))
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					req := httptest.NewRequest("GET", fmt.Sprintf("/?i=%d", i), nil)
					req.AddCookie(&http.Cookie{Name: "sessionid", Value: key})
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != 200 {
						c.t.Errorf("request %d: %d %s", i, rec.Code, rec.Body)
					}
				}()
			}
			wg.Wait()
			s := m.Load(c.ctx, key)
			for i := range n {
				if !s.Has(fmt.Sprintf("k%d", i)) {
					c.t.Errorf("change of request %d lost; session has %v", i, s.Keys())
				}
			}
		}},
		{name: "LogOutEverywhere", serverOnly: true, reason: "BindUser at login, through CycleKey; DeleteUser ends every session of that user and no other (UserIndexer engines)", run: func(c *mgr) {
			if _, ok := c.engine.(sessions.UserIndexer); !ok {
				c.t.Skip("the engine does not implement UserIndexer")
			}
			m := c.manager(nil)
			login := func(user string) *sessions.Session {
				s := m.NewSession(c.ctx)
				s.Set("cart", []any{"x"})
				if err := s.Save(c.ctx); err != nil {
					c.t.Fatal(err)
				}
				if err := s.CycleKey(c.ctx); err != nil {
					c.t.Fatal(err)
				}
				if err := m.BindUser(c.ctx, s, user); err != nil {
					c.t.Fatal(err)
				}
				return s
			}
			laptop, phone, other := login("ann"), login("ann"), login("bob")
			// A bound session keeps its binding through a later CycleKey.
			if err := phone.CycleKey(c.ctx); err != nil {
				c.t.Fatal(err)
			}
			keys, err := m.UserSessions(c.ctx, "ann")
			if err != nil || len(keys) < 2 || !slices.Contains(keys, phone.Key()) || !slices.Contains(keys, laptop.Key()) {
				c.t.Fatalf("UserSessions(ann) = %d keys, %v", len(keys), err)
			}
			n, err := m.DeleteUser(c.ctx, "ann")
			if err != nil || n < 2 {
				c.t.Fatalf("DeleteUser = %d, %v", n, err)
			}
			for _, s := range []*sessions.Session{laptop, phone} {
				if ok, _ := m.Exists(c.ctx, s.Key()); ok {
					c.t.Error("a session of the user survived DeleteUser")
				}
			}
			if ok, _ := m.Exists(c.ctx, other.Key()); !ok {
				c.t.Error("another user's session was deleted")
			}
			// A request of the deleted session cannot resurrect it.
			laptop.Set("late", true)
			if err := laptop.Save(c.ctx); !errors.Is(err, sessions.ErrInterrupted) {
				c.t.Errorf("saving a deleted session: %v, want ErrInterrupted", err)
			}
		}},
		{name: "LargeSessionTooLarge", reason: "a session over MaxDataSize fails with ErrTooLarge at save, reported to the error handler", run: func(c *mgr) {
			var got error
			m := c.manager(func(s *sessions.Settings) {
				s.MaxDataSize = 1000
				s.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) { got = err; w.WriteHeader(500) }
			})
			c.serve(m, func(w http.ResponseWriter, r *http.Request) {
				sessions.FromContext(r.Context()).Set("blob", strings.Repeat("x", 2000))
			}, "")
			if !errors.Is(got, sessions.ErrTooLarge) {
				c.t.Errorf("error %v, want ErrTooLarge", got)
			}
		}},
	}
}

// signedPayload signs an arbitrary payload with the suite's key and
// Django's session salt, so a case can store validly signed garbage.
func signedPayload(payload string) ([]byte, error) {
	// A JSON codec signed with the right key: encode through the signing
	// package directly, bypassing the dict encoder.
	return signedRaw([]byte(payload))
}

func signedRaw(b []byte) ([]byte, error) {
	s, err := signing.DumpsBytes(b, signing.Options{Key: SecretKey, Salt: codec.DjangoSessionSalt, Compress: true})
	return []byte(s), err
}
