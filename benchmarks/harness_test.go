package benchmarks

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sessionkit/sessions"
)

const secret = "benchmark-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"

func settings() sessions.Settings {
	s := sessions.DefaultSettings()
	s.SecretKey = secret
	return s
}

// readHandler loads the session and reads one value.
var readHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if sessions.FromContext(r.Context()).Get("user") == nil {
		w.WriteHeader(500)
	}
})

// writeHandler reads one value and writes one value.
var writeHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	s := sessions.FromContext(r.Context())
	n, _ := sessions.Get[int](s, "n")
	s.Set("n", n+1)
})

// baseData is the session every benchmark request carries: about 100
// bytes of JSON, a typical logged-in session.
func baseData(pad int) map[string]any {
	m := map[string]any{"user": "1042", "theme": "dark", "n": 0}
	if pad > 0 {
		b := make([]byte, pad)
		for i := range b {
			b[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[i*7%36]
		}
		m["pad"] = string(b)
	}
	return m
}

// request serves one request with the cookie through h and checks the
// status. It is the unit every middleware benchmark times.
func request(b *testing.B, h http.Handler, cookieName, cookie string) {
	req := httptest.NewRequest("GET", "/", nil)
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: cookieName, Value: cookie})
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		b.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
}

// seed stores a session holding data and returns its cookie value.
func seed(b *testing.B, m *sessions.Manager, data map[string]any) string {
	ctx := context.Background()
	s := m.NewSession(ctx)
	s.Update(data)
	if err := s.Save(ctx); err != nil {
		b.Fatal(err)
	}
	return s.Key()
}

// BenchmarkHarness is the baseline: the same httptest request through a
// handler that does nothing, with no session middleware.
func BenchmarkHarness(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	b.ReportAllocs()
	for b.Loop() {
		request(b, h, "sessionid", "abcdefghijklmnopqrstuvwxyz012345")
	}
}

// oursPair benchmarks read-only and read-write requests through the
// Manager's middleware.
func oursPair(b *testing.B, m *sessions.Manager, data map[string]any) {
	cookie := seed(b, m, data)
	b.Run("read", func(b *testing.B) {
		h := m.Handler(readHandler)
		b.ReportAllocs()
		for b.Loop() {
			request(b, h, "sessionid", cookie)
		}
	})
	b.Run("write", func(b *testing.B) {
		h := m.Handler(writeHandler)
		// Signed cookies change value on every write: follow them.
		cur := cookie
		b.ReportAllocs()
		for b.Loop() {
			req := httptest.NewRequest("GET", "/", nil)
			req.AddCookie(&http.Cookie{Name: "sessionid", Value: cur})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			if m.Describe().Name == "signed-cookies" {
				for _, c := range rec.Result().Cookies() {
					cur = c.Value
				}
			}
		}
	})
}
