package echosessions_test

import (
	"net/http"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/sessionkit/sessions"
	echosessions "github.com/sessionkit/sessions/adapters/echo"
	"github.com/sessionkit/sessions/backends/cookiestore"
	"github.com/sessionkit/sessions/backends/memstore"
	"github.com/sessionkit/sessions/conformance"
)

// serve runs app as an Echo route behind mw.
func serve(mw func(*sessions.Manager) echo.MiddlewareFunc) func(m *sessions.Manager, app http.Handler) http.Handler {
	return func(m *sessions.Manager, app http.Handler) http.Handler {
		e := echo.New()
		e.Use(mw(m))
		e.Any("/*", echo.WrapHandler(app))
		return e
	}
}

func harnesses() map[string]conformance.Harness {
	return map[string]conformance.Harness{
		"memstore": {New: func(t *testing.T) sessions.Backend {
			e := memstore.New(nil)
			t.Cleanup(func() { e.Close() })
			return e
		}},
		"cookiestore": {New: func(t *testing.T) sessions.Backend { return cookiestore.New(nil) }, Caps: conformance.Capabilities{ClientSide: true}},
	}
}

// The suite's middleware cases, over the cookie and the token headers,
// through Echo's router, context and response.
func TestConformance(t *testing.T) {
	for name, h := range harnesses() {
		t.Run(name, func(t *testing.T) {
			conformance.RunMiddleware(t, h, conformance.Framework{Serve: serve(echosessions.Middleware)})
		})
		t.Run(name+"/Buffered", func(t *testing.T) {
			conformance.RunMiddleware(t, h, conformance.Framework{Serve: serve(echosessions.BufferedMiddleware), Buffered: true})
		})
	}
}
