package codec_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sessionkit/sessions/codec"

	"github.com/sessionkit/sessions/internal/valuegen"
)

const testKey = "test-secret-key"

// codecs are the JSON codecs under test, without size limits unless the
// test says so.
func codecs() map[string]codec.Codec {
	return map[string]codec.Codec{
		"JSON":   codec.JSON{MaxSize: -1},
		"Signed": codec.Signed{Key: testKey, MaxSize: -1},
	}
}

func dict(kv ...any) *codec.Dict {
	d := &codec.Dict{}
	for i := 0; i < len(kv); i += 2 {
		d.Set(kv[i].(string), kv[i+1])
	}
	return d
}

// chain returns n nested lists around a scalar.
func chain(n int) any {
	var v any = "leaf"
	for range n {
		v = []any{v}
	}
	return v
}

// chainEmpty returns n nested lists, the innermost empty.
func chainEmpty(n int) any {
	v := []any{}
	for range n - 1 {
		v = []any{v}
	}
	return v
}

func bigDigits(n int) *big.Int {
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n-1)), nil) // n digits
}

// wantEncodeError checks an Encode error: it names the session key and
// matches the sentinel.
func wantEncodeError(t *testing.T, err error, key string, sentinel error, detail string) {
	t.Helper()
	if err == nil {
		t.Fatalf("Encode accepted a value it must refuse (%s)", detail)
	}
	if !errors.Is(err, sentinel) {
		t.Errorf("error %q does not match %v", err, sentinel)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("%q", key)) {
		t.Errorf("error %q does not name the key %q", err, key)
	}
	if !strings.Contains(err.Error(), detail) {
		t.Errorf("error %q does not say %q", err, detail)
	}
}

// TestNestingLimitSymmetric: the session dict is level 1, so a value may
// hold MaxDepth-1 levels of containers. One more is refused when saving,
// never saved and then refused when loading.
func TestNestingLimitSymmetric(t *testing.T) {
	for name, c := range codecs() {
		t.Run(name, func(t *testing.T) {
			for _, empty := range []bool{false, true} {
				ok, over := chain(codec.MaxDepth-1), chain(codec.MaxDepth)
				if empty {
					ok, over = chainEmpty(codec.MaxDepth-1), chainEmpty(codec.MaxDepth)
				}
				b, err := c.Encode(dict("a", 1, "cart", ok))
				if err != nil {
					t.Fatalf("empty=%v: %d levels refused: %v", empty, codec.MaxDepth, err)
				}
				if _, err := c.Decode(b); err != nil {
					t.Fatalf("empty=%v: %d levels saved, then refused when loading: %v", empty, codec.MaxDepth, err)
				}
				_, err = c.Encode(dict("a", 1, "cart", over))
				wantEncodeError(t, err, "cart", codec.ErrUnencodable, "nesting deeper than 500")
			}
			// The message, in full.
			_, err := c.Encode(dict("cart", chain(codec.MaxDepth)))
			if want := `codec: value of "cart": nesting deeper than 500 levels: codec: value cannot be encoded`; err == nil || err.Error() != want {
				t.Errorf("error %q, want %q", err, want)
			}
		})
	}
}

// TestIntegerDigitsSymmetric: Python refuses integers over 4300 digits
// (json.dumps and json.loads alike); so must Encode, naming the key.
func TestIntegerDigitsSymmetric(t *testing.T) {
	for name, c := range codecs() {
		t.Run(name, func(t *testing.T) {
			for _, n := range []*big.Int{bigDigits(4300), new(big.Int).Neg(bigDigits(4300))} {
				b, err := c.Encode(dict("n", n))
				if err != nil {
					t.Fatalf("4300 digits refused: %v", err)
				}
				d, err := c.Decode(b)
				if err != nil {
					t.Fatalf("4300 digits saved, then refused when loading: %v", err)
				}
				if got, _ := d.Get("n"); got.(*big.Int).Cmp(n) != 0 {
					t.Errorf("4300 digits read back differently")
				}
			}
			_, err := c.Encode(dict("ok", 1, "n", bigDigits(4301)))
			wantEncodeError(t, err, "n", codec.ErrUnencodable, "4301 digits")
			_, err = c.Encode(dict("n", []any{map[string]any{"x": new(big.Int).Neg(bigDigits(100000))}}))
			wantEncodeError(t, err, "n", codec.ErrUnencodable, "digits")
		})
	}
}

// TestInvalidUTF8Refused: a Go string JSON cannot carry fails the save
// with an error naming the key, instead of being replaced by U+FFFD.
func TestInvalidUTF8Refused(t *testing.T) {
	type profile struct {
		Name string `json:"name"`
	}
	cases := []struct {
		key    string
		value  any
		detail string
	}{
		{"s", "a\xffb", "not valid UTF-8"},
		{"l", []any{"ok", "trunc\xe2\x98"}, `value of "l"[1]: string is not valid UTF-8`},
		{"m", map[string]any{"k\xc0\x80": 1}, "not valid UTF-8"},
		{"ss", []string{"\x80"}, "not valid UTF-8"},
		{"ms", map[string]string{"k": "\xed\xa0"}, "not valid UTF-8"},
		{"struct", profile{Name: "Zo\xeb"}, "not valid UTF-8"},
		{"structptr", &profile{Name: "\xff"}, "not valid UTF-8"},
		{"bad\xffkey", "value", "not valid UTF-8"},
	}
	for name, c := range codecs() {
		for _, tc := range cases {
			_, err := c.Encode(dict("ok", "fine", tc.key, tc.value))
			wantEncodeError(t, err, tc.key, codec.ErrUnencodable, tc.detail)
			if t.Failed() {
				t.Fatalf("%s: %q", name, tc.key)
			}
		}
	}
}

// TestLoneSurrogates: a lone surrogate Django stored ("x\ud800y") is kept
// in its 3-byte form and written back as the same escape, whether the
// value is untouched, read and set back, or copied to another key.
func TestLoneSurrogates(t *testing.T) {
	in := `{"s":"x\ud800y","pair":"\ud83d\ude00","lows":"\udc00\ud800","m":{"k\udfff":["\udbff"]}}`
	for name, c := range map[string]codec.Codec{"JSON": codec.JSON{}, "Signed": codec.Signed{Key: testKey}} {
		t.Run(name, func(t *testing.T) {
			raw := []byte(in)
			if s, ok := c.(codec.Signed); ok {
				d, err := codec.UnmarshalPython(raw)
				if err != nil {
					t.Fatal(err)
				}
				raw, err = s.Encode(d)
				if err != nil {
					t.Fatal(err)
				}
			}
			d, err := c.Decode(raw)
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := d.Get("s"); got != "x\xed\xa0\x80y" {
				t.Errorf("s = %q, want the surrogate in its 3-byte form", got)
			}
			if got, _ := d.Get("pair"); got != "😀" {
				t.Errorf("pair = %q, want one character", got)
			}
			s, _ := d.Get("s")
			m, _ := d.Get("m")
			d.Set("copy", s)
			d.Set("m", m)
			b, err := codec.MarshalPython(d)
			if err != nil {
				t.Fatal(err)
			}
			want := `{"s":"x\ud800y","pair":"\ud83d\ude00","lows":"\udc00\ud800","m":{"k\udfff":["\udbff"]},"copy":"x\ud800y"}`
			if string(b) != want {
				t.Errorf("re-encoded\n got %s\nwant %s", b, want)
			}
		})
	}
}

// TestUntouchedValuesExact: a Go edit rewrites only what it changed.
// Values the request did not set are written exactly as they were stored
// (number spellings, nested key order, escapes, spacing inside values),
// so another reader sees exactly what it wrote.
func TestUntouchedValuesExact(t *testing.T) {
	in := `{"f":1.0,"e":1e5,"E":1E+05,"z":-0,"big":123456789012345678901234567890,"esc":"\u00E9\/",` +
		`"nested":{"zebra":1,"apple":{"y":[1, 2 ,3],"b":null},"mango":2.50},"dup":{"a":1,"a":2},"latin1":"caf` + "\xe9" + `"}`
	d, err := codec.UnmarshalPython([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	d.Set("new", "value")
	b, err := codec.MarshalPython(d)
	if err != nil {
		t.Fatal(err)
	}
	want := in[:len(in)-1] + `,"new":"value"}`
	if string(b) != want {
		t.Errorf("after setting one key\n got %s\nwant %s", b, want)
	}
	// Reading values does not change them.
	for _, k := range d.Keys() {
		d.Get(k)
	}
	if b2, _ := codec.MarshalPython(d); !bytes.Equal(b, b2) {
		t.Errorf("reading values changed the encoding:\n got %s\nwant %s", b2, b)
	}
	// A deleted key goes, the others stay exact.
	d.Delete("f")
	b, _ = codec.MarshalPython(d)
	if want := `{"e":1e5,` + strings.TrimPrefix(want, `{"f":1.0,"e":1e5,`); string(b) != want {
		t.Errorf("after a delete\n got %s\nwant %s", b, want)
	}
}

// TestNestedOrderKept: nested dicts keep Django's insertion order when Go
// reads them, changes them and sets them back; keys Go adds come last.
func TestNestedOrderKept(t *testing.T) {
	in := `{"prefs":{"zebra":1,"apple":{"z":1,"a":2},"mango":[{"q":1,"b":2}]},"other":{"b":1,"a":2}}`
	d, err := codec.UnmarshalPython([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := d.Get("prefs")
	prefs := v.(map[string]any) // Get still gives a map[string]any
	prefs["kiwi"] = true
	prefs["banana"] = false
	delete(prefs, "zebra")
	prefs["apple"].(map[string]any)["m"] = 3
	d.Set("prefs", prefs)
	o, _ := d.Get("other")
	d.Set("copy", o)
	b, err := codec.MarshalPython(d)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"prefs":{"apple":{"z":1,"a":2,"m":3},"mango":[{"q":1,"b":2}],"banana":false,"kiwi":true},"other":{"b":1,"a":2},"copy":{"b":1,"a":2}}`
	if string(b) != want {
		t.Errorf("\n got %s\nwant %s", b, want)
	}
	// A clone keeps the order too.
	c := d.Clone()
	if b2, _ := codec.MarshalPython(c); !bytes.Equal(b, b2) {
		t.Errorf("clone:\n got %s\nwant %s", b2, b)
	}
	// Maps Go built itself are written with sorted keys.
	if b, _ := codec.MarshalPython(dict("m", map[string]any{"b": 1, "a": 2})); string(b) != `{"m":{"a":2,"b":1}}` {
		t.Errorf("Go map: %s", b)
	}
}

// TestInPlaceChangeSaved: a nested value changed in place (without Set)
// is saved with the rest when the session is saved, as in Django: the
// stored form of an untouched key is reused only while it still holds the
// same value.
func TestInPlaceChangeSaved(t *testing.T) {
	d, err := codec.UnmarshalPython([]byte(`{"cart":{"items":[1, 2],"n":2.0},"count":1E2}`))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := d.Get("cart")
	cart := v.(map[string]any)
	cart["items"] = append(cart["items"].([]any), int64(3))
	cart["n"] = 3.0
	d.Set("x", 1)
	b, err := codec.MarshalPython(d)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"cart":{"items":[1,2,3],"n":3.0},"count":1E2,"x":1}`; string(b) != want {
		t.Errorf("\n got %s\nwant %s", b, want)
	}
}

// TestPropertyRoundTrip: random values either fail to encode with a clear
// error naming their key, exactly when they break a documented limit, or
// decode to the same value (modulo the documented type normalisation), and
// re-encode to the same bytes (nested key order included).
func TestPropertyRoundTrip(t *testing.T) {
	lim := valuegen.Limits{MaxDepth: codec.MaxDepth, MaxIntDigits: 4300}
	for _, seed := range valuegen.Seeds(t) {
		for _, name := range []string{"JSON", "Signed"} {
			c := codecs()[name]
			g := valuegen.New(seed, lim)
			accepted, refused := 0, 0
			var st valuegen.Stats
			for i := range 400 {
				d := &codec.Dict{}
				fault, faultKey := "", ""
				for j := range g.R.IntN(6) {
					k := fmt.Sprintf("k%d", j)
					if g.R.IntN(15) == 0 {
						k = g.Key(true)
					}
					v := g.Value(1, g.R.IntN(4) == 0)
					d.Set(k, v)
				}
				for k, v := range d.All() {
					if f := valuegen.Fault(k, 0, lim); f != "" && fault == "" {
						fault, faultKey = f, k
					}
					f := valuegen.Fault(v, 1, lim)
					st.Add(v, 1, f)
					if f != "" && fault == "" {
						fault, faultKey = f, k
					}
				}
				b, err := c.Encode(d)
				if fault != "" {
					refused++
					if err == nil {
						t.Fatalf("seed %d, %s, value %d: Encode accepted a value to refuse (%s under %q)", seed, name, i, fault, faultKey)
					}
					if !errors.Is(err, codec.ErrUnencodable) || !strings.Contains(err.Error(), "value of ") && !strings.Contains(err.Error(), "session key ") {
						t.Fatalf("seed %d, %s, value %d: unclear error %q", seed, name, i, err)
					}
					continue
				}
				accepted++
				if err != nil {
					t.Fatalf("seed %d, %s, value %d: Encode refused a valid value: %v", seed, name, i, err)
				}
				back, err := c.Decode(b)
				if err != nil {
					t.Fatalf("seed %d, %s, value %d: saved, then refused when loading: %v", seed, name, i, err)
				}
				if !slicesEqual(back.Keys(), keysNorm(d.Keys())) {
					t.Fatalf("seed %d, %s, value %d: keys %q, want %q", seed, name, i, back.Keys(), d.Keys())
				}
				for k, v := range d.All() {
					got, _ := back.Get(valuegen.Normalize(k, true).(string))
					if want := valuegen.Normalize(v, true); !valuegen.Equal(got, want) {
						t.Fatalf("seed %d, %s, value %d: %q read back as\n%#v\nwant\n%#v", seed, name, i, k, got, want)
					}
				}
				b2, err := codec.MarshalPython(back)
				if err != nil {
					t.Fatalf("seed %d, %s, value %d: re-encoding: %v", seed, name, i, err)
				}
				b1, _ := codec.MarshalPython(d)
				if !bytes.Equal(b1, b2) {
					t.Fatalf("seed %d, %s, value %d: not stable:\n%s\n%s", seed, name, i, b1, b2)
				}
			}
			t.Logf("seed %d, %s: %d sessions accepted, %d refused; values: %v", seed, name, accepted, refused, st)
			if accepted < 100 || refused < 20 {
				t.Errorf("the generator is off: %d accepted, %d refused", accepted, refused)
			}
			if seed == 1 && (st.MaxLevel != codec.MaxDepth || st.MaxDigits != codec.MaxIntDigits || st.Faults["depth"] == 0 || st.Faults["int"] == 0 || st.Faults["utf8"] == 0) {
				t.Errorf("the fixed seed no longer reaches the limits from both sides: %v", st)
			}
		}
	}
}

func keysNorm(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = valuegen.Normalize(k, true).(string)
	}
	return out
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestTooLargeNamesLimit: the size limit gives ErrTooLarge.
func TestTooLarge(t *testing.T) {
	_, err := codec.JSON{MaxSize: 100}.Encode(dict("blob", strings.Repeat("x", 200)))
	if !errors.Is(err, codec.ErrTooLarge) {
		t.Errorf("JSON over MaxSize: %v", err)
	}
}

func TestCopyKeyOrders(t *testing.T) {
	src, err := codec.UnmarshalPython([]byte(`{"m":{"z":1,"a":2}}`))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := src.Get("m")
	dst := dict("other", 1)
	dst.Set("m", m)
	if b, _ := codec.MarshalPython(dst); string(b) != `{"other":1,"m":{"a":2,"z":1}}` {
		t.Errorf("without CopyKeyOrders: %s", b)
	}
	dst.CopyKeyOrders(src)
	if b, _ := codec.MarshalPython(dst); string(b) != `{"other":1,"m":{"z":1,"a":2}}` {
		t.Errorf("with CopyKeyOrders: %s", b)
	}
}

func TestSetOrdered(t *testing.T) {
	d := codec.NewDict(map[string]any{"old": 1})
	nested := map[string]any{"b": 1, "a": 2}
	d.SetKeyOrder(nested, []string{"b", "a"})
	if !d.SetOrdered([]string{"z", "n", "a"}, map[string]any{"a": 1, "n": nested, "z": "x"}) {
		t.Fatal("SetOrdered refused a key list that names every key once")
	}
	if got := d.Keys(); !slices.Equal(got, []string{"z", "n", "a"}) {
		t.Errorf("keys %v, want [z n a]", got)
	}
	if _, ok := d.Get("old"); ok {
		t.Error("an entry from before SetOrdered is still there")
	}
	if got := d.KeyOrder(nested); !slices.Equal(got, []string{"b", "a"}) {
		t.Errorf("the key order recorded before SetOrdered was lost: %v", got)
	}
	many := map[string]any{}
	var manyKeys []string
	for i := range 40 {
		k := strconv.Itoa(i)
		many[k] = i
		manyKeys = append(manyKeys, k)
	}
	dupMany := slices.Clone(manyKeys)
	dupMany[39] = "0"
	for name, c := range map[string]struct {
		keys []string
		m    map[string]any
	}{
		"missing key":        {[]string{"a"}, map[string]any{"a": 1, "b": 2}},
		"extra key":          {[]string{"a", "b"}, map[string]any{"a": 1}},
		"unknown key":        {[]string{"a", "c"}, map[string]any{"a": 1, "b": 2}},
		"repeated key":       {[]string{"a", "a"}, map[string]any{"a": 1, "b": 2}},
		"repeated key, many": {dupMany, many},
	} {
		if d.SetOrdered(c.keys, c.m) {
			t.Errorf("%s: SetOrdered accepted keys %v for %v", name, c.keys, c.m)
		}
		if got := d.Keys(); !slices.Equal(got, []string{"z", "n", "a"}) {
			t.Errorf("%s: a refused SetOrdered changed the Dict: %v", name, got)
		}
	}
	if !d.SetOrdered(manyKeys, many) || d.Len() != 40 {
		t.Error("SetOrdered refused 40 distinct keys")
	}
}

// TestDictModel drives a Dict with random Set, Delete and Get calls over
// a key space that takes it across the size where it starts to index
// its keys, and back, and checks it against a model of a Python dict
// after every call: keys in insertion order, a key set again keeping its
// place, a deleted key going to the end when set again.
func TestDictModel(t *testing.T) {
	for _, seed := range valuegen.Seeds(t) {
		r := valuegen.New(seed, valuegen.Limits{}).R
		var d codec.Dict
		var order []string
		model := map[string]int{}
		for step := range 4000 {
			k := "k" + strconv.Itoa(r.IntN(24))
			switch op := r.IntN(10); {
			case op < 5:
				d.Set(k, step)
				if _, ok := model[k]; !ok {
					order = append(order, k)
				}
				model[k] = step
			case op < 8:
				if _, want := model[k]; d.Delete(k) != want {
					t.Fatalf("seed %d, step %d: Delete(%q) reported %v", seed, step, k, !want)
				}
				delete(model, k)
				order = slices.DeleteFunc(order, func(x string) bool { return x == k })
			default:
				v, ok := d.Get(k)
				if want, in := model[k]; ok != in || ok && v != want {
					t.Fatalf("seed %d, step %d: Get(%q) = %v, %v; want %v, %v", seed, step, k, v, ok, want, in)
				}
			}
			if !slices.Equal(d.Keys(), order) || d.Len() != len(order) {
				t.Fatalf("seed %d, step %d: keys %v, want %v", seed, step, d.Keys(), order)
			}
		}
		for _, k := range order {
			if v, _ := d.Get(k); v != model[k] {
				t.Fatalf("seed %d: %q = %v, want %v", seed, k, v, model[k])
			}
		}
	}
	// A decoded object with a repeated key, small and past the index.
	for _, n := range []int{3, 8, 9, 30} {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			fmt.Fprintf(&b, `"k%d":%d,`, i, i)
		}
		b.WriteString(`"k0":"last","k1":"again"}`)
		d, err := codec.UnmarshalPython([]byte(b.String()))
		if err != nil {
			t.Fatal(err)
		}
		if d.Len() != n || d.Keys()[0] != "k0" {
			t.Fatalf("%d keys: decoded keys %v", n, d.Keys())
		}
		if v, _ := d.Get("k0"); v != "last" {
			t.Errorf("%d keys: the repeated key holds %v, want the last value", n, v)
		}
		if v, _ := d.Get("k1"); v != "again" {
			t.Errorf("%d keys: the repeated key holds %v, want the last value", n, v)
		}
		if v, ok := d.Get(fmt.Sprintf("k%d", n-1)); !ok || v != int64(n-1) {
			t.Errorf("%d keys: the last key holds %v, %v", n, v, ok)
		}
	}
}
