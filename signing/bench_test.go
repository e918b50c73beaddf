package signing_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sessionkit/sessions/signing"
)

// cart is session JSON of about n bytes: a logged-in user and a cart.
func cart(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"_auth_user_id":"1042","_auth_user_backend":"django.contrib.auth.backends.ModelBackend","_auth_user_hash":"9f4b2c1e7a3d5f60b8e2d4c6a1f3e5d7c9b0a2e4f6d8c1b3a5e7f9d0c2b4a6e8","cart":[`)
	for i := 0; b.Len() < n-40; i++ {
		fmt.Fprintf(&b, `{"sku":"SKU-%06d","qty":%d,"price":"%d.%02d"},`, i*7919%1000000, 1+i%5, 3+i*13%97, i*37%100)
	}
	b.WriteString(`{}],"theme":"dark","n":0}`)
	return []byte(b.String())
}

// BenchmarkCompressed signs compressed data (Dumps, the cookie engine's
// and CompressAbove's path) and reads it back (Loads, also the path of
// compressed data Django wrote), at the standard session's size and at
// a cookie's.
func BenchmarkCompressed(b *testing.B) {
	o := signing.Options{Key: "secret", Salt: "bench", Compress: true}
	for _, n := range []int{260, 2000} {
		data := cart(n)
		signed, err := signing.DumpsBytes(data, o)
		if err != nil || !strings.HasPrefix(signed, ".") {
			b.Fatalf("not compressed: %v", err)
		}
		b.Run(fmt.Sprintf("dumps/%dB", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := signing.DumpsBytes(data, o); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("loads/%dB", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := signing.LoadsBytes(signed, o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
