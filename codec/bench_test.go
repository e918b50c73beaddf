package codec_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sessionkit/sessions/codec"
)

// benchSession is a Django-like session: auth keys, a cart of nested
// dicts, preferences, messages.
func benchSession() []byte {
	var b strings.Builder
	b.WriteString(`{"_auth_user_id":"42","_auth_user_backend":"django.contrib.auth.backends.ModelBackend","_auth_user_hash":"`)
	b.WriteString(strings.Repeat("ab", 32))
	b.WriteString(`","cart":{"items":[`)
	for i := range 20 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"sku":"SKU-%04d","qty":%d,"price":%d.5,"name":"Article \u00e9 %d"}`, i, i%3+1, i*3, i)
	}
	b.WriteString(`],"currency":"EUR","total":1234.5},"prefs":{"theme":"dark","langs":["en","fr"],"tz":"Europe/Paris"},"_session_expiry":1209600}`)
	return []byte(b.String())
}

// BenchmarkDecodeSetEncode is a request that loads a session, sets one
// key and saves it (Signed, compressed).
func BenchmarkDecodeSetEncode(b *testing.B) {
	c := codec.Signed{Key: testKey}
	d, err := codec.UnmarshalPython(benchSession())
	if err != nil {
		b.Fatal(err)
	}
	stored, err := c.Encode(d)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		d, err := c.Decode(stored)
		if err != nil {
			b.Fatal(err)
		}
		d.Set("last_seen", 1700000000)
		if _, err := c.Encode(d); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMarshalPython encodes a decoded session whose values are all
// untouched (written from their stored forms) or all set again.
func BenchmarkMarshalPython(b *testing.B) {
	for _, touched := range []bool{false, true} {
		b.Run(fmt.Sprintf("touched=%v", touched), func(b *testing.B) {
			d, err := codec.UnmarshalPython(benchSession())
			if err != nil {
				b.Fatal(err)
			}
			if touched {
				for _, k := range d.Keys() {
					v, _ := d.Get(k)
					d.Set(k, v)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := codec.MarshalPython(d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
