package ginsessions_test

import (
	"fmt"
	"net/http/httptest"

	"github.com/gin-gonic/gin"
	"github.com/sessionkit/sessions"
	ginsessions "github.com/sessionkit/sessions/adapters/gin"
	"github.com/sessionkit/sessions/backends/memstore"
)

// A Gin app counts a visitor's requests in the session.
func Example() {
	st := sessions.DefaultSettings()
	st.SecretKey = "change-me-to-a-long-random-string"
	m, err := sessions.New(memstore.New(nil), st)
	if err != nil {
		panic(err)
	}
	r := gin.New()
	r.Use(ginsessions.Middleware(m))
	r.GET("/", func(c *gin.Context) {
		s := ginsessions.FromContext(c)
		n, _ := sessions.Get[int](s, "visits")
		s.Set("visits", n+1)
		c.String(200, "visit %d", n+1)
	})

	// Two requests of one browser: the second sends the cookie back.
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	fmt.Println(rec.Body, rec.Header().Get("Vary"))
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(rec.Result().Cookies()[0])
	rec = httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	fmt.Println(rec.Body)
	// Output:
	// visit 1 Cookie
	// visit 2
}
