package fibersessions_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/sessionkit/sessions"
	fibersessions "github.com/sessionkit/sessions/adapters/fiber"
	"github.com/sessionkit/sessions/backends/memstore"
	"github.com/sessionkit/sessions/internal/testutil"
)

func newApp(t *testing.T, token string, cfg ...fiber.Config) (*sessions.Manager, *fiber.App) {
	t.Helper()
	st := testutil.Settings()
	st.TokenHeader = token
	m, err := sessions.New(memstore.New(nil), st)
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New(cfg...)
	app.Use(fibersessions.Middleware(m))
	return m, app
}

// stored returns the key of a stored session holding cart=a.
func stored(t *testing.T, m *sessions.Manager) string {
	t.Helper()
	s := m.NewSession(context.Background())
	s.Set("cart", "a")
	if err := s.Save(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s.Key()
}

func do(t *testing.T, app *fiber.App, path, cookie string) *http.Response {
	t.Helper()
	req := httptest.NewRequest("POST", "http://shop.example"+path, nil)
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: "sessionid", Value: cookie})
	}
	res, err := app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func change(c *fiber.Ctx) { fibersessions.FromContext(c).Set("cart", "changed") }

// A returned error's status is the response's, with Fiber's default
// error handler or the app's own: a 5xx saves nothing and sends no
// cookie, a 404 saves and sends the cookie.
func TestReturnedErrorStatus(t *testing.T) {
	custom := fiber.Config{ErrorHandler: func(c *fiber.Ctx, err error) error {
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"error": err.Error()})
	}}
	for name, cfg := range map[string][]fiber.Config{"DefaultErrorHandler": nil, "CustomErrorHandler": {custom}} {
		t.Run(name, func(t *testing.T) {
			m, app := newApp(t, "", cfg...)
			app.Post("/error", func(c *fiber.Ctx) error { change(c); return errors.New("boom") })
			app.Post("/fiber503", func(c *fiber.Ctx) error { change(c); return fiber.ErrServiceUnavailable })
			app.Post("/status500", func(c *fiber.Ctx) error { change(c); return c.SendStatus(500) })
			app.Post("/notfound", func(c *fiber.Ctx) error { change(c); return fiber.ErrNotFound })
			app.Post("/ok", func(c *fiber.Ctx) error { change(c); return c.SendString("ok") })
			want := map[string]bool{"/error": false, "/fiber503": false, "/status500": false, "/notfound": true, "/ok": true}
			if name == "CustomErrorHandler" {
				want["/notfound"] = false // the custom handler answers 503 for every error
			}
			for path, save := range want {
				key := stored(t, m)
				res := do(t, app, path, key)
				saved := m.Load(context.Background(), key).Get("cart") == "changed"
				cookie := strings.Contains(res.Header.Get("Set-Cookie"), key)
				if saved != save || cookie != save || (res.StatusCode >= 500) == save {
					t.Errorf("%s: status %d saved %v cookie %v, want saved %v", path, res.StatusCode, saved, cookie, save)
				}
			}
		})
	}
}

// A session deleted by a concurrent request answers 400 in place of the
// handler's response.
func TestInterruptedIs400(t *testing.T) {
	m, app := newApp(t, "")
	app.Post("/", func(c *fiber.Ctx) error {
		s := fibersessions.FromContext(c)
		s.Get("cart")
		m.Load(context.Background(), s.Key()).Flush(context.Background()) // another request logs out
		s.Set("cart", "b")
		c.Set("X-Secret", "1")
		return c.JSON(fiber.Map{"secret": "page"})
	})
	res := do(t, app, "/", stored(t, m))
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 400 || strings.Contains(string(body), "secret") || res.Header.Get("X-Secret") != "" || !strings.Contains(string(body), "concurrent request") {
		t.Errorf("status %d headers %v body %q", res.StatusCode, res.Header, body)
	}
}

// The session is the same through FromContext and c.UserContext().
func TestFromContext(t *testing.T) {
	_, app := newApp(t, "")
	app.Post("/", func(c *fiber.Ctx) error {
		if s := fibersessions.FromContext(c); s == nil || s != sessions.FromContext(c.UserContext()) {
			t.Error("FromContext differs from sessions.FromContext(c.UserContext())")
		}
		return nil
	})
	do(t, app, "/", "")
	bare := fiber.New()
	bare.Get("/", func(c *fiber.Ctx) error {
		if fibersessions.FromContext(c) != nil {
			t.Error("FromContext of a context without the middleware is not nil")
		}
		return nil
	})
	bare.Test(httptest.NewRequest("GET", "/", nil), -1)
}

// An API client logs in, is recognised and logs out with
// "Authorization: Bearer", over a real loopback listener.
func TestTokenHeaderListener(t *testing.T) {
	_, app := newApp(t, "Authorization")
	app.Post("/login", func(c *fiber.Ctx) error {
		s := fibersessions.FromContext(c)
		s.CycleKey(c.UserContext())
		s.Set("user", "ann")
		return c.JSON(fiber.Map{"ok": true})
	})
	app.Get("/me", func(c *fiber.Ctx) error {
		u, _ := sessions.Get[string](fibersessions.FromContext(c), "user")
		if u == "" {
			return fiber.ErrUnauthorized
		}
		return c.SendString(u)
	})
	app.Post("/logout", func(c *fiber.Ctx) error { return fibersessions.FromContext(c).Flush(c.UserContext()) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go app.Listener(ln)
	t.Cleanup(func() { app.Shutdown() })
	base := "http://" + ln.Addr().String()
	call := func(method, path, key string) *http.Response {
		req, _ := http.NewRequest(method, base+path, nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		return res
	}
	key := call("POST", "/login", "").Header.Get("Authorization")
	if !sessions.ValidKey(key) {
		t.Fatalf("login returned key %q", key)
	}
	if body, _ := io.ReadAll(call("GET", "/me", key).Body); string(body) != "ann" {
		t.Errorf("me: %q", body)
	}
	res := call("POST", "/logout", key)
	if vs := res.Header.Values("Authorization"); len(vs) != 1 || vs[0] != "" {
		t.Errorf("logout: Authorization %q, want present and empty", vs)
	}
	if res := call("GET", "/me", key); res.StatusCode != 401 {
		t.Errorf("me after logout: %d", res.StatusCode)
	}
}

// A handler that panics behind Fiber's recover middleware answers 500
// and saves nothing.
func TestPanicRecovered(t *testing.T) {
	st := testutil.QuietSettings()
	m, _ := sessions.New(memstore.New(nil), st)
	app := fiber.New()
	app.Use(recover.New(), fibersessions.Middleware(m))
	app.Post("/", func(c *fiber.Ctx) error { change(c); panic("bug") })
	key := stored(t, m)
	if res := do(t, app, "/", key); res.StatusCode != 500 || res.Header.Get("Set-Cookie") != "" {
		t.Errorf("status %d, Set-Cookie %q", res.StatusCode, res.Header.Get("Set-Cookie"))
	}
	if v := m.Load(context.Background(), key).Get("cart"); v != "a" {
		t.Errorf("cart = %v", v)
	}
}

// The key is found when a middleware before the session's has already
// read a cookie (fasthttp then serves the Cookie header from its parsed
// cookies).
func TestCookiesReadBefore(t *testing.T) {
	st := testutil.QuietSettings()
	m, _ := sessions.New(memstore.New(nil), st)
	app := fiber.New()
	app.Use(func(c *fiber.Ctx) error { c.Cookies("theme"); return c.Next() }, fibersessions.Middleware(m))
	app.Post("/", func(c *fiber.Ctx) error { return c.SendString(fibersessions.FromContext(c).Get("cart").(string)) })
	key := stored(t, m)
	req := httptest.NewRequest("POST", "/", nil)
	req.Header.Set("Cookie", "theme=dark; sessionid="+key+"; lang=fr")
	res, err := app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	if body, _ := io.ReadAll(res.Body); string(body) != "a" {
		t.Errorf("body %q, want the session's cart", body)
	}
}
