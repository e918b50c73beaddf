package ginsessions_test

import (
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/sessionkit/sessions"
	ginsessions "github.com/sessionkit/sessions/adapters/gin"
	"github.com/sessionkit/sessions/backends/cookiestore"
	"github.com/sessionkit/sessions/backends/memstore"
	"github.com/sessionkit/sessions/conformance"
)

func init() { gin.SetMode(gin.TestMode) }

// serve runs app as a Gin route behind the session middleware.
func serve(m *sessions.Manager, app http.Handler) http.Handler {
	r := gin.New()
	r.Use(ginsessions.Middleware(m))
	r.Any("/*path", gin.WrapH(app))
	return r
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
// through Gin's router, writer and context.
func TestConformance(t *testing.T) {
	for name, h := range harnesses() {
		t.Run(name, func(t *testing.T) {
			conformance.RunMiddleware(t, h, conformance.Framework{Serve: serve})
		})
	}
}
