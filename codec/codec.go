// Package codec turns session data into bytes and back.
//
// Session data is a [Dict]: string keys in insertion order, as a Python
// dict keeps them, with JSON-compatible values. The default codec,
// [Signed], writes exactly what Django's db, file and cached_db engines
// store: signing.dumps(session_dict, salt="django.contrib.sessions.SessionStore",
// compress=True). [JSON] is the bare serialization, for engines that
// protect the data by other means.
//
// Decoded values have these Go types: nil, bool, string, int64 (or
// *big.Int for integers beyond 64 bits), float64, []any and
// map[string]any. Encoding accepts those and any value encoding/json can
// marshal, so numbers round-trip without loss: 42 stays 42, 1.5 stays 1.5
// and 2^64 stays exact.
package codec

import (
	"errors"
	"fmt"
	"iter"
	"slices"
	"time"

	"github.com/sessionkit/sessions/internal/pyjson"
	"github.com/sessionkit/sessions/signing"
)

// Codec encodes and decodes session data. Implementations must be safe for
// concurrent use. Decode must never panic, whatever the input.
type Codec interface {
	Encode(d *Dict) ([]byte, error)
	Decode(data []byte) (*Dict, error)
}

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
// concurrent use; the Session that holds it serializes access.
type Dict struct {
	keys []string
	m    map[string]any
}

// NewDict returns a Dict holding the entries of m, in sorted key order.
func NewDict(m map[string]any) *Dict {
	d := &Dict{}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		d.Set(k, m[k])
	}
	return d
}

// Len returns the number of entries.
func (d *Dict) Len() int { return len(d.keys) }

// Get returns the value stored under k.
func (d *Dict) Get(k string) (any, bool) {
	v, ok := d.m[k]
	return v, ok
}

// Set stores v under k. A new key goes to the end; an existing key keeps
// its place.
func (d *Dict) Set(k string, v any) {
	if d.m == nil {
		d.m = make(map[string]any)
	}
	if _, ok := d.m[k]; !ok {
		d.keys = append(d.keys, k)
	}
	d.m[k] = v
}

// Delete removes k and reports whether it was present.
func (d *Dict) Delete(k string) bool {
	if _, ok := d.m[k]; !ok {
		return false
	}
	delete(d.m, k)
	d.keys = slices.DeleteFunc(d.keys, func(x string) bool { return x == k })
	return true
}

// Keys returns the keys in order. The slice is a copy.
func (d *Dict) Keys() []string { return slices.Clone(d.keys) }

// All iterates over the entries in order.
func (d *Dict) All() iter.Seq2[string, any] {
	return func(yield func(string, any) bool) {
		for _, k := range d.keys {
			if !yield(k, d.m[k]) {
				return
			}
		}
	}
}

// Map returns the entries as a new map.
func (d *Dict) Map() map[string]any {
	m := make(map[string]any, len(d.keys))
	for k, v := range d.m {
		m[k] = v
	}
	return m
}

// Clone returns a shallow copy: nested maps and slices are shared.
func (d *Dict) Clone() *Dict {
	c := &Dict{keys: slices.Clone(d.keys), m: make(map[string]any, len(d.keys))}
	for k, v := range d.m {
		c.m[k] = v
	}
	return c
}

// MarshalPython returns d as Python's json.dumps(d, separators=(",",
// ":")) writes it: ASCII only, keys in insertion order.
func MarshalPython(d *Dict) ([]byte, error) {
	out := make([]byte, 0, 64)
	out = append(out, '{')
	for i, k := range d.keys {
		if i > 0 {
			out = append(out, ',')
		}
		out = pyjson.AppendString(out, k)
		out = append(out, ':')
		var err error
		if out, err = pyjson.AppendValue(out, d.m[k]); err != nil {
			return nil, fmt.Errorf("%w: session key %q: %w", ErrUnencodable, k, err)
		}
	}
	return append(out, '}'), nil
}

// UnmarshalPython parses a JSON object as Django's JSON serializer does
// (bytes read as Latin-1; NaN and Infinity accepted). Duplicate keys keep
// the last value and the first position, as a Python dict does.
func UnmarshalPython(data []byte) (*Dict, error) {
	d := &Dict{}
	if err := pyjson.DecodeObject(data, d.Set); err != nil {
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
}

func (c Signed) options() signing.Options {
	salt := c.Salt
	if salt == "" {
		salt = DjangoSessionSalt
	}
	return signing.Options{Key: c.Key, Fallbacks: c.Fallbacks, Salt: salt, Compress: true,
		MaxAge: c.MaxAge, MaxSize: c.MaxSize, Now: c.Now}
}

// Encode implements Codec.
func (c Signed) Encode(d *Dict) ([]byte, error) {
	b, err := MarshalPython(d)
	if err != nil {
		return nil, err
	}
	s, err := signing.DumpsBytes(b, c.options())
	if err != nil {
		if errors.Is(err, signing.ErrTooLarge) {
			return nil, fmt.Errorf("%w: %w", ErrTooLarge, err)
		}
		return nil, err
	}
	return []byte(s), nil
}

// Decode implements Codec. A bad signature gives an error matching both
// ErrCorrupt and signing.ErrBadSignature.
func (c Signed) Decode(data []byte) (*Dict, error) {
	b, err := signing.LoadsBytes(string(data), c.options())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return UnmarshalPython(b)
}
