package observe_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/sessionkit/sessions"
	_ "github.com/sessionkit/sessions/backends/memstore"
	"github.com/sessionkit/sessions/observe"
)

// An Observer sees every engine call and every decision of the Manager:
// here a plain function printing them, where a real one would count them
// (package otel turns them into OpenTelemetry metrics and spans) or log
// them.
func Example() {
	settings := sessions.DefaultSettings()
	settings.SecretKey = "change-me-to-a-long-random-string"
	settings.Observer = observe.ObserverFunc(func(ctx context.Context, e observe.Event) {
		fmt.Println(e.Engine, e.Op, e.Outcome)
	})
	m, err := sessions.Open(context.Background(), "memory:", settings)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()

	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessions.FromContext(r.Context())
		if r.URL.Path == "/dark" {
			s.Set("theme", "dark")
			return
		}
		fmt.Fprint(w, s.Get("theme"))
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/dark", nil))
	fmt.Println("--- the visitor comes back, and the session is only read")
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(rec.Result().Cookies()[0])
	h.ServeHTTP(httptest.NewRecorder(), req)
	// Output:
	// memory create ok
	// --- the visitor comes back, and the session is only read
	// memory load hit
}
