package codec_test

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/codec/pickle"
)

// Decode checks every value but builds a value only when it is read: a
// value never read is written back exactly as stored, a value read is
// the same as a full decode gives, and a fault in a value nobody reads
// still makes the data corrupt.
func TestValuesBuiltWhenRead(t *testing.T) {
	in := `{"a": 1.0, "b": {"y": [1, "x\u00e9"], "x": 2E0}, "c": "plain", "d": 10}`
	d, err := codec.UnmarshalPython([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := d.Get("c"); v != "plain" {
		t.Fatalf("c = %#v", v)
	}
	d.Set("d", 11)
	if _, ok := d.Unbuilt("a"); ok {
		t.Error("Unbuilt gives a JSON value: it has a stored form, not a source")
	}
	out, err := codec.MarshalPython(d)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":1.0,"b":{"y": [1, "x\u00e9"], "x": 2E0},"c":"plain","d":11}`; string(out) != want {
		t.Errorf("encoded %s\nwant    %s", out, want)
	}
	b, _ := d.Get("b")
	m, ok := b.(map[string]any)
	if !ok || m["x"] != 2.0 || len(m["y"].([]any)) != 2 || m["y"].([]any)[1] != "xé" {
		t.Fatalf("b = %#v", b)
	}
	m["z"] = true // changed in place: re-encoded in its recorded order
	out, _ = codec.MarshalPython(d)
	if want := `{"a":1.0,"b":{"y":[1,"x\u00e9"],"x":2.0,"z":true},"c":"plain","d":11}`; string(out) != want {
		t.Errorf("encoded %s\nwant    %s", out, want)
	}
	if got := d.Map(); got["a"] != 1.0 || len(got) != 4 {
		t.Errorf("Map = %#v", got)
	}

	for _, bad := range []string{
		`{"a": 1, "unread": [1,]}`,
		`{"a": 1, "unread": {"x": 01}}`,
		`{"a": 1, "unread": ` + strings.Repeat("9", codec.MaxIntDigits+1) + `}`,
		`{"a": 1, "unread": ` + strings.Repeat("[", codec.MaxDepth) + strings.Repeat("]", codec.MaxDepth) + `}`,
	} {
		if _, err := codec.UnmarshalPython([]byte(bad)); !errors.Is(err, codec.ErrCorrupt) {
			t.Errorf("%.50s: %v, want ErrCorrupt", bad, err)
		}
	}
}

// SetLazy: a codec's values are built when first read, once each, by
// every way of reading them; values set or deleted first are never
// built; a repeated key is refused.
func TestSetLazy(t *testing.T) {
	built := map[string]int{}
	values := map[string]any{"a": "x", "b": map[string]any{"z": 1, "y": 2}, "c": []any{1}, "d": "gone"}
	build := codec.LazyFunc(func(k string) any {
		built[k]++
		v := values[k]
		return v
	})
	var d codec.Dict
	if d.SetLazy([]string{"a", "b", "a"}, build) {
		t.Fatal("SetLazy took a repeated key")
	}
	if !d.SetLazy([]string{"a", "b", "c", "d"}, build) {
		t.Fatal("SetLazy refused distinct keys")
	}
	if len(built) != 0 || d.Len() != 4 || strings.Join(d.Keys(), ",") != "a,b,c,d" {
		t.Fatalf("after SetLazy: built %v, keys %v", built, d.Keys())
	}
	if v, ok := d.Get("a"); v != "x" || !ok {
		t.Fatalf("a = %v, %v", v, ok)
	}
	d.Get("a")
	d.Set("c", "new")
	d.Delete("d")
	if built["a"] != 1 || built["c"] != 0 || built["d"] != 0 || built["b"] != 0 {
		t.Fatalf("built %v: want a once, nothing else", built)
	}
	// Unbuilt gives the source of the values nothing read or set.
	for k, want := range map[string]bool{"a": false, "b": true, "c": false, "d": false, "nope": false} {
		if src, ok := d.Unbuilt(k); ok != want || (ok && src.Build("b") == nil) {
			t.Errorf("Unbuilt(%q) = %v, %v; want unbuilt %v", k, src, ok, want)
		}
	}
	if built["b"] != 1 {
		t.Fatalf("built %v: want b once, through the source Unbuilt gave", built)
	}
	built["b"] = 0
	out, err := codec.MarshalPython(&d)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":"x","b":{"y":2,"z":1},"c":"new"}`; string(out) != want {
		t.Errorf("encoded %s, want %s", out, want)
	}
	c := d.Clone()
	for range d.All() {
	}
	d.Map()
	if built["a"] != 1 || built["b"] != 1 || built["c"] != 0 || built["d"] != 0 {
		t.Errorf("built %v: want a and b once each", built)
	}
	if v, _ := c.Get("b"); v.(map[string]any)["y"] != 2 {
		t.Errorf("the clone's b = %v", v)
	}
	var empty codec.Dict
	if !empty.SetLazy(nil, build) || empty.Len() != 0 {
		t.Error("SetLazy of no keys")
	}
}

// Every codec of this module keeps nothing of the buffer it decodes: the
// caller may reuse it once Decode returns, also when the values are
// built later, on their first read (codec.Codec's contract).
func TestDecodeKeepsNoBuffer(t *testing.T) {
	var cart []any
	for i := range 300 {
		cart = append(cart, map[string]any{"sku": fmt.Sprintf("SKU-%04d", i), "qty": int64(1 + i%5)})
	}
	session := map[string]any{"_auth_user_id": "1042", "cart": cart, "theme": "dark"}
	for name, c := range map[string]codec.Codec{
		"json":   codec.JSON{},
		"signed": codec.Signed{Key: "a secret key of some length"},
		"pickle": pickle.Codec{},
	} {
		data, err := c.Encode(codec.NewDict(session))
		if err != nil {
			t.Fatal(err)
		}
		buf := bytes.Clone(data)
		d, err := c.Decode(buf)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i := range buf {
			buf[i] = '"'
		}
		want, err := c.Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(d.Map(), want.Map()) {
			t.Errorf("%s: values read after the buffer was reused differ from a fresh decode", name)
		}
	}
}
