package pickle

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"testing"

	"github.com/sessionkit/sessions/codec"
)

// slowSession is Decode without the fast path: the general decoder.
func slowSession(data []byte) (*codec.Dict, error) {
	v, err := load(data)
	if err != nil {
		return nil, err
	}
	root, ok := v.(*pyDict)
	if !ok {
		return nil, corruptf("not a dict")
	}
	return newConverter(len(data)).sessionDict(root)
}

// sameAsSlow checks that where the fast path answers, the general decoder
// answers the same: the same entries, the same key orders (nested maps
// included), which the re-encodings show byte for byte.
func sameAsSlow(t *testing.T, name string, data []byte) (fast bool) {
	t.Helper()
	sameAsEager(t, name, data)
	got, ok := fastSession(data)
	if !ok {
		return false
	}
	want, err := slowSession(data)
	if err != nil {
		t.Fatalf("%s: the fast path decoded what the general decoder refuses (%v)", name, err)
	}
	sameSession(t, name, "the fast path", got, "the general decoder", want)
	return true
}

// sameSession checks that two decodes of one pickle hold the same
// session: the same entries, the same key orders (nested maps included),
// which their re-encodings show byte for byte.
func sameSession(t *testing.T, name, gotBy string, got *codec.Dict, wantBy string, want *codec.Dict) {
	t.Helper()
	gb, err := Codec{MaxSize: -1}.Encode(got)
	if err != nil {
		t.Fatalf("%s: re-encoding %s's result: %v", name, gotBy, err)
	}
	wb, err := Codec{MaxSize: -1}.Encode(want)
	if err != nil {
		t.Fatalf("%s: re-encoding %s's result: %v", name, wantBy, err)
	}
	if !bytes.Equal(gb, wb) {
		t.Fatalf("%s: %s and %s differ:\n %x\n %x", name, gotBy, wantBy, gb, wb)
	}
	equalDict(t, name, got, want)
}

// sameAsEager checks that where checking takes a pickle, building its
// values one by one, in any order and after any reads, gives what the
// eager fast path gives; and that checking refuses, for a reason other
// than the split (notLazy), only what the eager fast path refuses too.
func sameAsEager(t *testing.T, name string, data []byte) {
	t.Helper()
	lazy, ok, notLazy := lazySession(data)
	eager, eagerOK := eagerSession(data)
	switch {
	case !ok && !notLazy && eagerOK:
		t.Fatalf("%s: checking refuses what the eager fast path takes", name)
	case !ok:
		return
	case !eagerOK:
		t.Fatalf("%s: checking takes what the eager fast path refuses", name)
	}
	// Read some values first (a subset that depends on the data), delete
	// one and replace another, then encode, which builds the rest.
	h := fnv.New32a()
	h.Write(data)
	pick := h.Sum32()
	keys := eager.Keys()
	if n := len(keys); n > 1 {
		del, set := keys[int(pick)%n], keys[int(pick/7)%n]
		for _, d := range []*codec.Dict{lazy, eager} {
			d.Delete(del)
			d.Set(set, "replaced")
		}
		keys = eager.Keys()
	}
	for i := len(keys) - 1; i >= 0; i-- {
		if pick>>(uint(i)%32)&1 == 1 {
			g, _ := lazy.Get(keys[i])
			w, _ := eager.Get(keys[i])
			if !equalValue(g, w) {
				t.Fatalf("%s: %q read first: %#v, eager %#v", name, keys[i], g, w)
			}
		}
	}
	sameSession(t, name, "the lazy build", lazy, "the eager fast path", eager)
}

// TestLazyBuildsWhatIsRead checks that decoding a session and reading one
// small value costs a few allocations, not those of the 2,000-item cart
// beside it (about 10,000 when built). The bound leaves room for the race
// detector, under which sync.Pool drops decoders: about 20 without it.
func TestLazyBuildsWhatIsRead(t *testing.T) {
	data, err := Codec{}.Encode(largeSession())
	if err != nil {
		t.Fatal(err)
	}
	if testing.AllocsPerRun(1, func() { eagerSession(data) }) < 2000 {
		t.Fatal("the eager decode of the large session is cheaper than this test assumes")
	}
	allocs := testing.AllocsPerRun(20, func() {
		d, err := Codec{}.Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := d.Get("_auth_user_id"); v != "1042" {
			t.Fatalf("_auth_user_id = %v", v)
		}
	})
	if allocs > 100 {
		t.Errorf("decoding the large session and reading the user: %.0f allocations, want at most 100", allocs)
	}
	d, err := Codec{}.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if cart, _ := d.Get("cart"); len(cart.([]any)) != 2000 {
		t.Errorf("the cart, read afterwards, has %d items", len(cart.([]any)))
	}
}

// TestLazyKeepsNoBuffer checks that values built after Decode returned
// do not come from the caller's buffer, which it may reuse.
func TestLazyKeepsNoBuffer(t *testing.T) {
	data, err := Codec{}.Encode(largeSession())
	if err != nil {
		t.Fatal(err)
	}
	buf := bytes.Clone(data)
	d, err := Codec{}.Decode(buf)
	if err != nil {
		t.Fatal(err)
	}
	for i := range buf {
		buf[i] = 'X'
	}
	want, _ := eagerSession(data)
	equalDict(t, "after the buffer was reused", d, want)
}

// TestLazyFallsBack checks the pickles that checking does not split (a
// memo entry written twice, a root made by MARK ... DICT): they decode
// whole, on the eager fast path, to the general decoder's result.
func TestLazyFallsBack(t *testing.T) {
	for name, data := range map[string][]byte{
		// {"a": "x", "b": "y"}, both values put in memo slot 0.
		"memo written twice": []byte("\x80\x05}\x94(\x8c\x01a\x8c\x01xq\x01\x8c\x01b\x8c\x01yq\x01u."),
		// MARK "a" "x" DICT
		"root from DICT": []byte("\x80\x02(\x8c\x01a\x8c\x01xd."),
	} {
		if _, ok, notLazy := lazySession(data); ok || !notLazy {
			t.Errorf("%s: checking gave ok %v, notLazy %v; want it to leave the pickle to the eager path", name, ok, notLazy)
		}
		if !sameAsSlow(t, name, data) {
			t.Errorf("%s: left the fast path", name)
		}
	}
}

// TestFastPathTaken checks that CPython's pickles of sessions (protocols
// 2 to 5) take the fast path and decode as the general decoder does, and
// that what only the general decoder reads (protocols 0 and 1, shared
// lists, non-str keys) still decodes.
func TestFastPathTaken(t *testing.T) {
	mustFast := []string{"session/2", "session/3", "session/4", "session/5", "session_lists/5", "reference/5", "big_ints/5", "surrogate/2", "surrogate/5"}
	for _, name := range mustFast {
		if !sameAsSlow(t, name, unhex(t, pyPlain[name])) {
			t.Errorf("%s: CPython's pickle did not take the fast path", name)
		}
	}
	for name, h := range pyPlain {
		data := unhex(t, h)
		fast := sameAsSlow(t, name, data)
		_, slowErr := slowSession(data)
		_, err := Codec{MaxSize: -1}.Decode(data)
		if (err == nil) != (slowErr == nil) {
			t.Errorf("%s: Decode error %v, general decoder %v", name, err, slowErr)
		}
		if !fast && strings.HasSuffix(name, "/5") && err == nil && !strings.HasPrefix(name, "aliased") && !strings.HasPrefix(name, "nested_keys") {
			t.Errorf("%s: a protocol 5 session of plain data left the fast path", name)
		}
	}
	// Our own encodings of every standard workload take it too.
	for _, d := range []*codec.Dict{benchSession(), codec.NewDict(map[string]any{}), codec.NewDict(map[string]any{"deep": []any{[]any{[]any{map[string]any{"a": []any{}}}}}})} {
		b, err := Codec{}.Encode(d)
		if err != nil {
			t.Fatal(err)
		}
		if !sameAsSlow(t, "encoded", b) {
			t.Errorf("our own encoding %x did not take the fast path", b)
		}
	}
}

// TestFastPathRefuses checks that every input the general decoder refuses
// leaves the fast path, so Decode's errors are the general decoder's.
func TestFastPathRefuses(t *testing.T) {
	inputs := map[string][]byte{}
	for name, h := range pyBad {
		inputs[name] = unhex(t, h)
	}
	for name, b := range hostile() {
		inputs["hostile "+name] = b
	}
	for name, data := range inputs {
		_, slowErr := slowSession(data)
		if slowErr == nil {
			sameAsSlow(t, name, data)
			continue
		}
		if _, ok := fastSession(data); ok {
			t.Errorf("%s: the fast path decoded what the general decoder refuses (%v)", name, slowErr)
		}
		if _, err := (Codec{}).Decode(data); !errors.Is(err, codec.ErrCorrupt) {
			t.Errorf("%s: Decode error %v", name, err)
		}
	}
}

// FuzzFastPath holds the fast path to the general decoder: whatever it
// decodes, the general decoder decodes to the same session.
//
//	go test -fuzz FuzzFastPath ./codec/pickle/
func FuzzFastPath(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		sameAsSlow(t, "fuzz", data)
	})
}

// TestEagerRoot: the eager fast path puts the session's items straight
// into its Dict. A root filled in several batches, repeating keys across
// them, small or past the Dict's index, or first built from a MARK,
// decodes as the general decoder decodes it; a root dict that ends up in
// a tuple is refused.
func TestEagerRoot(t *testing.T) {
	item := func(k string, v byte) string { return "\x8c" + string(rune(len(k))) + k + "K" + string(rune(v)) }
	var first, second string
	for i := range 10 {
		first += item(fmt.Sprintf("k%d", i), byte(i))
	}
	second = item("k2", 20) + item("k10", 10) + item("k11", 11) + item("k9", 90)
	cases := map[string]struct {
		data string
		want string // the keys and values, in order
	}{
		"a key repeated in a second batch": {"\x80\x05}\x94(" + item("a", 1) + item("b", 2) + "u(" + item("a", 3) + item("c", 4) + "u.", "a=3 b=2 c=4"},
		"a key repeated in one batch":      {"\x80\x05}\x94(" + item("a", 1) + item("b", 2) + item("a", 3) + "u.", "a=3 b=2"},
		"SETITEM after SETITEMS":           {"\x80\x05}\x94(" + item("a", 1) + "u" + item("b", 2) + "s" + item("a", 5) + "s.", "a=5 b=2"},
		"past the index, keys repeated":    {"\x80\x05}\x94(" + first + "u(" + second + "u.", "k0=0 k1=1 k2=20 k3=3 k4=4 k5=5 k6=6 k7=7 k8=8 k9=90 k10=10 k11=11"},
		"a root from MARK, then SETITEMS":  {"\x80\x05(" + item("a", 1) + "d\x94(" + item("b", 2) + item("a", 3) + "u.", "a=3 b=2"},
		"an empty root":                    {"\x80\x05}\x94.", ""},
	}
	for name, c := range cases {
		data := []byte(c.data)
		if len(data) >= lazyFrom {
			t.Fatalf("%s: %d bytes, not decoded eagerly", name, len(data))
		}
		d, ok := eagerSession(data)
		if !ok {
			t.Fatalf("%s: the eager fast path refused it", name)
		}
		var got []string
		for k, v := range d.All() {
			got = append(got, fmt.Sprintf("%s=%v", k, v))
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("%s: decoded %v, want %s", name, got, c.want)
		}
		if !sameAsSlow(t, name, data) {
			t.Errorf("%s: the fast path gave up", name)
		}
	}
	for name, data := range map[string]string{
		"a root dict in a tuple": "\x80\x05}\x94(" + item("a", 1) + "u\x85.",
		"a root dict in a list":  "\x80\x05(}\x94(" + item("a", 1) + "ul.",
	} {
		if d, ok := eagerSession([]byte(data)); ok {
			t.Errorf("%s: decoded as the session %v", name, d.Keys())
		}
		if _, err := (Codec{}).Decode([]byte(data)); err == nil {
			t.Errorf("%s: Decode took it", name)
		}
	}
}
