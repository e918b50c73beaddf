package pickle

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/internal/valuegen"
)

var pickleLimits = valuegen.Limits{MaxDepth: MaxDepth, MaxIntBytes: MaxIntBytes}

// TestLoneSurrogatesRoundTrip: Python pickles str with "surrogatepass",
// so a lone surrogate is legal; it is kept in its 3-byte form and written
// back as CPython writes it.
func TestLoneSurrogatesRoundTrip(t *testing.T) {
	want := "a\\b\n\xed\xa0\x80"
	for _, name := range []string{"surrogate/0", "surrogate/2", "surrogate/5"} {
		d, err := Codec{}.Decode(unhex(t, pyPlain[name]))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got, _ := d.Get("s"); got != want {
			t.Errorf("%s: s = %q, want %q", name, got, want)
		}
		b, err := Codec{}.Encode(d)
		if err != nil {
			t.Fatalf("%s: re-encoding: %v", name, err)
		}
		if got := hex.EncodeToString(b); got != pyPlain["surrogate/5"] {
			t.Errorf("%s: re-encoded\n got %s\nwant %s", name, got, pyPlain["surrogate/5"])
		}
	}
	// A surrogate escape in protocol 0 (raw-unicode-escape), high then
	// low, stays two code points, as in Python.
	v, err := Unmarshal([]byte("V\\ud83d\\ude00\np0\n."))
	if err != nil || v != "\xed\xa0\xbd\xed\xb8\x80" {
		t.Errorf("protocol 0 surrogates: %q, %v", v, err)
	}
}

func TestInvalidUTF8Refused(t *testing.T) {
	type profile struct {
		Name string `json:"name"`
	}
	for _, c := range []struct {
		key   string
		value any
		want  string
	}{
		{"s", "a\xffb", `codec: value of "s": string is not valid UTF-8 (byte 0xff at offset 1): codec: value cannot be encoded`},
		{"l", []any{"ok", map[string]any{"k": "\xc3"}}, `codec: value of "l"[1]["k"]: string is not valid UTF-8`},
		{"m", map[string]any{"k\x80": 1}, `key "k\x80"`},
		{"struct", profile{"\xff"}, `codec: value of "struct"["name"]: string is not valid UTF-8`},
		{"bad\xff", 1, `codec: session key "bad\xff": string is not valid UTF-8`},
	} {
		_, err := Codec{}.Encode(dict("ok", "fine", c.key, c.value))
		var ee *codec.EncodeError
		if !errors.Is(err, codec.ErrUnencodable) || !errors.As(err, &ee) || ee.Key != c.key || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.key, err, c.want)
		}
	}
}

// TestIntegerSizeSymmetric: the encoder refuses integers longer than the
// decoder reads (MaxIntBytes), naming the key.
func TestIntegerSizeSymmetric(t *testing.T) {
	ok := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 8*MaxIntBytes-1), big.NewInt(1)) // MaxIntBytes bytes
	neg := new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), 8*MaxIntBytes-1))               // also MaxIntBytes bytes
	for _, n := range []*big.Int{ok, neg} {
		b, err := Codec{MaxSize: -1}.Encode(dict("n", n))
		if err != nil {
			t.Fatalf("%d bits: %v", n.BitLen(), err)
		}
		d, err := Codec{MaxSize: -1}.Decode(b)
		if err != nil {
			t.Fatalf("%d bits: saved, then refused when loading: %v", n.BitLen(), err)
		}
		if got, _ := d.Get("n"); got.(*big.Int).Cmp(n) != 0 {
			t.Errorf("%d bits read back differently", n.BitLen())
		}
	}
	over := new(big.Int).Lsh(big.NewInt(1), 8*MaxIntBytes-1)
	_, err := Codec{MaxSize: -1}.Encode(dict("n", []any{over}))
	if !errors.Is(err, codec.ErrUnencodable) || !strings.Contains(err.Error(), `value of "n"[0]: integer of 65537 bytes`) {
		t.Errorf("over MaxIntBytes: %v", err)
	}
}

// TestSharedStringsReadBack: a value repeating one string many times
// (written once and referenced with BINGET) is read back, although the
// decoder bounds how much shared references may expand.
func TestSharedStringsReadBack(t *testing.T) {
	s := strings.Repeat("x", 1000)
	for _, n := range []int{100, 5000, 60000} {
		l := make([]any, n)
		for i := range l {
			l[i] = s
		}
		m := map[string]any{}
		for i := range n / 10 {
			m[fmt.Sprint(i)] = s
		}
		b, err := Codec{MaxSize: -1}.Encode(dict("l", l, "m", m))
		if err != nil {
			t.Fatalf("%d copies: %v", n, err)
		}
		d, err := Codec{MaxSize: -1}.Decode(b)
		if err != nil {
			t.Fatalf("%d copies of a 1000-byte string (%d bytes): saved, then refused when loading: %v", n, len(b), err)
		}
		if got, _ := d.Get("l"); len(got.([]any)) != n {
			t.Errorf("%d copies read back as %d", n, len(got.([]any)))
		}
	}
	// Few copies are still shared, as CPython shares them.
	b, _ := Codec{}.Encode(dict("a", s, "b", s))
	if len(b) > 1100 {
		t.Errorf("two copies take %d bytes: not shared", len(b))
	}
}

// TestNestedOrderKept: nested dicts keep their order through a Go edit,
// byte for byte as CPython pickles the edited dict.
func TestNestedOrderKept(t *testing.T) {
	// CPython: pickle.dumps({"prefs": {"zebra": 1, "apple": {"z": 1, "a": 2}}, "other": {"b": 1, "a": 2}}, 5)
	in, err := Marshal(dict("prefs", dict("zebra", 1, "apple", dict("z", 1, "a", 2)), "other", dict("b", 1, "a", 2)))
	if err != nil {
		t.Fatal(err)
	}
	d, err := Codec{}.Decode(in)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := d.Get("prefs")
	prefs := v.(map[string]any)
	prefs["kiwi"] = true
	d.Set("prefs", prefs)
	d.Set("x", 1)
	got, err := Codec{}.Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Codec{}.Encode(dict("prefs", dict("zebra", 1, "apple", dict("z", 1, "a", 2), "kiwi", true), "other", dict("b", 1, "a", 2), "x", 1))
	if !bytes.Equal(got, want) {
		t.Errorf("after the edit\n got %x\nwant %x", got, want)
	}
}

// TestPropertyRoundTrip: random values either fail to encode with a clear
// error naming their key, exactly when they break a documented limit, or
// decode to the same value (modulo the documented type normalisation) and
// re-encode to the same bytes.
func TestPropertyRoundTrip(t *testing.T) {
	for _, seed := range valuegen.Seeds(t) {
		g := valuegen.New(seed, pickleLimits)
		accepted, refused := 0, 0
		var st valuegen.Stats
		for i := range 400 {
			d := &codec.Dict{}
			for j := range g.R.IntN(6) {
				k := fmt.Sprintf("k%d", j)
				if g.R.IntN(15) == 0 {
					k = g.Key(true)
				}
				d.Set(k, g.Value(1, g.R.IntN(4) == 0))
			}
			fault, faultKey := "", ""
			for k, v := range d.All() {
				if f := valuegen.Fault(k, 0, pickleLimits); f != "" && fault == "" {
					fault, faultKey = f, k
				}
				f := valuegen.Fault(v, 1, pickleLimits)
				st.Add(v, 1, f)
				if f != "" && fault == "" {
					fault, faultKey = f, k
				}
			}
			b, err := Codec{MaxSize: -1}.Encode(d)
			if fault != "" {
				refused++
				var ee *codec.EncodeError
				if err == nil {
					t.Fatalf("seed %d, value %d: Encode accepted a value to refuse (%s under %q)", seed, i, fault, faultKey)
				}
				if !errors.Is(err, codec.ErrUnencodable) || !errors.As(err, &ee) {
					t.Fatalf("seed %d, value %d: unclear error %v", seed, i, err)
				}
				continue
			}
			accepted++
			if err != nil {
				t.Fatalf("seed %d, value %d: Encode refused a valid value: %v", seed, i, err)
			}
			back, err := Codec{MaxSize: -1}.Decode(b)
			if err != nil {
				t.Fatalf("seed %d, value %d: saved, then refused when loading: %v", seed, i, err)
			}
			if strings.Join(back.Keys(), "\x00") != strings.Join(d.Keys(), "\x00") {
				t.Fatalf("seed %d, value %d: keys %q, want %q", seed, i, back.Keys(), d.Keys())
			}
			for k, v := range d.All() {
				got, _ := back.Get(k)
				if want := valuegen.Normalize(v, false); !valuegen.Equal(got, want) {
					t.Fatalf("seed %d, value %d: %q read back as\n%#v\nwant\n%#v", seed, i, k, got, want)
				}
			}
			b2, err := Codec{MaxSize: -1}.Encode(back)
			if err != nil || !bytes.Equal(b, b2) {
				t.Fatalf("seed %d, value %d: re-encoding not stable (%v)", seed, i, err)
			}
		}
		t.Logf("seed %d: %d sessions accepted, %d refused; values: %v", seed, accepted, refused, st)
		if accepted < 100 || refused < 20 {
			t.Errorf("the generator is off: %d accepted, %d refused", accepted, refused)
		}
		if seed == 1 && (st.MaxLevel != MaxDepth || st.MaxBytes != MaxIntBytes || st.Faults["depth"] == 0 || st.Faults["int"] == 0 || st.Faults["utf8"] == 0) {
			t.Errorf("the fixed seed no longer reaches the limits from both sides: %v", st)
		}
	}
}
