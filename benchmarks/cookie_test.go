package benchmarks

import (
	"testing"

	"github.com/gorilla/sessions"
	ours "github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/cookiestore"
	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/signing"
)

func newCookieManager(tb testing.TB) *ours.Manager {
	m, err := ours.New(cookiestore.New(nil), settings())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { m.Close() })
	return m
}

// cookieFloorOps is the floor of a signed-cookie session, with the
// signing package alone (no middleware): verify and decode the cookie;
// then encode and sign the new value.
func cookieFloorOps(tb testing.TB) (read, write func(testing.TB)) {
	c := codec.Signed{Key: secret, Salt: cookiestore.Salt}
	v, err := c.Encode(codec.NewDict(sessionData()))
	if err != nil {
		tb.Fatal(err)
	}
	o := signing.Options{Key: secret, Salt: cookiestore.Salt, Compress: true}
	read = func(tb testing.TB) {
		if _, err := signing.LoadsBytes(string(v), o); err != nil {
			tb.Fatal(err)
		}
	}
	write = func(tb testing.TB) {
		data, err := signing.LoadsBytes(string(v), o)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := signing.DumpsBytes(data, o); err != nil {
			tb.Fatal(err)
		}
	}
	return read, write
}

func BenchmarkSignedCookie(b *testing.B) {
	b.Run("ours", func(b *testing.B) {
		oursPair(b, newCookieManager(b), sessionData())
	})
	b.Run("gorilla", func(b *testing.B) {
		gorillaPair(b, sessions.NewCookieStore([]byte(secret)))
	})
	b.Run("floor", func(b *testing.B) {
		r, w := cookieFloorOps(b)
		pair(b, r, w)
	})
}
