package pickle

import (
	"slices"

	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/internal/pyjson"
)

// A session decoded from JSON (a database row's signed JSON, which is
// what cached_db reads) keeps each value's JSON text until it is read
// (codec.UnmarshalPython). Saving it as a pickle, as cached_db does for
// its cache's copy, writes the values nobody read or set from that text,
// without building them: lists and dicts are walked in place and only
// their scalars are decoded, each as building would decode it, then
// written through the encoder's own steps. The pickle is byte for byte
// the one building and encoding write (FuzzFromJSON holds the two to
// that). A JSON object repeating a key is built and encoded, as before:
// Python keeps the last value at the first key's place.

// storedJSON is a value of a session decoded from JSON that nothing has
// read or set: save writes it from its JSON text. It holds one pointer,
// so that passing it as an any allocates nothing.
type storedJSON struct{ raw *[]byte }

// jsonScratch holds the items and members of the containers being
// written from JSON, innermost last; each container truncates it back
// when it is done.
type jsonScratch struct {
	d    *codec.Dict // the session: it records the key orders of what is built
	raws [][]byte
	keys []string
	seen map[string]struct{}
}

// saveJSON writes the value whose JSON text is raw; save has run
// boundary for it.
func (e *encoder) saveJSON(raw []byte, depth int) error {
	if len(raw) > 0 {
		switch raw[0] {
		case '[':
			return e.jsonList(raw, depth)
		case '{':
			return e.jsonDict(raw, depth)
		case '"':
			s, err := pyjson.Decoder{Alias: true}.String(raw)
			if err != nil {
				return err // not reached: Decode checked the session
			}
			return e.saveStr(s)
		}
	}
	v, err := pyjson.Decoder{Outer: depth}.Decode(raw) // a number, a bool or null
	if err != nil {
		return err // not reached: Decode checked the session
	}
	return e.saveValue(v, depth)
}

// buildJSON decodes raw as building the session's value does, and
// writes the result.
func (e *encoder) buildJSON(raw []byte, depth int) error {
	v, err := pyjson.Decoder{Outer: depth, KeyOrder: e.json.d.SetKeyOrder, Alias: true}.Decode(raw)
	if err != nil {
		return err // not reached: Decode checked the session
	}
	return e.saveValue(v, depth)
}

// jsonList writes the JSON array raw as saveList writes a list.
func (e *encoder) jsonList(raw []byte, depth int) error {
	if err := e.enter(depth); err != nil {
		return err
	}
	j := &e.json
	start := len(j.raws)
	defer func() { j.raws = j.raws[:start] }()
	err := pyjson.Decoder{Outer: depth, Alias: true}.ScanArray(raw, func(item []byte) { j.raws = append(j.raws, item) })
	if err != nil {
		return err // not reached: Decode checked the session
	}
	items := j.raws[start:]
	return e.saveList(len(items), func(i int) any { return storedJSON{&items[i]} }, depth)
}

// jsonDict writes the JSON object raw as saveDict writes a dict; an
// object repeating a key is built first.
func (e *encoder) jsonDict(raw []byte, depth int) error {
	j := &e.json
	start, kstart := len(j.raws), len(j.keys)
	defer func() { j.raws, j.keys = j.raws[:start], j.keys[:kstart] }()
	err := pyjson.Decoder{Outer: depth, Alias: true}.ScanObject(raw, func(k string, v []byte) {
		j.keys = append(j.keys, k)
		j.raws = append(j.raws, v)
	})
	if err != nil {
		return err // not reached: Decode checked the session
	}
	keys, vals := j.keys[kstart:], j.raws[start:]
	if !j.distinct(keys) {
		return e.buildJSON(raw, depth)
	}
	return e.saveDict(len(keys), func(i int) (string, any) { return keys[i], storedJSON{&vals[i]} }, depth, nil)
}

// distinct reports whether keys holds each key once.
func (j *jsonScratch) distinct(keys []string) bool {
	if len(keys) <= 16 {
		for i := 1; i < len(keys); i++ {
			if slices.Contains(keys[:i], keys[i]) {
				return false
			}
		}
		return true
	}
	if j.seen == nil {
		j.seen = make(map[string]struct{}, len(keys))
	}
	defer clear(j.seen)
	for _, k := range keys {
		if _, dup := j.seen[k]; dup {
			return false
		}
		j.seen[k] = struct{}{}
	}
	return true
}
