package benchmarks

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/alexedwards/scs/v2"
	gsessions "github.com/gorilla/sessions"
)

// scsSeed creates an scs session holding data and returns its token.
func scsSeed(tb testing.TB, sm *scs.SessionManager, data map[string]any) string {
	h := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range data {
			sm.Put(r.Context(), k, v)
		}
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	token := newCookie(rec, sm.Cookie.Name)
	if token == "" {
		tb.Fatalf("scs set no cookie: %d %s", rec.Code, rec.Body)
	}
	return token
}

// scsHandlers are scs's LoadAndSave around the same two handlers ours
// runs: read one value; read one value and write one value.
func scsHandlers(sm *scs.SessionManager) (read, write http.Handler) {
	read = sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sm.GetString(r.Context(), userKey) == "" {
			w.WriteHeader(500)
		}
	}))
	write = sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sm.Put(r.Context(), "n", sm.GetInt(r.Context(), "n")+1)
	}))
	return read, write
}

// scsOps returns scs's read-only and read-write requests on a session
// seeded with data.
func scsOps(tb testing.TB, sm *scs.SessionManager, data map[string]any) (read, write func(testing.TB)) {
	token := scsSeed(tb, sm, data)
	rh, wh := scsHandlers(sm)
	read = func(tb testing.TB) { request(tb, rh, sm.Cookie.Name, token) }
	write = func(tb testing.TB) { request(tb, wh, sm.Cookie.Name, token) }
	return read, write
}

// scsPair benchmarks scs's LoadAndSave read-only and read-write.
func scsPair(b *testing.B, sm *scs.SessionManager) {
	r, w := scsOps(b, sm, sessionData())
	pair(b, r, w)
}

// gorillaCookie stores a gorilla session holding data and returns its
// cookie.
func gorillaCookie(tb testing.TB, store gsessions.Store, data map[string]any) *http.Cookie {
	req := httptest.NewRequest("GET", "/", nil)
	rec := httptest.NewRecorder()
	s, _ := store.Get(req, "sessionid")
	for k, v := range data {
		s.Values[k] = v
	}
	if err := s.Save(req, rec); err != nil {
		tb.Fatal(err)
	}
	return rec.Result().Cookies()[0]
}

// gorillaHandlers are the handlers gorilla users write (gorilla has no
// middleware: the handler calls the store itself): Get and read one
// value; Get, set one value and Save.
func gorillaHandlers(store gsessions.Store) (read, write http.Handler) {
	read = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := store.Get(r, "sessionid")
		if err != nil || s.Values[userKey] == nil {
			w.WriteHeader(500)
		}
	})
	write = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := store.Get(r, "sessionid")
		if err != nil {
			w.WriteHeader(500)
			return
		}
		n, _ := s.Values["n"].(int)
		s.Values["n"] = n + 1
		if err := s.Save(r, w); err != nil {
			w.WriteHeader(500)
		}
	})
	return read, write
}

// gorillaOps returns gorilla's read-only and read-write requests on a
// session seeded with data, following the cookie as it changes.
func gorillaOps(tb testing.TB, store gsessions.Store, data map[string]any) (read, write func(testing.TB)) {
	cookie := gorillaCookie(tb, store, data).Value
	rh, wh := gorillaHandlers(store)
	read = func(tb testing.TB) { request(tb, rh, "sessionid", cookie) }
	write = func(tb testing.TB) {
		rec := serve(tb, wh, "sessionid", cookie)
		if c := newCookie(rec, "sessionid"); c != "" {
			cookie = c
		}
	}
	return read, write
}

// gorillaPair benchmarks a gorilla store.
func gorillaPair(b *testing.B, store gsessions.Store) {
	r, w := gorillaOps(b, store, sessionData())
	pair(b, r, w)
}
