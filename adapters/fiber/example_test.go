package fibersessions_test

import (
	"fmt"
	"io"
	"net/http/httptest"

	"github.com/gofiber/fiber/v2"
	"github.com/sessionkit/sessions"
	fibersessions "github.com/sessionkit/sessions/adapters/fiber"
	"github.com/sessionkit/sessions/backends/memstore"
)

// A Fiber app counts a visitor's requests in the session.
func Example() {
	st := sessions.DefaultSettings()
	st.SecretKey = "change-me-to-a-long-random-string"
	m, err := sessions.New(memstore.New(nil), st)
	if err != nil {
		panic(err)
	}
	app := fiber.New()
	app.Use(fibersessions.Middleware(m))
	app.Get("/", func(c *fiber.Ctx) error {
		s := fibersessions.FromContext(c)
		n, _ := sessions.Get[int](s, "visits")
		s.Set("visits", n+1)
		return c.SendString(fmt.Sprintf("visit %d", n+1))
	})

	// Two requests of one browser: the second sends the cookie back.
	res, _ := app.Test(httptest.NewRequest("GET", "/", nil), -1)
	body, _ := io.ReadAll(res.Body)
	fmt.Println(string(body), res.Header.Get("Vary"))
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(res.Cookies()[0])
	res, _ = app.Test(req, -1)
	body, _ = io.ReadAll(res.Body)
	fmt.Println(string(body))
	// Output:
	// visit 1 Cookie
	// visit 2
}
