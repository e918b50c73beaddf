package pyjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"strings"
	"testing"

	"github.com/sessionkit/sessions/internal/valuegen"
)

// nest returns n nested containers (lists or objects, alternating when
// mixed) around inner.
func nest(n int, inner any, mixed bool) any {
	v := inner
	for i := range n {
		if mixed && i%2 == 1 {
			v = map[string]any{"k": v}
		} else {
			v = []any{v}
		}
	}
	return v
}

// TestDepthSymmetric: the encoder and the decoder count levels the same
// way, whatever the innermost value, so whatever one accepts the other
// does.
func TestDepthSymmetric(t *testing.T) {
	for _, outer := range []int{0, 1, 7} {
		for _, inner := range []any{"leaf", []any{}, map[string]any{}, nil} {
			for _, mixed := range []bool{false, true} {
				for n := MaxDepth - outer - 2; n <= MaxDepth-outer+1; n++ {
					v := nest(n, inner, mixed)
					levels := n + outer
					if _, ok := inner.(string); !ok && inner != nil {
						levels++ // the innermost container is a level too
					}
					b, err := Encoder{}.Append(nil, v, outer)
					if (err == nil) != (levels <= MaxDepth) {
						t.Fatalf("outer %d, %d levels (%T inside): Append error %v", outer, levels, inner, err)
					}
					if err != nil {
						if err.Error() != "nesting deeper than 500 levels" {
							t.Errorf("error %q", err)
						}
						// The decoder refuses the same nesting.
						b, _ = Encoder{}.Append(nil, v, 0)
						if _, err := (Decoder{Outer: outer}).Decode(b); !errors.Is(err, ErrSyntax) {
							t.Errorf("outer %d, %d levels: decoder accepted what the encoder refuses", outer, levels)
						}
						continue
					}
					if _, err := (Decoder{Outer: outer}).Decode(b); err != nil {
						t.Fatalf("outer %d, %d levels: encoded, then refused: %v", outer, levels, err)
					}
				}
			}
		}
	}
	// DecodeObject counts the object itself as level Outer+1.
	b, _ := Encoder{}.Append(nil, map[string]any{"v": nest(MaxDepth-1, 1, false)}, 0)
	if err := (Decoder{}).DecodeObject(b, func(string, any, []byte) {}); err != nil {
		t.Errorf("DecodeObject of %d levels: %v", MaxDepth, err)
	}
	if err := (Decoder{Outer: 1}).DecodeObject(b, func(string, any, []byte) {}); err == nil {
		t.Errorf("DecodeObject of %d levels inside one more accepted", MaxDepth)
	}
}

func TestIntegerDigits(t *testing.T) {
	ten := func(n int64) *big.Int { return new(big.Int).Exp(big.NewInt(10), big.NewInt(n), nil) }
	for _, c := range []struct {
		n  *big.Int
		ok bool
	}{
		{ten(MaxIntDigits - 1), true}, // 4300 digits
		{new(big.Int).Neg(new(big.Int).Sub(ten(MaxIntDigits), big.NewInt(1))), true}, // -999...9
		{ten(MaxIntDigits), false},
		{new(big.Int).Neg(ten(MaxIntDigits)), false},
		{new(big.Int).Lsh(big.NewInt(1), 1<<20), false},
	} {
		b, err := Marshal(c.n)
		if (err == nil) != c.ok {
			t.Fatalf("%d bits: Marshal error %v, want ok=%v", c.n.BitLen(), err, c.ok)
		}
		if err != nil {
			if !strings.Contains(err.Error(), "digits") {
				t.Errorf("error %q", err)
			}
			continue
		}
		v, err := Decode(b)
		if err != nil || v.(*big.Int).Cmp(c.n) != 0 {
			t.Errorf("%d digits: decode %v", len(b), err)
		}
	}
	if b, err := Marshal(json.Number(strings.Repeat("9", MaxIntDigits+1))); err == nil {
		t.Errorf("json.Number of %d digits accepted: %.20s", MaxIntDigits+1, b)
	}
}

func TestKeyOrder(t *testing.T) {
	type rec struct {
		m    map[string]any
		keys []string
	}
	var recs []rec
	orders := map[uintptr][]string{}
	dec := Decoder{KeyOrder: func(m map[string]any, keys []string) {
		recs = append(recs, rec{m, keys})
		orders[reflect.ValueOf(m).Pointer()] = keys
	}}
	in := `{"z":{"y":1,"b":[{"q":1,"a":2,"q":3}],"single":{"x":1}},"a":2}`
	v, err := dec.Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 { // not the one-key object
		t.Errorf("%d objects reported, want 3", len(recs))
	}
	enc := Encoder{KeyOrder: func(m map[string]any) []string {
		if k, ok := orders[reflect.ValueOf(m).Pointer()]; ok {
			return k
		}
		return sortedKeys(m)
	}}
	b, err := enc.Append(nil, v, 0)
	if want := `{"z":{"y":1,"b":[{"q":3,"a":2}],"single":{"x":1}},"a":2}`; err != nil || string(b) != want {
		t.Errorf("re-encoded %s, %v; want %s", b, err, want)
	}
	if b, _ := Marshal(v); string(b) != `{"a":2,"z":{"b":[{"a":2,"q":3}],"single":{"x":1},"y":1}}` {
		t.Errorf("without KeyOrder, sorted: %s", b)
	}
}

func TestDecodeObjectRaw(t *testing.T) {
	in := " { \"a\" : [1, 2 ] ,\"b\":1.0E5,\"c\":\"\\u00E9\",\"a\":{\"x\" :null} } "
	var got []string
	err := Decoder{}.DecodeObject([]byte(in), func(k string, v any, raw []byte) {
		got = append(got, k+"="+string(raw))
	})
	want := `a=[1, 2 ]|b=1.0E5|c="\u00E9"|a={"x" :null}`
	if err != nil || strings.Join(got, "|") != want {
		t.Errorf("got %q, %v; want %q", strings.Join(got, "|"), err, want)
	}
}

func TestEncodeErrorPath(t *testing.T) {
	type inner struct {
		Name string `json:"name"`
	}
	type outer struct {
		Items  []inner `json:"items"`
		Hidden string  `json:"-"`
		secret string
	}
	cases := []struct {
		v    any
		path string
		msg  string
	}{
		{map[string]any{"a": []any{1, map[string]any{"b": "\xff"}}}, `["a"][1]["b"]`, "string is not valid UTF-8 (byte 0xff at offset 0)"},
		{[]any{map[string]any{"k\xff": 1}}, `[0]`, `key "k\xff": string is not valid UTF-8`},
		{[]any{[]string{"ok", "\xc3"}}, `[0][1]`, "not valid UTF-8"},
		{map[string]any{"s": outer{Items: []inner{{"ok"}, {"Zo\xeb"}}}}, `["s"]["items"][1]["name"]`, "not valid UTF-8"},
		{outer{Items: []inner{{"\xed\xa0\x80"}}}, `["items"][0]["name"]`, "surrogate"},
		{map[string]any{"c": make(chan int)}, `["c"]`, "cannot encode value of type chan int"},
		{map[string]any{"n": json.Number("1.2.3")}, `["n"]`, `invalid json.Number "1.2.3"`},
		{nest(30, "\xff", false), "[0][0][0][0][0][0][0][0][0][0][0][0]…", "not valid UTF-8"},
	}
	for _, c := range cases {
		_, err := Marshal(c.v)
		var e *EncodeError
		if !errors.As(err, &e) || e.Path != c.path || !strings.Contains(e.Err.Error(), c.msg) {
			t.Errorf("Marshal(%.60v) = %v (path %q); want path %q and %q", c.v, err, pathOf(e), c.path, c.msg)
		}
	}
	// Fields encoding/json skips are not checked.
	if b, err := Marshal(outer{Hidden: "\xff", secret: "\xff"}); err != nil || string(b) != `{"items":null}` {
		t.Errorf("skipped fields: %s, %v", b, err)
	}
}

func pathOf(e *EncodeError) string {
	if e == nil {
		return "<none>"
	}
	return e.Path
}

type rawJSON string

func (r rawJSON) MarshalJSON() ([]byte, error) { return []byte(r), nil }

type point struct {
	Z int    `json:"z"`
	A string `json:"a"`
	M int    `json:"m"`
}

func TestGenericKeepsFieldOrder(t *testing.T) {
	b, err := Marshal(map[string]any{"p": point{1, "x", 2}, "l": []any{&point{Z: 3}}})
	if want := `{"l":[{"z":3,"a":"","m":0}],"p":{"z":1,"a":"x","m":2}}`; err != nil || string(b) != want {
		t.Errorf("got %s, %v; want %s", b, err, want)
	}
	// A Marshaler's output is read as UTF-8, strictly.
	if b, err := Marshal(rawJSON(`{"b":"Zo` + "\xc3\xab" + `","a":1}`)); err != nil || string(b) != `{"b":"Zo\u00eb","a":1}` {
		t.Errorf("Marshaler: %s, %v", b, err)
	}
	if b, err := Marshal(rawJSON("\"\xff\"")); err == nil {
		t.Errorf("Marshaler writing invalid UTF-8 accepted: %s", b)
	}
}

// TestPropertyStandalone: Marshal and Decode accept the same values, and
// what Marshal accepts decodes to the same value and re-encodes to the
// same bytes.
func TestPropertyStandalone(t *testing.T) {
	lim := valuegen.Limits{MaxDepth: MaxDepth, MaxIntDigits: MaxIntDigits}
	for _, seed := range valuegen.Seeds(t) {
		g := valuegen.New(seed, lim)
		accepted, refused := 0, 0
		var st valuegen.Stats
		for i := range 2000 {
			v := g.Value(0, g.R.IntN(3) == 0)
			fault := valuegen.Fault(v, 0, lim)
			st.Add(v, 0, fault)
			b, err := Marshal(v)
			if (err == nil) != (fault == "") {
				t.Fatalf("seed %d, value %d: Marshal error %v, expected fault %q", seed, i, err, fault)
			}
			if err != nil {
				refused++
				var e *EncodeError
				if !errors.As(err, &e) {
					t.Fatalf("seed %d, value %d: error %T %v is not an *EncodeError", seed, i, err, err)
				}
				continue
			}
			accepted++
			back, err := Decode(b)
			if err != nil {
				t.Fatalf("seed %d, value %d: encoded %.80s, then refused: %v", seed, i, b, err)
			}
			if want := valuegen.Normalize(v, true); !valuegen.Equal(back, want) {
				t.Fatalf("seed %d, value %d: read back as %#v, want %#v", seed, i, back, want)
			}
			b2, err := Marshal(back)
			if err != nil || !bytes.Equal(b, b2) {
				t.Fatalf("seed %d, value %d: not stable: %s vs %s (%v)", seed, i, b, b2, err)
			}
		}
		t.Logf("seed %d: %v", seed, st)
		if seed == 1 && (st.MaxLevel != MaxDepth || st.MaxDigits != MaxIntDigits || st.Faults["depth"] == 0 || st.Faults["int"] == 0 || st.Faults["utf8"] == 0) {
			t.Errorf("the fixed seed no longer reaches the limits from both sides: %v", st)
		}
		if accepted < 1000 || refused < 50 {
			t.Errorf("the generator is off: %d accepted, %d refused", accepted, refused)
		}
	}
}

func ExampleAppendSurrogate() {
	s := string(AppendSurrogate([]byte("x"), 0xd800)) + "y"
	b, _ := Marshal(s)
	v, _ := Decode(b)
	fmt.Printf("%q %s %v\n", s, b, v == s)
	// Output: "x\xed\xa0\x80y" "x\ud800y" true
}
