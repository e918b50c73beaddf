package pickle

import (
	"bytes"
	"errors"
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
	got, ok := fastSession(data)
	if !ok {
		return false
	}
	want, err := slowSession(data)
	if err != nil {
		t.Fatalf("%s: the fast path decoded what the general decoder refuses (%v)", name, err)
	}
	gb, err := Codec{MaxSize: -1}.Encode(got)
	if err != nil {
		t.Fatalf("%s: re-encoding the fast path's result: %v", name, err)
	}
	wb, err := Codec{MaxSize: -1}.Encode(want)
	if err != nil {
		t.Fatalf("%s: re-encoding the general decoder's result: %v", name, err)
	}
	if !bytes.Equal(gb, wb) {
		t.Fatalf("%s: the fast path and the general decoder differ:\n fast %x\n slow %x", name, gb, wb)
	}
	equalDict(t, name, got, want)
	return true
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
