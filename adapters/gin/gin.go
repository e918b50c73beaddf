// Package ginsessions plugs sessionkit sessions into Gin
// (github.com/gin-gonic/gin).
//
//	r := gin.New()
//	r.Use(ginsessions.Middleware(m))
//	r.POST("/cart", func(c *gin.Context) {
//		ginsessions.FromContext(c).Set("cart", c.PostForm("item"))
//	})
//
// The middleware keeps every rule of [sessions.Manager.Handler]: the
// session is loaded lazily from the cookie (or Settings.TokenHeader),
// saved only when needed and never for a response of 500 or more (an
// aborted context included: c.AbortWithStatus(500) saves nothing),
// Vary and the deletion cookie are sent, a session deleted by a
// concurrent request answers 400, and a store failure goes to
// Settings.ErrorHandler. The rules run just before the response's
// header is written, with the status Gin writes.
//
// Gin writes the status of a handler that wrote nothing after the whole
// chain has returned: a middleware that turns c.Errors into a status
// must run inside the session middleware (be registered after it) for
// that status to count.
package ginsessions

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/sessionkit/sessions"
)

// contextKey is the gin.Context key of the request's session.
const contextKey = "github.com/sessionkit/sessions"

// Middleware returns Gin middleware that gives every request a session
// from m, read with [FromContext] (or sessions.FromContext of the
// request's context), and saves it as [sessions.Manager.Handler] does.
func Middleware(m *sessions.Manager) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		s := m.Begin(ctx, c.Request.Header)
		c.Request = c.Request.WithContext(sessions.NewContext(ctx, s))
		c.Set(contextKey, s)
		w := &writer{ResponseWriter: c.Writer, m: m, s: s, c: c}
		c.Writer = w
		c.Next()
		w.end()
		if c.Writer == w {
			c.Writer = w.ResponseWriter
		}
	}
}

// FromContext returns the session [Middleware] attached to c, or nil if
// c did not pass through it.
func FromContext(c *gin.Context) *sessions.Session {
	v, _ := c.Get(contextKey)
	s, _ := v.(*sessions.Session)
	return s
}

// errReplaced is returned by Write after the session could not be saved
// and the response was replaced by an error response.
var errReplaced = errors.New("ginsessions: response replaced by an error response because the session could not be saved")

// writer runs the session rules before Gin writes the response's header.
type writer struct {
	gin.ResponseWriter
	m         *sessions.Manager
	s         *sessions.Session
	c         *gin.Context
	committed bool // Finish ran for the status (the header is written or about to be)
	failed    bool // the response was replaced by an error response
	hijacked  bool
}

// commit runs the rules for the status Gin is about to write.
func (w *writer) commit() {
	if w.committed {
		return
	}
	w.committed = true
	err := w.m.Finish(w.c.Request.Context(), w.s, w.ResponseWriter.Status(), w.ResponseWriter.Header())
	if err != nil {
		w.failed = true
		w.m.ServeError(w.ResponseWriter, w.c.Request, err)
	}
}

// end runs when the chain has returned: the rules if nothing was
// written, else those of a change made after the header was sent.
func (w *writer) end() {
	switch {
	case w.failed:
	case !w.committed:
		w.commit() // Gin writes the header next, with the session's
	default:
		// After a Hijack the connection is the handler's: Finish logs.
		if err := w.m.Finish(w.c.Request.Context(), w.s, 0, nil); err != nil && !w.hijacked {
			w.m.ServeError(w.ResponseWriter, w.c.Request, err)
		}
	}
}

// WriteHeader records the status, as Gin's writer does; after a failed
// save the error response's status stays.
func (w *writer) WriteHeader(code int) {
	if w.failed {
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

// WriteHeaderNow writes the header (c.AbortWithStatus, c.Status with no
// body) after the session rules.
func (w *writer) WriteHeaderNow() {
	w.commit()
	if w.failed {
		return
	}
	w.ResponseWriter.WriteHeaderNow()
}

func (w *writer) Write(b []byte) (int, error) {
	w.commit()
	if w.failed {
		return 0, errReplaced
	}
	return w.ResponseWriter.Write(b)
}

func (w *writer) WriteString(s string) (int, error) {
	w.commit()
	if w.failed {
		return 0, errReplaced
	}
	return w.ResponseWriter.WriteString(s)
}

// Flush runs the session rules, then flushes.
func (w *writer) Flush() {
	w.commit()
	if w.failed {
		return
	}
	w.ResponseWriter.Flush()
}

// Hijack hands the connection over (WebSockets): changes to the session
// are then saved as after a started response (sessions.Manager.Hijacked).
// A Hijack that fails changes nothing: the response sent instead follows
// the rules.
func (w *writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	// Gin's own Hijack asserts that the writer under it can (a panic
	// otherwise), after marking the header written.
	if u, ok := w.ResponseWriter.(interface{ Unwrap() http.ResponseWriter }); ok {
		if _, ok := u.Unwrap().(http.Hijacker); !ok {
			return nil, nil, fmt.Errorf("ginsessions: hijack: %w", http.ErrNotSupported)
		}
	}
	conn, rw, err := w.ResponseWriter.Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.committed, w.hijacked = true, true
	w.m.Hijacked(w.c.Request.Context(), w.s)
	return conn, rw, nil
}

// Unwrap returns Gin's writer, for http.ResponseController.
func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }
