package pickle

import (
	"bytes"
	"fmt"
	"math"
	"math/big"
	"strings"
	"testing"

	"github.com/sessionkit/sessions/codec"
)

// sameEncoding decodes data lazily and eagerly, makes the same edit to
// both, encodes both, and checks the two pickles are byte for byte the
// same. It returns the lazy Dict, after its encoding.
func sameEncoding(t *testing.T, name string, data []byte, edit func(*codec.Dict)) *codec.Dict {
	t.Helper()
	lazy, ok, _ := lazySession(data)
	if !ok {
		t.Fatalf("%s: not decoded lazily", name)
	}
	eager, ok := eagerSession(data)
	if !ok {
		t.Fatalf("%s: not decoded by the eager fast path", name)
	}
	edit(lazy)
	edit(eager)
	got, err := Codec{MaxSize: -1}.Encode(lazy)
	if err != nil {
		t.Fatalf("%s: encoding the lazy session: %v", name, err)
	}
	want, err := Codec{MaxSize: -1}.Encode(eager)
	if err != nil {
		t.Fatalf("%s: encoding the eager session: %v", name, err)
	}
	if !bytes.Equal(got, want) {
		at := 0
		for at < len(got) && at < len(want) && got[at] == want[at] {
			at++
		}
		t.Fatalf("%s: the transcoded pickle differs from the built one at byte %d:\n %x\n %x", name, at, got, want)
	}
	return lazy
}

// TestUnreadValuesWrittenUnbuilt checks that saving a lazily decoded
// session writes the values nobody read without building them, and
// writes what building them would: strs shared with values that were
// set or deleted, batches over 1,000 items, big integers, floats and
// strs over the frame size included.
func TestUnreadValuesWrittenUnbuilt(t *testing.T) {
	big1 := new(big.Int).Lsh(big.NewInt(1), 100)
	items := make([]any, 2500)
	for i := range items {
		items[i] = map[string]any{"sku": fmt.Sprintf("SKU-%d", i%700), "qty": int64(i % 300), "price": float64(i) / 7}
	}
	long := strings.Repeat("ü", frameSizeTarget)
	d := codec.NewDict(map[string]any{
		"a_first":  "shared",
		"b_set":    "x",
		"c_cart":   items,
		"d_mixed":  []any{"shared", "x", "fresh", nil, true, false, int64(-1), int64(70000), int64(math.MaxInt64), big1, math.Inf(-1), []any{}, map[string]any{}, map[string]any{"one": []any{"shared"}}},
		"e_long":   long,
		"f_nested": map[string]any{"z": map[string]any{"y": []any{long, "shared"}}, "a": "fresh"},
	})
	data, err := Codec{MaxSize: -1}.Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	unread := []string{"c_cart", "d_mixed", "e_long", "f_nested"}
	for name, edit := range map[string]func(*codec.Dict){
		"nothing changed": func(*codec.Dict) {},
		"a str another value refers to, set": func(d *codec.Dict) {
			d.Set("a_first", "changed") // "shared" is now first written in d_mixed
		},
		"a str another value writes, set before it": func(d *codec.Dict) {
			d.Set("b_set", "fresh") // d_mixed's "fresh" is now a reference
		},
		"the first values deleted, one added": func(d *codec.Dict) {
			d.Delete("a_first")
			d.Delete("b_set")
			d.Set("n", int64(1))
		},
	} {
		lazy := sameEncoding(t, name, data, edit)
		for _, k := range unread {
			if _, ok := lazy.Unbuilt(k); !ok {
				t.Errorf("%s: encoding built %q", name, k)
			}
		}
	}
}

// session pads a hand-written value (its opcodes, at memo index 4) into
// a session large enough to decode lazily: {"pad": "X"*600, "v": value}.
func session(value string) []byte {
	pad := strings.Repeat("X", 600)
	return []byte("\x80\x05}\x94(\x8c\x03pad\x94X\x58\x02\x00\x00" + pad + "\x94\x8c\x01v\x94" + value + "u.")
}

// oddShapes are values whose opcodes are not what CPython's pickler
// writes for them (see session): transcoding passes them to the builder.
var oddShapes = map[string]string{
	"tuple":                     "\x8c\x01a\x94\x8c\x01b\x94\x86\x94",
	"empty tuple":               ")",
	"list from MARK":            "(K\x01K\x02l\x94",
	"two APPENDs":               "]\x94K\x01aK\x02a",
	"two batches of one":        "]\x94(K\x01e(K\x02e",
	"one item by APPENDS":       "]\x94(K\x01e",
	"an empty batch":            "]\x94(e",
	"a repeated key":            "}\x94(\x8c\x01k\x94K\x01h\x05K\x02u",
	"two SETITEMs":              "}\x94\x8c\x01aK\x01s\x8c\x01bK\x02s",
	"one item by SETITEMS":      "}\x94(\x8c\x01aK\x01u",
	"a dict from MARK":          "(\x8c\x01aK\x01d\x94",
	"a tuple deep in a list":    "]\x94(K\x01K\x02\x86e",
	"a repeated key deep down":  "]\x94(}\x94(\x8c\x01kK\x01\x8c\x01kK\x02uK\x03e",
	"a big batch of 1,001":      "]\x94(" + strings.Repeat("K\x01", 1001) + "e",
	"batches of 999 and 2":      "]\x94(" + strings.Repeat("K\x01", 999) + "e(K\x01K\x01e",
	"MARKs without items first": "]\x94((K\x01K\x02ee",
}

// cpythonShapes are values written as CPython's pickler writes them.
var cpythonShapes = map[string]string{
	"one item":                    "]\x94K\x01a",
	"two items":                   "]\x94(K\x01K\x02e",
	"a dict of one":               "}\x94\x8c\x01aK\x01s",
	"a dict of two":               "}\x94(\x8c\x01aK\x01\x8c\x01bK\x02u",
	"1,000 and 1":                 "]\x94(" + strings.Repeat("K\x01", 1000) + "e(K\x01e",
	"nested, a str written twice": "]\x94(}\x94(\x8c\x01k\x94K\x01h\x03]\x94u\x8c\x01k\x94e",
	"a str the pad's key wrote":   "\x8c\x03pad\x94",
}

// TestTranscodeFallsBack checks that values whose opcodes are not
// written as CPython's pickler writes them (a tuple, containers filled
// in other batches, a nested dict repeating a key or of 1,000 keys) are
// built and encoded, and that the result is the same as the eager one.
func TestTranscodeFallsBack(t *testing.T) {
	wide := map[string]any{}
	for i := range 1000 {
		wide[fmt.Sprint(i)] = int64(i)
	}
	wideData, err := Codec{}.Encode(codec.NewDict(map[string]any{"pad": strings.Repeat("X", 600), "v": wide}))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{"a nested dict of 1,000": wideData}
	for name, v := range oddShapes {
		cases[name] = session(v)
	}
	for name, data := range cases {
		lazy, ok, _ := lazySession(data)
		if !ok {
			if _, eagerOK := eagerSession(data); eagerOK {
				t.Errorf("%s: not decoded lazily", name)
			}
			continue // the general decoder's: no transcoding there
		}
		r, _ := lazy.Unbuilt("v")
		i, _ := r.(*lazyRoot).find("v")
		sp := r.(*lazyRoot).spans[i]
		if r.(*lazyRoot).checkShape(int(sp.from), int(sp.to)) {
			t.Errorf("%s: checkShape passes it", name)
		}
		sameEncoding(t, name, data, func(*codec.Dict) {})
	}
	// The same shapes written as CPython writes them are transcoded.
	for name, value := range cpythonShapes {
		data := session(value)
		lazy := sameEncoding(t, name, data, func(*codec.Dict) {})
		if _, ok := lazy.Unbuilt("v"); !ok {
			t.Errorf("%s: built to be encoded", name)
		}
	}
}
