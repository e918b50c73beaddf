// Package fibersessions plugs sessionkit sessions into Fiber v2
// (github.com/gofiber/fiber/v2), which runs on fasthttp rather than
// net/http.
//
//	app := fiber.New()
//	app.Use(fibersessions.Middleware(m))
//	app.Post("/cart", func(c *fiber.Ctx) error {
//		fibersessions.FromContext(c).Set("cart", c.FormValue("item"))
//		return c.SendStatus(fiber.StatusNoContent)
//	})
//
// The middleware reads the session key from fasthttp's request (the
// session cookie, or Settings.TokenHeader), and when the handler has
// returned applies the rules of [sessions.Manager.Handler] to Fiber's
// response: the session is saved only when needed and never for a
// response of 500 or more, the Set-Cookie line (the same bytes as
// net/http's), the deletion cookie or the token header and Vary are
// added to the response's header, a session deleted by a concurrent
// request answers 400, and a store failure goes to
// Settings.ErrorHandler.
//
// Fiber holds the whole response until the handler returns, as
// [sessions.Manager.BufferedHandler] does, so every change the handler
// makes reaches the client. A body stream (fasthttp's
// SetBodyStreamWriter) runs after the rules: a change to the session
// made from it is not saved.
//
// # Returned errors
//
// Fiber turns an error a handler returns into a response only after
// every middleware has returned, too late for the session rules. So the
// middleware passes the error to the app's ErrorHandler at once, while
// the rules can still see the status, and returns nil, as Fiber's own
// logger middleware does.
package fibersessions

import (
	"context"
	"net/http"

	"github.com/gofiber/fiber/v2"
	"github.com/sessionkit/sessions"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

// localsKey is the c.Locals key of the request's session.
type localsKey struct{}

// Middleware returns Fiber middleware that gives every request a session
// from m, read with [FromContext] (or sessions.FromContext of
// c.UserContext()), and saves it as [sessions.Manager.Handler] does.
func Middleware(m *sessions.Manager) fiber.Handler {
	keyHeader := "Cookie"
	if name := m.Settings().TokenHeader; name != "" {
		keyHeader = http.CanonicalHeaderKey(name)
	}
	return func(c *fiber.Ctx) error {
		h := http.Header{}
		for _, v := range c.Request().Header.PeekAll(keyHeader) {
			h.Add(keyHeader, string(v))
		}
		ctx := c.UserContext()
		s := m.Begin(ctx, h)
		c.Locals(localsKey{}, s)
		c.SetUserContext(sessions.NewContext(ctx, s))
		if err := c.Next(); err != nil {
			// Render the error now: its status decides the save.
			if err := c.App().ErrorHandler(c, err); err != nil {
				_ = c.SendStatus(fiber.StatusInternalServerError)
			}
		}
		res := &c.Response().Header
		out := http.Header{}
		for _, v := range res.PeekAll(fiber.HeaderVary) {
			out.Add(fiber.HeaderVary, string(v))
		}
		if err := m.Finish(ctx, s, c.Response().StatusCode(), out); err != nil {
			serveError(m, c, c.UserContext(), err) // the request carries the session, as Handler's does
			return nil
		}
		for k, vs := range out {
			if k != fiber.HeaderSetCookie {
				res.Del(k) // Vary (merged) or the token header
			}
			for _, v := range vs {
				res.Add(k, v) // Set-Cookie: one per cookie name, the session's replacing any other of its name
			}
		}
		return nil
	}
}

// FromContext returns the session [Middleware] attached to c, or nil if
// c did not pass through it.
func FromContext(c *fiber.Ctx) *sessions.Session {
	s, _ := c.Locals(localsKey{}).(*sessions.Session)
	return s
}

// serveError replaces the handler's response by the Manager's error
// response (400 for ErrInterrupted, else Settings.ErrorHandler), which
// is written for net/http: its writes are collected and moved to Fiber's
// response.
func serveError(m *sessions.Manager, c *fiber.Ctx, ctx context.Context, err error) {
	var r http.Request
	if cerr := fasthttpadaptor.ConvertRequest(c.Context(), &r, true); cerr != nil {
		r = http.Request{Method: string(c.Method()), Header: http.Header{}}
	}
	w := &errorWriter{header: http.Header{}}
	m.ServeError(w, r.WithContext(ctx), err)
	res := c.Response()
	res.Reset()
	if w.status == 0 {
		w.status = http.StatusOK
	}
	res.SetStatusCode(w.status)
	for k, vs := range w.header {
		for _, v := range vs {
			res.Header.Add(k, v)
		}
	}
	res.SetBodyRaw(w.body)
}

// errorWriter collects an error response written for net/http.
type errorWriter struct {
	header http.Header
	status int
	body   []byte
}

func (w *errorWriter) Header() http.Header { return w.header }

func (w *errorWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *errorWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.body = append(w.body, b...)
	return len(b), nil
}
