package memstore_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/memstore"
)

// Sessions in the process's memory, for tests and development: one
// *Store shared by two Managers (two handlers of one program) lets them
// see each other's sessions; two Opens of "memory:" would not.
func Example() {
	settings := sessions.DefaultSettings()
	settings.SecretKey = "change-me-to-a-long-random-string"
	store := memstore.New(nil)
	shop, err := sessions.New(store, settings)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer shop.Close()
	account, err := sessions.New(store, settings)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer account.Close()

	login := shop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessions.FromContext(r.Context())
		s.CycleKey(r.Context()) // a new key at login, against session fixation
		s.Set("user", "ann")
	}))
	whoami := account.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, sessions.FromContext(r.Context()).Get("user"))
	}))

	rec := httptest.NewRecorder()
	login.ServeHTTP(rec, httptest.NewRequest("POST", "/login", nil))
	cookie := rec.Result().Cookies()[0]

	req := httptest.NewRequest("GET", "/whoami", nil)
	req.AddCookie(cookie)
	rec = httptest.NewRecorder()
	whoami.ServeHTTP(rec, req)
	fmt.Println(rec.Body.String())

	n, err := shop.Stats(context.Background(), nil)
	fmt.Println(n.Sessions, err)
	// Output:
	// ann
	// 1 <nil>
}

// The same engine from a config string, as SESSION_ENGINE would name it.
func Example_configString() {
	settings := sessions.DefaultSettings()
	settings.SecretKey = "change-me-to-a-long-random-string"
	m, err := sessions.Open(context.Background(), "memory:?purge_interval=30s", settings)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	fmt.Println(m.Describe().Name, m.Describe().Users)
	// Output: memory true
}
