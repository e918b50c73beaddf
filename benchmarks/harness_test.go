package benchmarks

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/benchmarks/internal/workload"
)

const secret = "benchmark-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"

func settings() sessions.Settings {
	s := sessions.DefaultSettings()
	s.SecretKey = secret
	return s
}

// userKey is the value every read-only request reads.
const userKey = workload.UserKey

// sessionData is the standard benchmark session (see workload.Session).
func sessionData() map[string]any { return workload.Session() }

// sizedData is a session of about size bytes of JSON (see workload.Sized).
func sizedData(size int) map[string]any { return workload.Sized(size) }

func jsonSize(m map[string]any) int { return workload.JSONSize(m) }

// readHandler loads the session and reads one value.
var readHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if sessions.FromContext(r.Context()).Get(userKey) == nil {
		w.WriteHeader(500)
	}
})

// writeHandler reads one value and writes one value.
var writeHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	s := sessions.FromContext(r.Context())
	n, _ := sessions.Get[int](s, "n")
	s.Set("n", n+1)
})

// do serves one request carrying the cookie through h, as net/http's
// server would: the request's context can be cancelled (net/http cancels
// it when the client goes away or the handler returns), which engines
// that watch the context pay for and a context.Background request would
// hide. A status other than 200 is an error.
func do(h http.Handler, cookieName, cookie string) (*httptest.ResponseRecorder, error) {
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequestWithContext(ctx, "GET", "/", nil)
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: cookieName, Value: cookie})
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	cancel()
	if rec.Code != 200 {
		return rec, fmt.Errorf("status %d: %s", rec.Code, rec.Body)
	}
	return rec, nil
}

// serve is do that fails tb on an error.
func serve(tb testing.TB, h http.Handler, cookieName, cookie string) *httptest.ResponseRecorder {
	rec, err := do(h, cookieName, cookie)
	if err != nil {
		tb.Fatal(err)
	}
	return rec
}

// request is serve for the benchmarks that do not look at the response.
// It is the unit every middleware benchmark times.
func request(tb testing.TB, h http.Handler, cookieName, cookie string) {
	serve(tb, h, cookieName, cookie)
}

// newCookie returns the value of the cookie named name that rec sets, or
// "" if it sets none.
func newCookie(rec *httptest.ResponseRecorder, name string) string {
	for _, c := range rec.Result().Cookies() {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// seed stores a session holding data and returns its cookie value.
func seed(tb testing.TB, m *sessions.Manager, data map[string]any) string {
	ctx := context.Background()
	s := m.NewSession(ctx)
	s.Update(data)
	if err := s.Save(ctx); err != nil {
		tb.Fatal(err)
	}
	return s.Key()
}

// BenchmarkHarness is the baseline: the same request through a handler
// that does nothing, with no session middleware.
func BenchmarkHarness(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		request(b, nopHandler, "sessionid", "abcdefghijklmnopqrstuvwxyz012345")
	}
}

// nopHandler does nothing: the harness alone.
var nopHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})

// oursOps returns one read-only and one read-write request through the
// Manager's middleware on a session seeded with data. The read-write op
// follows the cookie when it changes (signed cookies change value on
// every write).
func oursOps(tb testing.TB, m *sessions.Manager, data map[string]any) (read, write func(testing.TB)) {
	cookie := seed(tb, m, data)
	rh, wh := m.Handler(readHandler), m.Handler(writeHandler)
	followCookie := m.Describe().Name == "signed-cookies"
	read = func(tb testing.TB) { request(tb, rh, "sessionid", cookie) }
	write = func(tb testing.TB) {
		rec := serve(tb, wh, "sessionid", cookie)
		if followCookie {
			if c := newCookie(rec, "sessionid"); c != "" {
				cookie = c
			}
		}
	}
	return read, write
}

// pair runs the read and write sub-benchmarks of one side.
func pair(b *testing.B, read, write func(testing.TB)) {
	b.Run("read", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			read(b)
		}
	})
	b.Run("write", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			write(b)
		}
	})
}

// oursPair benchmarks read-only and read-write requests through the
// Manager's middleware.
func oursPair(b *testing.B, m *sessions.Manager, data map[string]any) {
	r, w := oursOps(b, m, data)
	pair(b, r, w)
}

// TestSessionSizes pins the sizes the benchmarks claim.
func TestSessionSizes(t *testing.T) {
	if n := jsonSize(sessionData()); n < 240 || n > 280 {
		t.Errorf("standard session is %d bytes of JSON, want about 260", n)
	}
	for _, size := range []int{100, 1000, 10_000, 100_000} {
		if n := jsonSize(sizedData(size)); n < size*95/100 || n > size {
			t.Errorf("sizedData(%d) is %d bytes of JSON", size, n)
		}
	}
}
