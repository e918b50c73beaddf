package conformance

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
)

// Framework is a web framework's session middleware, for [RunMiddleware]:
// a framework adapter (Gin, Echo, Fiber) proves with it that it keeps
// the rules of [sessions.Manager.Handler].
type Framework struct {
	// Serve returns a net/http handler that serves app through the
	// framework, behind its session middleware over m: a request goes
	// in, through the framework's router and middleware, to app, and
	// the framework's response comes out. app reads the session with
	// sessions.FromContext(r.Context()) and answers through w, as a
	// net/http handler; Serve adapts both to the framework (for a
	// framework that is not net/http, by running it on a loopback
	// listener or its own test entry point). Nil serves app with
	// Manager.Handler, or Manager.BufferedHandler if Buffered.
	Serve func(m *sessions.Manager, app http.Handler) http.Handler
	// Buffered says the framework holds the whole response until the
	// handler has returned (Manager.BufferedHandler; Fiber): a change
	// made after a Write still reaches the client. The cases of a
	// response that streams while the handler runs are then skipped,
	// and those of a held response run.
	Buffered bool
}

// transports are the ways RunMiddleware sends the session key: the
// cookie, and the token headers of Settings.TokenHeader.
var transports = []struct{ name, header string }{
	{"Cookie", ""},
	{"TokenHeader", "X-Session-Token"},
	{"Bearer", "Authorization"},
}

// RunMiddleware runs the middleware cases of [RunManager] (Django's
// SessionMiddlewareTests and the rules this module adds: save only when
// needed, Vary, the deletion cookie, no save for a 5xx response, 400 for
// a session deleted by a concurrent request, the error handler for a
// store failure, no fixation, a key cycled at login) through f, over
// engines from h. Every case runs once for each transport: the session
// cookie, a token header ("X-Session-Token") and "Authorization: Bearer"
// (Settings.TokenHeader); cases about the cookie's attributes run over
// the cookie only.
func RunMiddleware(t *testing.T, h Harness, f Framework) {
	t.Helper()
	if h.New == nil {
		t.Fatal("conformance: Harness.New is nil")
	}
	cases := slices.Concat(middlewareCases(), fidelityCases())
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			for _, mc := range cases {
				t.Run(mc.name, func(t *testing.T) {
					switch {
					case mc.cookieOnly && tr.header != "":
						t.Skipf("%s: the cookie's own rule", mc.reason)
					case mc.serverOnly && h.Caps.ClientSide:
						t.Skipf("%s: signed-cookie sessions keep no server state", mc.reason)
					case mc.streaming && f.Buffered:
						t.Skipf("%s: the framework holds the response until the handler returns", mc.reason)
					case mc.buffered && !f.Buffered:
						t.Skipf("%s: the framework streams the response", mc.reason)
					}
					ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
					defer cancel()
					c := &mgr{t: t, h: h, ctx: ctx, engine: h.New(t), client: h.Caps.ClientSide, logs: &logBuffer{}, spy: &spy{},
						fw: &f, token: tr.header}
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
		})
	}
}
