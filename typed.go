package sessions

import (
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"reflect"
)

// Get returns the value stored under key converted to T, and whether that
// worked. It saves Go code from type assertions on the codec's types:
//
//	n, ok := sessions.Get[int](s, "count")         // stored 42 comes back as int64: converted
//	cart, ok := sessions.Get[[]Item](s, "cart")    // JSON-shaped data decoded into a struct slice
//
// Numbers convert between integer and float types only when no precision
// is lost. Other types are converted through JSON (encoding/json's rules),
// so a map stored by Django decodes into a Go struct. An absent key, a null
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
	// Through JSON for composite types (structs, typed slices and maps).
	// JSON has no NaN: encoding/json would refuse it, and turning it into
	// null would give a silent zero.
	if !finite(v) {
		return zero, errNotFinite
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
	var (
		i     int64
		u     uint64
		f     float64
		isInt bool
		isU   bool
		isF   bool
	)
	switch x := v.(type) {
	case int:
		i, isInt = int64(x), true
	case int8:
		i, isInt = int64(x), true
	case int16:
		i, isInt = int64(x), true
	case int32:
		i, isInt = int64(x), true
	case int64:
		i, isInt = x, true
	case uint:
		u, isU = uint64(x), true
	case uint8:
		u, isU = uint64(x), true
	case uint16:
		u, isU = uint64(x), true
	case uint32:
		u, isU = uint64(x), true
	case uint64:
		u, isU = x, true
	case float32:
		f, isF = float64(x), true
	case float64:
		f, isF = x, true
	case *big.Int:
		if x.IsInt64() {
			i, isInt = x.Int64(), true
		} else if x.IsUint64() {
			u, isU = x.Uint64(), true
		} else if t == reflect.TypeFor[*big.Int]() {
			return reflect.ValueOf(x), true
		} else {
			return reflect.Value{}, false
		}
	default:
		return reflect.Value{}, false
	}
	if t == reflect.TypeFor[*big.Int]() {
		switch {
		case isInt:
			return reflect.ValueOf(big.NewInt(i)), true
		case isU:
			return reflect.ValueOf(new(big.Int).SetUint64(u)), true
		}
		return reflect.Value{}, false
	}
	out := reflect.New(t).Elem()
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		switch {
		case isInt:
		case isU:
			if u > math.MaxInt64 {
				return reflect.Value{}, false
			}
			i = int64(u)
		case isF:
			if f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
				return reflect.Value{}, false
			}
			i = int64(f)
		}
		if out.OverflowInt(i) {
			return reflect.Value{}, false
		}
		out.SetInt(i)
		return out, true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		switch {
		case isU:
		case isInt:
			if i < 0 {
				return reflect.Value{}, false
			}
			u = uint64(i)
		case isF:
			if f != math.Trunc(f) || f < 0 || f >= 1<<64 {
				return reflect.Value{}, false
			}
			u = uint64(f)
		}
		if out.OverflowUint(u) {
			return reflect.Value{}, false
		}
		out.SetUint(u)
		return out, true
	case reflect.Float32, reflect.Float64:
		switch {
		case isF:
		case isInt:
			f = float64(i)
			if int64(f) != i {
				return reflect.Value{}, false
			}
		case isU:
			f = float64(u)
			if uint64(f) != u {
				return reflect.Value{}, false
			}
		}
		if t.Kind() == reflect.Float32 && float64(float32(f)) != f && !math.IsNaN(f) {
			return reflect.Value{}, false
		}
		out.SetFloat(f)
		return out, true
	}
	return reflect.Value{}, false
}
