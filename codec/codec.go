// Package codec turns session data into bytes and back.
//
// Session data is a [Dict]: string keys in insertion order, as a Python
// dict keeps them, with JSON-compatible values. The default codec,
// [Signed], writes exactly what Django's db, file and cached_db engines
// store: signing.dumps(session_dict, salt="django.contrib.sessions.SessionStore",
// compress=True). [JSON] is the bare serialization, for engines that
// protect the data by other means.
//
// # Types
//
// Decoded values have these Go types: nil, bool, string, int64 (or
// *big.Int for integers beyond 64 bits), float64, []any and
// map[string]any. Encoding accepts those and any value encoding/json can
// marshal, so numbers round-trip without loss: 42 stays 42, 1.5 stays 1.5
// and 2^64 stays exact. Other Go types come back as their decoded
// equivalents (int32 as int64, float32 as float64, []string as []any, a
// struct as a map[string]any of its JSON fields).
//
// # What is saved can be read back
//
// Encode refuses exactly what Decode (or Django) could not read back, so
// a session is never saved and then lost: nesting deeper than
// [MaxDepth] levels (the session dict is level 1), integers of more than
// [MaxIntDigits] digits (Python's int_max_str_digits, which json.dumps
// and json.loads both enforce), and strings that are not UTF-8. Nothing is
// replaced silently: such a value fails the save with an *[EncodeError]
// that names the session key and where in the value the fault is, and
// matches [ErrUnencodable]:
//
//	codec: value of "cart"["items"][2]: string is not valid UTF-8 (byte 0xff at offset 3): codec: value cannot be encoded
//
// # Strings and lone surrogates
//
// A Python str can hold lone surrogates ("x\ud800y", which json.loads
// accepts); a Go string cannot hold them as runes. A Go string holds a
// Python str as the bytes Python's "utf-8" codec writes with
// errors="surrogatepass" (the form WTF-8 uses): a lone surrogate is the
// 3-byte sequence ED A0..BF 80..BF, which Go's utf8 package reports as
// invalid, so it cannot pass for text. Decode produces that form, and
// Encode writes it back as the same \udXXX escape, so such a string
// survives being read and set back. A surrogate pair written as two
// escapes ("\ud83d\ude00") is one character, as in Python. Any other
// invalid UTF-8 is an encode error.
//
// # Untouched values are written as they were stored
//
// A Dict that Decode produced remembers each value's encoded form. When
// it is encoded again, a value still equal to what its stored form
// decodes to (not Set since, not changed in place) is written with that
// stored form, byte for byte: a session Django wrote and Go edits changes
// only in the keys Go changed, whatever spelling the other values had
// (1.0, 1E5, escapes, spacing, nested key order, lone surrogates).
// A value changed in place (a nested map or list modified after Get) is
// re-encoded, so the change is saved as Django would save it.
//
// # Nested key order
//
// Nested objects decode to map[string]any, which has no order. The Dict
// remembers, per decoded map, the order of its keys ([Dict.KeyOrder]), so
// a map read with Get, changed and Set back (under any key of the same
// Dict, or of its Clone) is written in Django's order: its keys in their
// original order, then keys Go added, sorted. Maps Go builds itself are
// written with sorted keys. Values moved to another Dict by hand lose
// their order unless [Dict.CopyKeyOrders] is called (codecs record it with
// [Dict.SetKeyOrder]).
package codec

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"maps"
	"reflect"
	"slices"
	"time"
	"unsafe"

	"github.com/sessionkit/sessions/internal/pyjson"
	"github.com/sessionkit/sessions/signing"
)

// Codec encodes and decodes session data. Implementations must be safe for
// concurrent use. Decode must never panic, whatever the input, and must
// not keep data: its caller may reuse the buffer once Decode returns, so a
// Dict whose values are built when read ([Dict.SetLazy]) builds them from
// a copy.
type Codec interface {
	Encode(d *Dict) ([]byte, error)
	Decode(data []byte) (*Dict, error)
}

// MaxDepth is the deepest nesting the JSON codecs write and read: the
// session dict is level 1, a list in it level 2, and so on.
const MaxDepth = pyjson.MaxDepth

// MaxIntDigits is the longest integer, in decimal digits, the JSON codecs
// write and read: Python's default int_max_str_digits, which json.dumps
// and json.loads enforce.
const MaxIntDigits = pyjson.MaxIntDigits

var (
	// ErrCorrupt is wrapped by every Decode error: the bytes are not
	// session data this codec can read. When the signature is at fault,
	// the error also matches signing.ErrBadSignature.
	ErrCorrupt = errors.New("codec: corrupt session data")
	// ErrUnencodable is wrapped by Encode errors caused by a value that
	// cannot be serialized (a channel, a function, a complex number...).
	ErrUnencodable = errors.New("codec: value cannot be encoded")
	// ErrTooLarge is wrapped when encoded or decoded data passes the
	// codec's size limit.
	ErrTooLarge = errors.New("codec: session data too large")
)

// Dict is session data: string keys in insertion order, as a Python dict.
// The zero value is an empty Dict ready to use. A Dict is not safe for
// concurrent use, not even for reading (a value is built when first
// read); the Session that holds it serializes access.
type Dict struct {
	// ents holds the entries in insertion order. A session has a few
	// keys: a scan of a slice finds one faster than a map, and a decode
	// allocates one slice instead of a map per kind of entry.
	ents []entry
	// index maps each key to its place in ents once ents has more than
	// smallDict entries; it is built when first needed and dropped by
	// Delete, which moves entries.
	index map[string]int
	// lazy builds the values of a codec that checked them without
	// building them (see SetLazy): their entries hold undecoded{} and no
	// stored form.
	lazy Lazy
	// order holds the key order of nested maps a codec decoded.
	order map[uintptr]keyOrder
}

// entry is one key of a Dict and its value.
type entry struct {
	k string
	// v is the value, or undecoded{} until it is first read.
	v any
	// raw is the encoded form (a subslice of the decoded data) of a value
	// Decode produced and nothing has Set since; nil for the others.
	// Decode checks every value but builds none: v holds undecoded{}
	// until the value is first read (see value).
	raw []byte
}

// smallDict is the number of entries up to which a Dict finds a key by
// scanning its entries rather than through an index.
const smallDict = 8

// undecoded stands in an entry for a value Decode checked but has not
// built yet: a request that reads two keys of a session pays for those
// two, and the values it never reads are written back as they were
// stored.
type undecoded struct{}

// find returns the place of k in d.ents, or -1.
func (d *Dict) find(k string) int {
	if d.index == nil {
		if len(d.ents) <= smallDict {
			for i := range d.ents {
				if d.ents[i].k == k {
					return i
				}
			}
			return -1
		}
		d.index = make(map[string]int, len(d.ents))
		for i := range d.ents {
			d.index[d.ents[i].k] = i
		}
	}
	if i, ok := d.index[k]; ok {
		return i
	}
	return -1
}

// get returns the value under k, building it from its stored form first
// if needed.
func (d *Dict) get(k string) (any, bool) {
	i := d.find(k)
	if i < 0 {
		return nil, false
	}
	return d.value(i), true
}

// value returns the value of the entry at i, building it first if
// needed: it decodes the stored form, which Decode checked, or has the
// codec that checked it build it (SetLazy), and keeps the value.
func (d *Dict) value(i int) any {
	if _, lazy := d.ents[i].v.(undecoded); !lazy {
		return d.ents[i].v
	}
	var v any
	if raw := d.ents[i].raw; raw != nil {
		var err error
		v, err = pyjson.Decoder{Outer: 1, KeyOrder: d.SetKeyOrder, Alias: true}.Decode(raw)
		if err != nil {
			v = nil // not reached: the data passed the same checks when loaded
		}
	} else if d.lazy != nil {
		v = d.lazy.Build(d.ents[i].k)
	}
	d.ents[i].v = v
	return v
}

// buildLazy builds every value a codec left to build (SetLazy), so that
// an encoder knows the key orders their maps recorded.
func (d *Dict) buildLazy() {
	if d.lazy == nil {
		return
	}
	for i := range d.ents {
		d.value(i)
	}
	d.lazy = nil
}

// keyOrder is the recorded key order of one map; m keeps the map alive,
// so its address is not reused while it is recorded.
type keyOrder struct {
	m    map[string]any
	keys []string
}

// NewDict returns a Dict holding the entries of m, in sorted key order.
func NewDict(m map[string]any) *Dict {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	d := &Dict{ents: make([]entry, len(keys))}
	for i, k := range keys {
		d.ents[i] = entry{k: k, v: m[k]}
	}
	return d
}

// SetOrdered makes d hold exactly the entries of m, in the order keys
// lists them, for a codec that built the session's map itself. d keeps
// neither keys nor m, but keeps the values. The key orders d recorded
// ([Dict.SetKeyOrder]) stay. keys must list every key of m once; when it
// does not, SetOrdered reports false and leaves d unchanged.
func (d *Dict) SetOrdered(keys []string, m map[string]any) bool {
	if len(keys) != len(m) || repeats(keys) {
		return false
	}
	// As many keys as m has, none twice: m has no other key.
	var ents []entry
	if len(keys) > 0 {
		ents = make([]entry, len(keys))
	}
	for i, k := range keys {
		v, ok := m[k]
		if !ok {
			return false
		}
		ents[i] = entry{k: k, v: v}
	}
	d.ents, d.index, d.lazy = ents, nil, nil
	return true
}

// repeats reports whether a key appears twice in keys.
func repeats(keys []string) bool {
	if len(keys) <= 16 {
		for i := 1; i < len(keys); i++ {
			if slices.Contains(keys[:i], keys[i]) {
				return true // a scan costs less than a set here
			}
		}
		return false
	}
	seen := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		seen[k] = struct{}{}
	}
	return len(seen) != len(keys)
}

// Lazy is where a [Dict] builds the values a codec checked but did not
// build (see [Dict.SetLazy]).
type Lazy interface {
	// Build returns the value of key k. It must not fail: it builds what
	// the codec's check passed.
	Build(k string) any
}

// LazyFunc is a function that builds the value of a key, as a [Lazy].
type LazyFunc func(k string) any

// Build returns f(k).
func (f LazyFunc) Build(k string) any { return f(k) }

// SetLazy makes d hold keys, in that order, with values that a codec has
// checked but not built: src.Build(k) returns the value of k when it is
// first read (by Get, All, Map, Clone or an encoder), at most once per
// key, so that a request pays only for the values it reads. It is for
// codecs whose check of the data costs less than building every value.
// d does not keep keys. Build may record key orders
// ([Dict.SetKeyOrder]); those d recorded stay. keys must not repeat a
// key; when one does, SetLazy reports false and leaves d unchanged. Like
// every Dict method, Build runs under the caller's serialization of d.
func (d *Dict) SetLazy(keys []string, src Lazy) bool {
	if repeats(keys) {
		return false
	}
	if len(keys) == 0 {
		d.ents, d.index, d.lazy = nil, nil, nil // as the zero Dict
		return true
	}
	ents := make([]entry, len(keys))
	for i, k := range keys {
		ents[i] = entry{k: k, v: undecoded{}}
	}
	d.ents, d.index, d.lazy = ents, nil, src
	return true
}

// Unbuilt returns the source that d builds the value of k from (see
// [Dict.SetLazy]) when nothing has read or set that value yet: an
// encoder of the codec that set the source may write the value from its
// checked form without building it, which for a session that is written
// back after reading one value of many saves building the rest.
func (d *Dict) Unbuilt(k string) (Lazy, bool) {
	if d.lazy == nil {
		return nil, false
	}
	i := d.find(k)
	if i < 0 {
		return nil, false
	}
	if _, ok := d.ents[i].v.(undecoded); !ok || d.ents[i].raw != nil {
		return nil, false
	}
	return d.lazy, true
}

// Stored returns the form a JSON decoder kept of the value of k (see
// [UnmarshalPython]) when nothing has read or set that value: an
// encoder of another format may write the value from it without
// building it. The caller must not modify the slice.
func (d *Dict) Stored(k string) ([]byte, bool) {
	i := d.find(k)
	if i < 0 {
		return nil, false
	}
	if _, ok := d.ents[i].v.(undecoded); !ok {
		return nil, false
	}
	raw := d.ents[i].raw
	return raw, raw != nil
}

// Len returns the number of entries.
func (d *Dict) Len() int { return len(d.ents) }

// Get returns the value stored under k.
func (d *Dict) Get(k string) (any, bool) {
	return d.get(k)
}

// Grow makes room for n more entries: the next n keys Set adds take no
// allocation for the Dict's own storage.
func (d *Dict) Grow(n int) {
	d.ents = slices.Grow(d.ents, n)
}

// Set stores v under k. A new key goes to the end; an existing key keeps
// its place.
func (d *Dict) Set(k string, v any) { d.put(entry{k: k, v: v}) }

// setStored stores the checked, unbuilt value whose encoded form is raw
// under k: a repeated key keeps its first place and takes the last
// value, as in a Python dict.
func (d *Dict) setStored(k string, raw []byte) { d.put(entry{k: k, v: undecoded{}, raw: raw}) }

// put stores e in the place of its key, or at the end for a new key.
func (d *Dict) put(e entry) {
	if i := d.find(e.k); i >= 0 {
		d.ents[i] = e
		return
	}
	if d.index != nil {
		d.index[e.k] = len(d.ents)
	}
	d.ents = append(d.ents, e)
}

// Delete removes k and reports whether it was present.
func (d *Dict) Delete(k string) bool {
	i := d.find(k)
	if i < 0 {
		return false
	}
	d.ents = slices.Delete(d.ents, i, i+1)
	d.index = nil // the entries after i moved
	return true
}

// Keys returns the keys in order. The slice is a copy.
func (d *Dict) Keys() []string {
	if len(d.ents) == 0 {
		return nil
	}
	keys := make([]string, len(d.ents))
	for i := range d.ents {
		keys[i] = d.ents[i].k
	}
	return keys
}

// All iterates over the entries in order.
func (d *Dict) All() iter.Seq2[string, any] {
	return func(yield func(string, any) bool) {
		for i := 0; i < len(d.ents); i++ {
			if !yield(d.ents[i].k, d.value(i)) {
				return
			}
		}
	}
}

// Map returns the entries as a new map.
func (d *Dict) Map() map[string]any {
	m := make(map[string]any, len(d.ents))
	for i := range d.ents {
		m[d.ents[i].k] = d.value(i)
	}
	return m
}

// Clone returns a shallow copy: nested maps and slices are shared, and
// so are the stored forms and key orders Decode recorded.
func (d *Dict) Clone() *Dict {
	for i := range d.ents {
		d.value(i) // so that the copies share the values
	}
	return &Dict{ents: slices.Clone(d.ents), order: maps.Clone(d.order)}
}

// SetKeyOrder records keys as the order of the map m, a value (at any
// depth) of d: [Dict.KeyOrder] gives it back, and encoders write m's keys
// in that order. Decoders call it for every object they decode into a
// map[string]any, so that Go edits keep the order the data had. keys
// should list m's keys once each; a shorter list puts the others after
// it, sorted.
func (d *Dict) SetKeyOrder(m map[string]any, keys []string) {
	if len(m) < 2 {
		return
	}
	if d.order == nil {
		d.order = make(map[uintptr]keyOrder)
	}
	d.order[reflect.ValueOf(m).Pointer()] = keyOrder{m, keys}
}

// CopyKeyOrders makes d also know the key orders src recorded: call it
// after moving values from src into d, so that their nested maps keep
// their order (orders d already knows win).
func (d *Dict) CopyKeyOrders(src *Dict) {
	if len(src.order) == 0 {
		return
	}
	if d.order == nil {
		d.order = make(map[uintptr]keyOrder, len(src.order))
	}
	for p, o := range src.order {
		if _, ok := d.order[p]; !ok {
			d.order[p] = o
		}
	}
}

// KeyOrder returns the keys of the map m in the order to encode them: for
// a map whose order was recorded ([Dict.SetKeyOrder]), its recorded keys
// still present, then the keys added since, sorted; for any other map,
// every key sorted. Encoders call it for every map[string]any they write.
func (d *Dict) KeyOrder(m map[string]any) []string {
	rec, ok := d.order[reflect.ValueOf(m).Pointer()]
	if !ok {
		return sortedKeys(m)
	}
	out := make([]string, 0, len(m))
	for _, k := range rec.keys {
		if _, ok := m[k]; ok {
			out = append(out, k)
		}
	}
	if len(out) == len(m) {
		return out
	}
	seen := make(map[string]bool, len(out))
	for _, k := range out {
		seen[k] = true
	}
	var added []string
	for k := range m {
		if !seen[k] {
			added = append(added, k)
		}
	}
	slices.Sort(added)
	return append(out, added...)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// EncodeError is the error of Encode for a value that cannot be encoded.
// It matches ErrUnencodable.
type EncodeError struct {
	// Key is the session key whose value failed (or the key itself, if
	// InKey).
	Key string
	// InKey reports that the session key itself cannot be encoded.
	InKey bool
	// Path locates the failing part inside the value, in Python's
	// subscript syntax: ["items"][2]. It is empty for the value itself
	// and for nesting errors.
	Path string
	// Err is what is wrong.
	Err error
}

func (e *EncodeError) Error() string {
	if e.InKey {
		return fmt.Sprintf("codec: session key %q: %v: %v", e.Key, e.Err, ErrUnencodable)
	}
	return fmt.Sprintf("codec: value of %q%s: %v: %v", e.Key, e.Path, e.Err, ErrUnencodable)
}

// Unwrap returns Err and ErrUnencodable.
func (e *EncodeError) Unwrap() []error { return []error{e.Err, ErrUnencodable} }

// NewEncodeError returns the EncodeError for the value of key: err's own
// path, if it is an encoder error with one, becomes Path.
func NewEncodeError(key string, err error) *EncodeError {
	e := &EncodeError{Key: key, Err: err}
	var pe *pyjson.EncodeError
	if errors.As(err, &pe) {
		e.Path, e.Err = pe.Path, pe.Err
	}
	return e
}

// NewKeyError returns the EncodeError for a session key that cannot be
// encoded.
func NewKeyError(key string, err error) *EncodeError {
	e := NewEncodeError(key, err)
	e.InKey, e.Path = true, ""
	return e
}

// MarshalPython returns d as Python's json.dumps(d, separators=(",",
// ":")) writes it: ASCII only (but a stored form keeps its bytes), keys
// in insertion order, nested maps in
// their recorded order (see [Dict.KeyOrder]). Values a decoder stored and
// nothing changed since are written in their stored form (see the package
// documentation). An unencodable value gives an *EncodeError.
func MarshalPython(d *Dict) ([]byte, error) {
	d.buildLazy()
	enc := pyjson.Encoder{}
	if d.order != nil {
		enc.KeyOrder = d.KeyOrder
	}
	out := make([]byte, 0, 64)
	out = append(out, '{')
	for i := range d.ents {
		e := &d.ents[i]
		if i > 0 {
			out = append(out, ',')
		}
		var err error
		if out, err = pyjson.AppendString(out, e.k); err != nil {
			return nil, NewKeyError(e.k, err)
		}
		out = append(out, ':')
		if _, lazy := e.v.(undecoded); lazy {
			out = append(out, e.raw...) // never read: as stored
			continue
		}
		start := len(out)
		if out, err = enc.Append(out, e.v, 1); err != nil {
			return nil, NewEncodeError(e.k, err)
		}
		if e.raw != nil && !bytes.Equal(out[start:], e.raw) && sameValue(e.raw, out[start:]) {
			out = append(out[:start], e.raw...)
		}
	}
	return append(out, '}'), nil
}

// sameValue reports whether raw, a stored value of a session dict, decodes
// to the value whose encoding is enc: whether enc only spells raw's value
// another way (1E5 for 100000.0, "\u00E9" for "\u00e9", spacing, a
// duplicate key), so that raw may be written instead.
func sameValue(raw, enc []byte) bool {
	type rec struct {
		m    map[string]any
		keys []string
	}
	var orders map[uintptr]rec
	dec := pyjson.Decoder{Outer: 1, KeyOrder: func(m map[string]any, keys []string) {
		if orders == nil {
			orders = make(map[uintptr]rec)
		}
		orders[reflect.ValueOf(m).Pointer()] = rec{m, keys}
	}}
	v, err := dec.Decode(raw)
	if err != nil {
		return false
	}
	canon, err := pyjson.Encoder{KeyOrder: func(m map[string]any) []string {
		if r, ok := orders[reflect.ValueOf(m).Pointer()]; ok {
			return r.keys
		}
		return sortedKeys(m)
	}}.Append(nil, v, 1)
	return err == nil && bytes.Equal(canon, enc)
}

// UnmarshalPython parses a JSON object as Django's JSON serializer does
// (bytes read as Latin-1; NaN and Infinity accepted). Duplicate keys keep
// the last value and the first position, as a Python dict does. The Dict
// keeps each value's encoded form and the key order of nested objects, so
// that encoding it again changes only what was changed.
func UnmarshalPython(data []byte) (*Dict, error) {
	return unmarshalOwned(bytes.Clone(data))
}

// unmarshalOwned is UnmarshalPython for data nothing else will modify:
// the Dict keeps subslices of it, and so do the keys and the strings
// written without escapes (pyjson's Alias). The data are checked whole
// here; each value is built when first read.
func unmarshalOwned(data []byte) (*Dict, error) {
	d := &Dict{ents: make([]entry, 0, smallDict)}
	err := pyjson.Decoder{Outer: 0, Alias: true}.ScanObject(data, d.setStored)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return d, nil
}

// JSON is the bare Python-compatible JSON serialization, with no signature.
// Use it only where the bytes are protected otherwise.
type JSON struct {
	// MaxSize limits the encoded size in bytes; zero means
	// signing.DefaultMaxSize, negative means no limit.
	MaxSize int
}

func limit(n int) int {
	if n == 0 {
		return signing.DefaultMaxSize
	}
	return n
}

// Encode implements Codec.
func (c JSON) Encode(d *Dict) ([]byte, error) {
	b, err := MarshalPython(d)
	if err != nil {
		return nil, err
	}
	if m := limit(c.MaxSize); m > 0 && len(b) > m {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(b), m)
	}
	return b, nil
}

// Decode implements Codec.
func (c JSON) Decode(data []byte) (*Dict, error) {
	if m := limit(c.MaxSize); m > 0 && len(data) > m {
		return nil, fmt.Errorf("%w: %w: %d bytes, limit %d", ErrCorrupt, ErrTooLarge, len(data), m)
	}
	return UnmarshalPython(data)
}

// DjangoSessionSalt is the salt of Django's db, file and cached_db session
// data ("django.contrib.sessions." + the SessionStore class name).
const DjangoSessionSalt = "django.contrib.sessions.SessionStore"

// Signed is Django's session data format: the Python-compatible JSON of the
// session dict, compressed when that saves space, signed with a timestamp.
// It is the default codec.
type Signed struct {
	Key       string   // SECRET_KEY
	Fallbacks []string // SECRET_KEY_FALLBACKS, accepted when decoding
	// Salt; empty means DjangoSessionSalt.
	Salt string
	// MaxAge, when positive, refuses data signed longer ago. Django checks
	// it only for signed-cookie sessions.
	MaxAge time.Duration
	// MaxSize limits the JSON size (before compression when encoding,
	// after decompression when decoding); zero means
	// signing.DefaultMaxSize, negative means no limit.
	MaxSize int
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Compression says when the payload is zlib-compressed. The zero
	// value never compresses: Django reads both forms, and a
	// server-side store gains little from it while every save pays a
	// deflate and every load an inflate. Reading compressed data is
	// always supported.
	Compression Compression
}

// Compression is when [Signed] compresses a payload (Django's compress
// flag, with a policy). The zero value never compresses.
type Compression struct {
	// Above: payloads larger than this many bytes are compressed (when
	// that saves at least MinSaving); zero never compresses.
	Above int
	// MinSaving, between 0 and 1, keeps the compressed form only when it
	// is at least this share smaller; zero keeps it when it saves two
	// bytes, as Django does.
	MinSaving float64
	// ToFit, when positive, keeps the compressed form of payloads longer
	// than this many bytes whenever it is smaller, whatever MinSaving
	// says: for a cookie that must fit in the browser's limit.
	ToFit int
}

// DjangoCompression is what Django's own engines do: try every payload
// over 100 bytes, keep the compressed form when it saves two bytes.
var DjangoCompression = Compression{Above: 100}

func (c Signed) options() signing.Options {
	salt := c.Salt
	if salt == "" {
		salt = DjangoSessionSalt
	}
	return signing.Options{Key: c.Key, Fallbacks: c.Fallbacks, Salt: salt,
		Compress: c.Compression.Above > 0, CompressAbove: c.Compression.Above,
		CompressMinSaving: c.Compression.MinSaving, CompressToFit: c.Compression.ToFit,
		MaxAge: c.MaxAge, MaxSize: c.MaxSize, Now: c.Now}
}

// Encode implements Codec.
func (c Signed) Encode(d *Dict) ([]byte, error) {
	b, err := MarshalPython(d)
	if err != nil {
		return nil, err
	}
	s, err := signing.AppendDumps(nil, b, c.options())
	if err != nil {
		if errors.Is(err, signing.ErrTooLarge) {
			return nil, fmt.Errorf("%w: %w", ErrTooLarge, err)
		}
		return nil, err
	}
	return s, nil
}

// Decode implements Codec. A bad signature gives an error matching both
// ErrCorrupt and signing.ErrBadSignature.
func (c Signed) Decode(data []byte) (*Dict, error) {
	// LoadsBytes keeps nothing of its argument (it returns new memory),
	// so data need not be copied into a string.
	b, err := signing.LoadsBytes(unsafe.String(unsafe.SliceData(data), len(data)), c.options())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return unmarshalOwned(b) // signing returns new memory
}
