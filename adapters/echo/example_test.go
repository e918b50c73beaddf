package echosessions_test

import (
	"fmt"
	"net/http/httptest"

	"github.com/labstack/echo/v4"
	"github.com/sessionkit/sessions"
	echosessions "github.com/sessionkit/sessions/adapters/echo"
	"github.com/sessionkit/sessions/backends/memstore"
)

// An Echo app counts a visitor's requests in the session.
func Example() {
	st := sessions.DefaultSettings()
	st.SecretKey = "change-me-to-a-long-random-string"
	m, err := sessions.New(memstore.New(nil), st)
	if err != nil {
		panic(err)
	}
	e := echo.New()
	e.Use(echosessions.Middleware(m))
	e.GET("/", func(c echo.Context) error {
		s := echosessions.FromContext(c)
		n, _ := sessions.Get[int](s, "visits")
		s.Set("visits", n+1)
		return c.String(200, fmt.Sprintf("visit %d", n+1))
	})

	// Two requests of one browser: the second sends the cookie back.
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	fmt.Println(rec.Body, rec.Header().Get("Vary"))
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(rec.Result().Cookies()[0])
	rec = httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	fmt.Println(rec.Body)
	// Output:
	// visit 1 Cookie
	// visit 2
}
