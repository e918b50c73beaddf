package pickle

import (
	"bytes"
	"fmt"
	"math/big"
	"math/rand/v2"
	"testing"

	ogrek "github.com/kisielk/og-rek"
	"github.com/sessionkit/sessions/codec"
)

// TestOgRekReadsEncoded decodes Encode's output with an independent
// decoder, github.com/kisielk/og-rek, for values inside what og-rek v1.3
// reads correctly (it misreads LONG1 integers of 128 bytes or more and
// has no LONG4; see the package documentation).
func TestOgRekReadsEncoded(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	checked := 0
	for range 300 {
		d := randomDict(rng, false)
		if hasHugeInt(d) {
			continue
		}
		b, err := Codec{MaxSize: -1}.Encode(d)
		if err != nil {
			t.Fatal(err)
		}
		v, err := ogrek.NewDecoder(bytes.NewReader(b)).Decode()
		if err != nil {
			t.Fatalf("og-rek: %v", err)
		}
		got, err := fromOgRek(v)
		if err != nil {
			t.Fatal(err)
		}
		want := normalize(d).(*codec.Dict).Map()
		if !equalValue(got, want) {
			t.Fatalf("og-rek read\n%#v\nwant\n%#v", got, want)
		}
		checked++
	}
	t.Logf("%d pickles read by og-rek", checked)
}

func hasHugeInt(v any) bool {
	switch x := v.(type) {
	case *big.Int:
		return x.BitLen() >= 1000
	case *codec.Dict:
		for _, e := range x.All() {
			if hasHugeInt(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if hasHugeInt(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range x {
			if hasHugeInt(e) {
				return true
			}
		}
	}
	return false
}

// fromOgRek converts og-rek's types to the codec's.
func fromOgRek(v any) (any, error) {
	switch x := v.(type) {
	case ogrek.None:
		return nil, nil
	case *big.Int:
		return normInt(x), nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			var err error
			if out[i], err = fromOgRek(e); err != nil {
				return nil, err
			}
		}
		return out, nil
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("og-rek key %T", k)
			}
			ev, err := fromOgRek(e)
			if err != nil {
				return nil, err
			}
			out[ks] = ev
		}
		return out, nil
	case bool, int64, float64, string:
		return v, nil
	}
	return nil, fmt.Errorf("og-rek value %T", v)
}
