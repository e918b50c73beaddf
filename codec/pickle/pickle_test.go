package pickle

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"

	"github.com/sessionkit/sessions/codec"
)

// referenceVector is the verified pickle of {"a": "b", "n": 1,
// "_session_expiry": 300} in the reference (django-sessions.md §7.5).
const referenceVector = "80059528000000000000007d94288c0161948c0162948c016e944b018c0f5f73657373696f6e5f657870697279944d2c01752e"

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func dict(kv ...any) *codec.Dict {
	d := &codec.Dict{}
	for i := 0; i < len(kv); i += 2 {
		d.Set(kv[i].(string), kv[i+1])
	}
	return d
}

func bigInt(s string) *big.Int {
	n, ok := new(big.Int).SetString(s, 0)
	if !ok {
		panic(s)
	}
	return n
}

func pow2(n uint) *big.Int { return new(big.Int).Lsh(big.NewInt(1), n) }

func TestReferenceVector(t *testing.T) {
	d := dict("a", "b", "n", 1, "_session_expiry", 300)
	b, err := Codec{}.Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(b); got != referenceVector {
		t.Errorf("Encode:\n got %s\nwant %s", got, referenceVector)
	}
	back, err := Codec{}.Decode(unhex(t, referenceVector))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Keys(), []string{"a", "n", "_session_expiry"}) {
		t.Errorf("keys %v", back.Keys())
	}
	want := map[string]any{"a": "b", "n": int64(1), "_session_expiry": int64(300)}
	if !reflect.DeepEqual(back.Map(), want) {
		t.Errorf("Decode = %#v", back.Map())
	}
}

// sessionValue is what the "session" vectors hold, as Decode returns it
// (tuples become lists).
func sessionValue() *codec.Dict {
	return dict(
		"_auth_user_id", "42",
		"_auth_user_backend", "django.contrib.auth.backends.ModelBackend",
		"_session_expiry", "2030-01-02T03:04:05+00:00",
		"n", int64(-5), "i32", int64(math.MinInt32), "u32", int64(1)<<31, "big", pow2(70), "neg", int64(math.MinInt64),
		"f", 1.5, "inf", math.Inf(1), "t", true, "fa", false, "none", nil,
		"u", "Zoë ☃ 😀", "empty", "",
		"l", []any{int64(1), "two", 3.5, []any{}, map[string]any{}},
		"tuple", []any{int64(1), int64(2)}, "one", []any{"x"},
		"nested", map[string]any{"x": map[string]any{"y": []any{int64(1)}}},
	)
}

func equalDict(t *testing.T, name string, got, want *codec.Dict) {
	t.Helper()
	if !reflect.DeepEqual(got.Keys(), want.Keys()) {
		t.Errorf("%s: keys\n got %v\nwant %v", name, got.Keys(), want.Keys())
	}
	for _, k := range want.Keys() {
		g, _ := got.Get(k)
		w, _ := want.Get(k)
		if !equalValue(g, w) {
			t.Errorf("%s: %q = %#v, want %#v", name, k, g, w)
		}
	}
}

// equalValue compares decoded values, *big.Int by value.
func equalValue(a, b any) bool {
	switch x := a.(type) {
	case *big.Int:
		y, ok := b.(*big.Int)
		return ok && x.Cmp(y) == 0
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalValue(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || !equalValue(v, w) {
				return false
			}
		}
		return true
	case float64:
		y, ok := b.(float64)
		return ok && (x == y || math.IsNaN(x) && math.IsNaN(y))
	}
	return reflect.DeepEqual(a, b)
}

func TestDecodeCPythonVectors(t *testing.T) {
	for p := 0; p <= 5; p++ {
		name := fmt.Sprintf("session/%d", p)
		d, err := Codec{}.Decode(unhex(t, pyPlain[name]))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		equalDict(t, name, d, sessionValue())
	}
	cases := map[string]*codec.Dict{
		// An aliased list: CPython writes the second reference as BINGET
		// of a list memoized while still empty.
		"aliased_list/2": dict("a", []any{int64(1), int64(2)}, "b", []any{int64(1), int64(2)}),
		"aliased_list/5": dict("a", []any{int64(1), int64(2)}, "b", []any{int64(1), int64(2)}),
		"big_ints/2": dict("a", pow2(1100), "b", pow2(3000), "c", new(big.Int).Neg(pow2(2000)), "d", new(big.Int).Neg(pow2(1023)),
			"e", pow2(63), "f", bigInt("-9223372036854775809")),
		"nested_keys/5": dict("d", map[string]any{"1": "a", "null": "n", "1.5": "f", "false": "z"}),
		// A lone surrogate is kept in its 3-byte (surrogatepass) form.
		"surrogate/0": dict("s", "a\\b\n\xed\xa0\x80"),
		"surrogate/2": dict("s", "a\\b\n\xed\xa0\x80"),
		"surrogate/5": dict("s", "a\\b\n\xed\xa0\x80"),
	}
	cases["big_ints/5"] = cases["big_ints/2"]
	for name, want := range cases {
		d, err := Codec{}.Decode(unhex(t, pyPlain[name]))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		equalDict(t, name, d, want)
	}
	v, err := Unmarshal(unhex(t, pyPlain["list_root/5"]))
	if err != nil || !equalValue(v, []any{int64(1), []any{int64(2), "x"}}) {
		t.Errorf("Unmarshal(list_root) = %#v, %v", v, err)
	}
	if _, err := (Codec{}).Decode(unhex(t, pyPlain["list_root/5"])); !errors.Is(err, codec.ErrCorrupt) {
		t.Errorf("Decode of a list: %v, want ErrCorrupt", err)
	}
}

func TestEncodeMatchesCPython(t *testing.T) {
	// The session without tuples, in CPython's order.
	d := sessionValue()
	d.Set("tuple", []any{1, 2})
	d.Set("one", []any{"x"})
	for name, v := range map[string]*codec.Dict{
		"session_lists/5": d,
		"big_ints/5": dict("a", pow2(1100), "b", pow2(3000), "c", new(big.Int).Neg(pow2(2000)), "d", new(big.Int).Neg(pow2(1023)),
			"e", uint64(1)<<63, "f", bigInt("-9223372036854775809")),
		"reference/5": dict("a", "b", "n", 1, "_session_expiry", 300),
	} {
		b, err := Codec{}.Encode(v)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got, want := hex.EncodeToString(b), pyPlain[name]; got != want {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
	for name, v := range largeValues() {
		b, err := Codec{MaxSize: -1}.Encode(v)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		sum := sha256.Sum256(b)
		if want := pyLarge[name]; len(b) != want.Len || hex.EncodeToString(sum[:]) != want.SHA256 {
			t.Errorf("%s: %d bytes, sha256 %x; CPython wrote %d bytes, %s", name, len(b), sum, want.Len, want.SHA256)
		}
		back, err := Codec{MaxSize: -1}.Decode(b)
		if err != nil {
			t.Fatalf("%s: decode: %v", name, err)
		}
		if back.Len() != v.Len() {
			t.Errorf("%s: decoded %d keys", name, back.Len())
		}
	}
}

// largeValues are the values of pyLarge: a str over the 64 KiB frame
// target (written outside any frame), a frame that fills up mid-list, a
// dict of exactly 1000 items (CPython ends it with an empty batch) and a
// list of 2500 (three batches).
func largeValues() map[string]*codec.Dict {
	b := make([]any, 637)
	for i := range b {
		b[i] = fmt.Sprintf("%03d", i) + strings.Repeat("y", 97)
	}
	k := &codec.Dict{}
	for i := range 1000 {
		k.Set(fmt.Sprintf("k%04d", i), i)
	}
	l := make([]any, 2500)
	for i := range l {
		l[i] = fmt.Sprintf("s%d", i)
	}
	return map[string]*codec.Dict{
		"frame_bypass": dict("a", strings.Repeat("x", 70000), "b", b, "c", 1),
		"dict_1000":    k,
		"list_2500":    dict("l", l),
	}
}

func TestDecodeRefusesCPythonNonData(t *testing.T) {
	notPlain := map[string]bool{
		"reduce_global/0": true, "reduce_global/2": true, "reduce_stack_global/4": true, "reduce_stack_global/5": true,
		"bytes/3": true, "bytes/5": true, "bytes_proto2/2": true, "set/5": true, "frozenset/5": true, "bytearray/5": true,
		"datetime/5": true, "tuple_key/5": true,
	}
	for name, h := range pyBad {
		_, err := Codec{}.Decode(unhex(t, h))
		if !errors.Is(err, codec.ErrCorrupt) {
			t.Errorf("%s: Decode = %v, want ErrCorrupt", name, err)
			continue
		}
		if notPlain[name] != errors.Is(err, ErrNotPlainData) {
			t.Errorf("%s: %v; matches ErrNotPlainData = %v, want %v", name, err, !notPlain[name], notPlain[name])
		}
		t.Logf("%s: %v", name, err)
	}
}

// hostile are hand-written pickles Decode must refuse without panicking,
// allocating beyond its input or running for long.
func hostile() map[string][]byte {
	b := func(parts ...any) []byte {
		var out []byte
		for _, p := range parts {
			switch x := p.(type) {
			case string:
				out = append(out, x...)
			case []byte:
				out = append(out, x...)
			case byte:
				out = append(out, x)
			case int:
				out = append(out, byte(x))
			case rune:
				out = append(out, byte(x))
			default:
				panic(fmt.Sprintf("hostile: part of type %T", p))
			}
		}
		return out
	}
	deep := bytes.Repeat([]byte{opEmptyList}, 100000)
	deep = append(deep, bytes.Repeat([]byte{opAppend}, 99999)...)
	// Billion laughs: each level is a list holding the previous one 10
	// times through the memo.
	laughs := []byte{0x80, 5, '}', opMemoize, opShortBinUnicode, 1, 'x', opMemoize, opShortBinUnicode, 3, 'l', 'o', 'l', opMemoize}
	for lvl := range 40 {
		laughs = append(laughs, opEmptyList, opMemoize, opMark)
		for range 10 {
			laughs = append(laughs, opBinGet, byte(2+lvl))
		}
		laughs = append(laughs, opAppends)
	}
	laughs = append(laughs, opSetItem, opStop)
	// The last list is memo index 42: key "x" (1), value list 42.
	return map[string][]byte{
		"empty":                 {},
		"stop only":             {opStop},
		"no stop":               b(0x80, 5, "}", opMemoize),
		"garbage":               []byte("Zmxhc2tkajphbGtkamY="),
		"signed json":           []byte("eyJhIjoiYiJ9:1r31eq:signature"),
		"bad:encoded:value":     []byte("bad:encoded:value"),
		"protocol 6":            b(0x80, 6, "}."),
		"trailing data":         b("}.x"),
		"left on stack":         b("}}."),
		"mark at stop":          b("(}."),
		"stop underflow":        b("."),
		"global":                b("cos\nsystem\n(S'echo pwned'\ntR."),
		"stack global":          b(0x80, 4, opShortBinUnicode, 2, "os", opShortBinUnicode, 6, "system", opStackGlobal, opShortBinUnicode, 2, "id", opTuple1, opReduce, opStop),
		"inst":                  b("(ios\nsystem\nS'id'\n."),
		"obj":                   b("(N}o."),
		"build":                 b("}}b."),
		"persid":                b("Pfoo\n."),
		"binpersid":             b("N", opBinPersID, "."),
		"ext1":                  b(0x80, 2, opExt1, 1, "."),
		"next buffer":           b(0x80, 5, opNextBuffer, "."),
		"python 2 string":       b("}S'abc'\nS'd'\ns."),
		"long4 4GiB":            b(0x80, 2, opLong4, 0xff, 0xff, 0xff, 0x7f, "."),
		"long4 negative length": b(0x80, 2, opLong4, 0xff, 0xff, 0xff, 0xff, "."),
		"long4 over limit":      append(b(0x80, 2, opLong4, 0x01, 0x00, 0x01, 0x00), make([]byte, 65537)...),
		"binunicode8 huge":      b(0x80, 4, opBinUnicode8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, "."),
		"binunicode huge":       b(0x80, 4, opBinUnicode, 0xff, 0xff, 0xff, 0xff, "."),
		"frame huge":            b(0x80, 4, opFrame, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, "}."),
		"memo missing":          b(0x80, 2, opBinGet, 7, "."),
		"put on empty":          b(0x80, 2, opBinPut, 0, "}."),
		"negative put":          b("}p-1\n."),
		"odd setitems":          b("}(K\x01u."),
		"odd dict":              b("(K\x01d."),
		"append to dict":        b("}K\x01a."),
		"setitem on list":       b("]K\x01K\x02s."),
		"list key":              b("}]K\x01s."),
		"dict key":              b("}}K\x01s."),
		"int session key":       b("}K\x01K\x02s."),
		"invalid utf8":          b(0x80, 4, "}", opShortBinUnicode, 1, 0xff, "K\x01s."),
		"int digits":            b("}Vx\nI", strings.Repeat("9", 5000), "\ns."),
		"bad int":               b("}Vx\nI12a\ns."),
		"bad float":             b("}Vx\nF0x1p3\ns."),
		"bad escape":            b("}V\\u12\nK\x01s."),
		"no mark":               b("}u."),
		"pop mark without mark": b("1."),
		"tuple3 underflow":      b("K\x01", opTuple3, "."),
		"unknown opcode":        b(0x80, 5, 0xff, "."),
		"deep nesting":          append(append([]byte{'}', opShortBinUnicode, 1, 'x'}, deep...), opSetItem, opStop),
		"recursive list":        b(0x80, 2, "}", opShortBinUnicode, 1, "l", "]", opBinPut, 0, opBinGet, 0, "as."),
		"billion laughs":        laughs,
		"float key nan":         b("}G", []byte{0x7f, 0xf8, 0, 0, 0, 0, 0, 0}, "K\x01s."),
	}
}

func TestDecodeRefusesHostile(t *testing.T) {
	for name, data := range hostile() {
		_, err := Codec{}.Decode(data)
		if !errors.Is(err, codec.ErrCorrupt) {
			t.Errorf("%s: Decode = %v, want ErrCorrupt", name, err)
		}
		if _, err := Unmarshal(data); err == nil && name != "list key" && name != "int session key" && name != "float key nan" {
			// Unmarshal has no top-level dict rule; the rest must fail too.
			t.Errorf("%s: Unmarshal accepted it", name)
		}
	}
	for _, name := range []string{"global", "stack global", "inst", "obj", "build", "persid", "binpersid", "ext1", "next buffer", "python 2 string"} {
		if _, err := (Codec{}).Decode(hostile()[name]); !errors.Is(err, ErrNotPlainData) {
			t.Errorf("%s: %v, want ErrNotPlainData", name, err)
		}
	}
}

func TestDecodeEveryPrefix(t *testing.T) {
	for _, name := range []string{"session/0", "session/2", "session/5", "big_ints/5"} {
		full := unhex(t, pyPlain[name])
		for n := range len(full) {
			if _, err := (Codec{}).Decode(full[:n]); !errors.Is(err, codec.ErrCorrupt) {
				t.Fatalf("%s[:%d]: %v, want ErrCorrupt", name, n, err)
			}
		}
	}
}

func TestRoundTrip(t *testing.T) {
	type point struct {
		X, Y int
		Tag  string `json:"tag"`
	}
	in := dict(
		"int", 42, "int8", int8(-8), "uint16", uint16(65535), "uint64", uint64(math.MaxUint64), "i64", int64(math.MaxInt64),
		"f32", float32(0.5), "nan", math.NaN(), "ninf", math.Inf(-1), "big", bigInt("-123456789012345678901234567890"),
		"nilbig", (*big.Int)(nil), "num", json.Number("12345678901234567890123"), "fnum", json.Number("1.25e3"),
		"strs", []string{"a", "b"}, "ms", map[string]string{"k": "v"}, "struct", point{1, 2, "Zoë ☃"}, "ptr", &point{3, 4, ""},
		"nilmap", map[string]int(nil), "surrogate", "a\xed\xa0\x80b", "ordered", dict("z", 1, "a", 2),
		"long str", strings.Repeat("é", 300), "many", make([]any, 2001),
	)
	b, err := Codec{}.Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Codec{}.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	want := dict(
		"int", int64(42), "int8", int64(-8), "uint16", int64(65535), "uint64", new(big.Int).SetUint64(math.MaxUint64), "i64", int64(math.MaxInt64),
		"f32", 0.5, "nan", math.NaN(), "ninf", math.Inf(-1), "big", bigInt("-123456789012345678901234567890"),
		"nilbig", nil, "num", bigInt("12345678901234567890123"), "fnum", 1250.0,
		"strs", []any{"a", "b"}, "ms", map[string]any{"k": "v"},
		"struct", map[string]any{"X": int64(1), "Y": int64(2), "tag": "Zoë ☃"}, "ptr", map[string]any{"X": int64(3), "Y": int64(4), "tag": ""},
		"nilmap", nil, "surrogate", "a\xed\xa0\x80b", "ordered", map[string]any{"z": int64(1), "a": int64(2)},
		"long str", strings.Repeat("é", 300), "many", make([]any, 2001),
	)
	equalDict(t, "round trip", out, want)
}

func TestEncodeErrors(t *testing.T) {
	_, err := Codec{}.Encode(dict("ok", 1, "ch", make(chan int)))
	if !errors.Is(err, codec.ErrUnencodable) || !strings.Contains(err.Error(), `"ch"`) {
		t.Errorf("chan: %v", err)
	}
	cyc := []any{nil}
	cyc[0] = cyc
	if _, err := (Codec{}).Encode(dict("cycle", cyc)); !errors.Is(err, codec.ErrUnencodable) {
		t.Errorf("cycle: %v", err)
	}
	var deep any = 1
	for range MaxDepth - 1 {
		deep = []any{deep}
	}
	if _, err := (Codec{}).Encode(dict("deep", deep)); err != nil {
		t.Errorf("nesting of exactly MaxDepth levels: %v", err)
	}
	if _, err := (Codec{}).Encode(dict("deep", []any{deep})); !errors.Is(err, codec.ErrUnencodable) {
		t.Errorf("nesting over MaxDepth: %v", err)
	}
	b, _ := Codec{}.Encode(dict("deep", deep))
	if _, err := (Codec{}).Decode(b); err != nil {
		t.Errorf("decode of MaxDepth levels: %v", err)
	}
	if _, err := Marshal(make(chan int)); !errors.Is(err, codec.ErrUnencodable) {
		t.Errorf("Marshal(chan): %v", err)
	}
}

func TestSizeLimit(t *testing.T) {
	big := dict("blob", strings.Repeat("x", 2000))
	if _, err := (Codec{MaxSize: 1000}).Encode(big); !errors.Is(err, codec.ErrTooLarge) {
		t.Errorf("Encode over MaxSize: %v", err)
	}
	many := make([]any, 10000)
	for i := range many {
		many[i] = i
	}
	if _, err := (Codec{MaxSize: 1000}).Encode(dict("many", many)); !errors.Is(err, codec.ErrTooLarge) {
		t.Errorf("Encode over MaxSize (aborted early): %v", err)
	}
	b, err := Codec{MaxSize: -1}.Encode(big)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (Codec{MaxSize: 1000}).Decode(b); !errors.Is(err, codec.ErrCorrupt) || !errors.Is(err, codec.ErrTooLarge) {
		t.Errorf("Decode over MaxSize: %v", err)
	}
	if _, err := (Codec{}).Decode(b); err != nil {
		t.Errorf("Decode with the default limit: %v", err)
	}
}

// TestMemoOutOfOrder: a hand-made pickle that puts memo entries out of
// order and then MEMOIZEs (which takes Python's len(memo) as its index).
// CPython 3 loads it as ['a', 'a', 'b', 'b'].
func TestMemoOutOfOrder(t *testing.T) {
	data := []byte("\x80\x05]q\x05\x8c\x01a\x94ah\x01a\x8c\x01bq\x01ah\x01a.")
	v, err := Unmarshal(data)
	if err != nil || !equalValue(v, []any{"a", "a", "b", "b"}) {
		t.Errorf("Unmarshal = %#v, %v; want [a a b b] as CPython", v, err)
	}
}
