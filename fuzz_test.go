package sessions_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/internal/testutil"
)

// FuzzConfig feeds arbitrary config strings to Open: any outcome but a
// panic is fine, and a failure must be ErrBadConfig-classified or an open
// error, never carrying what looks like the password given.
func FuzzConfig(f *testing.F) {
	for _, s := range []string{"memory:", "memory:?purge_interval=1s", "signed-cookies:", "db", "cache", "file",
		"django.contrib.sessions.backends.cached_db", "redis://:pw@h:1/0", "%zz", "://", "memory:?a=%", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cfg string) {
		m, err := sessions.Open(context.Background(), cfg, testutil.Settings())
		if err == nil {
			m.Close()
			return
		}
		if !errors.Is(err, sessions.ErrBadConfig) && m != nil {
			t.Fatalf("error and manager both returned")
		}
	})
}

// FuzzCookie sends arbitrary session cookie values through the middleware
// of a server-side and a client-side engine: never a panic, never a 5xx,
// never an adopted key.
func FuzzCookie(f *testing.F) {
	for _, s := range []string{"", "abcdefghijklmnopqrstuvwxyz012345", "../../etc/passwd", "e30:1r31eq:4jUc7d6K4SjljzmCBMRybFprOH2S1lYgEeb3CCv8FJw",
		".eJxLTEoGAAJNASc:0:x", "a:b:c", "\x00\xff"} {
		f.Add(s)
	}
	managers := map[string]*sessions.Manager{}
	for _, cfg := range []string{"memory:", "signed-cookies:"} {
		m, err := sessions.Open(context.Background(), cfg, testutil.Settings())
		if err != nil {
			f.Fatal(err)
		}
		managers[cfg] = m
	}
	f.Fuzz(func(t *testing.T, v string) {
		for cfg, m := range managers {
			h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s := sessions.FromContext(r.Context())
				s.Get("x")
				s.Set("y", 1)
			}))
			req := httptest.NewRequest("GET", "/", nil)
			req.Header.Set("Cookie", "sessionid="+v)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != 200 {
				t.Fatalf("%s: status %d for cookie %q", cfg, rec.Code, v)
			}
			if cfg == "memory:" {
				for _, c := range rec.Result().Cookies() {
					if c.Value == v && v != "" {
						t.Fatalf("cookie value %q adopted", v)
					}
				}
			}
		}
	})
}
