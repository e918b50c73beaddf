package pyjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Python's repr(float) for a set of values, checked with CPython 3.11.
func TestAppendFloatMatchesPythonRepr(t *testing.T) {
	cases := map[float64]string{
		0: "0.0", 1: "1.0", -1: "-1.0", 1.5: "1.5", 0.1: "0.1", 100: "100.0",
		1e15: "1000000000000000.0", 1e16: "1e+16", 1.5e16: "1.5e+16", 1e-7: "1e-07",
		0.0001: "0.0001", 0.00001: "1e-05", 123456789.125: "123456789.125",
		1e100: "1e+100", 5e-324: "5e-324", math.MaxFloat64: "1.7976931348623157e+308",
		-0.5: "-0.5", 12345678901234567890: "1.2345678901234567e+19", 1.25e-5: "1.25e-05",
		math.Copysign(0, -1): "-0.0", math.Inf(1): "Infinity", math.Inf(-1): "-Infinity",
	}
	for f, want := range cases {
		if got := string(AppendFloat(nil, f)); got != want {
			t.Errorf("AppendFloat(%v) = %s, want %s", f, got, want)
		}
	}
	if got := string(AppendFloat(nil, math.NaN())); got != "NaN" {
		t.Errorf("NaN = %s", got)
	}
}

func TestAppendStringMatchesPython(t *testing.T) {
	cases := map[string]string{
		"":                         `""`,
		"a test value":             `"a test value"`,
		"Zoë ☃":                    `"Zo\u00eb \u2603"`,
		"<>&'\"/\\\n\t\x7fé😀":      `"<>&'\"/\\\n\t\u007f\u00e9\ud83d\ude00"`,
		"\x00\x1f\b\f\r":           `"\u0000\u001f\b\f\r"`,
		"x\xed\xa0\x80y":           `"x\ud800y"`, // a lone surrogate, in its 3-byte form
		"\xed\xb0\x80\xed\xaf\xbf": `"\udc00\udbff"`,
	}
	for in, want := range cases {
		if got, err := AppendString(nil, in); err != nil || string(got) != want {
			t.Errorf("AppendString(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	// Invalid UTF-8 is refused, never replaced.
	for _, in := range []string{"bad\xffutf8", "\x80", "\xc3", "\xe2\x98", "\xc0\x80", "\xed\xa0", "\xf4\x90\x80\x80"} {
		var e *EncodeError
		if got, err := AppendString(nil, in); !errors.As(err, &e) || !strings.Contains(err.Error(), "not valid UTF-8") {
			t.Errorf("AppendString(%q) = %s, %v; want an error", in, got, err)
		}
	}
}

func TestMarshal(t *testing.T) {
	big64, _ := new(big.Int).SetString("18446744073709551616", 10)
	type point struct {
		X int    `json:"x"`
		Y string `json:"y,omitempty"`
	}
	cases := []struct {
		in   any
		want string
	}{
		{nil, "null"}, {true, "true"}, {false, "false"}, {42, "42"}, {int64(-7), "-7"},
		{uint64(math.MaxUint64), "18446744073709551615"}, {big64, "18446744073709551616"},
		{json.Number("1.50"), "1.5"}, {json.Number("1e5"), "100000.0"}, {json.Number("-0"), "0"}, {[]any{1, "a", nil}, `[1,"a",null]`},
		{map[string]any{"b": 1, "a": []any{}}, `{"a":[],"b":1}`},
		{[]string{"x", "y"}, `["x","y"]`}, {map[string]string{"k": "v"}, `{"k":"v"}`},
		{point{X: 1}, `{"x":1}`}, {[]int{1, 2}, "[1,2]"}, {(*point)(nil), "null"},
		{time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), `"2030-01-02T03:04:05Z"`},
		{map[string]any{"html": "<b>&</b>"}, `{"html":"<b>&</b>"}`},
		{float32(1.5), "1.5"},
	}
	for _, c := range cases {
		got, err := Marshal(c.in)
		if err != nil || string(got) != c.want {
			t.Errorf("Marshal(%#v) = %s, %v; want %s", c.in, got, err, c.want)
		}
	}
	for _, bad := range []any{make(chan int), func() {}, json.Number("1.2.3"), map[string]any{"c": complex(1, 2)}} {
		if _, err := Marshal(bad); err == nil {
			t.Errorf("Marshal(%T) did not fail", bad)
		}
	}
}

func TestDecode(t *testing.T) {
	v, err := Decode([]byte(` {"i": 42, "f": 1.5, "g": 100.0, "big": 18446744073709551616, "neg": -9223372036854775808,
		"e": 1e2, "s": "Zo\u00eb \ud83d\ude00", "n": null, "b": [true, false], "nan": NaN, "inf": -Infinity, "o": {}} `))
	if err != nil {
		t.Fatal(err)
	}
	m := v.(map[string]any)
	if m["i"] != int64(42) || m["f"] != 1.5 || m["g"] != 100.0 || m["e"] != 100.0 || m["neg"] != int64(math.MinInt64) {
		t.Errorf("numbers: %#v", m)
	}
	if m["big"].(*big.Int).String() != "18446744073709551616" {
		t.Errorf("big = %v", m["big"])
	}
	if m["s"] != "Zoë 😀" || m["n"] != nil || !math.IsNaN(m["nan"].(float64)) || !math.IsInf(m["inf"].(float64), -1) {
		t.Errorf("values: %#v", m)
	}
	// Latin-1: a raw byte 0xe9 is é, as Django reads it.
	v, err = Decode([]byte("\"caf\xe9\""))
	if err != nil || v != "café" {
		t.Errorf("latin-1: %q, %v", v, err)
	}
	// Lone surrogates are kept in their 3-byte form; a pair is one
	// character, as in Python.
	v, _ = Decode([]byte(`"\ud83d|\ude00\ud83d|\ud83d\ude00"`))
	if v != "\xed\xa0\xbd|\xed\xb8\x80\xed\xa0\xbd|😀" {
		t.Errorf("surrogates: %q", v)
	}
	// Overflowing float literal becomes infinity, as Python's float().
	v, _ = Decode([]byte(`1e400`))
	if !math.IsInf(v.(float64), 1) {
		t.Errorf("1e400 = %v", v)
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, in := range []string{
		"", "{", "}", `{"a"}`, `{"a":}`, `{"a":1,}`, "[1,]", "01", "1.", "-", ".5", "+1", `"\x"`,
		"\"a\nb\"", `"\u12"`, "nul", "tru", `{1:2}`, "[1 2]", "1 2", `"abc`, "[" + strings.Repeat("[", MaxDepth+5),
		strings.Repeat("9", MaxIntDigits+1),
	} {
		if _, err := Decode([]byte(in)); !errors.Is(err, ErrSyntax) {
			t.Errorf("Decode(%.30q) error = %v, want ErrSyntax", in, err)
		}
	}
}

func TestDecodeObjectOrder(t *testing.T) {
	var keys []string
	err := DecodeObject([]byte(`{"z":1,"a":2,"m":{"y":1}}`), func(k string, v any) { keys = append(keys, k) })
	if err != nil || strings.Join(keys, ",") != "z,a,m" {
		t.Errorf("keys = %v, %v", keys, err)
	}
	if err := DecodeObject([]byte(`[1]`), func(string, any) {}); err == nil {
		t.Error("array accepted as object")
	}
}

func TestRoundTrip(t *testing.T) {
	in := `{"s":"<>&'\"/\\\n\t\u007f\u00e9\ud83d\ude00","f":[0.1,1e+16,1e-07,18446744073709551616],"b":[true,false,null]}`
	var keys []string
	vals := map[string]any{}
	if err := DecodeObject([]byte(in), func(k string, v any) { keys = append(keys, k); vals[k] = v }); err != nil {
		t.Fatal(err)
	}
	out := []byte{'{'}
	for i, k := range keys {
		if i > 0 {
			out = append(out, ',')
		}
		out, _ = AppendString(out, k)
		out = append(out, ':')
		out, _ = AppendValue(out, vals[k])
	}
	out = append(out, '}')
	if string(out) != in {
		t.Errorf("round trip:\n got %s\nwant %s", out, in)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,2.5,"x",null,true]}`, `NaN`, `"\ud83d\ude00"`, `18446744073709551616`, `[[[]]]`, "\"\xe9\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := Decode(b)
		if err != nil {
			return
		}
		// With the key order recorded, the canonical encoding is stable
		// too.
		orders := map[uintptr][]string{}
		keep := []map[string]any{}
		ov, err := Decoder{KeyOrder: func(m map[string]any, keys []string) {
			orders[reflect.ValueOf(m).Pointer()] = keys
			keep = append(keep, m)
		}}.Decode(b)
		if err != nil {
			t.Fatalf("Decode with KeyOrder failed: %v", err)
		}
		enc := Encoder{KeyOrder: func(m map[string]any) []string {
			if k, ok := orders[reflect.ValueOf(m).Pointer()]; ok {
				return k
			}
			return sortedKeys(m)
		}}
		o1, err := enc.Append(nil, ov, 0)
		if err != nil {
			t.Fatalf("re-encode of decoded value with its order: %v", err)
		}
		ov2, err := Decoder{KeyOrder: func(m map[string]any, keys []string) {
			orders[reflect.ValueOf(m).Pointer()] = keys
			keep = append(keep, m)
		}}.Decode(o1)
		if err != nil {
			t.Fatalf("decode of %q: %v", o1, err)
		}
		if o2, _ := enc.Append(nil, ov2, 0); !bytes.Equal(o1, o2) {
			t.Fatalf("ordered encoding not stable: %s vs %s", o1, o2)
		}
		out, err := Marshal(v)
		if err != nil {
			t.Fatalf("re-encode of decoded value: %v", err)
		}
		v2, err := Decode(out)
		if err != nil {
			t.Fatalf("decode of re-encoded %q: %v", out, err)
		}
		out2, _ := Marshal(v2)
		if string(out) != string(out2) {
			t.Fatalf("not stable: %s vs %s", out, out2)
		}
	})
}

func TestMarshalStructNonASCII(t *testing.T) {
	type user struct {
		Name string `json:"name"`
	}
	got, err := Marshal(user{Name: "Zoë ☃ 😀"})
	if err != nil || string(got) != `{"name":"Zo\u00eb \u2603 \ud83d\ude00"}` {
		t.Errorf("Marshal = %s, %v", got, err)
	}
}
