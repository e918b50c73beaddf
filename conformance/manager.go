package conformance

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/internal/syncbuf"
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
	logs   *syncbuf.Buffer
	// fw serves the middleware cases (nil: Manager.Handler and
	// Manager.BufferedHandler); token is the transport's header (""
	// for the session cookie): see RunMiddleware.
	fw    *Framework
	token string
}

// settings returns the default settings of the suite.
func (c *mgr) settings() sessions.Settings {
	s := sessions.DefaultSettings()
	s.SecretKey = SecretKey
	s.Logger = newLogger(c.logs)
	s.TokenHeader = c.token
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

// serve runs one request through m's middleware (see handler) with an
// optional session key, sent as the transport sends it.
func (c *mgr) serve(m *sessions.Manager, h http.HandlerFunc, key string) *http.Response {
	c.t.Helper()
	return c.serveReq(m, h, httptest.NewRequest("GET", "http://example.com/", nil), key)
}

// serveReq is serve for a request of the case's own.
func (c *mgr) serveReq(m *sessions.Manager, h http.HandlerFunc, req *http.Request, key string) *http.Response {
	c.t.Helper()
	c.sendKey(m, req, key)
	rec := httptest.NewRecorder()
	c.handler(m, h, false).ServeHTTP(rec, req)
	return rec.Result()
}

// sendKey adds key to req as the transport carries it.
func (c *mgr) sendKey(m *sessions.Manager, req *http.Request, key string) {
	switch {
	case key == "":
	case c.token == "":
		req.AddCookie(&http.Cookie{Name: m.Settings().CookieName, Value: key})
	case strings.EqualFold(c.token, "Authorization"):
		req.Header.Set(c.token, "Bearer "+key)
	default:
		req.Header.Set(c.token, key)
	}
}

// handler returns h behind m's middleware: the framework's under test,
// or else Manager.Handler (Manager.BufferedHandler if buffered).
func (c *mgr) handler(m *sessions.Manager, h http.Handler, buffered bool) http.Handler {
	switch {
	case c.fw != nil && c.fw.Serve != nil:
		return c.fw.Serve(m, h)
	case buffered || c.fw != nil && c.fw.Buffered:
		return m.BufferedHandler(h)
	}
	return m.Handler(h)
}

// sent returns what the response told the client of its session key, as
// a cookie: the session cookie, or for a token transport the header's
// value (Max-Age -1 when the header is present and empty: drop the key);
// nil if it told nothing.
func (c *mgr) sent(res *http.Response) *http.Cookie {
	if c.token == "" {
		return sessionCookie(res, "sessionid")
	}
	vs := res.Header.Values(c.token)
	if len(vs) == 0 {
		return nil
	}
	ck := &http.Cookie{Name: c.token, Value: vs[0]}
	if ck.Value == "" {
		ck.MaxAge = -1
	}
	return ck
}

// raw returns the transport's response header ("" if absent).
func (c *mgr) raw(res *http.Response) string {
	if c.token == "" {
		return rawSetCookie(res, "sessionid")
	}
	vs := res.Header.Values(c.token)
	if len(vs) == 0 {
		return ""
	}
	return c.token + ": " + strings.Join(vs, ", ")
}

// varyName is the request header the transport's responses vary on.
func (c *mgr) varyName() string {
	if c.token == "" {
		return "Cookie"
	}
	return c.token
}

// varies reports whether the response's Vary names the transport's
// request header.
func (c *mgr) varies(res *http.Response) bool {
	if c.token == "" {
		return hasVaryCookie(res)
	}
	return hasVary(res, c.token)
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

func hasVaryCookie(res *http.Response) bool { return hasVary(res, "Cookie") }

func hasVary(res *http.Response, name string) bool {
	for _, v := range res.Header.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), name) {
				return true
			}
		}
	}
	return false
}

type managerCase struct {
	name   string
	reason string
	// serverOnly cases need server-side storage (skipped for ClientSide).
	serverOnly bool
	// cookieOnly cases check the cookie's attributes (skipped over a
	// token transport); streaming cases, a response sent while the
	// handler runs, and buffered cases, one held until it returns (each
	// skipped by RunMiddleware for the other kind of framework).
	cookieOnly, streaming, buffered bool
	run                             func(c *mgr)
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
			c := &mgr{t: t, h: h, ctx: ctx, engine: h.New(t), client: h.Caps.ClientSide, logs: &syncbuf.Buffer{}, spy: &spy{}}
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
