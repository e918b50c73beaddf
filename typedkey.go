package sessions

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"strings"

	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/internal/pyjson"
)

// TypedKey is a session key whose values have the Go type T, declared once
// so that a whole application agrees on it:
//
//	var Cart = sessions.Typed[[]Item]("cart")
//
//	Cart.Set(s, append(cart, item))
//	cart, err := Cart.Get(s)
//
// Values are stored as the JSON of T, exactly as Django stores the same
// JSON (a struct becomes an object of its JSON fields, a slice an array),
// so Python code reads them as plain data. Reading converts as [Get] does
// (numbers without loss, everything else through encoding/json, so struct
// tags apply and unknown object keys are ignored), but a value that does
// not convert is an error matching [ErrWrongType], never a panic or a
// silent zero. The zero TypedKey has the empty name; use [Typed].
type TypedKey[T any] struct {
	name string
	// unfit says why values of T cannot be stored, if they cannot.
	unfit string
}

// Typed returns the key called name whose values have type T. It does not
// touch any session.
func Typed[T any](name string) TypedKey[T] {
	return TypedKey[T]{name: name, unfit: unstorable(reflect.TypeFor[T](), map[reflect.Type]bool{})}
}

// Name returns the key's name in the session.
func (k TypedKey[T]) Name() string { return k.name }

// String returns the key's name and type, for messages.
func (k TypedKey[T]) String() string {
	return fmt.Sprintf("%q (%s)", k.name, reflect.TypeFor[T]())
}

// Get returns the value under the key. An absent key gives the zero T and
// no error (use Lookup to tell it apart). A value that does not convert to
// T gives the zero T and an error matching ErrWrongType; if the session
// could not be loaded because the store failed, that error is returned.
// Get loads the session and marks it accessed.
func (k TypedKey[T]) Get(s *Session) (T, error) {
	v, _, err := k.Lookup(s)
	return v, err
}

// Lookup returns the value under the key and whether the key is present.
// A present value that does not convert gives the zero T, true and an
// error matching ErrWrongType. A null value is the zero T for pointer,
// slice, map and interface types, and a wrong type for the others.
func (k TypedKey[T]) Lookup(s *Session) (T, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.dict().Get(k.name)
	if !ok {
		var zero T
		return zero, false, s.loadErr
	}
	t, err := k.convert(v)
	return t, true, err
}

// Has reports whether the key is present, whatever its value.
func (k TypedKey[T]) Has(s *Session) bool { return s.Has(k.name) }

// Delete removes the key and reports whether it was present.
func (k TypedKey[T]) Delete(s *Session) bool { return s.Delete(k.name) }

// Pop removes the key and returns its value and whether it was present.
// A value that does not convert is left in place, with an error matching
// ErrWrongType (Delete removes it).
func (k TypedKey[T]) Pop(s *Session) (T, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dict()
	var zero T
	v, ok := d.Get(k.name)
	if !ok {
		return zero, false, s.loadErr
	}
	t, err := k.convert(v)
	if err != nil {
		return zero, true, err
	}
	d.Delete(k.name)
	s.modified = true
	s.note(k.name, false)
	return t, true, nil
}

// Set stores v under the key and marks the session modified. It checks at
// once, not at save, that v survives the trip through JSON: a value JSON
// cannot hold (NaN, infinities, channels, functions, a cycle), a type with
// no field JSON stores (only unexported fields, or all tagged "-"), or a
// value that reads back as another (a MarshalJSON without its
// UnmarshalJSON) is an error matching codec.ErrUnencodable, and the
// session is left unchanged. The session keeps the JSON form, a copy:
// later changes to v are not seen.
func (k TypedKey[T]) Set(s *Session, v T) error {
	stored, orders, err := k.encode(v)
	if err != nil {
		return err
	}
	s.setWithOrders(k.name, stored, orders)
	return nil
}

// keyOrder is the key order of one decoded JSON object.
type keyOrder struct {
	m    map[string]any
	keys []string
}

// encode returns the JSON form of v as the codec would read it back.
func (k TypedKey[T]) encode(v T) (any, []keyOrder, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: session key %s: %s", codec.ErrUnencodable, k, fmt.Sprintf(format, args...))
	}
	if k.unfit != "" {
		return nil, nil, fail("%s", k.unfit)
	}
	b, err := pyjson.Marshal(v)
	if err != nil {
		return nil, nil, fail("%v", err)
	}
	if !json.Valid(b) {
		return nil, nil, fail("NaN and infinities have no JSON form")
	}
	var orders []keyOrder
	dec := pyjson.Decoder{KeyOrder: func(m map[string]any, keys []string) {
		orders = append(orders, keyOrder{m, keys})
	}}
	stored, err := dec.Decode(b)
	if err != nil {
		return nil, nil, fail("its JSON does not read back: %v", err)
	}
	back, err := k.convert(stored)
	if err != nil {
		return nil, nil, fail("its JSON does not read back as %s", reflect.TypeFor[T]())
	}
	if b2, err := pyjson.Marshal(back); err != nil || !bytes.Equal(b, b2) {
		return nil, nil, fail("its JSON reads back as a different value")
	}
	return stored, orders, nil
}

// convert converts a stored value to T, with an error that names the key
// and the types, never the value.
func (k TypedKey[T]) convert(v any) (T, error) {
	target := reflect.TypeFor[T]()
	if v == nil {
		var zero T
		switch target.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
			return zero, nil
		}
		return zero, &wrongType{msg: fmt.Sprintf("sessions: session key %q holds null, not %s", k.name, target)}
	}
	t, err := convert[T](v)
	if err != nil {
		msg := fmt.Sprintf("sessions: session key %q holds %s, not %s", k.name, jsonKind(v), target)
		if why := convertDetail(err); why != "" {
			msg += " (" + why + ")"
		}
		return t, &wrongType{msg: msg, err: err}
	}
	return t, nil
}

// wrongType is the error of a value that does not convert. Its text names
// types only; the underlying error (from encoding/json, or a type's
// UnmarshalJSON, which may quote the value) is reached with errors.As.
type wrongType struct {
	msg string
	err error
}

func (e *wrongType) Error() string { return e.msg }

func (e *wrongType) Unwrap() []error {
	if e.err == nil {
		return []error{ErrWrongType}
	}
	return []error{ErrWrongType, e.err}
}

// convertDetail says, without quoting the value, why a conversion failed.
func convertDetail(err error) string {
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, errNotFinite), errors.Is(err, errInexact), errors.Is(err, errInvalidUTF8):
		return err.Error()
	case errors.As(err, &te):
		if te.Field == "" {
			return "" // the message already says it
		}
		what, _, _ := strings.Cut(te.Value, " ") // "number 1.5" -> "number"
		return fmt.Sprintf("at %s: %s where %s is wanted", te.Field, what, te.Type)
	}
	return "refused by the type's JSON decoding"
}

// jsonKind names the JSON kind of a stored value.
func jsonKind(v any) string {
	switch v.(type) {
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64, *big.Int, json.Number:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("a %T", v)
}

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

// unstorable says why no value of t can go through JSON and back, or
// returns "". Types with their own MarshalJSON or MarshalText are trusted
// here (Set still checks each value's round trip).
func unstorable(t reflect.Type, seen map[reflect.Type]bool) string {
	if seen[t] {
		return ""
	}
	seen[t] = true
	if t.Implements(jsonMarshaler) || t.Implements(textMarshaler) ||
		reflect.PointerTo(t).Implements(jsonMarshaler) || reflect.PointerTo(t).Implements(textMarshaler) {
		return ""
	}
	switch t.Kind() {
	case reflect.Chan, reflect.Func, reflect.Complex64, reflect.Complex128, reflect.UnsafePointer:
		return fmt.Sprintf("%s has no JSON form", t)
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return unstorable(t.Elem(), seen)
	case reflect.Map:
		switch t.Key().Kind() {
		case reflect.String, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		default:
			if !t.Key().Implements(textMarshaler) {
				return fmt.Sprintf("map keys of type %s cannot be JSON object keys", t.Key())
			}
		}
		return unstorable(t.Elem(), seen)
	case reflect.Struct:
		stored := 0
		for i := range t.NumField() {
			f := t.Field(i)
			if f.Tag.Get("json") == "-" {
				continue
			}
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if !f.IsExported() && !(f.Anonymous && ft.Kind() == reflect.Struct) {
				continue // encoding/json skips it
			}
			stored++
			if why := unstorable(f.Type, seen); why != "" {
				return why
			}
		}
		if t.NumField() > 0 && stored == 0 {
			return fmt.Sprintf("%s has no field that JSON stores (all unexported or tagged \"-\"): its values would be stored as {}", t)
		}
	}
	return ""
}
