package chi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/sessionkit/sessions"
	_ "github.com/sessionkit/sessions/backends/memstore" // or all/, or the engine you use
)

// The session middleware on a chi router: r.Use(m.Handler), and
// sessions.FromContext in the handlers, route parameters and all.
// Nothing else: any router built on net/http works the same way.
func Example() {
	settings := sessions.DefaultSettings()
	settings.SecretKey = "change-me-to-a-long-random-string"
	m, err := sessions.Open(context.Background(), "memory:", settings)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()

	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	r.Use(m.Handler) // Django's SessionMiddleware
	r.Post("/cart/{sku}", func(w http.ResponseWriter, r *http.Request) {
		s := sessions.FromContext(r.Context())
		cart, _ := sessions.Get[[]string](s, "cart")
		s.Set("cart", append(cart, chi.URLParam(r, "sku")))
		w.WriteHeader(http.StatusNoContent)
	})
	r.Get("/cart", func(w http.ResponseWriter, r *http.Request) {
		cart, _ := sessions.Get[[]string](sessions.FromContext(r.Context()), "cart")
		fmt.Fprint(w, strings.Join(cart, ","))
	})

	srv := httptest.NewServer(r)
	defer srv.Close()
	var cookie *http.Cookie
	do := func(method, path string) string {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		if cookie != nil {
			req.AddCookie(cookie)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return err.Error()
		}
		defer res.Body.Close()
		for _, c := range res.Cookies() {
			if c.Name == settings.CookieName {
				cookie = c
			}
		}
		body, _ := io.ReadAll(res.Body)
		return fmt.Sprintf("%d %s (Vary: %s)", res.StatusCode, body, res.Header.Get("Vary"))
	}
	fmt.Println(do("POST", "/cart/mug"))
	fmt.Println(do("POST", "/cart/tee"))
	fmt.Println(do("GET", "/cart"))
	// Output:
	// 204  (Vary: Cookie)
	// 204  (Vary: Cookie)
	// 200 mug,tee (Vary: Cookie)
}
