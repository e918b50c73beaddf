package pyjson

import (
	"fmt"
	"strings"
	"testing"
)

// sessionJSON is a logged-in Django session with a small cart and
// preferences, as Django's JSONSerializer writes it.
const sessionJSON = `{"_auth_user_id":"42","_auth_user_backend":"django.contrib.auth.backends.ModelBackend",` +
	`"_auth_user_hash":"0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0",` +
	`"cart":[{"sku":"SKU-1001","qty":1},{"sku":"SKU-1002","qty":2},{"sku":"SKU-1003","qty":1}],` +
	`"theme":"dark","lang":"en-gb"}`

// cartJSON is a session of about n bytes: a cart of items with names and
// notes, the strings a large session is mostly made of.
func cartJSON(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"_auth_user_id":"42","cart":[`)
	for i := 0; b.Len() < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"sku":"SKU-%06d","name":"Stoneware mug, glazed, 350 ml (item %d)","qty":%d,"note":"gift wrap, no receipt"}`, i, i, i%5+1)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

func BenchmarkDecode(b *testing.B) {
	for _, c := range []struct {
		name string
		in   []byte
	}{{"session", []byte(sessionJSON)}, {"cart-100KB", cartJSON(100 << 10)}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.in)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(c.in); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/scan", func(b *testing.B) {
			b.SetBytes(int64(len(c.in)))
			b.ReportAllocs()
			for b.Loop() {
				if err := (Decoder{}).ScanObject(c.in, func(string, []byte) {}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestSpecial8 holds special8 to a byte-by-byte check, on words made of
// the bytes around each boundary it tests and on random words.
func TestSpecial8(t *testing.T) {
	special := func(c byte) bool { return c == '"' || c == '\\' || c < 0x20 || c >= 0x80 }
	edge := []byte{0, 1, 0x1f, 0x20, 0x21, '!', '"', '#', '[', '\\', ']', 'a', 0x7f, 0x80, 0x81, 0xfe, 0xff}
	rng := uint64(0x9e3779b97f4a7c15)
	check := func(w [8]byte) {
		x := uint64(0)
		want := false
		for i := 7; i >= 0; i-- {
			x = x<<8 | uint64(w[i])
			want = want || special(w[i])
		}
		if got := special8(x); got != want {
			t.Fatalf("special8(% x) = %v, want %v", w, got, want)
		}
	}
	for range 1_000_000 {
		rng ^= rng << 13
		rng ^= rng >> 7
		rng ^= rng << 17
		var w [8]byte
		for i := range w {
			// Mostly plain bytes, so that words without a special one
			// are common; each position sometimes takes an edge byte.
			b := byte(rng >> (8 * i))
			switch {
			case b%7 == 0:
				w[i] = edge[int(b/7)%len(edge)]
			default:
				w[i] = 0x23 + b%0x39 // '#'..'[' : plain
			}
		}
		check(w)
		check([8]byte{byte(rng), byte(rng >> 8), byte(rng >> 16), byte(rng >> 24), byte(rng >> 32), byte(rng >> 40), byte(rng >> 48), byte(rng >> 56)})
	}
}
