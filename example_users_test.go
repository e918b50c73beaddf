package sessions_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/memstore"
)

// Log a user out everywhere: BindUser at login records which sessions
// are whose, in the engine's own store; DeleteUser (after a password
// change, or from a "log out of all devices" button) ends them all.
func ExampleManager_DeleteUser() {
	ctx := context.Background()
	m := exampleManager()
	defer m.Close()

	login := func(user string) *sessions.Session {
		s := m.NewSession(ctx)
		s.CycleKey(ctx) // against session fixation
		s.Set("user", user)
		if err := m.BindUser(ctx, s, user); err != nil { // saves the session too
			panic(err)
		}
		return s
	}
	laptop, phone, other := login("ann"), login("ann"), login("bob")

	keys, _ := m.UserSessions(ctx, "ann")
	fmt.Println("ann's sessions:", len(keys))

	n, err := m.DeleteUser(ctx, "ann")
	fmt.Println("ended:", n, err)
	for _, s := range []*sessions.Session{laptop, phone, other} {
		ok, _ := m.Exists(ctx, s.Key())
		fmt.Println(s.Get("user"), "still logged in:", ok)
	}
	// Output:
	// ann's sessions: 2
	// ended: 2 <nil>
	// ann still logged in: false
	// ann still logged in: false
	// bob still logged in: true
}

// An idle timeout (OWASP's) ends a session after 30 minutes without a
// request, while CookieAge (two weeks) stays its absolute lifetime.
// Requests that only read the session keep it alive without rewriting
// it. The clocks are fixed here so the example can move time.
func ExampleSettings_idleTimeout() {
	now := time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }

	settings := sessions.DefaultSettings()
	settings.SecretKey = "change-me-to-a-long-random-string"
	settings.IdleTimeout = 30 * time.Minute // not a Django setting (nor an environment variable): set it in Go
	settings.Clock = clock
	m, err := sessions.New(memstore.New(&memstore.Options{Now: clock}), settings)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()

	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessions.FromContext(r.Context())
		if r.URL.Path == "/login" {
			s.Set("user", "ann")
			return
		}
		fmt.Fprint(w, s.Get("user"))
	}))
	get := func(path string, c *http.Cookie) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", path, nil)
		if c != nil {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}

	cookie := get("/login", nil).Result().Cookies()[0]
	for _, wait := range []time.Duration{20 * time.Minute, 25 * time.Minute, 29 * time.Minute, 31 * time.Minute} {
		now = now.Add(wait)
		fmt.Printf("%s later: %q\n", wait, get("/", cookie).Body.String())
	}
	// Output:
	// 20m0s later: "ann"
	// 25m0s later: "ann"
	// 29m0s later: "ann"
	// 31m0s later: "<nil>"
}
