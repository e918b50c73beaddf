package pyjson

import (
	"bytes"
	"strings"
	"testing"
)

var scanCases = []string{
	`{}`, ` { } `, `{"a":1}`, `{"a":1,"a":2}`, `{"a" : [1, 2.5, -0, 1e5, -1E-2, "x\u00e9\ud800y", null, true, false, NaN, Infinity, -Infinity], "b":{"c":{"d":[]}}}`,
	`{"k":"caf\xe9"}`, `{"k":"\ud83d\ude00"}`, `{"k":"a\"b\\c\/d\b\f\n\r\t"}`,
	`{"n":` + strings.Repeat("9", MaxIntDigits) + `}`, `{"n":-` + strings.Repeat("9", MaxIntDigits) + `}`,
	`{"n":` + strings.Repeat("9", MaxIntDigits+1) + `}`, `{"f":1` + strings.Repeat("0", 5000) + `.5}`,
	`{"deep":` + strings.Repeat("[", MaxDepth-1) + strings.Repeat("]", MaxDepth-1) + `}`,
	`{"deep":` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + `}`,
	`{"deep":` + strings.Repeat(`{"a":`, MaxDepth) + "1" + strings.Repeat("}", MaxDepth) + `}`,
	``, `[]`, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":[1,]}`, `{"a":[1 2]}`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`,
	`{"a":-}`, `{"a":tru}`, `{"a":"x}`, `{"a":"\x01"}`, `{"a":"\q"}`, `{"a":"\u12"}`, `{a:1}`, `{"a":1}x`, `{"a":1} `,
	`{"a":{"b":1,}}`, `{"a":{"b" 1}}`, `{"a":{1:1}}`, `{"a":[}`, `{"a":{]}`, `{"a":1e}`, `{"a":1e+}`, `{"a":-Infinityx}`,
	` [ 1 , [ 2 ] , {"a" : "b"} ] `, `[1,]`, `[1 2]`, `[`, `"str"`, ` "a\u00e9\ud800" `, `"x`, `"a" 1`,
	strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth), strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1),
}

// ScanObject accepts exactly what DecodeObject accepts, reports the same
// members with the same raw spans, and each raw value decodes alone;
// ScanArray accepts exactly the arrays Decode accepts, with as many
// items, each decoding alone; String decodes exactly the strings Decode
// decodes, to the same string.
func TestScanAgreesWithDecode(t *testing.T) {
	for _, utf := range []bool{false, true} {
		for _, c := range append(scanCases, "{\"k\":\"\xff\"}", "{\"k\":\"\xc3\xa9\"}") {
			checkScan(t, Decoder{UTF8: utf}, []byte(c))
		}
	}
}

func FuzzScanAgreesWithDecode(f *testing.F) {
	for _, c := range scanCases {
		f.Add([]byte(c), false)
	}
	f.Fuzz(func(t *testing.T, b []byte, utf bool) {
		checkScan(t, Decoder{UTF8: utf}, b)
	})
}

func checkScan(t *testing.T, o Decoder, b []byte) {
	t.Helper()
	type member struct {
		k   string
		raw []byte
	}
	checkScanArray(t, o, b)
	var dec, scan []member
	derr := o.DecodeObject(b, func(k string, v any, raw []byte) { dec = append(dec, member{k, raw}) })
	serr := o.ScanObject(b, func(k string, raw []byte) { scan = append(scan, member{k, raw}) })
	if (derr == nil) != (serr == nil) {
		t.Fatalf("%.80q (UTF8 %v): DecodeObject %v, ScanObject %v", b, o.UTF8, derr, serr)
	}
	if derr != nil {
		return
	}
	if len(dec) != len(scan) {
		t.Fatalf("%.80q: %d members decoded, %d scanned", b, len(dec), len(scan))
	}
	for i := range dec {
		if dec[i].k != scan[i].k || !bytes.Equal(dec[i].raw, scan[i].raw) {
			t.Fatalf("%.80q: member %d: %q %q decoded, %q %q scanned", b, i, dec[i].k, dec[i].raw, scan[i].k, scan[i].raw)
		}
		if _, err := (Decoder{UTF8: o.UTF8, Outer: o.Outer + 1}).Decode(scan[i].raw); err != nil {
			t.Fatalf("%.80q: member %q does not decode alone: %v", b, scan[i].k, err)
		}
	}
}

func checkScanArray(t *testing.T, o Decoder, b []byte) {
	t.Helper()
	v, derr := o.Decode(b)
	list, isList := v.([]any)
	n := 0
	aerr := o.ScanArray(b, func(raw []byte) {
		n++
		if _, err := (Decoder{UTF8: o.UTF8, Outer: o.Outer + 1}).Decode(raw); err != nil {
			t.Fatalf("%.80q: item %q does not decode alone: %v", b, raw, err)
		}
	})
	if (aerr == nil) != (derr == nil && isList) {
		t.Fatalf("%.80q (UTF8 %v): Decode %v (a list: %v), ScanArray %v", b, o.UTF8, derr, isList, aerr)
	}
	if aerr == nil && n != len(list) {
		t.Fatalf("%.80q: %d items decoded, %d scanned", b, len(list), n)
	}
	str, isStr := v.(string)
	s, serr := o.String(b)
	if (serr == nil) != (derr == nil && isStr) || s != str {
		t.Fatalf("%.80q (UTF8 %v): Decode %q, %v; String %q, %v", b, o.UTF8, str, derr, s, serr)
	}
}

// Alias shares the input's memory only for strings written plainly.
func TestAliasStrings(t *testing.T) {
	in := []byte(`{"plain":"abc","esc":"a\nb","latin":"caf` + "\xe9" + `"}`)
	var keys, vals []string
	err := Decoder{Alias: true}.DecodeObject(in, func(k string, v any, _ []byte) {
		keys, vals = append(keys, k), append(vals, v.(string))
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"abc", "a\nb", "café"}; strings.Join(vals, "|") != strings.Join(want, "|") {
		t.Fatalf("decoded %q, want %q", vals, want)
	}
	copy(in, bytes.Repeat([]byte("#"), len(in)))
	if keys[0] != "#####" || vals[0] != "###" {
		t.Errorf("plain strings copied: %q %q (Alias should share the input)", keys[0], vals[0])
	}
	if vals[1] != "a\nb" || vals[2] != "café" {
		t.Errorf("escaped or Latin-1 strings changed with the input: %q", vals[1:])
	}
}

// TestSpecial8 holds special8 to a byte-by-byte check, on words made of
// the bytes around each boundary it tests and on random words.
func TestSpecial8(t *testing.T) {
	special := func(c byte) bool { return c == '"' || c == '\\' || c < 0x20 || c >= 0x80 }
	edge := []byte{0, 1, 0x1f, 0x20, 0x21, '!', '"', '#', '[', '\\', ']', 'a', 0x7f, 0x80, 0x81, 0xfe, 0xff}
	rng := uint64(0x9e3779b97f4a7c15)
	check := func(w [8]byte) {
		x := uint64(0)
		want := false
		for i := 7; i >= 0; i-- {
			x = x<<8 | uint64(w[i])
			want = want || special(w[i])
		}
		if got := special8(x); got != want {
			t.Fatalf("special8(% x) = %v, want %v", w, got, want)
		}
	}
	for range 1_000_000 {
		rng ^= rng << 13
		rng ^= rng >> 7
		rng ^= rng << 17
		var w [8]byte
		for i := range w {
			// Mostly plain bytes, so that words without a special one
			// are common; each position sometimes takes an edge byte.
			b := byte(rng >> (8 * i))
			switch {
			case b%7 == 0:
				w[i] = edge[int(b/7)%len(edge)]
			default:
				w[i] = 0x23 + b%0x39 // '#'..'[' : plain
			}
		}
		check(w)
		check([8]byte{byte(rng), byte(rng >> 8), byte(rng >> 16), byte(rng >> 24), byte(rng >> 32), byte(rng >> 40), byte(rng >> 48), byte(rng >> 56)})
	}
}
