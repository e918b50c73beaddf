package ginsessions_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/sessionkit/sessions"
	ginsessions "github.com/sessionkit/sessions/adapters/gin"
	"github.com/sessionkit/sessions/backends/memstore"
	"github.com/sessionkit/sessions/internal/testutil"
)

// newApp returns a Manager over a fresh memory store and a Gin engine
// with the session middleware and the routes of routes.
func newApp(t *testing.T, token string, routes func(r *gin.Engine, m *sessions.Manager)) (*sessions.Manager, *gin.Engine) {
	t.Helper()
	st := testutil.Settings()
	st.TokenHeader = token
	m, err := sessions.New(memstore.New(nil), st)
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	r.Use(ginsessions.Middleware(m))
	routes(r, m)
	return m, r
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

// An aborted context's 5xx is the response's status: the change made
// before the abort is not saved and no cookie is sent, whether the
// handler, a later middleware or a bare status without a body aborts.
func TestAbortWith5xxSavesNothing(t *testing.T) {
	change := func(c *gin.Context) { ginsessions.FromContext(c).Set("cart", "changed") }
	m, r := newApp(t, "", func(r *gin.Engine, m *sessions.Manager) {
		r.POST("/abort", func(c *gin.Context) { change(c); c.AbortWithStatus(500) })
		r.POST("/error", func(c *gin.Context) { change(c); c.AbortWithError(503, errors.New("backend down")) })
		r.POST("/json", func(c *gin.Context) { change(c); c.AbortWithStatusJSON(502, gin.H{"error": "upstream"}) })
		r.POST("/status", func(c *gin.Context) { change(c); c.Status(500); c.Abort() })
		r.POST("/later", change, func(c *gin.Context) { c.AbortWithStatus(500) })
	})
	for _, path := range []string{"/abort", "/error", "/json", "/status", "/later"} {
		key := stored(t, m)
		res := do(r, path, key)
		if res.StatusCode < 500 || res.Header.Get("Set-Cookie") != "" {
			t.Errorf("%s: status %d, Set-Cookie %q", path, res.StatusCode, res.Header.Get("Set-Cookie"))
		}
		if v := m.Load(context.Background(), key).Get("cart"); v != "a" {
			t.Errorf("%s: cart = %v, the change was saved for a 5xx response", path, v)
		}
	}
}

// The same changes with a 2xx or 4xx status are saved.
func TestAbortWith4xxSaves(t *testing.T) {
	m, r := newApp(t, "", func(r *gin.Engine, m *sessions.Manager) {
		r.POST("/", func(c *gin.Context) { ginsessions.FromContext(c).Set("cart", "changed"); c.AbortWithStatus(404) })
	})
	key := stored(t, m)
	if res := do(r, "/", key); res.StatusCode != 404 || !strings.Contains(res.Header.Get("Set-Cookie"), key) {
		t.Errorf("status %d, Set-Cookie %q", res.StatusCode, res.Header.Get("Set-Cookie"))
	}
	if v := m.Load(context.Background(), key).Get("cart"); v != "changed" {
		t.Errorf("cart = %v", v)
	}
}

// A session deleted by a concurrent request answers 400 in place of the
// handler's response, whatever Gin's renderer wrote.
func TestInterruptedIs400(t *testing.T) {
	m, r := newApp(t, "", func(r *gin.Engine, m *sessions.Manager) {
		r.POST("/", func(c *gin.Context) {
			s := ginsessions.FromContext(c)
			s.Get("cart")
			m.Load(context.Background(), s.Key()).Flush(context.Background()) // another request logs out
			s.Set("cart", "b")
			c.JSON(200, gin.H{"secret": "page"})
		})
	})
	res := do(r, "/", stored(t, m))
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 400 || strings.Contains(string(body), "secret") || !strings.Contains(string(body), "concurrent request") {
		t.Errorf("status %d body %q", res.StatusCode, body)
	}
}

// The session is the same through FromContext and the request's context.
func TestFromContext(t *testing.T) {
	_, r := newApp(t, "", func(r *gin.Engine, m *sessions.Manager) {
		r.POST("/", func(c *gin.Context) {
			s := ginsessions.FromContext(c)
			if s == nil || s != sessions.FromContext(c.Request.Context()) {
				t.Error("FromContext differs from sessions.FromContext(c.Request.Context())")
			}
		})
	})
	do(r, "/", "")
	if ginsessions.FromContext(&gin.Context{}) != nil {
		t.Error("FromContext of a context without the middleware is not nil")
	}
}

// An API client logs in, is recognised and logs out over the token
// header, with Gin's JSON rendering.
func TestTokenHeader(t *testing.T) {
	_, r := newApp(t, "Authorization", func(r *gin.Engine, m *sessions.Manager) {
		r.POST("/login", func(c *gin.Context) {
			s := ginsessions.FromContext(c)
			s.CycleKey(c.Request.Context())
			s.Set("user", "ann")
			c.JSON(200, gin.H{"ok": true})
		})
		r.GET("/me", func(c *gin.Context) { c.String(200, "%v", ginsessions.FromContext(c).Get("user")) })
		r.POST("/logout", func(c *gin.Context) { ginsessions.FromContext(c).Flush(c.Request.Context()) })
	})
	call := func(method, path, key string) *http.Response {
		req := httptest.NewRequest(method, path, nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		return rec.Result()
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
	if body, _ := io.ReadAll(call("GET", "/me", key).Body); string(body) != "<nil>" {
		t.Errorf("me after logout: %q", body)
	}
}

// A handler that panics behind gin.Recovery answers 500 and saves
// nothing.
func TestPanicRecovered(t *testing.T) {
	st := testutil.QuietSettings()
	m, _ := sessions.New(memstore.New(nil), st)
	r := gin.New()
	r.Use(gin.RecoveryWithWriter(io.Discard), ginsessions.Middleware(m))
	r.POST("/", func(c *gin.Context) { ginsessions.FromContext(c).Set("cart", "changed"); panic("bug") })
	key := stored(t, m)
	if res := do(r, "/", key); res.StatusCode != 500 || res.Header.Get("Set-Cookie") != "" {
		t.Errorf("status %d, Set-Cookie %q", res.StatusCode, res.Header.Get("Set-Cookie"))
	}
	if v := m.Load(context.Background(), key).Get("cart"); v != "a" {
		t.Errorf("cart = %v", v)
	}
}
