package sessions

import (
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"reflect"
	"unicode/utf8"
)

// Get returns the value stored under key converted to T, and whether that
// worked. It saves Go code from type assertions on the codec's types:
//
//	n, ok := sessions.Get[int](s, "count")         // stored 42 comes back as int64: converted
//	cart, ok := sessions.Get[[]Item](s, "cart")    // JSON-shaped data decoded into a struct slice
//
// Numbers convert between integer and float types only when no precision
// is lost. Other types are converted through JSON (encoding/json's rules),
// so a map stored by Django decodes into a Go struct; there, a number
// decoded into a float field is rounded as encoding/json rounds it, and a
// value holding a string that is not valid UTF-8 (a lone surrogate) does
// not convert. An absent key, a null
// value, or a value that does not convert, gives the zero T and false. NaN
// and infinities convert only to float types. Like Session.Get it loads
// the session and marks it accessed. [Typed] declares a key with its type
// once and reports why a value does not convert.
func Get[T any](s *Session, key string) (T, bool) {
	v, ok := s.Lookup(key)
	if !ok || v == nil {
		var zero T
		return zero, false
	}
	t, err := convert[T](v)
	return t, err == nil
}

// errNotFinite reports NaN or an infinity for a type other than a float.
var errNotFinite = errors.New("NaN or an infinity, which only float types hold")

// errInexact reports a number the target numeric type cannot hold
// exactly.
var errInexact = errors.New("a number the type cannot hold exactly (it would be rounded or overflow)")

// errInvalidUTF8 reports a string that is not valid UTF-8 (a lone
// surrogate Django wrote) on the way through JSON.
var errInvalidUTF8 = errors.New("a string that is not valid UTF-8 (a lone surrogate), which a conversion through JSON would replace with U+FFFD")

// numericType reports whether t is an integer or float type, or *big.Int.
func numericType(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return true
	}
	return t == reflect.TypeFor[*big.Int]()
}

// validUTF8 reports whether every string in v, keys included, at any
// depth, is valid UTF-8.
func validUTF8(v any) bool {
	switch x := v.(type) {
	case string:
		return utf8.ValidString(x)
	case []any:
		for _, e := range x {
			if !validUTF8(e) {
				return false
			}
		}
	case map[string]any:
		for k, e := range x {
			if !utf8.ValidString(k) || !validUTF8(e) {
				return false
			}
		}
	}
	return true
}

// convert converts a non-nil stored value to T, or says why it cannot.
func convert[T any](v any) (T, error) {
	var zero T
	if t, ok := v.(T); ok {
		return t, nil
	}
	target := reflect.TypeFor[T]()
	if out, ok := convertNumber(v, target); ok {
		return out.Interface().(T), nil
	}
	if _, isNum := readNumber(v); isNum && numericType(target) {
		// convertNumber refused: it would lose precision or overflow
		// (JSON would round it silently).
		if !finite(v) {
			return zero, errNotFinite
		}
		return zero, errInexact
	}
	// Through JSON for composite types (structs, typed slices and maps).
	// JSON has no NaN: encoding/json would refuse it, and turning it into
	// null would give a silent zero.
	if !finite(v) {
		return zero, errNotFinite
	}
	if !validUTF8(v) {
		// encoding/json would replace the bytes with U+FFFD.
		return zero, errInvalidUTF8
	}
	b, err := json.Marshal(v)
	if err != nil {
		return zero, err
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		return zero, err
	}
	return out, nil
}

// finite reports whether v holds no NaN or infinite float, at any depth.
func finite(v any) bool {
	switch x := v.(type) {
	case float64:
		return !math.IsNaN(x) && !math.IsInf(x, 0)
	case float32:
		return !math.IsNaN(float64(x)) && !math.IsInf(float64(x), 0)
	case []any:
		for _, e := range x {
			if !finite(e) {
				return false
			}
		}
	case map[string]any:
		for _, e := range x {
			if !finite(e) {
				return false
			}
		}
	}
	return true
}

// convertNumber converts between numeric types without loss.
func convertNumber(v any, t reflect.Type) (reflect.Value, bool) {
	n, ok := readNumber(v)
	if !ok {
		if x, isBig := v.(*big.Int); isBig && t == reflect.TypeFor[*big.Int]() {
			return reflect.ValueOf(x), true
		}
		return reflect.Value{}, false
	}
	if t == reflect.TypeFor[*big.Int]() {
		switch n.kind {
		case numInt:
			return reflect.ValueOf(big.NewInt(n.i)), true
		case numUint:
			return reflect.ValueOf(new(big.Int).SetUint64(n.u)), true
		}
		return reflect.Value{}, false
	}
	out := reflect.New(t).Elem()
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, ok := n.asInt()
		if !ok || out.OverflowInt(i) {
			return reflect.Value{}, false
		}
		out.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u, ok := n.asUint()
		if !ok || out.OverflowUint(u) {
			return reflect.Value{}, false
		}
		out.SetUint(u)
	case reflect.Float32, reflect.Float64:
		f, ok := n.asFloat()
		if !ok || t.Kind() == reflect.Float32 && float64(float32(f)) != f && !math.IsNaN(f) {
			return reflect.Value{}, false
		}
		out.SetFloat(f)
	default:
		return reflect.Value{}, false
	}
	return out, true
}

// number is a stored numeric value: a signed or unsigned integer, or a
// float.
type number struct {
	kind numKind
	i    int64
	u    uint64
	f    float64
}

type numKind int

const (
	numInt numKind = iota
	numUint
	numFloat
)

// readNumber reads v as a number; a *big.Int beyond 64 bits is not one.
func readNumber(v any) (number, bool) {
	switch x := v.(type) {
	case int:
		return number{kind: numInt, i: int64(x)}, true
	case int8:
		return number{kind: numInt, i: int64(x)}, true
	case int16:
		return number{kind: numInt, i: int64(x)}, true
	case int32:
		return number{kind: numInt, i: int64(x)}, true
	case int64:
		return number{kind: numInt, i: x}, true
	case uint:
		return number{kind: numUint, u: uint64(x)}, true
	case uint8:
		return number{kind: numUint, u: uint64(x)}, true
	case uint16:
		return number{kind: numUint, u: uint64(x)}, true
	case uint32:
		return number{kind: numUint, u: uint64(x)}, true
	case uint64:
		return number{kind: numUint, u: x}, true
	case float32:
		return number{kind: numFloat, f: float64(x)}, true
	case float64:
		return number{kind: numFloat, f: x}, true
	case *big.Int:
		switch {
		case x.IsInt64():
			return number{kind: numInt, i: x.Int64()}, true
		case x.IsUint64():
			return number{kind: numUint, u: x.Uint64()}, true
		}
	}
	return number{}, false
}

// asInt returns n as an int64 if it is one exactly.
func (n number) asInt() (int64, bool) {
	switch n.kind {
	case numUint:
		return int64(n.u), n.u <= math.MaxInt64
	case numFloat:
		if n.f != math.Trunc(n.f) || n.f < -(1<<63) || n.f >= 1<<63 {
			return 0, false
		}
		return int64(n.f), true
	}
	return n.i, true
}

// asUint returns n as a uint64 if it is one exactly.
func (n number) asUint() (uint64, bool) {
	switch n.kind {
	case numInt:
		return uint64(n.i), n.i >= 0
	case numFloat:
		if n.f != math.Trunc(n.f) || n.f < 0 || n.f >= 1<<64 {
			return 0, false
		}
		return uint64(n.f), true
	}
	return n.u, true
}

// asFloat returns n as a float64 if it is one exactly.
func (n number) asFloat() (float64, bool) {
	switch n.kind {
	case numInt:
		f := float64(n.i)
		return f, int64(f) == n.i
	case numUint:
		f := float64(n.u)
		return f, uint64(f) == n.u
	}
	return n.f, true
}
