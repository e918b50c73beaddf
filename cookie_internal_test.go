package sessions

import (
	"net/http"
	"testing"
	"time"
)

// cookieLine writes exactly what net/http's Cookie.String writes.
func TestCookieLineMatchesNetHTTP(t *testing.T) {
	exp := time.Date(2031, 2, 3, 4, 5, 6, 0, time.FixedZone("x", 3600))
	for _, s := range []Settings{
		{CookieName: "sessionid", CookiePath: "/", CookieHTTPOnly: true, CookieSameSite: http.SameSiteLaxMode},
		{CookieName: "__Host-s", CookiePath: "/app/", CookieDomain: ".example.com", CookieSecure: true, CookieSameSite: http.SameSiteNoneMode, CookiePartitioned: true},
		{CookieName: "s", CookiePath: "/", CookieSameSite: http.SameSiteStrictMode},
		{CookieName: "s", CookiePath: "/", CookieSameSite: http.SameSiteDefaultMode, CookieHTTPOnly: true},
	} {
		m := &Manager{s: s, cookie: newCookieParts(s)}
		for _, v := range []string{NewKey(), ".eJyrVkrNK0ktLklVslIqzs9NVagFAC0QBQ8:1tXyZ2:AbCdEf_-0123456789abcdefghijABCDEFGHIJKLMNOPQ"} {
			for _, age := range []time.Duration{-1, 0, 1209600 * time.Second} {
				c := &http.Cookie{Name: s.CookieName, Value: v, Path: s.CookiePath, Domain: s.CookieDomain,
					Secure: s.CookieSecure, HttpOnly: s.CookieHTTPOnly, SameSite: s.CookieSameSite, Partitioned: s.CookiePartitioned}
				e := exp
				switch {
				case age == 0:
					c.MaxAge, c.Expires, e = -1, time.Unix(0, 0), time.Unix(0, 0)
				case age > 0:
					c.MaxAge, c.Expires = int(age/time.Second), exp
				}
				if got, want := m.cookieLine(v, age, e), c.String(); got != want {
					t.Errorf("cookieLine\n got %s\nwant %s", got, want)
				}
			}
		}
	}
}

func BenchmarkSetCookie(b *testing.B) {
	s := DefaultSettings()
	m := &Manager{s: s, cookie: newCookieParts(s)}
	key := NewKey()
	exp := time.Now().Add(time.Hour)
	b.Run("cookieLine", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = m.cookieLine(key, time.Hour, exp)
		}
	})
	b.Run("net/http", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c := &http.Cookie{Name: s.CookieName, Value: key, Path: s.CookiePath, HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: 3600, Expires: exp}
			_ = c.String()
		}
	})
}
