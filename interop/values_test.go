package interop

import (
	"math/big"
	"strings"
	"testing"

	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/signing"
)

// djangoValues is a session as Django's views would build it, as JSON text
// for json.loads (which keeps the key order and lone surrogates): a lone
// surrogate, nested dicts in insertion order (not sorted), a value nested
// 200 deep, and numbers Python spells its own way.
func djangoValues(prefs string) string {
	deep := strings.Repeat("[", 200) + `{"z":1,"a":[]}` + strings.Repeat("]", 200)
	return `{"_auth_user_id":"42","s":"x\ud800y","lows":"\udc00|\udbff","pair":"\ud83d\ude00",` +
		`"prefs":` + prefs + `,` +
		`"cart":{"items":[{"sku":"B-2","qty":2},{"sku":"A-1","qty":1}],"total":1e+16,"note":"Zo\u00eb \u2603","tiny":1e-07},` +
		`"deep":` + deep + `,"big":18446744073709551616,"f":100.0,"nan":NaN}`
}

const djangoPrefs = `{"zebra":1,"apple":{"z":[1,{"y":2,"b":3}],"a":"\udfff"},"mango":null,"kiwi":0.1}`

// sessionJSON is the JSON inside a signed session value.
func sessionJSON(t *testing.T, value string) string {
	t.Helper()
	b, err := signing.LoadsBytes(value, signing.Options{Key: secret, Salt: codec.DjangoSessionSalt})
	if err != nil {
		t.Fatalf("%.40s...: %v", value, err)
	}
	return string(b)
}

// djangoEncode has Django store a session (SessionStore.encode, what the
// db, file and cached_db engines write) and returns the value and its JSON.
func djangoEncode(t *testing.T, dj Django, dataJSON string) (string, string) {
	t.Helper()
	r := dj.Run(t, Cmd{"op": "encode_session", "data_json": dataJSON})[0]
	v, _ := r["value"].(string)
	if v == "" {
		t.Fatalf("Django: %v", r)
	}
	return v, sessionJSON(t, v)
}

// djangoRead has Django decode a session value and returns what it read,
// as its JSON serializer writes it.
func djangoRead(t *testing.T, dj Django, value string) string {
	t.Helper()
	r := dj.Run(t, Cmd{"op": "decode_session_json", "value": value})[0]
	j, ok := r["json"].(string)
	if !ok {
		t.Fatalf("Django: %v", r)
	}
	return j
}

// TestGoEditKeepsDjangoValues: Django stores a session; Go loads it, sets
// one unrelated key and saves. The stored JSON differs from Django's only
// by that key; and Django reads Go's session exactly.
func TestGoEditKeepsDjangoValues(t *testing.T) {
	for _, dj := range Versions(t) {
		t.Run(dj.Major(), func(t *testing.T) {
			value, djJSON := djangoEncode(t, dj, djangoValues(djangoPrefs))
			d, err := goCodec(secret).Decode([]byte(value))
			if err != nil {
				t.Fatal(err)
			}
			if s, _ := d.Get("s"); s != "x\xed\xa0\x80y" {
				t.Errorf("s = %q, want the lone surrogate kept", s)
			}
			if p, _ := d.Get("prefs"); len(p.(map[string]any)) != 4 {
				t.Errorf("prefs = %#v: Get gives a map[string]any", p)
			}
			// Reading every value changes nothing.
			for _, k := range d.Keys() {
				d.Get(k)
			}
			d.Set("go_key", "set by Go")
			b, err := goCodec(secret).Encode(d)
			if err != nil {
				t.Fatal(err)
			}
			goJSON := sessionJSON(t, string(b))
			if want := strings.TrimSuffix(djJSON, "}") + `,"go_key":"set by Go"}`; goJSON != want {
				t.Errorf("Go's edit changed more than its key:\nDjango %s\n    Go %s", djJSON, goJSON)
			}
			if got := djangoRead(t, dj, string(b)); got != goJSON {
				t.Errorf("Django reads Go's session differently:\nDjango read %s\n   Go wrote %s", got, goJSON)
			}
		})
	}
}

// TestGoEditOfNestedDictKeepsOrder: Go reads a nested dict Django stored,
// changes it and sets it back. The JSON is exactly what Django writes for
// the same edit: the dict keeps its order, the new key comes last, a lone
// surrogate Go did not touch stays.
func TestGoEditOfNestedDictKeepsOrder(t *testing.T) {
	for _, dj := range Versions(t) {
		t.Run(dj.Major(), func(t *testing.T) {
			value, _ := djangoEncode(t, dj, djangoValues(djangoPrefs))
			d, err := goCodec(secret).Decode([]byte(value))
			if err != nil {
				t.Fatal(err)
			}
			v, _ := d.Get("prefs")
			prefs := v.(map[string]any)
			prefs["zebra"] = int64(2)
			prefs["banana"] = true
			prefs["apple"].(map[string]any)["m"] = "é"
			d.Set("prefs", prefs)
			b, err := goCodec(secret).Encode(d)
			if err != nil {
				t.Fatal(err)
			}
			// The same edit in Python: the dict keeps its order, new keys
			// are appended.
			const edited = `{"zebra":2,"apple":{"z":[1,{"y":2,"b":3}],"a":"\udfff","m":"\u00e9"},"mango":null,"kiwi":0.1,"banana":true}`
			_, want := djangoEncode(t, dj, djangoValues(edited))
			if got := sessionJSON(t, string(b)); got != want {
				t.Errorf("Go's edit differs from Django's:\nDjango %s\n    Go %s", want, got)
			}
		})
	}
}

// TestDjangoReadsGoValuesExactly: values Go writes, lone surrogates and
// nesting included, are what Django reads, byte for byte once Django
// serializes them again.
func TestDjangoReadsGoValuesExactly(t *testing.T) {
	type item struct {
		SKU string `json:"sku"`
		Qty int    `json:"qty"`
	}
	var deep any = map[string]any{"leaf": "x\xed\xb0\x80"}
	for range codec.MaxDepth - 2 { // with the session dict: MaxDepth levels
		deep = []any{deep}
	}
	big2, _ := new(big.Int).SetString("-123456789012345678901234567890", 10)
	d := &codec.Dict{}
	d.Set("lone", "a\xed\xa0\x80b\xed\xbf\xbfc") // "a\ud800b\udfffc"
	d.Set("astral", "😀 Zoë")
	d.Set("items", []item{{"Z-9", 1}, {"A-1", 2}}) // struct fields in declaration order
	d.Set("prefs", map[string]any{"zebra": 1, "apple": []any{nil, true, 1.5, 1e16, 1e-7}})
	d.Set("deep", deep) // the deepest nesting both accept
	d.Set("big", big2)
	d.Set("digits", new(big.Int).Exp(big.NewInt(10), big.NewInt(codec.MaxIntDigits-1), nil))
	b, err := goCodec(secret).Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	goJSON := sessionJSON(t, string(b))
	for _, dj := range Versions(t) {
		t.Run(dj.Major(), func(t *testing.T) {
			if got := djangoRead(t, dj, string(b)); got != goJSON {
				t.Errorf("Django read Go's values differently:\nDjango %.300s\n    Go %.300s", got, goJSON)
			}
		})
	}
	// What Go refuses, it refuses at save, naming the key.
	for name, v := range map[string]any{"bad": "a\xffb", "toodeep": []any{deep}} {
		if _, err := goCodec(secret).Encode(codec.NewDict(map[string]any{name: v})); err == nil || !strings.Contains(err.Error(), `"`+name+`"`) {
			t.Errorf("%s: Encode error %v", name, err)
		}
	}
}
