package pickle

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"strings"
	"testing"

	"github.com/sessionkit/sessions/codec"
)

// sameFromJSON decodes the JSON session data twice, builds every value
// of one copy, makes the same edits to both (a key deleted and one set,
// picked from the data), and checks that their pickles are byte for
// byte the same. It returns the copy not built, after its encoding, and
// the key it set.
func sameFromJSON(t *testing.T, name string, data []byte) (stored *codec.Dict, set string) {
	t.Helper()
	stored, err := codec.UnmarshalPython(data)
	if err != nil {
		return nil, ""
	}
	built, _ := codec.UnmarshalPython(data)
	for range built.All() {
	}
	h := fnv.New32a()
	h.Write(data)
	pick := h.Sum32()
	if keys := built.Keys(); len(keys) > 2 {
		var del string
		del, set = keys[int(pick)%len(keys)], keys[int(pick/7)%len(keys)]
		for _, d := range []*codec.Dict{stored, built} {
			d.Delete(del)
			d.Set(set, "replaced "+del)
		}
	}
	got, gerr := Codec{MaxSize: -1}.Encode(stored)
	want, werr := Codec{MaxSize: -1}.Encode(built)
	if (gerr == nil) != (werr == nil) {
		t.Fatalf("%s: from the JSON text: %v; built: %v", name, gerr, werr)
	}
	if !bytes.Equal(got, want) {
		at := 0
		for at < len(got) && at < len(want) && got[at] == want[at] {
			at++
		}
		t.Fatalf("%s: the pickle written from the JSON text differs from the built one at byte %d:\n %x\n %x", name, at, got, want)
	}
	return stored, set
}

// jsonSessions are JSON sessions of every shape writing from the text
// meets: escapes, Latin-1 bytes, lone surrogates, big and small numbers,
// NaN, batches over 1,000 items and members, nested empties, strs shared
// between values, and objects repeating a key.
func jsonSessions() map[string]string {
	var list, members []string
	for i := range 1001 {
		list = append(list, fmt.Sprintf(`{"sku":"SKU-%d","qty":%d}`, i%7, i%300))
	}
	for i := range 1000 {
		members = append(members, fmt.Sprintf(`"k%d":%d`, i, i))
	}
	return map[string]string{
		"scalars":  `{"a":"shared","b":1,"c":-70000,"d":123456789012345678901234567890,"e":1.5,"f":1e400,"g":NaN,"h":-Infinity,"i":true,"j":false,"k":null,"l":2.0}`,
		"strings":  `{"s":"sh\u00e9red","t":"caf` + "\xe9" + `","u":"\ud83d\ude00","v":"\ud800 lone","w":"esc\"aped\\\n","x":"shared","y":["shared","shared"]}`,
		"nested":   `{"cart":[{"sku":"A","qty":1},{"sku":"B","qty":2,"opts":{"gift":true,"wrap":[]}}],"prefs":{"theme":"dark","langs":["en","fr"]},"e":[],"o":{}}`,
		"one item": `{"l":[1],"o":{"only":{"one":[{}]}}}`,
		"batches":  `{"list":[` + strings.Join(list, ",") + `],"wide":{` + strings.Join(members, ",") + `}}`,
		"repeated": `{"a":{"k":1,"k":2,"j":3},"b":[{"x":1,"y":2,"x":[3]}],"c":{"deep":{"z":1,"z":{"z":2}}}}`,
		"spaces":   "{ \"a\" : [ 1 , { \"b\" : \"c\" } ] , \"d\" : \"c\" }",
		"framed":   `{"big":"` + strings.Repeat("x", frameSizeTarget+10) + `","after":["x","big"]}`,
	}
}

// TestStoredJSONWrittenUnbuilt checks that a session decoded from JSON
// is pickled from the values' JSON text, without building them, and that
// the pickle is the one building them writes.
func TestStoredJSONWrittenUnbuilt(t *testing.T) {
	for name, js := range jsonSessions() {
		d, set := sameFromJSON(t, name, []byte(js))
		if d == nil {
			t.Fatalf("%s: not a session", name)
		}
		for _, k := range d.Keys() {
			if _, ok := d.Stored(k); !ok && k != set {
				t.Errorf("%s: encoding built %q", name, k)
			}
		}
	}
}

// TestJSONCartNotBuilt checks that pickling a session of a 2,000-item
// cart decoded from JSON makes a few dozen allocations, not the ten
// thousand building the cart makes.
func TestJSONCartNotBuilt(t *testing.T) {
	js, err := codec.MarshalPython(largeSession())
	if err != nil {
		t.Fatal(err)
	}
	d, err := codec.UnmarshalPython(js)
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(5, func() {
		if _, err := (Codec{}).Encode(d); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 100 {
		t.Errorf("pickling the cart from its JSON: %.0f allocations, want at most 100", allocs)
	}
}

// FuzzFromJSON holds the pickle written from a session's JSON text to the
// one written from its built values.
//
//	go test -fuzz FuzzFromJSON ./codec/pickle/
func FuzzFromJSON(f *testing.F) {
	for _, js := range jsonSessions() {
		if len(js) < 8192 {
			f.Add([]byte(js))
		}
	}
	f.Add([]byte(`{"a":[1,[2,[3,{"b":{"c":"d"}}]]],"e":"d"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		sameFromJSON(t, "fuzz", data)
	})
}
