package interop

import (
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/signing"
)

const (
	secret     = "django_tests_secret_key"
	cookieSalt = "django.contrib.sessions.backends.signed_cookies"
)

// sessionValues are the session dicts exchanged with Django.
func sessionValues() map[string]map[string]any {
	two64, _ := new(big.Int).SetString("18446744073709551616", 10)
	return map[string]map[string]any{
		"empty":   {},
		"simple":  {"a test key": "a test value"},
		"unicode": {"name": "Zoë ☃ 😀 日本語", "ctl": "tab\there \"quoted\" \\ back <b>&amp;</b> \x7f"},
		"nested":  {"cart": []any{map[string]any{"sku": "A-1", "qty": int64(2)}, map[string]any{"sku": "B", "qty": int64(1)}}, "prefs": map[string]any{"theme": "dark", "langs": []any{"en", "fr"}}},
		"numbers": {"big": two64, "beyond53": int64(1)<<53 + 1, "neg": int64(-9223372036854775808), "f": 0.1, "f2": 1e16, "f3": 1e-7, "f4": 1.5, "whole": 100.0, "zero": int64(0)},
		"scalars": {"t": true, "f": false, "null": nil, "list": []any{int64(1), "two", nil, false}},
		"large":   {"blob": strings.Repeat("lorem ipsum dolor sit amet ", 400)},
		"auth":    {"_auth_user_id": "1", "_auth_user_backend": "django.contrib.auth.backends.ModelBackend", "_auth_user_hash": strings.Repeat("ab", 32), "_session_expiry": int64(3600)},
	}
}

func goCodec(key string, fallbacks ...string) codec.Signed {
	return codec.Signed{Key: key, Fallbacks: fallbacks}
}

func TestDjangoWritesGoReads(t *testing.T) {
	for _, dj := range Versions(t) {
		t.Run(dj.Major(), func(t *testing.T) {
			vals := sessionValues()
			var names []string
			var cmds []Cmd
			for name, v := range vals {
				names = append(names, name)
				cmds = append(cmds, Cmd{"op": "encode_session", "data": v})
			}
			res := dj.Run(t, cmds...)
			for i, r := range res {
				name := names[i]
				value, _ := r["value"].(string)
				if value == "" {
					t.Fatalf("%s: Django gave %v", name, r)
				}
				if name == "large" && !strings.HasPrefix(value, ".") {
					t.Errorf("large: Django did not compress")
				}
				d, err := goCodec(secret).Decode([]byte(value))
				if err != nil {
					t.Fatalf("%s: Go cannot decode Django's %q: %v", name, value, err)
				}
				if got, want := Canon(d.Map()), Canon(vals[name]); got != want {
					t.Errorf("%s:\n got %s\nwant %s", name, got, want)
				}
			}
		})
	}
}

func TestGoWritesDjangoReads(t *testing.T) {
	for _, dj := range Versions(t) {
		t.Run(dj.Major(), func(t *testing.T) {
			vals := sessionValues()
			var names []string
			var cmds []Cmd
			// Each value twice: as the server-side engines write it
			// (uncompressed by default) and with Django's own
			// compression rule, which the cookie engine and
			// Settings.CompressAbove use.
			plain, django := goCodec(secret), goCodec(secret)
			django.Compression = codec.DjangoCompression
			for name, v := range vals {
				for _, c := range []struct {
					how   string
					codec codec.Signed
				}{{"uncompressed", plain}, {"Django's compression", django}} {
					b, err := c.codec.Encode(codec.NewDict(v))
					if err != nil {
						t.Fatal(err)
					}
					compressed := strings.HasPrefix(string(b), ".")
					if name == "large" && compressed != (c.how != "uncompressed") {
						t.Errorf("large, %s: compressed is %v", c.how, compressed)
					}
					names = append(names, name+" ("+c.how+")")
					cmds = append(cmds, Cmd{"op": "decode_session", "value": string(b)})
				}
			}
			for i, r := range dj.Run(t, cmds...) {
				name := names[i]
				if r["valid"] != true {
					t.Fatalf("%s: Django rejected Go's data: %v", name, r)
				}
				if got, want := Canon(r["data"]), Canon(vals[strings.Fields(name)[0]]); got != want {
					t.Errorf("%s:\n Django read %s\n  Go wrote %s", name, got, want)
				}
			}
		})
	}
}

// Byte-exact: for data too small to compress, Go writes the very bytes
// Django writes (timestamps aside), key order included.
func TestSameBytesAsDjango(t *testing.T) {
	for _, dj := range Versions(t) {
		t.Run(dj.Major(), func(t *testing.T) {
			d := &codec.Dict{}
			d.Set("name", "Zoë ☃")
			d.Set("n", 1.5)
			d.Set("ok", true)
			d.Set("none", nil)
			d.Set("list", []any{1, 2, 3})
			res := dj.Run(t, Cmd{"op": "encode_session", "data_json": pythonJSON(d)})
			dv := res[0]["value"].(string)
			gv, _ := goCodec(secret).Encode(d)
			// payload:timestamp:signature — the payloads must match.
			if p1, p2 := strings.SplitN(dv, ":", 2)[0], strings.SplitN(string(gv), ":", 2)[0]; p1 != p2 {
				t.Errorf("payload differs:\nDjango %s\n    Go %s", p1, p2)
			}
		})
	}
}

// pythonJSON returns the dict as JSON text in its key order, for Django
// to json.loads into a dict with the same order.
func pythonJSON(d *codec.Dict) string {
	b, _ := codec.MarshalPython(d)
	return string(b)
}

func TestTamperedAndWrongKey(t *testing.T) {
	good, _ := goCodec(secret).Encode(codec.NewDict(map[string]any{"user": "alice"}))
	g := string(good)
	tampered := []string{
		g[:len(g)-2] + "xx", // signature
		"eyJ1c2VyIjoibWFsbG9yeSJ9" + g[strings.Index(g, ":"):], // payload swapped
		strings.Replace(g, ":", ":1", 1),                       // timestamp
		g + "=",
	}
	for _, dj := range Versions(t) {
		t.Run(dj.Major(), func(t *testing.T) {
			var cmds []Cmd
			for _, v := range tampered {
				cmds = append(cmds, Cmd{"op": "decode_session", "value": v})
			}
			cmds = append(cmds, Cmd{"op": "decode_session", "value": g, "secret": "another key"})
			for i, r := range dj.Run(t, cmds...) {
				if r["valid"] != false || Canon(r["data"]) != "{}" {
					t.Errorf("case %d: Django accepted %v", i, r)
				}
			}
			for i, v := range tampered {
				if _, err := goCodec(secret).Decode([]byte(v)); !errors.Is(err, codec.ErrCorrupt) {
					t.Errorf("case %d: Go accepted a tampered value: %v", i, err)
				}
			}
			// Django-signed data under another key: Go refuses.
			res := dj.Run(t, Cmd{"op": "encode_session", "data": map[string]any{"a": 1}, "secret": "another key"})
			if _, err := goCodec(secret).Decode([]byte(res[0]["value"].(string))); !errors.Is(err, signing.ErrBadSignature) {
				t.Errorf("Go accepted Django data signed with another key: %v", err)
			}
		})
	}
}

func TestSecretKeyFallbacks(t *testing.T) {
	for _, dj := range Versions(t) {
		if !dj.HasFallbacks() {
			continue // Django 3.2 has no SECRET_KEY_FALLBACKS
		}
		t.Run(dj.Major(), func(t *testing.T) {
			// Go signs with the old key; Django rotated to a new key with the old as fallback.
			old, _ := goCodec("old key").Encode(codec.NewDict(map[string]any{"user": "alice"}))
			res := dj.Run(t,
				Cmd{"op": "decode_session", "value": string(old), "secret": "new key", "fallbacks": []any{"old key"}},
				Cmd{"op": "decode_session", "value": string(old), "secret": "new key"},
				Cmd{"op": "encode_session", "data": map[string]any{"user": "bob"}, "secret": "old key"},
			)
			if res[0]["valid"] != true || Canon(res[0]["data"]) != `{"user":"alice"}` {
				t.Errorf("Django with fallback: %v", res[0])
			}
			if res[1]["valid"] != false {
				t.Errorf("Django without fallback accepted: %v", res[1])
			}
			// Django signed with the old key; Go rotated.
			d, err := goCodec("new key", "old key").Decode([]byte(res[2]["value"].(string)))
			if err != nil {
				t.Fatalf("Go with fallback: %v", err)
			}
			if v, _ := d.Get("user"); v != "bob" {
				t.Errorf("user = %v", v)
			}
			if _, err := goCodec("new key").Decode([]byte(res[2]["value"].(string))); err == nil {
				t.Error("Go without fallback accepted")
			}
		})
	}
}

func TestSignedCookies(t *testing.T) {
	for _, dj := range Versions(t) {
		t.Run(dj.Major(), func(t *testing.T) {
			cart := map[string]any{"cart": []any{int64(1), int64(2), int64(3)}, "name": "Zoë"}
			cookieCodec := codec.Signed{Key: secret, Salt: cookieSalt, MaxAge: 1209600 * time.Second}
			gv, _ := cookieCodec.Encode(codec.NewDict(cart))
			stale := codec.Signed{Key: secret, Salt: cookieSalt, Now: func() time.Time { return time.Now().Add(-1209700 * time.Second) }}
			sv, _ := stale.Encode(codec.NewDict(cart))
			res := dj.Run(t,
				Cmd{"op": "cookie_session_load", "value": string(gv)},
				Cmd{"op": "cookie_session_load", "value": string(sv)},
				Cmd{"op": "cookie_session_save", "data": cart},
				Cmd{"op": "loads", "value": string(sv), "salt": cookieSalt, "max_age": 1209600},
			)
			if Canon(res[0]["data"]) != Canon(cart) {
				t.Errorf("Django read Go's cookie as %v", res[0])
			}
			if Canon(res[1]["data"]) != "{}" {
				t.Errorf("Django accepted a stale cookie: %v", res[1])
			}
			if res[3].Err() != "SignatureExpired" {
				t.Errorf("Django loads(max_age) of a stale value: %v", res[3])
			}
			d, err := cookieCodec.Decode([]byte(res[2]["value"].(string)))
			if err != nil || Canon(d.Map()) != Canon(cart) {
				t.Errorf("Go read Django's cookie: %v %v", d, err)
			}
			late := cookieCodec
			late.Now = func() time.Time { return time.Now().Add(1209700 * time.Second) }
			if _, err := late.Decode([]byte(res[2]["value"].(string))); !errors.Is(err, signing.ErrSignatureExpired) {
				t.Errorf("Go accepted Django's cookie past its age: %v", err)
			}
		})
	}
}

// Deliberate difference: Django inflates any validly signed zlib payload;
// Go refuses one that decompresses past its limit (4 MiB by default).
func TestDifferenceZipBombRefused(t *testing.T) {
	dj := Versions(t)[0]
	res := dj.Run(t, Cmd{"op": "encode_session", "data": map[string]any{"blob": strings.Repeat("a", 5<<20)}})
	v := res[0]["value"].(string)
	if len(v) > 64<<10 {
		t.Fatalf("Django's compressed value is %d bytes", len(v))
	}
	if _, err := goCodec(secret).Decode([]byte(v)); !errors.Is(err, codec.ErrCorrupt) || !errors.Is(err, signing.ErrTooLarge) {
		t.Fatalf("Go decoded a 5 MiB payload: %v", err)
	}
	big := codec.Signed{Key: secret, MaxSize: 8 << 20}
	if _, err := big.Decode([]byte(v)); err != nil {
		t.Fatalf("with a raised limit: %v", err)
	}
}
