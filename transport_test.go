package sessions_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/memstore"
	"github.com/sessionkit/sessions/internal/testutil"
)

// tokenServer is an API whose session key travels in header h.
func tokenServer(t *testing.T, h string) (*sessions.Manager, http.Handler) {
	t.Helper()
	st := testutil.Settings()
	st.TokenHeader = h
	m, err := sessions.New(memstore.New(nil), st)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		s := sessions.FromContext(r.Context())
		s.CycleKey(r.Context())
		s.Set("user", "ann")
	})
	mux.HandleFunc("/me", func(w http.ResponseWriter, r *http.Request) {
		if u, _ := sessions.FromContext(r.Context()).Get("user").(string); u != "" {
			io.WriteString(w, u)
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		sessions.FromContext(r.Context()).Flush(r.Context())
	})
	return m, m.Handler(mux)
}

func call(h http.Handler, path, header, value string) *http.Response {
	req := httptest.NewRequest("POST", "http://api.example/"+path, nil)
	if header != "" {
		req.Header.Set(header, value)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func TestTokenHeaderTransport(t *testing.T) {
	for _, tc := range []struct{ header, prefix string }{{"X-Session-Token", ""}, {"Authorization", "Bearer "}} {
		t.Run(tc.header, func(t *testing.T) {
			_, h := tokenServer(t, tc.header)
			res := call(h, "login", "", "")
			key := res.Header.Get(tc.header)
			if !sessions.ValidKey(key) || res.Header.Get("Set-Cookie") != "" {
				t.Fatalf("login: %s %q, Set-Cookie %q; want a key in the header and no cookie", tc.header, key, res.Header.Get("Set-Cookie"))
			}
			if !strings.Contains(res.Header.Get("Vary"), tc.header) {
				t.Errorf("Vary %q does not name %s", res.Header.Get("Vary"), tc.header)
			}
			res = call(h, "me", tc.header, tc.prefix+key)
			if body, _ := io.ReadAll(res.Body); res.StatusCode != 200 || string(body) != "ann" {
				t.Fatalf("me with the token: %d %q", res.StatusCode, body)
			}
			if res.Header.Get(tc.header) != "" {
				t.Errorf("a read-only request re-sent the key")
			}
			// A second login cycles the key: the old one is dead.
			res = call(h, "login", tc.header, tc.prefix+key)
			next := res.Header.Get(tc.header)
			if next == key || !sessions.ValidKey(next) {
				t.Fatalf("login again: key %q, want a new one", next)
			}
			if res := call(h, "me", tc.header, tc.prefix+key); res.StatusCode != http.StatusUnauthorized {
				t.Errorf("the cycled-away key still works: %d", res.StatusCode)
			}
			// Logout: the header comes back present and empty.
			res = call(h, "logout", tc.header, tc.prefix+next)
			if vs, ok := res.Header[http.CanonicalHeaderKey(tc.header)]; !ok || len(vs) != 1 || vs[0] != "" {
				t.Errorf("logout: %s = %q (present %v), want present and empty", tc.header, vs, ok)
			}
			if res := call(h, "me", tc.header, tc.prefix+next); res.StatusCode != http.StatusUnauthorized {
				t.Errorf("the logged-out key still works: %d", res.StatusCode)
			}
		})
	}
}

// A key the client chose is never adopted, whatever carries it.
func TestTokenHeaderNoFixation(t *testing.T) {
	_, h := tokenServer(t, "Authorization")
	chosen := strings.Repeat("a", 32)
	res := call(h, "login", "Authorization", "Bearer "+chosen)
	if got := res.Header.Get("Authorization"); got == chosen || !sessions.ValidKey(got) {
		t.Errorf("login with a chosen key answered %q", got)
	}
	// Another scheme is not a session key.
	res = call(h, "me", "Authorization", "Basic "+chosen)
	if res.StatusCode != http.StatusUnauthorized || res.Header.Get("Authorization") != "" {
		t.Errorf("Basic credentials taken as a session: %d %q", res.StatusCode, res.Header.Get("Authorization"))
	}
}

func TestTokenHeaderSetting(t *testing.T) {
	st := testutil.Settings()
	st.TokenHeader = "X Bad"
	if _, err := sessions.New(memstore.New(nil), st); err == nil {
		t.Error("a header name with a space was accepted")
	}
	t.Setenv("SECRET_KEY", "k")
	t.Setenv("SESSION_TOKEN_HEADER", "X-Session-Token")
	if s, err := sessions.SettingsFromEnv(); err != nil || s.TokenHeader != "X-Session-Token" {
		t.Errorf("SESSION_TOKEN_HEADER: %q, %v", s.TokenHeader, err)
	}
}
