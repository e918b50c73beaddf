package sessions_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/sessionkit/sessions"
	_ "github.com/sessionkit/sessions/backends/memstore" // registers "memory:"
)

// Open an engine from a config string and use the middleware.
func Example() {
	s := sessions.DefaultSettings()
	s.SecretKey = "change-me-to-a-long-random-string"
	m, err := sessions.Open(context.Background(), "memory:", s)
	if err != nil {
		panic(err)
	}
	defer m.Close()

	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess := sessions.FromContext(r.Context())
		n, _ := sessions.Get[int](sess, "visits")
		sess.Set("visits", n+1)
		fmt.Fprintf(w, "visit %d", n+1)
	}))

	// Two requests from one browser: the second sends the cookie back.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	cookie := rec.Result().Cookies()[0]
	fmt.Println(rec.Body.String(), "- cookie", cookie.Name, "HttpOnly:", cookie.HttpOnly, "SameSite Lax:", cookie.SameSite == http.SameSiteLaxMode)

	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(cookie)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Body.String(), "- Vary:", rec.Header().Get("Vary"))
	// Output:
	// visit 1 - cookie sessionid HttpOnly: true SameSite Lax: true
	// visit 2 - Vary: Cookie
}

// Log a user in: rotate the key against session fixation, then store who
// it is. Log out with Flush.
func ExampleSession_CycleKey() {
	m := exampleManager()
	ctx := context.Background()
	s := m.NewSession(ctx)
	s.Set("cart", []string{"apple"})
	s.Save(ctx)
	before := s.Key()

	if err := s.CycleKey(ctx); err != nil { // at login
		panic(err)
	}
	s.Set("_auth_user_id", "42")
	s.Save(ctx)
	fmt.Println("key changed:", s.Key() != before, "- cart kept:", s.Has("cart"))

	s.Flush(ctx) // at logout
	fmt.Println("after logout: key", fmt.Sprintf("%q", s.Key()), "- entries", s.Len())
	// Output:
	// key changed: true - cart kept: true
	// after logout: key "" - entries 0
}

// Expiry follows Django: seconds of inactivity, an absolute time, or the
// end of the browser session.
func ExampleSession_SetExpiry() {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	st := sessions.DefaultSettings()
	st.SecretKey = "change-me-to-a-long-random-string"
	st.Clock = func() time.Time { return now } // a fixed clock, for the example's output
	m, err := sessions.Open(context.Background(), "memory:", st)
	if err != nil {
		panic(err)
	}
	s := m.NewSession(context.Background())

	fmt.Println("default:", s.ExpiryAge())
	s.SetExpiry(30 * time.Minute)
	fmt.Println("relative:", s.ExpiryAge(), s.ExpiryDate().Format(time.RFC3339))
	s.SetExpiryAt(now.Add(time.Hour))
	fmt.Println("absolute:", s.ExpiryAge(), s.Get(sessions.ExpiryKey))
	s.SetExpiry(0)
	fmt.Println("browser close:", s.ExpireAtBrowserClose())
	// Output:
	// default: 336h0m0s
	// relative: 30m0s 2030-01-02T03:34:05Z
	// absolute: 1h0m0s 2030-01-02T04:04:05+00:00
	// browser close: true
}

// Get converts stored values to the type you ask for.
func ExampleGet() {
	s := exampleManager().NewSession(context.Background())
	s.Set("count", int64(7)) // what a round trip through JSON gives back
	s.Set("profile", map[string]any{"name": "Ann", "langs": []any{"en", "fr"}})

	n, _ := sessions.Get[int](s, "count")
	type profile struct {
		Name  string   `json:"name"`
		Langs []string `json:"langs"`
	}
	p, _ := sessions.Get[profile](s, "profile")
	fmt.Println(n, p.Name, strings.Join(p.Langs, ","))
	// Output: 7 Ann en,fr
}

// A session deleted by a concurrent request (a logout) is never brought
// back by a slower request: the middleware answers 400.
func ExampleManager_Handler_interrupted() {
	m := exampleManager()
	ctx := context.Background()
	s := m.NewSession(ctx)
	s.Set("user", "ann")
	s.Save(ctx)

	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess := sessions.FromContext(r.Context())
		sess.Get("user")
		m.Load(ctx, sess.Key()).Flush(ctx) // a logout in another tab
		sess.Set("theme", "dark")
	}))
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(&http.Cookie{Name: "sessionid", Value: s.Key()})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Body)
	fmt.Println(rec.Code, strings.Contains(string(body), "logged out"))
	// Output: 400 true
}

func exampleManager() *sessions.Manager {
	s := sessions.DefaultSettings()
	s.SecretKey = "change-me-to-a-long-random-string"
	m, err := sessions.Open(context.Background(), "memory:", s)
	if err != nil {
		panic(err)
	}
	return m
}
