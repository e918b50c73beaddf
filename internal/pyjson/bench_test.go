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
