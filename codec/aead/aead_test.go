package aead_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/codec/aead"
	"github.com/sessionkit/sessions/codec/pickle"
	"github.com/sessionkit/sessions/signing"
)

var (
	keyA = []byte("aead-test-key-A-0123456789abcdefghijklmnop")
	keyB = []byte("aead-test-key-B-0123456789abcdefghijklmnop")
	keyC = []byte("aead-test-key-C-0123456789abcdefghijklmnop")
)

// marker is a string that must never appear in an encrypted value.
const marker = "PLAINTEXT-MARKER-7c1f"

func mustNew(t testing.TB, inner codec.Codec, o *aead.Options, keys ...[]byte) *aead.Codec {
	t.Helper()
	c, err := aead.New(inner, o, keys...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sample() *codec.Dict {
	d := &codec.Dict{}
	d.Set("_auth_user_id", "42")
	d.Set("secret", marker)
	d.Set("cart", []any{int64(1), int64(2), int64(3)})
	d.Set("note", strings.Repeat("lorem ipsum "+marker+" ", 20))
	return d
}

func sameDict(t *testing.T, got, want *codec.Dict) {
	t.Helper()
	g, err1 := codec.MarshalPython(got)
	w, err2 := codec.MarshalPython(want)
	if err1 != nil || err2 != nil || !bytes.Equal(g, w) {
		t.Fatalf("decoded %s\nwant    %s", g, w)
	}
}

func inners() map[string]codec.Codec {
	return map[string]codec.Codec{
		"json":   codec.JSON{},
		"signed": codec.Signed{Key: "django_tests_secret_key"},
		"pickle": pickle.Codec{},
	}
}

func TestRoundTripNoPlaintext(t *testing.T) {
	for name, inner := range inners() {
		t.Run(name, func(t *testing.T) {
			c := mustNew(t, inner, nil, keyA)
			b, err := c.Encode(sample())
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte(marker)) || bytes.Contains(b, []byte("_auth_user_id")) {
				t.Fatalf("plaintext in %s", b)
			}
			for _, ch := range b {
				if !(ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_') {
					t.Fatalf("character %q is not URL-safe base64", ch)
				}
			}
			d, err := c.Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			sameDict(t, d, sample())
			// Two encryptions of the same data differ (random nonces).
			b2, _ := c.Encode(sample())
			if bytes.Equal(b, b2) {
				t.Fatal("two encryptions are identical")
			}
		})
	}
}

func TestEmptyDict(t *testing.T) {
	c := mustNew(t, codec.JSON{}, nil, keyA)
	b, err := c.Encode(&codec.Dict{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.Decode(b)
	if err != nil || d.Len() != 0 {
		t.Fatalf("%v %v", d, err)
	}
}

func TestRotation(t *testing.T) {
	old := mustNew(t, codec.JSON{}, nil, keyA)
	rotated := mustNew(t, codec.JSON{}, nil, keyB, keyA)
	removed := mustNew(t, codec.JSON{}, nil, keyB)
	if old.KeyID() == rotated.KeyID() || rotated.KeyID() != removed.KeyID() {
		t.Fatalf("key ids: old %08x rotated %08x removed %08x", old.KeyID(), rotated.KeyID(), removed.KeyID())
	}

	byOld, err := old.Encode(sample())
	if err != nil {
		t.Fatal(err)
	}
	d, err := rotated.Decode(byOld)
	if err != nil {
		t.Fatalf("old key as fallback: %v", err)
	}
	sameDict(t, d, sample())

	// New writes use the primary key: the old-only codec cannot read them.
	byNew, err := rotated.Encode(sample())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Decode(byNew); !errors.Is(err, aead.ErrUnknownKey) {
		t.Fatalf("old codec on new data: %v, want ErrUnknownKey", err)
	}
	if _, err := removed.Decode(byNew); err != nil {
		t.Fatalf("new key: %v", err)
	}

	// Once the old key is removed, its data are corrupt, classified as a
	// bad signature.
	_, err = removed.Decode(byOld)
	for _, want := range []error{codec.ErrCorrupt, aead.ErrUnknownKey, signing.ErrBadSignature} {
		if !errors.Is(err, want) {
			t.Errorf("removed key: %v, want %v", err, want)
		}
	}
	if strings.Contains(err.Error(), string(keyA)) {
		t.Error("error shows the key")
	}
}

func TestKeysAreValidated(t *testing.T) {
	if _, err := aead.New(codec.JSON{}, nil); err == nil {
		t.Error("no keys accepted")
	}
	if _, err := aead.New(nil, nil, keyA); err == nil {
		t.Error("nil inner accepted")
	}
	short := []byte("only-31-bytes-long-secret-key!!")
	_, err := aead.New(codec.JSON{}, nil, keyA, short)
	if err == nil || !strings.Contains(err.Error(), "key 2") || strings.Contains(err.Error(), string(short)) {
		t.Errorf("short key: %v", err)
	}
	// A duplicate is harmless.
	c := mustNew(t, codec.JSON{}, nil, keyA, keyA, keyB)
	b, _ := mustNew(t, codec.JSON{}, nil, keyB).Encode(sample())
	if _, err := c.Decode(b); err != nil {
		t.Error(err)
	}
}

// TestDomainSeparation: the secret is never used as the key itself, so
// the same string can serve as SECRET_KEY and as an encryption key; two
// codecs that differ only in key order encrypt with different keys.
func TestDomainSeparation(t *testing.T) {
	secret := "django_tests_secret_key-but-at-least-32-bytes"
	c := mustNew(t, codec.Signed{Key: secret}, nil, []byte(secret))
	b, err := c.Encode(sample())
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	sameDict(t, d, sample())
}

// TestGolden decodes a value encrypted when the format was defined: the
// envelope, the key derivation and the key id must never change for
// version 1.
func TestGolden(t *testing.T) {
	c := mustNew(t, codec.JSON{}, nil, keyA)
	d, err := c.Decode([]byte(goldenV1))
	if err != nil {
		t.Fatalf("golden value: %v", err)
	}
	if v, _ := d.Get("user"); v != "ann" {
		t.Fatalf("golden value decoded to %v", d.Map())
	}
	if got := fmt.Sprintf("%08x", c.KeyID()); got != goldenKeyID {
		t.Fatalf("key id %s, want %s", got, goldenKeyID)
	}
}

// Encrypted with keyA over codec.JSON{} from {"user":"ann","n":1}.
const (
	goldenV1    = "AQA_YSpiEbVEKBT6kSyooAz73VMQhsVF4kePRiEb7_OC8iHIotKVxKNUiXzIVs09xY40_hO-ZLSTKjhow231F6o0"
	goldenKeyID = "3f612a62"
)

func TestTamperEveryBit(t *testing.T) {
	c := mustNew(t, codec.Signed{Key: "k"}, nil, keyA)
	b, err := c.Encode(sample())
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		for bit := range 8 {
			x := bytes.Clone(b)
			x[i] ^= 1 << bit
			if d, err := c.Decode(x); err == nil {
				t.Fatalf("byte %d bit %d flipped: decoded %v", i, bit, d.Map())
			} else if !errors.Is(err, codec.ErrCorrupt) {
				t.Fatalf("byte %d bit %d: %v does not match ErrCorrupt", i, bit, err)
			}
		}
	}
	for n := range len(b) {
		if _, err := c.Decode(b[:n]); err == nil {
			t.Fatalf("truncated to %d bytes: decoded", n)
		}
	}
	if _, err := c.Decode(append(bytes.Clone(b), 'A')); err == nil {
		t.Fatal("extended value decoded")
	}
}

func TestCompression(t *testing.T) {
	d := &codec.Dict{}
	d.Set("text", strings.Repeat("the same words again and again ", 100))
	plain, _ := codec.JSON{}.Encode(d)
	on, err := mustNew(t, codec.JSON{}, nil, keyA).Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	off, err := mustNew(t, codec.JSON{}, &aead.Options{NoCompress: true}, keyA).Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	if len(on) >= len(plain)/4 {
		t.Errorf("compressed: %d bytes for %d of JSON", len(on), len(plain))
	}
	if want := (len(plain) + aead.Overhead) * 4 / 3; len(off) < want || len(off) > want+2 {
		t.Errorf("uncompressed: %d bytes, want about %d", len(off), want)
	}
	// Either reads both.
	for _, b := range [][]byte{on, off} {
		got, err := mustNew(t, codec.JSON{}, nil, keyA).Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		sameDict(t, got, d)
	}
}

func TestSizeLimits(t *testing.T) {
	c := mustNew(t, codec.JSON{MaxSize: -1}, &aead.Options{MaxSize: 1000, NoCompress: true}, keyA)
	small := &codec.Dict{}
	small.Set("x", strings.Repeat("a", 720))
	if _, err := c.Encode(small); !errors.Is(err, codec.ErrTooLarge) {
		// 728 bytes of JSON are over 1000 once encrypted and in base64.
		t.Errorf("encrypted over the limit: %v", err)
	}
	big := &codec.Dict{}
	big.Set("x", strings.Repeat("a", 2000))
	if _, err := c.Encode(big); !errors.Is(err, codec.ErrTooLarge) {
		t.Errorf("inner over the limit: %v", err)
	}
	ok := &codec.Dict{}
	ok.Set("x", strings.Repeat("a", 500))
	b, err := c.Encode(ok)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Decode(b); err != nil {
		t.Fatal(err)
	}
	long := bytes.Repeat([]byte("A"), 1001)
	if _, err := c.Decode(long); !errors.Is(err, codec.ErrTooLarge) || !errors.Is(err, codec.ErrCorrupt) {
		t.Errorf("stored value over the limit: %v", err)
	}
}

func TestNotAnEnvelope(t *testing.T) {
	c := mustNew(t, codec.Signed{Key: "k"}, nil, keyA)
	signed, _ := codec.Signed{Key: "k"}.Encode(sample())
	for _, in := range []string{"", "A", "AQ", "e30", "Zm9v\n", "Zm9v====", "not base64!", string(signed),
		"\x80\x04\x95", strings.Repeat("A", 100)} {
		if _, err := c.Decode([]byte(in)); !errors.Is(err, codec.ErrCorrupt) {
			t.Errorf("%q: %v", in, err)
		}
	}
}

func TestConcurrent(t *testing.T) {
	c := mustNew(t, codec.JSON{}, nil, keyA, keyB)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				d := &codec.Dict{}
				d.Set("v", strings.Repeat(fmt.Sprint(i, j), 50))
				b, err := c.Encode(d)
				if err != nil {
					t.Error(err)
					return
				}
				got, err := c.Decode(b)
				if err != nil {
					t.Error(err)
					return
				}
				if v, _ := got.Get("v"); v != strings.Repeat(fmt.Sprint(i, j), 50) {
					t.Error("mixed up values")
					return
				}
			}
		}()
	}
	wg.Wait()
}

// Values encrypted once, for the fuzz corpus (random nonces would give
// every fuzzing process other seeds): goldenV1, and with keyB over
// codec.JSON{} (compressed) {"cart":[1,2,3],"note":"hello hello ..."},
// and with keyA uncompressed {}.
const (
	seedKeyB  = "AQHMa4LXDFuaX3YXidMJ0XDeOiCNONfuRCHafWnWU8mqpMVtUgvKsmR7CyejXCQDLShl23sLG-SkGnNBs1VU1cf0kqAawCfhxOga27HCBNZ161Sr08E"
	seedEmpty = "AQA_YSpic6N5R-JynDSxN_-S6BG3GYA8GS0gFzPSMbQPaLN2xtzKzkWUQISth_AE"
)

// FuzzDecode: Decode never panics, every error matches ErrCorrupt, and it
// accepts nothing but values encrypted with one of its keys.
func FuzzDecode(f *testing.F) {
	c := mustNew(f, codec.JSON{}, &aead.Options{MaxSize: 1 << 16}, keyA, keyB)
	valid := map[string]bool{goldenV1: true, seedKeyB: true, seedEmpty: true}
	for v := range valid {
		if _, err := c.Decode([]byte(v)); err != nil {
			f.Fatalf("seed %s: %v", v, err)
		}
		f.Add([]byte(v))
	}
	b, _ := mustNew(f, codec.JSON{}, nil, keyC).Encode(sample())
	f.Add(b)
	for _, s := range []string{"", "AQ", "AgAAAAAA", "e30:1r31eq:x", ".eJw:1:2", "\x00\xff", goldenV1[:40], goldenV1 + "A"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := c.Decode(data)
		if err != nil {
			if !errors.Is(err, codec.ErrCorrupt) {
				t.Fatalf("error %v does not match ErrCorrupt", err)
			}
			return
		}
		if !valid[string(data)] {
			t.Fatalf("accepted a value it did not encrypt: %q -> %v", data, d.Map())
		}
	})
}

// FuzzTamper flips bits of a valid value at a fuzzed place: it must never
// decode.
func FuzzTamper(f *testing.F) {
	c := mustNew(f, codec.Signed{Key: "k"}, nil, keyA)
	b, err := c.Encode(sample())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint16(0), byte(1))
	f.Add(uint16(len(b)-1), byte(0x80))
	f.Add(uint16(5), byte(0xff))
	f.Fuzz(func(t *testing.T, pos uint16, mask byte) {
		if mask == 0 {
			return
		}
		x := bytes.Clone(b)
		x[int(pos)%len(x)] ^= mask
		if _, err := c.Decode(x); err == nil {
			t.Fatalf("tampered value (byte %d ^ %#x) decoded", int(pos)%len(x), mask)
		}
	})
}

// FuzzRoundTrip: whatever string a session holds comes back unchanged and
// never shows in the encrypted value. Encode may refuse only a string that
// is not valid UTF-8 (one that Python could not hold either: a surrogate
// in its 3-byte form is taken, as a lone surrogate of a str), and then with
// ErrUnencodable and nothing written.
func FuzzRoundTrip(f *testing.F) {
	c := mustNew(f, codec.Signed{Key: "k"}, nil, keyA)
	for _, s := range []string{"", "x", marker, strings.Repeat("ab", 300), "é\u2028\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := &codec.Dict{}
		d.Set("v", s)
		b, err := c.Encode(d)
		if err != nil {
			if utf8.ValidString(s) || !errors.Is(err, codec.ErrUnencodable) || b != nil {
				t.Fatalf("Encode(%q) = %q, %v; want a refusal only of a string that is not UTF-8, with ErrUnencodable and nothing written", s, b, err)
			}
			return
		}
		if len(s) >= 8 && bytes.Contains(b, []byte(s)) {
			t.Fatalf("plaintext %q in the encrypted value", s)
		}
		got, err := c.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := codec.MarshalPython(d)
		have, _ := codec.MarshalPython(got)
		if !bytes.Equal(want, have) {
			t.Fatalf("round trip: %s, want %s", have, want)
		}
	})
}

// BenchmarkCodec compares a session's signed JSON with the same encrypted.
func BenchmarkCodec(b *testing.B) {
	signed := codec.Signed{Key: "django_tests_secret_key"}
	for name, c := range map[string]codec.Codec{"signed": signed, "encrypted": mustNew(b, signed, nil, keyA)} {
		enc, err := c.Encode(sample())
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name+"/Encode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.Encode(sample())
			}
		})
		b.Run(name+"/Decode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.Decode(enc)
			}
		})
	}
}
