package codec_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/sessionkit/sessions/codec"
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
