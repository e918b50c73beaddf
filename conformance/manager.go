package conformance

import (
	"bytes"
	"context"
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
	t   *testing.T
	h   Harness
	ctx context.Context
	// engine is the harness's engine; a server-side one is behind spy,
	// which watches every call the case makes through a Manager.
	engine sessions.Backend
	spy    *spy
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
	return c.managerOver(c.engine, fn)
}

// managerOver returns a Manager over b with settings changed by fn.
func (c *mgr) managerOver(b sessions.Backend, fn func(*sessions.Settings)) *sessions.Manager {
	c.t.Helper()
	s := c.settings()
	if fn != nil {
		fn(&s)
	}
	m, err := sessions.New(b, s)
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
// updates where the engine can swap, the interleavings of two requests).
// Each case gets a fresh engine, wrapped in a spy that fails the case if
// a hostile key, an invalid user ID, a cancelled context or a call after
// Close ever reaches it: the Manager's guard, which engines rely on.
func RunManager(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil {
		t.Fatal("conformance: Harness.New is nil")
	}
	cases := managerCases()
	for _, mc := range cases {
		t.Run(mc.name, func(t *testing.T) {
			if mc.serverOnly && h.Caps.ClientSide {
				t.Skipf("%s: signed-cookie sessions keep no server state", mc.reason)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			c := &mgr{t: t, h: h, ctx: ctx, engine: h.New(t), client: h.Caps.ClientSide, logs: &logBuffer{}, spy: &spy{}}
			if !c.client {
				c.engine = wrapEngine(asEngine(t, c.engine), c.spy.hook)
			}
			defer func() {
				c.spy.check(t)
				if t.Failed() {
					t.Logf("rule: %s", mc.reason)
				}
			}()
			mc.run(c)
		})
	}
	t.Logf("conformance: %d manager cases", len(cases))
}

// managerCases returns every case of RunManager.
func managerCases() []managerCase {
	return slices.Concat(sessionCases(), expiryCases(), middlewareCases(), fidelityCases(),
		concurrencyCases(), userCases(), deviceCases(), guardCases(), interleaveCases())
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
