package cookiestore_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/cookiestore"
	"github.com/sessionkit/sessions/signing"
)

// The whole session in a signed cookie: no server state at all. The
// cookie is Django's signed_cookies value, which a Django app with the
// same SECRET_KEY reads (and so can the browser's user: it is signed, not
// encrypted).
func Example() {
	settings := sessions.DefaultSettings()
	settings.SecretKey = "django-insecure-example-key"     // Django's SECRET_KEY
	m, err := sessions.New(cookiestore.New(nil), settings) // or sessions.Open(ctx, "signed_cookies", settings)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()

	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessions.FromContext(r.Context())
		switch r.URL.Path {
		case "/add":
			s.Set("cart", []string{"mug"})
		case "/logout":
			s.Flush(r.Context())
		default:
			fmt.Fprint(w, s.Get("cart"))
		}
	}))
	do := func(path string, c *http.Cookie) *http.Response {
		req := httptest.NewRequest("GET", path, nil)
		if c != nil {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Result()
	}

	cookie := do("/add", nil).Cookies()[0]
	// What is in the cookie: signing.loads(value, salt=..., key=SECRET_KEY) in Django.
	data, err := signing.Loads(cookie.Value, signing.Options{Key: settings.SecretKey, Salt: cookiestore.Salt})
	fmt.Println(data, err)

	body, _ := io.ReadAll(do("/cart", cookie).Body)
	fmt.Println(string(body))

	// Logging out sends a deletion cookie, but nothing on the server
	// can revoke the old one: whoever kept it is still logged in until
	// it expires (SESSION_COOKIE_AGE). Use a server-side engine when
	// that matters.
	fmt.Println(do("/logout", cookie).Cookies()[0].MaxAge < 0)
	body, _ = io.ReadAll(do("/cart", cookie).Body)
	fmt.Println(string(body))
	// Output:
	// map[cart:[mug]] <nil>
	// [mug]
	// true
	// [mug]
}
