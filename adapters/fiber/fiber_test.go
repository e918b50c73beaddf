package fibersessions_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/sessionkit/sessions"
	fibersessions "github.com/sessionkit/sessions/adapters/fiber"
	"github.com/sessionkit/sessions/backends/cookiestore"
	"github.com/sessionkit/sessions/backends/memstore"
	"github.com/sessionkit/sessions/conformance"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

// serve runs app as a Fiber route behind the session middleware: each
// net/http request is sent to Fiber with app.Test (a fasthttp request
// over an in-memory connection) and Fiber's response copied back.
func serve(m *sessions.Manager, app http.Handler) http.Handler {
	// A case sends a 5,000-byte cookie: more than fasthttp's default
	// 4 KiB header buffer, which would refuse it before any middleware.
	f := fiber.New(fiber.Config{ReadBufferSize: 16 << 10})
	f.Use(fibersessions.Middleware(m))
	f.All("/*", netHTTP(app))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := f.Test(r, -1)
		if err != nil {
			http.Error(w, "fiber: "+err.Error(), http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		for k, vs := range res.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(res.StatusCode)
		io.Copy(w, res.Body)
	})
}

// netHTTP runs a net/http handler inside Fiber, with the request's
// context carrying the session of c.UserContext().
func netHTTP(h http.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var r http.Request
		if err := fasthttpadaptor.ConvertRequest(c.Context(), &r, true); err != nil {
			return err
		}
		w := &fiberWriter{c: c, header: http.Header{}}
		h.ServeHTTP(w, r.WithContext(c.UserContext()))
		w.WriteHeader(http.StatusOK)
		w.copyHeader() // Fiber sends nothing before the handler returns
		return nil
	}
}

// fiberWriter writes a net/http handler's response to Fiber's.
type fiberWriter struct {
	c      *fiber.Ctx
	header http.Header
	wrote  bool
}

func (w *fiberWriter) Header() http.Header { return w.header }

func (w *fiberWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote = true
	w.c.Status(code)
	w.copyHeader()
}

func (w *fiberWriter) copyHeader() {
	for k, vs := range w.header {
		w.c.Response().Header.Del(k)
		for _, v := range vs {
			w.c.Response().Header.Add(k, v)
		}
	}
}

func (w *fiberWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.c.Write(b)
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
// through Fiber and fasthttp. Fiber holds the response until the handler
// returns: the buffered cases run, the streaming ones are skipped.
func TestConformance(t *testing.T) {
	for name, h := range harnesses() {
		t.Run(name, func(t *testing.T) {
			conformance.RunMiddleware(t, h, conformance.Framework{Serve: serve, Buffered: true})
		})
	}
}
