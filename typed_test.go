package sessions_test

import (
	"context"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/memstore"
	"github.com/sessionkit/sessions/internal/testutil"
)

func TestGetConversions(t *testing.T) {
	s := testutil.Manager(t, memstore.New(nil)).NewSession(context.Background())
	big64, _ := new(big.Int).SetString("18446744073709551616", 10)
	s.Update(map[string]any{"i64": int64(42), "f": 1.5, "whole": 3.0, "neg": int64(-1), "big": big64,
		"s": "text", "list": []any{int64(1), int64(2)}, "obj": map[string]any{"name": "Ann", "age": int64(30)}})

	if v, ok := sessions.Get[int](s, "i64"); !ok || v != 42 {
		t.Errorf("int from int64: %v %v", v, ok)
	}
	if v, ok := sessions.Get[float64](s, "i64"); !ok || v != 42 {
		t.Errorf("float64 from int64: %v %v", v, ok)
	}
	if v, ok := sessions.Get[int](s, "whole"); !ok || v != 3 {
		t.Errorf("int from 3.0: %v %v", v, ok)
	}
	if _, ok := sessions.Get[int](s, "f"); ok {
		t.Error("1.5 converted to int")
	}
	if _, ok := sessions.Get[uint](s, "neg"); ok {
		t.Error("-1 converted to uint")
	}
	if _, ok := sessions.Get[int8](s, "big"); ok {
		t.Error("2^64 converted to int8")
	}
	if v, ok := sessions.Get[*big.Int](s, "big"); !ok || v.Cmp(big64) != 0 {
		t.Errorf("big: %v", v)
	}
	if v, ok := sessions.Get[*big.Int](s, "i64"); !ok || v.Int64() != 42 {
		t.Errorf("big from int64: %v", v)
	}
	if _, ok := sessions.Get[int](s, "s"); ok {
		t.Error("string converted to int")
	}
	if v, ok := sessions.Get[[]int](s, "list"); !ok || len(v) != 2 || v[1] != 2 {
		t.Errorf("[]int: %v", v)
	}
	type person struct {
		Name string `json:"name"`
		Age  int    `json:"age"`
	}
	if v, ok := sessions.Get[person](s, "obj"); !ok || v.Name != "Ann" || v.Age != 30 {
		t.Errorf("struct: %+v", v)
	}
	if _, ok := sessions.Get[string](s, "missing"); ok {
		t.Error("missing key ok")
	}
	if v, ok := sessions.Get[any](s, "s"); !ok || v != "text" {
		t.Error("any")
	}
}

func FuzzValidKey(f *testing.F) {
	for _, k := range []string{"", "abcdefgh", "../../etc/passwd", sessions.NewKey(), "ABCDEFGH"} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, k string) {
		if !sessions.ValidKey(k) {
			return
		}
		if len(k) < 8 || len(k) > 40 {
			t.Fatalf("accepted length %d", len(k))
		}
		for _, c := range k {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
				t.Fatalf("accepted %q", k)
			}
		}
	})
}

func TestNewKey(t *testing.T) {
	seen := map[string]bool{}
	counts := map[rune]int{}
	for range 2000 {
		k := sessions.NewKey()
		if len(k) != 32 || !sessions.ValidKey(k) || seen[k] {
			t.Fatalf("bad or repeated key %q", k)
		}
		seen[k] = true
		for _, c := range k {
			counts[c]++
		}
	}
	// 64,000 characters over 36 symbols: about 1778 each; a biased draw
	// (e.g. modulo bias) would skew the first symbols well beyond this.
	for c, n := range counts {
		if n < 1500 || n > 2060 {
			t.Errorf("symbol %q drawn %d times", c, n)
		}
	}
	if len(counts) != 36 {
		t.Errorf("%d symbols used", len(counts))
	}
}

// TestGetRefusesSilentChanges: Get never rounds a number or rewrites a
// string to make it fit: a float target that cannot hold an integer
// exactly, a float32 that cannot hold a float64, and a lone surrogate
// (Django's "\ud800", as the codecs read it) inside a composite value
// do not convert, where encoding/json alone would have changed them.
func TestGetRefusesSilentChanges(t *testing.T) {
	s := testutil.Manager(t, memstore.New(nil)).NewSession(context.Background())
	s.Update(map[string]any{"odd": int64(1<<53 + 1), "even": int64(1 << 53), "tenth": 0.1, "half": 0.5,
		"lone": []any{"a\xed\xa0\x80b"}, "loneKey": map[string]any{"\xed\xa0\x80": "x"}, "fine": []any{"a", "b"}})
	if v, ok := sessions.Get[float64](s, "odd"); ok {
		t.Errorf("2^53+1 converted to float64 %v", v)
	}
	if v, ok := sessions.Get[float64](s, "even"); !ok || v != 1<<53 {
		t.Errorf("2^53 to float64: %v %v", v, ok)
	}
	if v, ok := sessions.Get[float32](s, "tenth"); ok {
		t.Errorf("0.1 converted to float32 %v", v)
	}
	if v, ok := sessions.Get[float32](s, "half"); !ok || v != 0.5 {
		t.Errorf("0.5 to float32: %v %v", v, ok)
	}
	if v, ok := sessions.Get[[]string](s, "lone"); ok {
		t.Errorf("a lone surrogate converted to %q", v)
	}
	if v, ok := sessions.Get[map[string]string](s, "loneKey"); ok {
		t.Errorf("a lone surrogate key converted to %q", v)
	}
	if v, ok := sessions.Get[[]string](s, "fine"); !ok || len(v) != 2 {
		t.Errorf("[]string: %v %v", v, ok)
	}
	if _, err := sessions.Typed[float64]("odd").Get(s); !errors.Is(err, sessions.ErrWrongType) || !strings.Contains(err.Error(), "exactly") {
		t.Errorf("Typed: %v", err)
	}
}
