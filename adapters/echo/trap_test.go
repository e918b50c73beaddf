package echosessions_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/sessionkit/sessions"
	echosessions "github.com/sessionkit/sessions/adapters/echo"
	"github.com/sessionkit/sessions/backends/memstore"
	"github.com/sessionkit/sessions/internal/testutil"
)

func newManager(t *testing.T, token string) *sessions.Manager {
	t.Helper()
	st := testutil.Settings()
	st.TokenHeader = token
	m, err := sessions.New(memstore.New(nil), st)
	if err != nil {
		t.Fatal(err)
	}
	return m
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

func do(h http.Handler, path, cookie string) *http.Response {
	req := httptest.NewRequest("POST", "http://shop.example"+path, nil)
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: "sessionid", Value: cookie})
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

// errorRoutes change the session and then fail by returning an error,
// which Echo turns into the response after the middleware returned.
func errorRoutes(e *echo.Echo) {
	change := func(c echo.Context) { c.Get("s").(func() *sessions.Session)().Set("cart", "changed") }
	e.POST("/error", func(c echo.Context) error { change(c); return errors.New("boom") })
	e.POST("/http503", func(c echo.Context) error { change(c); return echo.NewHTTPError(503, "down") })
	e.POST("/http404", func(c echo.Context) error { change(c); return echo.ErrNotFound })
	e.POST("/ok", func(c echo.Context) error { change(c); return c.String(200, "ok") })
}

// A returned error's status is the response's: a 500 or 503 saves
// nothing and sends no cookie, a 404 saves and sends the cookie.
// Echo's WrapMiddleware around Manager.Handler gets the 5xx wrong, which
// the same checks catch.
func TestReturnedErrorStatus(t *testing.T) {
	for _, tc := range []struct {
		name string
		mw   func(m *sessions.Manager) echo.MiddlewareFunc
	}{
		{"Middleware", echosessions.Middleware},
		{"BufferedMiddleware", echosessions.BufferedMiddleware},
		{"WrapMiddleware", func(m *sessions.Manager) echo.MiddlewareFunc { return echo.WrapMiddleware(m.Handler) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newManager(t, "")
			e := echo.New()
			e.Use(tc.mw(m))
			e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
				return func(c echo.Context) error {
					c.Set("s", func() *sessions.Session { return sessions.FromContext(c.Request().Context()) })
					return next(c)
				}
			})
			errorRoutes(e)
			var wrong []string
			for path, want := range map[string]struct {
				status int
				saved  bool
			}{"/error": {500, false}, "/http503": {503, false}, "/http404": {404, true}, "/ok": {200, true}} {
				key := stored(t, m)
				res := do(e, path, key)
				saved := m.Load(context.Background(), key).Get("cart") == "changed"
				cookie := strings.Contains(res.Header.Get("Set-Cookie"), key)
				if res.StatusCode != want.status || saved != want.saved || cookie != want.saved {
					wrong = append(wrong, path)
					if tc.name != "WrapMiddleware" {
						t.Errorf("%s: status %d saved %v cookie %v, want %d and saved %v", path, res.StatusCode, saved, cookie, want.status, want.saved)
					}
				}
			}
			if tc.name == "WrapMiddleware" && len(wrong) == 0 {
				t.Error("the checks did not catch WrapMiddleware saving for a returned error")
			}
		})
	}
}

// A session deleted by a concurrent request answers 400 in place of the
// handler's response.
func TestInterruptedIs400(t *testing.T) {
	m := newManager(t, "")
	e := echo.New()
	e.Use(echosessions.Middleware(m))
	e.POST("/", func(c echo.Context) error {
		s := echosessions.FromContext(c)
		s.Get("cart")
		m.Load(context.Background(), s.Key()).Flush(context.Background()) // another request logs out
		s.Set("cart", "b")
		return c.JSON(200, map[string]string{"secret": "page"})
	})
	res := do(e, "/", stored(t, m))
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 400 || strings.Contains(string(body), "secret") || !strings.Contains(string(body), "concurrent request") {
		t.Errorf("status %d body %q", res.StatusCode, body)
	}
}

// The session is the same through FromContext and the request's context;
// the error a handler returns reaches outer middleware.
func TestFromContextAndError(t *testing.T) {
	m := newManager(t, "")
	e := echo.New()
	var outer error
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error { outer = next(c); return outer }
	})
	e.Use(echosessions.Middleware(m))
	boom := errors.New("boom")
	e.POST("/", func(c echo.Context) error {
		if s := echosessions.FromContext(c); s == nil || s != sessions.FromContext(c.Request().Context()) {
			t.Error("FromContext differs from sessions.FromContext(c.Request().Context())")
		}
		return boom
	})
	if res := do(e, "/", ""); res.StatusCode != 500 || outer != boom {
		t.Errorf("status %d, outer middleware got %v", res.StatusCode, outer)
	}
	if echosessions.FromContext(e.NewContext(httptest.NewRequest("GET", "/", nil), httptest.NewRecorder())) != nil {
		t.Error("FromContext of a context without the middleware is not nil")
	}
}

// An API client logs in, is recognised and logs out over the token
// header.
func TestTokenHeader(t *testing.T) {
	m := newManager(t, "X-Session-Token")
	e := echo.New()
	e.Use(echosessions.Middleware(m))
	e.POST("/login", func(c echo.Context) error {
		s := echosessions.FromContext(c)
		s.CycleKey(c.Request().Context())
		s.Set("user", "ann")
		return c.JSON(200, map[string]bool{"ok": true})
	})
	e.GET("/me", func(c echo.Context) error {
		u, _ := sessions.Get[string](echosessions.FromContext(c), "user")
		if u == "" {
			return echo.ErrUnauthorized
		}
		return c.String(200, u)
	})
	e.POST("/logout", func(c echo.Context) error { return echosessions.FromContext(c).Flush(c.Request().Context()) })
	call := func(method, path, key string) *http.Response {
		req := httptest.NewRequest(method, path, nil)
		if key != "" {
			req.Header.Set("X-Session-Token", key)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		return rec.Result()
	}
	key := call("POST", "/login", "").Header.Get("X-Session-Token")
	if !sessions.ValidKey(key) {
		t.Fatalf("login returned key %q", key)
	}
	if body, _ := io.ReadAll(call("GET", "/me", key).Body); string(body) != "ann" {
		t.Errorf("me: %q", body)
	}
	res := call("POST", "/logout", key)
	if vs := res.Header.Values("X-Session-Token"); len(vs) != 1 || vs[0] != "" {
		t.Errorf("logout: X-Session-Token %q, want present and empty", vs)
	}
	if res := call("GET", "/me", key); res.StatusCode != 401 {
		t.Errorf("me after logout: %d", res.StatusCode)
	}
}

// A handler that panics behind Echo's Recover middleware answers 500 and
// saves nothing.
func TestPanicRecovered(t *testing.T) {
	m := newManager(t, "")
	e := echo.New()
	e.Use(middleware.Recover(), echosessions.Middleware(m))
	e.POST("/", func(c echo.Context) error { echosessions.FromContext(c).Set("cart", "changed"); panic("bug") })
	key := stored(t, m)
	if res := do(e, "/", key); res.StatusCode != 500 || res.Header.Get("Set-Cookie") != "" {
		t.Errorf("status %d, Set-Cookie %q", res.StatusCode, res.Header.Get("Set-Cookie"))
	}
	if v := m.Load(context.Background(), key).Get("cart"); v != "a" {
		t.Errorf("cart = %v", v)
	}
}

// An informational response (103 Early Hints), then a returned error:
// Echo counts the 103 as the response and its error handler would send
// nothing, so net/http sent a 200 and the session was saved. The final
// status is the error's and nothing is saved, as through Manager.Handler.
func TestEarlyHintsThenError(t *testing.T) {
	m := newManager(t, "")
	key := stored(t, m)
	e := echo.New()
	e.Use(echosessions.Middleware(m))
	e.POST("/", func(c echo.Context) error {
		echosessions.FromContext(c).Set("cart", "changed")
		c.Response().Header().Set("Link", "</app.css>; rel=preload")
		c.Response().WriteHeader(http.StatusEarlyHints)
		return echo.NewHTTPError(http.StatusServiceUnavailable, "down")
	})
	srv := httptest.NewServer(e)
	defer srv.Close()
	req, _ := http.NewRequest("POST", srv.URL+"/", nil)
	req.AddCookie(&http.Cookie{Name: "sessionid", Value: key})
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := m.Load(t.Context(), key).Get("cart"); res.StatusCode != http.StatusServiceUnavailable || got == "changed" || res.Header.Get("Set-Cookie") != "" {
		t.Errorf("status %d, stored cart %v, Set-Cookie %q: want 503, nothing saved, no cookie", res.StatusCode, got, res.Header.Get("Set-Cookie"))
	}
}
