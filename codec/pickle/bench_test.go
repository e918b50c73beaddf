package pickle

import (
	"fmt"
	"testing"

	"github.com/sessionkit/sessions/codec"
)

// benchSession is the benchmarks' standard session (benchmarks/internal/
// workload): a logged-in Django user with a two-item cart and a theme.
func benchSession() *codec.Dict {
	return codec.NewDict(map[string]any{
		"_auth_user_id":      "1042",
		"_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
		"_auth_user_hash":    "9f4b2c1e7a3d5f60b8e2d4c6a1f3e5d7c9b0a2e4f6d8c1b3a5e7f9d0c2b4a6e8",
		"cart": []any{
			map[string]any{"sku": "BK-1042", "qty": int64(2)},
			map[string]any{"sku": "MG-0007", "qty": int64(1)},
		},
		"theme": "dark",
		"n":     int64(0),
	})
}

func BenchmarkDecodeSession(b *testing.B) { benchDecode(b, benchSession()) }

// benchDecode times decoding d's pickle, reading nothing.
func benchDecode(b *testing.B, d *codec.Dict) { benchRead(b, d, nil) }

func BenchmarkEncodeSession(b *testing.B) {
	d := benchSession()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := (Codec{}).Encode(d); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeLarge decodes a session of about 100 KB: a cart of 2,000
// items, as the benchmarks' size sweep stores it.
func BenchmarkDecodeLarge(b *testing.B) { benchDecode(b, largeSession()) }

// largeSession is a session of about 100 KB: a cart of 2,000 items.
func largeSession() *codec.Dict {
	var cart []any
	for i := range 2000 {
		cart = append(cart, map[string]any{"sku": fmt.Sprintf("SKU-%06d", i*7919%1000000), "qty": int64(1 + i%5), "price": fmt.Sprintf("%d.%02d", 3+i*13%97, i*37%100)})
	}
	return codec.NewDict(map[string]any{"_auth_user_id": "1042", "theme": "dark", "cart": cart})
}

// The request's view: decode, then read the user (a read-only request),
// or every value (what a write's encode does).
func BenchmarkDecodeSessionReadUser(b *testing.B) { benchRead(b, benchSession(), readUser) }
func BenchmarkDecodeSessionReadAll(b *testing.B)  { benchRead(b, benchSession(), readAll) }
func BenchmarkDecodeLargeReadUser(b *testing.B)   { benchRead(b, largeSession(), readUser) }
func BenchmarkDecodeLargeReadAll(b *testing.B)    { benchRead(b, largeSession(), readAll) }

func readUser(d *codec.Dict) { d.Get("_auth_user_id") }

func readAll(d *codec.Dict) {
	for range d.All() {
	}
}

// benchRead times decoding d's pickle, then read on the result (if not
// nil).
func benchRead(b *testing.B, d *codec.Dict, read func(*codec.Dict)) {
	data, err := Codec{}.Encode(d)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		got, err := Codec{}.Decode(data)
		if err != nil {
			b.Fatal(err)
		}
		if read != nil {
			read(got)
		}
	}
}

// The write's view: decode, read the user, set a counter, encode, as a
// request that writes does. The values nobody read are transcoded.
func BenchmarkWriteBackSession(b *testing.B) { benchWriteBack(b, benchSession()) }
func BenchmarkWriteBackLarge(b *testing.B)   { benchWriteBack(b, largeSession()) }

// benchWriteBack times decoding d's pickle, reading the user, setting
// "n" and encoding the result.
func benchWriteBack(b *testing.B, d *codec.Dict) {
	benchRead(b, d, func(got *codec.Dict) {
		readUser(got)
		got.Set("n", int64(1))
		if _, err := (Codec{}).Encode(got); err != nil {
			b.Fatal(err)
		}
	})
}
