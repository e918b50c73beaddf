package codec_test

import (
	"bytes"
	"testing"

	"github.com/sessionkit/sessions/codec"
)

// canonical encodes d with every value re-encoded (no stored forms).
func canonical(t *testing.T, d *codec.Dict) []byte {
	t.Helper()
	c := d.Clone()
	for _, k := range c.Keys() {
		v, _ := c.Get(k)
		c.Set(k, v)
	}
	b, err := codec.MarshalPython(c)
	if err != nil {
		t.Fatalf("canonical encoding of a decoded session: %v", err)
	}
	return b
}

// FuzzUnmarshalPython checks that whatever UnmarshalPython accepts,
// MarshalPython encodes (with the stored forms of untouched values) and
// UnmarshalPython reads back as the same values, in the same order.
//
//	go test -run X -fuzz FuzzUnmarshalPython ./codec/
func FuzzUnmarshalPython(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,2.5,"x",null,true],"b":{"z":1,"a":2}}`, `{"s":"x\ud800y","p":"\ud83d\ude00"}`,
		`{"n":1E5,"m":-0,"f":1.0,"big":18446744073709551616,"nan":NaN}`, `{"a":1,"a":{"q":1,"b":2,"q":3}}`, "{\"l\":\"caf\xe9\"}",
		`{ "w" : [ 1 , { "x" : null } ] }`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := codec.UnmarshalPython(b)
		if err != nil {
			return
		}
		out, err := codec.MarshalPython(d)
		if err != nil {
			t.Fatalf("decoded, then refused when encoding: %v", err)
		}
		back, err := codec.UnmarshalPython(out)
		if err != nil {
			t.Fatalf("encoded %q, then refused when decoding: %v", out, err)
		}
		if c1, c2 := canonical(t, d), canonical(t, back); !bytes.Equal(c1, c2) {
			t.Fatalf("values changed on the way through:\n%s\n%s", c1, c2)
		}
	})
}
