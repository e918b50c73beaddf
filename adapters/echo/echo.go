// Package echosessions plugs sessionkit sessions into Echo v4
// (github.com/labstack/echo/v4).
//
//	e := echo.New()
//	e.Use(echosessions.Middleware(m))
//	e.POST("/cart", func(c echo.Context) error {
//		echosessions.FromContext(c).Set("cart", c.FormValue("item"))
//		return c.NoContent(http.StatusNoContent)
//	})
//
// The middleware keeps every rule of [sessions.Manager.Handler]: the
// session is loaded lazily from the cookie (or Settings.TokenHeader),
// saved only when needed and never for a response of 500 or more, Vary
// and the deletion cookie are sent, a session deleted by a concurrent
// request answers 400, and a store failure goes to
// Settings.ErrorHandler.
//
// # Returned errors
//
// Echo turns an error a handler returns into a response only after every
// middleware has returned, too late for the session rules (Echo's
// WrapMiddleware around Manager.Handler saves the session of a request
// that then fails with a 500). So the middleware has Echo render the
// error at once, with c.Error, while the session rules still see the
// status, and then returns the error as Echo's own Logger middleware
// does: outer middleware sees it, and Echo's default error handler skips
// a response already committed. A custom HTTPErrorHandler should do the
// same (check c.Response().Committed first).
package echosessions

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/sessionkit/sessions"
)

// contextKey is the echo.Context key of the request's session.
const contextKey = "github.com/sessionkit/sessions"

// Middleware returns Echo middleware that gives every request a session
// from m, read with [FromContext] (or sessions.FromContext of the
// request's context), and saves it as [sessions.Manager.Handler] does.
func Middleware(m *sessions.Manager) echo.MiddlewareFunc {
	return middleware(m.Handler)
}

// BufferedMiddleware is [Middleware] with the timing of
// [sessions.Manager.BufferedHandler]: the response is held until the
// handler returns, so a change to the session after the handler started
// writing still reaches the client.
func BufferedMiddleware(m *sessions.Manager) echo.MiddlewareFunc {
	return middleware(m.BufferedHandler)
}

func middleware(wrap func(http.Handler) http.Handler) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			res := c.Response()
			w := res.Writer
			var err error
			wrap(http.HandlerFunc(func(sw http.ResponseWriter, r *http.Request) {
				res.Writer = sw // the session's writer: its rules run at the status line
				c.SetRequest(r)
				c.Set(contextKey, sessions.FromContext(r.Context()))
				if err = next(c); err != nil {
					if res.Committed && res.Status >= 100 && res.Status < 200 && res.Status != http.StatusSwitchingProtocols {
						// Echo counts an informational response (103
						// Early Hints) as the response, and its error
						// handler would send none: net/http would then
						// send a 200, saving the session. The final
						// response is still to come.
						res.Committed = false
					}
					c.Error(err) // the error's response, while the rules can see its status
				}
			})).ServeHTTP(w, c.Request())
			res.Writer = w
			return err
		}
	}
}

// FromContext returns the session [Middleware] attached to c, or nil if
// c did not pass through it.
func FromContext(c echo.Context) *sessions.Session {
	s, _ := c.Get(contextKey).(*sessions.Session)
	return s
}
