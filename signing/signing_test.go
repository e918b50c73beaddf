package signing

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"
)

// Vectors from Django 3.2.25, 4.2.21 and 5.2.18 (reference section 7.2),
// SECRET_KEY "django_tests_secret_key", time.time() = 1700000000.
const (
	djangoSecret = "django_tests_secret_key"
	sessionSalt  = "django.contrib.sessions.SessionStore"
	cookieSalt   = "django.contrib.sessions.backends.signed_cookies"
)

var djangoNow = func() time.Time { return time.Unix(1700000000, 0) }

func sessionOpts() Options {
	return Options{Key: djangoSecret, Salt: sessionSalt, Compress: true, Now: djangoNow}
}

func TestB62(t *testing.T) {
	cases := map[int64]string{0: "0", 1: "1", 61: "z", 62: "10", 1700000000: "1r31eq", -1: "-1", -62: "-10"}
	for n, s := range cases {
		if got := B62Encode(n); got != s {
			t.Errorf("B62Encode(%d) = %q, want %q", n, got, s)
		}
		back, err := B62Decode(s)
		if err != nil || back != n {
			t.Errorf("B62Decode(%q) = %d, %v; want %d", s, back, err, n)
		}
	}
	for _, bad := range []string{"", "-", "!", "zzzzzzzzzzzz", "a b"} {
		if _, err := B62Decode(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("B62Decode(%q) error = %v, want ErrMalformed", bad, err)
		}
	}
}

func TestDerivedKeys(t *testing.T) {
	// The HMAC key is SHA256(salt + "signer" + secret); the reference gives it in hex.
	for salt, want := range map[string]string{
		sessionSalt: "35f589f52a90e1cc1794b09a0e1bc07e55a03a03ba35480dadb3fb3eede60cad",
		cookieSalt:  "04e2a5b0766010fade81c9b8caf92350188f0cf4a737d3c322a21d2478d8a4d8",
	} {
		k := sha256hex(salt + "signer" + djangoSecret)
		if k != want {
			t.Errorf("key for %s = %s, want %s", salt, k, want)
		}
	}
}

func TestDjangoVectors(t *testing.T) {
	cases := []struct {
		name string
		json string
		salt string
		want string
	}{
		{"E1", `{"a test key":"a test value"}`, sessionSalt, "eyJhIHRlc3Qga2V5IjoiYSB0ZXN0IHZhbHVlIn0:1r31eq:z3T5kuYwaLspnAAUpfRWpbinC-rn6c6P1Qf9PsCyZ2s"},
		{"E2", `{}`, sessionSalt, "e30:1r31eq:4jUc7d6K4SjljzmCBMRybFprOH2S1lYgEeb3CCv8FJw"},
		{"E4", `{"name":"Zo\u00eb \u2603","n":1.5,"ok":true,"none":null,"list":[1,2,3]}`, sessionSalt, "eyJuYW1lIjoiWm9cdTAwZWIgXHUyNjAzIiwibiI6MS41LCJvayI6dHJ1ZSwibm9uZSI6bnVsbCwibGlzdCI6WzEsMiwzXX0:1r31eq:DkUkVPkUI_cWog_Z8zV07aDY3Tj1lgvwHHLkX4qfzgc"},
		{"E6", `{"cart":[1,2,3]}`, cookieSalt, "eyJjYXJ0IjpbMSwyLDNdfQ:1r31eq:OwYVvZMYmBQW7_Y-9qOeI-_Id-sSxRElzWQy4V_VSaM"},
		{"E7", `{"hello":"world"}`, sessionSalt, "eyJoZWxsbyI6IndvcmxkIn0:1r31eq:tWy-azdqKYIwu_o6Ht3nBxc5SvPyROA4n-zKWAcm4Cc"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := sessionOpts()
			o.Salt = c.salt
			got, err := DumpsBytes([]byte(c.json), o)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("DumpsBytes = %s\nwant        %s", got, c.want)
			}
			back, err := LoadsBytes(c.want, o)
			if err != nil || string(back) != c.json {
				t.Errorf("LoadsBytes = %q, %v", back, err)
			}
		})
	}
}

// Compressed vectors made by CPython's zlib: Go produces other deflate
// bytes, so only decoding is compared.
func TestDjangoCompressedVectors(t *testing.T) {
	cases := map[string]string{
		".eJxVjE0OwiAYRO_C2hAQaItL956BfH-VqoGktCvj3bWmC91N5r2Zp0qwLjmtTeY0sTopqw6_HQLdpWyAb1CuVVMtyzyh3hS906YvleVx3t2_gwwtf9adRDJi2EM_ckBPzgIZchjQicEIbNHDIG7soWNLR4wyfHMgjw7U6w0WGjlo:1r31eq:v7tHoGpIqrZBswDm7OFhbQOXul8rmtUakuY5Nx3ldVw": `{"_auth_user_id":"1","_auth_user_backend":"django.contrib.auth.backends.ModelBackend","_auth_user_hash":"6e9c0e0d4a7fd5b4c31ac0c3b5b3e0b9ad1b4a8e3f7a6d1c2b9e8f7a6d5c4b3a"}`,
		".eJwVyrESREAMANB_SUFxQTLWBnNzP3JRMLLVjgJbGf9uNa96FxwwwvdXlAqNqm56aiKS8GqDprVv16wRAUKA8U81I9uHfbYiQe6d8-IcSSs0dB179hPCkuu5J8Mwx8NwSzFO9wN1zh52:1r31eq:TcZ0OtJsUrTQowt1EXosXMkxJJfbee1j_aaZx7GC4r8":                                 `{"s":"<>&'\"/\\\n\t\u007f\u00e9\ud83d\ude00","f":[0.1,1e+16,1e-07,18446744073709551616],"b":[true,false,null]}`,
	}
	for signed, want := range cases {
		got, err := LoadsBytes(signed, sessionOpts())
		if err != nil || string(got) != want {
			t.Errorf("LoadsBytes = %q, %v\nwant %q", got, err, want)
		}
	}
	v, err := Loads(".eJwVyrESREAMANB_SUFxQTLWBnNzP3JRMLLVjgJbGf9uNa96FxwwwvdXlAqNqm56aiKS8GqDprVv16wRAUKA8U81I9uHfbYiQe6d8-IcSSs0dB179hPCkuu5J8Mwx8NwSzFO9wN1zh52:1r31eq:TcZ0OtJsUrTQowt1EXosXMkxJJfbee1j_aaZx7GC4r8", sessionOpts())
	if err != nil {
		t.Fatal(err)
	}
	m := v.(map[string]any)
	if m["s"] != "<>&'\"/\\\n\t\u007f\u00e9\U0001F600" {
		t.Errorf("s = %q", m["s"])
	}
	f := m["f"].([]any)
	if f[0] != 0.1 || f[1] != 1e16 || f[2] != 1e-7 || f[3].(*big.Int).String() != "18446744073709551616" {
		t.Errorf("f = %#v", f)
	}
	// And our own encoding of the same value is byte-identical JSON.
	s, err := Dumps(m, sessionOpts())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Loads(s, sessionOpts()); err != nil {
		t.Fatal(err)
	}
}

func TestCompressionRule(t *testing.T) {
	o := sessionOpts()
	small := `{"a":1}`
	s, _ := DumpsBytes([]byte(small), o)
	if strings.HasPrefix(s, ".") {
		t.Errorf("small payload compressed: %s", s)
	}
	big := `{"k":"` + strings.Repeat("abc", 200) + `"}`
	s, _ = DumpsBytes([]byte(big), o)
	if !strings.HasPrefix(s, ".") {
		t.Errorf("repetitive payload not compressed")
	}
	got, err := LoadsBytes(s, o)
	if err != nil || string(got) != big {
		t.Errorf("round trip: %v", err)
	}
	o.Compress = false
	s, _ = DumpsBytes([]byte(big), o)
	if strings.HasPrefix(s, ".") {
		t.Errorf("compressed with Compress=false")
	}
}

func TestFallbackKeys(t *testing.T) {
	e1 := "eyJhIHRlc3Qga2V5IjoiYSB0ZXN0IHZhbHVlIn0:1r31eq:z3T5kuYwaLspnAAUpfRWpbinC-rn6c6P1Qf9PsCyZ2s"
	o := sessionOpts()
	o.Key = "new-key"
	if _, err := LoadsBytes(e1, o); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("without fallback: %v, want ErrBadSignature", err)
	}
	o.Fallbacks = []string{"other", djangoSecret}
	if _, err := LoadsBytes(e1, o); err != nil {
		t.Fatalf("with fallback: %v", err)
	}
	// Signing always uses the primary key.
	s, _ := DumpsBytes([]byte("{}"), o)
	o2 := o
	o2.Fallbacks = nil
	if _, err := LoadsBytes(s, o2); err != nil {
		t.Fatalf("signed with primary: %v", err)
	}
}

func TestMaxAge(t *testing.T) {
	e6 := "eyJjYXJ0IjpbMSwyLDNdfQ:1r31eq:OwYVvZMYmBQW7_Y-9qOeI-_Id-sSxRElzWQy4V_VSaM"
	o := Options{Key: djangoSecret, Salt: cookieSalt, MaxAge: 1209600 * time.Second}
	o.Now = func() time.Time { return time.Unix(1700000000+1209600, 0) }
	if _, err := LoadsBytes(e6, o); err != nil {
		t.Errorf("age == max age must be valid: %v", err)
	}
	o.Now = func() time.Time { return time.Unix(1700000000+1209601, 0) }
	if _, err := LoadsBytes(e6, o); !errors.Is(err, ErrSignatureExpired) {
		t.Errorf("age > max age: %v, want ErrSignatureExpired", err)
	}
}

func TestBadInput(t *testing.T) {
	o := sessionOpts()
	good, _ := DumpsBytes([]byte(`{"a":"b"}`), o)
	cases := map[string]error{
		"":                          ErrBadSignature,
		"nocolon":                   ErrBadSignature,
		"bad:encoded:value":         ErrBadSignature,
		good[:len(good)-1]:          ErrBadSignature,
		good + "x":                  ErrBadSignature,
		"x" + good:                  ErrBadSignature,
		strings.ToUpper(good):       ErrBadSignature,
		"Zmxhc2tkajphbGtkamY=":      ErrBadSignature,
		strings.Repeat("a", 20<<20): ErrTooLarge,
	}
	for in, want := range cases {
		if _, err := LoadsBytes(in, o); !errors.Is(err, want) {
			t.Errorf("LoadsBytes(%.40q) = %v, want %v", in, err, want)
		}
	}
	// Signed but malformed payloads.
	signer := o.signer()
	for _, payload := range []string{"!!!notbase64", ".bm90emxpYg", ".", "e30=="} {
		s := signer.Sign(payload)
		if _, err := LoadsBytes(s, o); !errors.Is(err, ErrMalformed) {
			t.Errorf("payload %q: %v, want ErrMalformed", payload, err)
		}
	}
	// Signed but bad timestamp.
	s := signer.Signer.sign("e30:!!", tsSalt)
	o.Salt = sessionSalt
	if _, err := LoadsBytes(s, o); err == nil {
		t.Errorf("bad timestamp accepted")
	}
}

func TestZipBombRefused(t *testing.T) {
	var b bytes.Buffer
	w, _ := zlib.NewWriterLevel(&b, zlib.BestCompression)
	w.Write(bytes.Repeat([]byte{'a'}, 64<<20)) // 64 MiB of 'a' compresses to ~64 KiB
	w.Close()
	o := sessionOpts()
	payload := "." + base64.RawURLEncoding.EncodeToString(b.Bytes())
	s := o.signer().Sign(payload)
	if _, err := LoadsBytes(s, o); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("zip bomb: %v, want ErrTooLarge", err)
	}
	o.MaxSize = 128 << 20
	got, err := LoadsBytes(s, o)
	if err != nil || len(got) != 64<<20 {
		t.Fatalf("with a raised limit: %d bytes, %v", len(got), err)
	}
}

func TestDumpsTooLarge(t *testing.T) {
	o := sessionOpts()
	o.MaxSize = 10
	if _, err := DumpsBytes([]byte(`{"a":"0123456789"}`), o); !errors.Is(err, ErrTooLarge) {
		t.Errorf("DumpsBytes over limit: %v", err)
	}
}

func TestSignerDefaults(t *testing.T) {
	s := Signer{Key: djangoSecret}
	v := s.Sign("hello")
	if got, err := s.Unsign(v); err != nil || got != "hello" {
		t.Errorf("Unsign = %q, %v", got, err)
	}
	if _, err := (Signer{Key: djangoSecret, Salt: "other"}).Unsign(v); !errors.Is(err, ErrBadSignature) {
		t.Errorf("other salt accepted: %v", err)
	}
	ts := TimestampSigner{Signer: s, Now: djangoNow}
	tv := ts.Sign("hello")
	if !strings.HasPrefix(tv, "hello:1r31eq:") {
		t.Errorf("TimestampSigner.Sign = %q", tv)
	}
	got, at, err := ts.Unsign(tv, 0)
	if err != nil || got != "hello" || !at.Equal(djangoNow()) {
		t.Errorf("TimestampSigner.Unsign = %q, %v, %v", got, at, err)
	}
}

func TestSaltedHMAC(t *testing.T) {
	// _auth_user_hash vector from the reference (section 7.9).
	got := hex.EncodeToString(SaltedHMAC("django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash", "pbkdf2_sha256$870000$abc$def=", djangoSecret))
	if got != "1d0b48a672817f43a6423410a672c7c15c4e54ac97b7a65917eced3c1a63eab0" {
		t.Errorf("SaltedHMAC = %s", got)
	}
}

// TestSignerPrintHidesKeys: printing a Signer or a TimestampSigner, with
// any of fmt's verbs, never shows a key.
func TestSignerPrintHidesKeys(t *testing.T) {
	s := Signer{Key: "key-now-1", Fallbacks: []string{"key-old-2"}, Salt: "salt-3"}
	for _, v := range []any{s, &s, TimestampSigner{Signer: s}, struct{ S Signer }{s}} {
		for _, verb := range []string{"%v", "%+v", "%s", "%#v"} {
			out := fmt.Sprintf(verb, v)
			if strings.Contains(out, "key-now-1") || strings.Contains(out, "key-old-2") || !strings.Contains(out, "salt-3") {
				t.Errorf("%s of %T: %s", verb, v, out)
			}
		}
	}
}
