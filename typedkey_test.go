package sessions_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/memstore"
	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/internal/testutil"
)

type item struct {
	SKU string `json:"sku"`
	Qty int    `json:"qty"`
}

var (
	cartKey  = sessions.Typed[[]item]("cart")
	countKey = sessions.Typed[int]("count")
)

// jsonManager stores bare JSON, so a test can compare the stored bytes
// with what Python's json.dumps writes.
func jsonManager(t *testing.T) (*sessions.Manager, *memstore.Store) {
	st := memstore.New(nil)
	s := testutil.Settings()
	s.Codec = codec.JSON{}
	m, err := sessions.New(st, s)
	if err != nil {
		t.Fatal(err)
	}
	return m, st
}

func TestTypedKeyRoundTripStoredAsDjango(t *testing.T) {
	ctx := context.Background()
	m, st := jsonManager(t)
	s := m.NewSession(ctx)
	cart := []item{{"apple", 2}, {"pear", 1}}
	if err := cartKey.Set(s, cart); err != nil {
		t.Fatal(err)
	}
	if err := countKey.Set(s, 3); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx); err != nil {
		t.Fatal(err)
	}
	raw, err := st.Load(ctx, s.Key())
	if err != nil {
		t.Fatal(err)
	}
	// json.dumps({"cart": [{"sku": "apple", "qty": 2}, ...], "count": 3}, separators=(",", ":")):
	// a struct's fields in their order, as encoding/json writes them.
	if want := `{"cart":[{"sku":"apple","qty":2},{"sku":"pear","qty":1}],"count":3}`; string(raw) != want {
		t.Errorf("stored %s\nwant   %s", raw, want)
	}

	// The same bytes as the untyped Set of the same value.
	u := m.NewSession(ctx)
	u.Set("cart", cart)
	u.Set("count", 3)
	if err := u.Save(ctx); err != nil {
		t.Fatal(err)
	}
	if raw2, _ := st.Load(ctx, u.Key()); string(raw2) != string(raw) {
		t.Errorf("untyped Set stored %s", raw2)
	}

	next := m.Load(ctx, s.Key())
	got, err := cartKey.Get(next)
	if err != nil || len(got) != 2 || got[0] != cart[0] || got[1] != cart[1] {
		t.Fatalf("Get = %v, %v", got, err)
	}
	if n, err := countKey.Get(next); n != 3 || err != nil {
		t.Fatalf("count = %v, %v", n, err)
	}
}

func TestTypedKeyAbsent(t *testing.T) {
	s := testutil.Manager(t, memstore.New(nil)).NewSession(context.Background())
	got, err := cartKey.Get(s)
	if got != nil || err != nil {
		t.Errorf("Get = %v, %v", got, err)
	}
	if _, ok, err := cartKey.Lookup(s); ok || err != nil {
		t.Errorf("Lookup = %v, %v", ok, err)
	}
	if _, ok, err := cartKey.Pop(s); ok || err != nil || s.Modified() {
		t.Errorf("Pop = %v, %v, modified %v", ok, err, s.Modified())
	}
	if cartKey.Has(s) || cartKey.Delete(s) {
		t.Error("Has or Delete of an absent key")
	}
}

// A value written by another version of the application, or by Django, is
// a clear error that names the key and the types but never the value.
func TestTypedKeyWrongType(t *testing.T) {
	s := testutil.Manager(t, memstore.New(nil)).NewSession(context.Background())
	for _, tc := range []struct {
		stored  any
		key     interface{ Name() string }
		get     func(*sessions.Session) error
		message []string
		secret  string
	}{
		{"apple,pear-secret", cartKey, func(s *sessions.Session) error { _, err := cartKey.Get(s); return err },
			[]string{`"cart"`, "a string", "[]sessions_test.item"}, "apple,pear-secret"},
		{[]any{map[string]any{"sku": "a", "qty": "two-secret"}}, cartKey, func(s *sessions.Session) error { _, err := cartKey.Get(s); return err },
			[]string{`"cart"`, "an array", "qty", "string"}, "two-secret"},
		{1.5, countKey, func(s *sessions.Session) error { _, err := countKey.Get(s); return err },
			[]string{`"count"`, "a number", "int"}, "1.5"},
		{int64(1) << 40, sessions.Typed[int8]("count"), func(s *sessions.Session) error { _, err := sessions.Typed[int8]("count").Get(s); return err },
			[]string{"int8"}, "1099511627776"},
		{nil, countKey, func(s *sessions.Session) error { _, err := countKey.Get(s); return err },
			[]string{`"count"`, "null", "int"}, ""},
		{math.NaN(), countKey, func(s *sessions.Session) error { _, err := countKey.Get(s); return err },
			[]string{"NaN"}, ""},
		{map[string]any{"sku": "x"}, cartKey, func(s *sessions.Session) error { _, _, err := cartKey.Lookup(s); return err },
			[]string{"an object"}, ""},
	} {
		s.Set(tc.key.Name(), tc.stored)
		err := tc.get(s)
		if !errors.Is(err, sessions.ErrWrongType) {
			t.Errorf("%v: error %v, want ErrWrongType", tc.stored, err)
			continue
		}
		for _, want := range tc.message {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%v: %q lacks %q", tc.stored, err, want)
			}
		}
		if tc.secret != "" && strings.Contains(err.Error(), tc.secret) {
			t.Errorf("%v: the error shows the value: %q", tc.stored, err)
		}
	}
	// The details stay reachable for code that wants them.
	s.Set("cart", []any{map[string]any{"qty": "two"}})
	_, err := cartKey.Get(s)
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) || te.Field == "" {
		t.Errorf("errors.As(*json.UnmarshalTypeError) = %v", te)
	}
}

func TestTypedKeyNull(t *testing.T) {
	s := testutil.Manager(t, memstore.New(nil)).NewSession(context.Background())
	s.Set("cart", nil) // Python's None
	got, ok, err := cartKey.Lookup(s)
	if got != nil || !ok || err != nil {
		t.Errorf("null into a slice: %v %v %v", got, ok, err)
	}
	p := sessions.Typed[*item]("cart")
	if v, err := p.Get(s); v != nil || err != nil {
		t.Errorf("null into a pointer: %v %v", v, err)
	}
}

// Get[T] gave 0, true for a stored NaN.
func TestGetNaNIsNotZero(t *testing.T) {
	s := testutil.Manager(t, memstore.New(nil)).NewSession(context.Background())
	s.Set("x", math.NaN())
	s.Set("list", []any{1.0, math.Inf(1)})
	if v, ok := sessions.Get[int](s, "x"); ok {
		t.Errorf("Get[int](NaN) = %v, true", v)
	}
	if v, ok := sessions.Get[[]float64](s, "list"); ok {
		t.Errorf("Get[[]float64]([1, Infinity]) = %v, true", v)
	}
	if v, ok := sessions.Get[float64](s, "x"); !ok || !math.IsNaN(v) {
		t.Errorf("Get[float64](NaN) = %v, %v", v, ok)
	}
}

func TestTypedKeyPop(t *testing.T) {
	s := testutil.Manager(t, memstore.New(nil)).NewSession(context.Background())
	cartKey.Set(s, []item{{"apple", 1}})
	got, ok, err := cartKey.Pop(s)
	if !ok || err != nil || len(got) != 1 || got[0].SKU != "apple" {
		t.Fatalf("Pop = %v %v %v", got, ok, err)
	}
	if cartKey.Has(s) || !s.Modified() {
		t.Error("Pop did not remove the key or mark the session")
	}

	fresh := testutil.Manager(t, memstore.New(nil)).NewSession(context.Background())
	fresh.Set("cart", "not a cart")
	if _, ok, err := cartKey.Pop(fresh); !ok || !errors.Is(err, sessions.ErrWrongType) {
		t.Fatalf("Pop of a wrong type: %v %v", ok, err)
	}
	if fresh.Get("cart") != "not a cart" {
		t.Error("Pop removed a value it could not return")
	}
	if !cartKey.Delete(fresh) || cartKey.Has(fresh) {
		t.Error("Delete")
	}
}

type opaque struct{ a, b int }

type withChan struct {
	Name string
	C    chan int
}

type hidden struct {
	Name string `json:"-"`
	n    int
}

// lossy writes a JSON form that its (default) decoding does not read back.
type lossy struct{ N int }

func (l lossy) MarshalJSON() ([]byte, error) { return []byte(`"n"`), nil }

// TestTypedKeySetRefusesWhatDoesNotRoundTrip: Set fails at once with
// codec.ErrUnencodable, and leaves the session unchanged.
func TestTypedKeySetRefusesWhatDoesNotRoundTrip(t *testing.T) {
	check := func(name string, set func(*sessions.Session) error, want string) {
		t.Helper()
		s := testutil.Manager(t, memstore.New(nil)).NewSession(context.Background())
		err := set(s)
		if !errors.Is(err, codec.ErrUnencodable) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want ErrUnencodable mentioning %q", name, err, want)
		}
		if s.Len() != 0 || s.Modified() {
			t.Errorf("%s: the session changed", name)
		}
	}
	check("NaN", func(s *sessions.Session) error { return sessions.Typed[float64]("x").Set(s, math.NaN()) }, "NaN")
	check("Inf in a slice", func(s *sessions.Session) error {
		return sessions.Typed[[]float64]("x").Set(s, []float64{1, math.Inf(-1)})
	}, "unsupported value")
	check("unexported fields only", func(s *sessions.Session) error {
		return sessions.Typed[opaque]("x").Set(s, opaque{1, 2})
	}, "no field that JSON stores")
	check("unexported fields only, in a slice", func(s *sessions.Session) error {
		return sessions.Typed[[]opaque]("x").Set(s, nil)
	}, "no field that JSON stores")
	check("all hidden", func(s *sessions.Session) error {
		return sessions.Typed[hidden]("x").Set(s, hidden{"a", 1})
	}, "no field that JSON stores")
	check("channel field", func(s *sessions.Session) error {
		return sessions.Typed[withChan]("x").Set(s, withChan{Name: "a"})
	}, "chan int")
	check("struct map keys", func(s *sessions.Session) error {
		return sessions.Typed[map[item]int]("x").Set(s, map[item]int{})
	}, "map keys")
	check("any holding a func", func(s *sessions.Session) error {
		return sessions.Typed[any]("x").Set(s, func() {})
	}, "func")
	check("asymmetric MarshalJSON", func(s *sessions.Session) error {
		return sessions.Typed[lossy]("x").Set(s, lossy{1})
	}, "does not read back")
}

func TestTypedKeySetAccepts(t *testing.T) {
	ctx := context.Background()
	m, _ := jsonManager(t)
	s := m.NewSession(ctx)
	when := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	type profile struct {
		Name   string            `json:"name"`
		Joined time.Time         `json:"joined"`
		Tags   map[string]int    `json:"tags"`
		Ptr    *int              `json:"ptr"`
		Big    uint64            `json:"big"`
		F      float32           `json:"f"`
		Extra  map[int]string    `json:"extra,omitempty"`
		Any    any               `json:"any"`
		Nested map[string][]item `json:"nested"`
		_      int
	}
	key := sessions.Typed[profile]("profile")
	seven := 7
	in := profile{Name: "Ann", Joined: when, Tags: map[string]int{"a": 1}, Ptr: &seven, Big: math.MaxUint64, F: 0.1,
		Extra: map[int]string{3: "x"}, Any: []any{"x", 1.5}, Nested: map[string][]item{"k": {{"s", 1}}}}
	if err := key.Set(s, in); err != nil {
		t.Fatal(err)
	}
	// The session holds the JSON form, a copy.
	in.Tags["a"] = 99
	if _, ok := s.Get("profile").(map[string]any); !ok {
		t.Errorf("stored %T, want the JSON form", s.Get("profile"))
	}
	if err := s.Save(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := key.Get(m.Load(ctx, s.Key()))
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "Ann" || !got.Joined.Equal(when) || got.Tags["a"] != 1 || *got.Ptr != 7 || got.Big != math.MaxUint64 ||
		got.F != 0.1 || got.Extra[3] != "x" || got.Nested["k"][0].SKU != "s" {
		t.Errorf("got %+v", got)
	}
	// A struct with unexported fields beside stored ones is fine, as is
	// the empty struct.
	if err := sessions.Typed[struct{}]("e").Set(s, struct{}{}); err != nil {
		t.Error(err)
	}
	if err := sessions.Typed[float64]("f").Set(s, 1); err != nil {
		t.Error(err)
	}
	if v, err := sessions.Typed[float64]("f").Get(s); v != 1 || err != nil {
		t.Error(v, err)
	}
}

// Data written by Django: extra keys are ignored, as encoding/json does.
func TestTypedKeyReadsDjangoData(t *testing.T) {
	ctx := context.Background()
	m, st := jsonManager(t)
	key := sessions.NewKey()
	if err := st.Create(ctx, key, []byte(`{"cart":[{"sku":"apple","qty":2,"added":"2024-01-01"}]}`), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, err := cartKey.Get(m.Load(ctx, key))
	if err != nil || len(got) != 1 || got[0] != (item{"apple", 2}) {
		t.Fatalf("%v %v", got, err)
	}
}

// loadFailing fails every Load with a store error.
type loadFailing struct{ *memstore.Store }

var errStoreDown = errors.New("store down")

func (loadFailing) Load(context.Context, string) ([]byte, error) { return nil, errStoreDown }

func TestTypedKeyReportsLoadFailure(t *testing.T) {
	m, err := sessions.New(loadFailing{memstore.New(nil)}, testutil.Settings())
	if err != nil {
		t.Fatal(err)
	}
	s := m.Load(context.Background(), sessions.NewKey())
	if _, err := cartKey.Get(s); !errors.Is(err, errStoreDown) {
		t.Errorf("Get on a session the store could not load: %v", err)
	}
}

func TestTypedKeyString(t *testing.T) {
	if got := cartKey.String(); got != `"cart" ([]sessions_test.item)` {
		t.Error(got)
	}
}
