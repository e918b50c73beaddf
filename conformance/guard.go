package conformance

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sessionkit/sessions"
)

// The Manager's guard (sessions.Engine's doc) is what lets engines skip
// the checks: every engine call is made with a valid key and user ID and
// a live context, and none after Close. RunManager wraps every engine in
// a spy that watches each call of every case; the cases below drive each
// Manager entry point with what the guard must stop.

// hostileKeys are keys the Manager must never pass to an engine.
var hostileKeys = []string{
	"", "short", "../../etc/passwd", "a/b/c/d/e/f/g/h", `a\b\c\d\e\f\g`, "abcdefgh\x00ijkl",
	"ABCDEFGHIJKLMNOP", "abcdefgh ijklmno", "abcdefgh\nijklmno", "abcdefgh:ijklmnop", "abcdefgh*",
	"abcdefgh'; DROP TABLE django_session; --", strings.Repeat("a", 300), "..........", "abcdefgh%2f..",
	"abcdéfghijkl", "abcdefgh\r\nset x 0 0 1",
}

// badUserIDs are user IDs the Manager must refuse with ErrInvalidKey.
// A user ID is text: no NUL byte (PostgreSQL's text cannot hold one) and
// valid UTF-8.
var badUserIDs = []string{"", strings.Repeat("x", sessions.MaxUserIDLength+1), "a\x00b", "a\xffb", "\xed\xa0\x80"}

// errGuardBypassed is what the spy answers, instead of the engine, to a
// call the guard should have stopped.
var errGuardBypassed = errors.New("conformance: this call should never have reached the engine")

// spy records every engine call that breaks the guard's promise, and
// refuses it (a hostile key never reaches a real store, even when the
// guard is broken).
type spy struct {
	mu     sync.Mutex
	closed bool
	closes int
	bad    []string
}

func (s *spy) hook(c call) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var why string
	switch {
	case s.closed:
		why = "after Close"
	case c.op == "Close":
		s.closed = true
		s.closes++
		return nil
	case c.ctx.Err() != nil:
		why = fmt.Sprintf("with a context already done (%v)", c.ctx.Err())
	case c.hasUser && (c.user == "" || len(c.user) > sessions.MaxUserIDLength):
		why = fmt.Sprintf("with an invalid user ID of %d bytes", len(c.user))
	default:
		for _, k := range c.keys {
			if !sessions.ValidKey(k) {
				why = fmt.Sprintf("with the invalid key %.40q", k)
				break
			}
		}
	}
	if why == "" {
		return nil
	}
	s.bad = append(s.bad, c.op+" reached the engine "+why)
	return errGuardBypassed
}

// check reports, at the caller's line, every call that broke the guard
// since the last check.
func (s *spy) check(t interface {
	Helper()
	Errorf(format string, args ...any)
}) {
	t.Helper()
	s.mu.Lock()
	bad := s.bad
	s.bad = nil
	s.mu.Unlock()
	for _, b := range bad {
		t.Errorf("the Manager's guard let a call through: %s", b)
	}
}

// errStoreDown is the error of every call through a failing engine.
var errStoreDown = errors.New("conformance: the store is down")

// failing returns e wrapped so that, once down is set, every call fails
// with errStoreDown (Close still closes).
func failing(e sessions.Engine) (sessions.Engine, *atomic.Bool) {
	down := new(atomic.Bool)
	return wrapEngine(e, func(c call) error {
		if down.Load() && c.op != "Close" {
			return errStoreDown
		}
		return nil
	}), down
}

// guardCases drive every Manager entry point with what the guard must stop.
func guardCases() []managerCase {
	return []managerCase{
		{name: "HostileKeys", serverOnly: true, reason: "a key outside [a-z0-9]{8,40} never reaches the engine (path traversal, injection, protocol smuggling): every Manager entry point answers no session, or ErrInvalidKey where a key is asked for", run: caseHostileKeys},
		{name: "InvalidUserID", serverOnly: true, reason: "an empty user ID, one over MaxUserIDLength bytes, one with a NUL byte or one not valid UTF-8 never reaches the engine: BindUser, DeleteUser and UserSessions answer ErrInvalidKey and change nothing; MaxUserIDLength bytes are accepted", run: caseInvalidUserID},
		{name: "CancelledContext", serverOnly: true, reason: "a context cancelled before the call never reaches the engine: every Manager entry point answers an error matching context.Canceled, and nothing is written", run: caseCancelledContext},
		{name: "UseAfterClose", serverOnly: true, reason: "after Manager.Close no call reaches the engine: every entry point answers ErrClosed, the engine is closed once, and a second Close is harmless", run: caseUseAfterClose},
	}
}

// serveRawCookie is serve with the Cookie header written as is, so that
// a value net/http would refuse to send still reaches the middleware.
func (c *mgr) serveRawCookie(m *sessions.Manager, h http.HandlerFunc, value string) *http.Response {
	c.t.Helper()
	req := httptest.NewRequest("GET", "http://example.com/", nil)
	req.Header.Set("Cookie", m.Settings().CookieName+"="+value)
	rec := httptest.NewRecorder()
	m.Handler(h).ServeHTTP(rec, req)
	return rec.Result()
}

func caseHostileKeys(c *mgr) {
	m := c.manager(nil)
	live := c.saved(m, map[string]any{"x": "1"})
	_, index := c.engine.(sessions.UserIndexer)
	for _, k := range hostileKeys {
		// Load and Get: no session.
		s := m.Load(c.ctx, k)
		if v := s.Get("x"); v != nil || s.Len() != 0 || s.Key() != "" || s.Err() != nil {
			c.t.Errorf("Load(%.40q): Get = %v, %d keys, key kept %v, error %v; want no session", k, v, s.Len(), s.Key() != "", s.Err())
		}
		// Save: under a fresh key, never under k.
		s.Set("y", "2")
		if err := s.Save(c.ctx); err != nil || !sessions.ValidKey(s.Key()) {
			c.t.Errorf("Save of a session loaded with %.40q: %v, key valid %v", k, err, sessions.ValidKey(s.Key()))
		}
		// Flush and CycleKey: nothing to delete.
		if err := m.Load(c.ctx, k).Flush(c.ctx); err != nil {
			c.t.Errorf("Flush of a session loaded with %.40q: %v", k, err)
		}
		cy := m.Load(c.ctx, k)
		if err := cy.CycleKey(c.ctx); err != nil || !sessions.ValidKey(cy.Key()) {
			c.t.Errorf("CycleKey of a session loaded with %.40q: %v, key valid %v", k, err, sessions.ValidKey(cy.Key()))
		}
		// Exists: no session. Inspect: ErrInvalidKey.
		if ok, err := m.Exists(c.ctx, k); ok || err != nil {
			c.t.Errorf("Exists(%.40q) = %v, %v; want false, nil", k, ok, err)
		}
		if _, _, err := m.Inspect(c.ctx, k); !errors.Is(err, sessions.ErrInvalidKey) {
			c.t.Errorf("Inspect(%.40q): %v, want ErrInvalidKey", k, err)
		}
		// BindUser: the session is saved under a fresh key first.
		if err := m.BindUser(c.ctx, m.Load(c.ctx, k), "hostile-keys"); err != nil && (index || !errors.Is(err, sessions.ErrUnsupported)) {
			c.t.Errorf("BindUser of a session loaded with %.40q: %v", k, err)
		}
		// The middleware: no session, no error.
		res := c.serveRawCookie(m, func(w http.ResponseWriter, r *http.Request) {
			if n := sessions.FromContext(r.Context()).Len(); n != 0 {
				c.t.Errorf("cookie %.40q loaded %d keys", k, n)
			}
		}, k)
		if res.StatusCode != http.StatusOK {
			c.t.Errorf("cookie %.40q: status %d", k, res.StatusCode)
		}
		c.spy.check(c.t)
	}
	if index {
		if _, err := m.DeleteUser(c.ctx, "hostile-keys"); err != nil {
			c.t.Errorf("DeleteUser: %v", err)
		}
	}
	if v := m.Load(c.ctx, live).Get("x"); v != "1" {
		c.t.Errorf("the live session holds x = %v after the hostile keys, want 1", v)
	}
}

func caseInvalidUserID(c *mgr) {
	m := c.manager(nil)
	s := m.NewSession(c.ctx)
	s.Set("x", "1")
	if err := s.Save(c.ctx); err != nil {
		c.t.Fatal(err)
	}
	key := s.Key()
	_, index := c.engine.(sessions.UserIndexer)
	if index {
		if err := m.BindUser(c.ctx, s, "alice"); err != nil {
			c.t.Fatal(err)
		}
	}
	for _, bad := range badUserIDs {
		if err := m.BindUser(c.ctx, m.Load(c.ctx, key), bad); !errors.Is(err, sessions.ErrInvalidKey) {
			c.t.Errorf("BindUser with a %d-byte user ID: %v, want ErrInvalidKey", len(bad), err)
		}
		if _, err := m.DeleteUser(c.ctx, bad); !errors.Is(err, sessions.ErrInvalidKey) {
			c.t.Errorf("DeleteUser with a %d-byte user ID: %v, want ErrInvalidKey", len(bad), err)
		}
		if _, err := m.UserSessions(c.ctx, bad); !errors.Is(err, sessions.ErrInvalidKey) {
			c.t.Errorf("UserSessions with a %d-byte user ID: %v, want ErrInvalidKey", len(bad), err)
		}
		if _, err := m.DeleteUserExcept(c.ctx, bad, key); !errors.Is(err, sessions.ErrInvalidKey) {
			c.t.Errorf("DeleteUserExcept with a %d-byte user ID: %v, want ErrInvalidKey", len(bad), err)
		}
		if err := m.DeleteSession(c.ctx, bad, m.DeviceID(key)); !errors.Is(err, sessions.ErrInvalidKey) {
			c.t.Errorf("DeleteSession with a %d-byte user ID: %v, want ErrInvalidKey", len(bad), err)
		}
		c.spy.check(c.t)
	}
	// Nothing changed: the session and its binding.
	r := m.Load(c.ctx, key)
	if r.Get("x") != "1" || (index && r.Get(sessions.BoundUserKey) != "alice") {
		c.t.Errorf("after the refused calls the session holds %v", r.Keys())
	}
	if index {
		if got, err := m.UserSessions(c.ctx, "alice"); err != nil || !slices.Equal(deviceIDs(got), []string{m.DeviceID(key)}) {
			c.t.Errorf("after the refused calls UserSessions(alice) = %d sessions, %v; want her session", len(got), err)
		}
	}
	// The longest valid user ID passes the guard.
	longest := strings.Repeat("u", sessions.MaxUserIDLength)
	err := m.BindUser(c.ctx, m.Load(c.ctx, key), longest)
	switch {
	case index && err != nil:
		c.t.Errorf("BindUser with a %d-byte user ID: %v", len(longest), err)
	case !index && !errors.Is(err, sessions.ErrUnsupported):
		c.t.Errorf("BindUser without a user index: %v, want ErrUnsupported", err)
	}
	if index {
		if got, err := m.UserSessions(c.ctx, longest); err != nil || !slices.Equal(deviceIDs(got), []string{m.DeviceID(key)}) {
			c.t.Errorf("UserSessions of a %d-byte user ID = %d sessions, %v", len(longest), len(got), err)
		}
	}
}

// caseCancelledContext calls every entry point with a context cancelled
// beforehand.
func caseCancelledContext(c *mgr) {
	m := c.manager(nil)
	key := c.saved(m, map[string]any{"x": "1"})
	_, index := c.engine.(sessions.UserIndexer)
	if index {
		if err := m.BindUser(c.ctx, m.Load(c.ctx, key), "alice"); err != nil {
			c.t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(c.ctx)
	cancel()
	canceled := func(op string, err error) {
		c.t.Helper()
		if !errors.Is(err, context.Canceled) {
			c.t.Errorf("%s with a cancelled context: %v, want context.Canceled", op, err)
		}
		c.spy.check(c.t)
	}
	s := m.Load(ctx, key)
	s.Get("x")
	canceled("Load and Get", s.Err())
	loaded := m.Load(c.ctx, key)
	loaded.Set("x", "2")
	canceled("Save", loaded.Save(ctx))
	fresh := m.NewSession(c.ctx)
	fresh.Set("y", "1")
	canceled("Save of a new session", fresh.Save(ctx))
	_, err := m.Exists(ctx, key)
	canceled("Exists", err)
	canceled("Flush", m.Load(c.ctx, key).Flush(ctx))
	canceled("CycleKey", m.Load(c.ctx, key).CycleKey(ctx))
	_, err = m.ClearExpired(ctx)
	canceled("ClearExpired", err)
	canceled("Keys", m.Keys(ctx, func(string) bool { return true }))
	_, _, err = m.Inspect(ctx, key)
	canceled("Inspect", err)
	canceled("BindUser", m.BindUser(ctx, m.Load(c.ctx, key), "bob"))
	_, err = m.DeleteUser(ctx, "alice")
	canceled("DeleteUser", err)
	_, err = m.UserSessions(ctx, "alice")
	canceled("UserSessions", err)
	_, err = m.DeleteUserExcept(ctx, "alice", key)
	canceled("DeleteUserExcept", err)
	canceled("DeleteSession", m.DeleteSession(ctx, "alice", m.DeviceID(key)))
	// The middleware: a request whose context is gone gets the error
	// handler, and its change is not saved.
	var got error
	mh := c.manager(func(s *sessions.Settings) {
		s.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) { got = err; w.WriteHeader(503) }
	})
	req := httptest.NewRequestWithContext(ctx, "GET", "http://example.com/", nil)
	req.AddCookie(&http.Cookie{Name: "sessionid", Value: key})
	rec := httptest.NewRecorder()
	mh.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sessions.FromContext(r.Context()).Set("x", "3")
	})).ServeHTTP(rec, req)
	canceled("a request through the middleware", got)

	// Nothing was written.
	r := m.Load(c.ctx, key)
	if r.Get("x") != "1" || (index && r.Get(sessions.BoundUserKey) != "alice") {
		c.t.Errorf("after the cancelled calls the session holds x = %v, bound to %v; want 1, alice", r.Get("x"), r.Get(sessions.BoundUserKey))
	}
	if index {
		if got, err := m.UserSessions(c.ctx, "alice"); err != nil || !slices.Equal(deviceIDs(got), []string{m.DeviceID(key)}) {
			c.t.Errorf("after the cancelled calls UserSessions(alice) = %d sessions, %v; want her session", len(got), err)
		}
	}
	if l, ok := c.engine.(sessions.Lister); ok {
		n := 0
		if err := l.List(c.ctx, func(string) bool { n++; return true }); err != nil || n != 1 {
			c.t.Errorf("after the cancelled calls the store holds %d sessions (List: %v), want 1", n, err)
		}
	}
}

func caseUseAfterClose(c *mgr) {
	var handled error
	m := c.manager(func(s *sessions.Settings) {
		s.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) { handled = err; w.WriteHeader(503) }
	})
	key := c.saved(m, map[string]any{"x": "1"})
	loaded := m.Load(c.ctx, key)
	loaded.Get("x")
	if err := m.Close(); err != nil {
		c.t.Fatalf("Close: %v", err)
	}
	if err := m.Close(); err != nil {
		c.t.Errorf("second Close: %v", err)
	}
	closed := func(op string, err error) {
		c.t.Helper()
		if !errors.Is(err, sessions.ErrClosed) {
			c.t.Errorf("%s after Close: %v, want ErrClosed", op, err)
		}
		c.spy.check(c.t)
	}
	s := m.Load(c.ctx, key)
	s.Get("x")
	closed("Load and Get", s.Err())
	loaded.Set("x", "2")
	closed("Save", loaded.Save(c.ctx))
	fresh := m.NewSession(c.ctx)
	fresh.Set("y", "1")
	closed("Save of a new session", fresh.Save(c.ctx))
	_, err := m.Exists(c.ctx, key)
	closed("Exists", err)
	closed("Flush", m.Load(c.ctx, key).Flush(c.ctx))
	closed("CycleKey", m.Load(c.ctx, key).CycleKey(c.ctx))
	_, err = m.ClearExpired(c.ctx)
	closed("ClearExpired", err)
	closed("Keys", m.Keys(c.ctx, func(string) bool { return true }))
	_, _, err = m.Inspect(c.ctx, key)
	closed("Inspect", err)
	closed("BindUser", m.BindUser(c.ctx, m.Load(c.ctx, key), "alice"))
	_, err = m.DeleteUser(c.ctx, "alice")
	closed("DeleteUser", err)
	_, err = m.UserSessions(c.ctx, "alice")
	closed("UserSessions", err)
	c.serve(m, func(w http.ResponseWriter, r *http.Request) { sessions.FromContext(r.Context()).Get("x") }, key)
	closed("a request through the middleware", handled)
	c.spy.mu.Lock()
	closes := c.spy.closes
	c.spy.mu.Unlock()
	if closes != 1 {
		c.t.Errorf("the engine was closed %d times, want once", closes)
	}
}
