package pickle

import (
	"bytes"
	"fmt"
	"math/big"
	"testing"

	ogrek "github.com/kisielk/og-rek"

	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/codec/pickle"
	"github.com/sessionkit/sessions/internal/valuegen"
)

// TestOgRekReadsEncoded decodes the codec's output with an independent
// decoder, github.com/kisielk/og-rek, for random sessions inside what the
// codec accepts and og-rek v1.3 reads correctly (it misreads LONG1
// integers of 128 bytes or more and has no LONG4; see the codec/pickle
// package documentation).
func TestOgRekReadsEncoded(t *testing.T) {
	limits := valuegen.Limits{MaxDepth: pickle.MaxDepth}
	for _, seed := range valuegen.Seeds(t) {
		g := valuegen.New(seed, limits)
		checked := 0
		for i := range 300 {
			d := &codec.Dict{}
			want := make(map[string]any)
			skip := false
			for j := range g.R.IntN(8) {
				k := fmt.Sprintf("k%d", j)
				if g.R.IntN(4) == 0 {
					k = g.Key(false)
				}
				v := g.Value(1, false)
				if valuegen.Fault(k, 0, limits) != "" || valuegen.Fault(v, 1, limits) != "" {
					skip = true // the codec refuses it (pickle's own tests check how)
				}
				d.Set(k, v)
				want[k] = valuegen.Normalize(v, false)
				if hasHugeInt(want[k]) {
					skip = true
				}
			}
			if skip {
				continue
			}
			b, err := pickle.Codec{MaxSize: -1}.Encode(d)
			if err != nil {
				t.Fatalf("seed %d, session %d: %v", seed, i, err)
			}
			v, err := ogrek.NewDecoder(bytes.NewReader(b)).Decode()
			if err != nil {
				t.Fatalf("seed %d, session %d: og-rek: %v", seed, i, err)
			}
			got, err := fromOgRek(v)
			if err != nil {
				t.Fatalf("seed %d, session %d: %v", seed, i, err)
			}
			if !valuegen.Equal(got, want) {
				t.Fatalf("seed %d, session %d: og-rek read\n%#v\nwant\n%#v", seed, i, got, want)
			}
			checked++
		}
		t.Logf("seed %d: %d pickles read by og-rek", seed, checked)
		if checked < 150 {
			t.Errorf("seed %d: only %d of 300 sessions checked: the generator is off", seed, checked)
		}
	}
}

// hasHugeInt reports whether a normalized value holds an integer of 128
// bytes or more, which og-rek v1.3 misreads.
func hasHugeInt(v any) bool {
	switch x := v.(type) {
	case *big.Int:
		return x.BitLen() >= 1000
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

// fromOgRek converts og-rek's types to the normalized ones valuegen
// compares.
func fromOgRek(v any) (any, error) {
	switch x := v.(type) {
	case ogrek.None:
		return nil, nil
	case *big.Int:
		if x.IsInt64() {
			return x.Int64(), nil
		}
		return x, nil
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
