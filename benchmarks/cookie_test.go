package benchmarks

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gorilla/sessions"
	ours "github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/cookiestore"
	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/signing"
)

func BenchmarkSignedCookie(b *testing.B) {
	b.Run("ours", func(b *testing.B) {
		m, err := ours.New(cookiestore.New(nil), settings())
		if err != nil {
			b.Fatal(err)
		}
		oursPair(b, m, baseData(0))
	})
	b.Run("gorilla", func(b *testing.B) {
		gorillaPair(b, sessions.NewCookieStore([]byte(secret)))
	})
	// The floor: verify and decode the cookie, then encode and sign the
	// new value, with the signing package alone (no middleware).
	b.Run("floor", func(b *testing.B) {
		c := codec.Signed{Key: secret, Salt: cookiestore.Salt}
		v, _ := c.Encode(codec.NewDict(baseData(0)))
		o := signing.Options{Key: secret, Salt: cookiestore.Salt, Compress: true}
		b.Run("read", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := signing.LoadsBytes(string(v), o); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("write", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				data, err := signing.LoadsBytes(string(v), o)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := signing.DumpsBytes(data, o); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// gorillaPair benchmarks a gorilla store: Get and read one value; Get,
// set one value and Save.
func gorillaPair(b *testing.B, store sessions.Store) {
	var cookie *http.Cookie
	{
		req := httptest.NewRequest("GET", "/", nil)
		rec := httptest.NewRecorder()
		s, _ := store.Get(req, "sessionid")
		for k, v := range baseData(0) {
			s.Values[k] = v
		}
		if err := s.Save(req, rec); err != nil {
			b.Fatal(err)
		}
		cookie = rec.Result().Cookies()[0]
	}
	b.Run("read", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			req := httptest.NewRequest("GET", "/", nil)
			req.AddCookie(cookie)
			rec := httptest.NewRecorder()
			s, err := store.Get(req, "sessionid")
			if err != nil || s.Values["user"] == nil {
				b.Fatal(err)
			}
			rec.WriteHeader(200)
		}
	})
	b.Run("write", func(b *testing.B) {
		cur := cookie
		b.ReportAllocs()
		for b.Loop() {
			req := httptest.NewRequest("GET", "/", nil)
			req.AddCookie(cur)
			rec := httptest.NewRecorder()
			s, err := store.Get(req, "sessionid")
			if err != nil {
				b.Fatal(err)
			}
			n, _ := s.Values["n"].(int)
			s.Values["n"] = n + 1
			if err := s.Save(req, rec); err != nil {
				b.Fatal(err)
			}
			cur = rec.Result().Cookies()[0]
		}
	})
}
