// Package pyjson reads and writes JSON exactly as Python's json module does
// with the settings Django uses for sessions: json.dumps(obj,
// separators=(",", ":")) with ensure_ascii, and json.loads of the bytes
// decoded as Latin-1.
//
// Encoding: no whitespace; every character outside printable ASCII is
// escaped as \uXXXX (lower-case hex, astral characters as UTF-16 surrogate
// pairs); < > & ' and / are not escaped; floats are written as Python's
// repr writes them (1.5, 100.0, 1e+16, 1e-07), NaN and infinities as NaN,
// Infinity and -Infinity; integers in full precision.
//
// Decoding: numbers without a fraction or exponent become int64, or
// *big.Int when they do not fit; other numbers become float64; objects
// become map[string]any (or are reported in order by [DecodeObject]);
// arrays become []any. NaN, Infinity and -Infinity are accepted as Python
// accepts them. Nesting deeper than [MaxDepth] and integers longer than
// Python's 4300-digit limit are errors, so hostile input cannot exhaust the
// stack or the CPU.
package pyjson

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting of arrays and objects accepted by the
// decoder and the encoder alike: a container inside n others is at level
// n+1, and no level may pass MaxDepth. (Python's own limit is about 1000,
// from its recursion limit.)
const MaxDepth = 500

// EncodeError is an encoding failure and where in the value it happened.
type EncodeError struct {
	// Path locates the failing part in Python's subscript syntax, such as
	// ["items"][2]; it is empty for the value itself and for nesting
	// errors.
	Path string
	Err  error

	segs   []string // innermost first, until the error leaves the encoder
	noPath bool
}

func (e *EncodeError) Error() string {
	if e.Path == "" {
		return e.Err.Error()
	}
	return "at " + e.Path + ": " + e.Err.Error()
}

func (e *EncodeError) Unwrap() error { return e.Err }

// maxPathSegments bounds the path an error shows.
const maxPathSegments = 12

func encErr(format string, args ...any) *EncodeError {
	return &EncodeError{Err: fmt.Errorf(format, args...)}
}

// errDeep is the nesting error; it carries no path (it would only be
// hundreds of [0]).
func errDeep() *EncodeError {
	return &EncodeError{Err: fmt.Errorf("nesting deeper than %d levels", MaxDepth), noPath: true}
}

// at adds a path segment to an error coming out of a container.
func at(err error, seg func() string) error {
	if e, ok := err.(*EncodeError); ok && !e.noPath && e.Path == "" {
		e.segs = append(e.segs, seg())
	}
	return err
}

// finish renders the path of an error leaving the encoder: the outermost
// segments, at most maxPathSegments of them.
func finish(err error) error {
	e, ok := err.(*EncodeError)
	if !ok || e.Path != "" || len(e.segs) == 0 {
		return err
	}
	var b strings.Builder
	for i := len(e.segs) - 1; i >= 0; i-- {
		if len(e.segs)-i > maxPathSegments {
			b.WriteString("…")
			break
		}
		b.WriteString(e.segs[i])
	}
	e.Path, e.segs = b.String(), nil
	return e
}

func indexSeg(i int) func() string { return func() string { return "[" + strconv.Itoa(i) + "]" } }

func keySeg(k string) func() string {
	return func() string { return fmt.Sprintf("[%.40q]", k) }
}

// Encoder holds encoding options. The zero value writes map keys sorted.
type Encoder struct {
	// KeyOrder, when set, gives the order in which to write the keys of
	// a map[string]any (every key, once). Nil means sorted.
	KeyOrder func(m map[string]any) []string
}

// Marshal returns the Python-compatible JSON encoding of v.
func Marshal(v any) ([]byte, error) {
	return AppendValue(nil, v)
}

// AppendValue appends the Python-compatible JSON encoding of v to dst.
//
// It handles nil, bool, string, every integer type, float32, float64,
// *big.Int, json.Number, []any, []string, map[string]any,
// map[string]string and the values [Decode] produces directly. Any other
// value is first marshalled by encoding/json (so struct tags and
// json.Marshaler are honoured, and struct fields keep their order) and
// then re-encoded in Python's style.
//
// It refuses, with an *EncodeError, what Python could not write or read
// back: strings that are not UTF-8 (a surrogate in its 3-byte form, see
// [AppendSurrogate], is allowed), integers over [MaxIntDigits] digits,
// nesting deeper than [MaxDepth], and values encoding/json refuses.
func AppendValue(dst []byte, v any) ([]byte, error) {
	return Encoder{}.Append(dst, v, 0)
}

// Append appends the encoding of v, found inside outer containers (1 for
// a value of the session dict), to dst. An error is an *EncodeError.
func (e Encoder) Append(dst []byte, v any, outer int) ([]byte, error) {
	out, err := e.appendValue(dst, v, outer)
	if err != nil {
		return dst, finish(err)
	}
	return out, nil
}

func (e Encoder) keys(m map[string]any) []string {
	if e.KeyOrder != nil {
		return e.KeyOrder(m)
	}
	return sortedKeys(m)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// appendValue encodes v, found inside outer containers.
func (e Encoder) appendValue(dst []byte, v any, outer int) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		if x {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case string:
		return AppendString(dst, x)
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int8:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int16:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case uint:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint8:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint16:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint32:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint64:
		return strconv.AppendUint(dst, x, 10), nil
	case float64:
		return AppendFloat(dst, x), nil
	case float32:
		return AppendFloat(dst, float64(x)), nil
	case *big.Int:
		if x == nil {
			return append(dst, "null"...), nil
		}
		return appendBigInt(dst, x)
	case json.Number:
		n, err := NumberValue(x)
		if err != nil {
			return dst, &EncodeError{Err: err}
		}
		return e.appendValue(dst, n, outer)
	case []any:
		return e.appendList(dst, x, outer)
	case []string:
		return appendStrings(dst, x, outer)
	case map[string]any:
		return e.appendObject(dst, x, outer)
	case map[string]string:
		return appendStringMap(dst, x, outer)
	}
	g, order, err := Generic(v)
	if err != nil {
		return dst, err
	}
	sub := e
	if order != nil {
		sub.KeyOrder = func(m map[string]any) []string {
			if keys := order(m); keys != nil {
				return keys
			}
			return e.keys(m)
		}
	}
	return sub.appendValue(dst, g, outer)
}

// appendList encodes a list, found inside outer containers.
func (e Encoder) appendList(dst []byte, x []any, outer int) ([]byte, error) {
	if outer+1 > MaxDepth {
		return dst, errDeep()
	}
	dst = append(dst, '[')
	for i, el := range x {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = e.appendValue(dst, el, outer+1); err != nil {
			return dst, at(err, indexSeg(i))
		}
	}
	return append(dst, ']'), nil
}

// appendStrings encodes a list of strings, found inside outer
// containers.
func appendStrings(dst []byte, x []string, outer int) ([]byte, error) {
	if outer+1 > MaxDepth {
		return dst, errDeep()
	}
	dst = append(dst, '[')
	for i, el := range x {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = AppendString(dst, el); err != nil {
			return dst, at(err, indexSeg(i))
		}
	}
	return append(dst, ']'), nil
}

// appendObject encodes an object in the Encoder's key order, found inside
// outer containers.
func (e Encoder) appendObject(dst []byte, x map[string]any, outer int) ([]byte, error) {
	if outer+1 > MaxDepth {
		return dst, errDeep()
	}
	dst = append(dst, '{')
	for i, k := range e.keys(x) {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = appendKey(dst, k); err != nil {
			return dst, err
		}
		if dst, err = e.appendValue(dst, x[k], outer+1); err != nil {
			return dst, at(err, keySeg(k))
		}
	}
	return append(dst, '}'), nil
}

// appendStringMap encodes an object of strings in sorted key order, found
// inside outer containers.
func appendStringMap(dst []byte, x map[string]string, outer int) ([]byte, error) {
	if outer+1 > MaxDepth {
		return dst, errDeep()
	}
	dst = append(dst, '{')
	for i, k := range sortedKeys(x) {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = appendKey(dst, k); err != nil {
			return dst, err
		}
		if dst, err = AppendString(dst, x[k]); err != nil {
			return dst, at(err, keySeg(k))
		}
	}
	return append(dst, '}'), nil
}

// appendKey writes an object key and its colon.
func appendKey(dst []byte, k string) ([]byte, error) {
	dst, err := AppendString(dst, k)
	if err != nil {
		e := err.(*EncodeError)
		e.Err = fmt.Errorf("key %.40q: %w", k, e.Err)
		return dst, e
	}
	return append(dst, ':'), nil
}

// maxIntBits: an integer of more bits has more than MaxIntDigits decimal
// digits (2^14289 has 4302), so it is refused without the costly
// conversion.
const maxIntBits = 14290

func appendBigInt(dst []byte, x *big.Int) ([]byte, error) {
	if x.BitLen() > maxIntBits {
		return dst, encErr("integer of more than %d digits: Python refuses to convert it (sys.int_info.default_max_str_digits)", MaxIntDigits)
	}
	n := len(dst)
	dst = x.Append(dst, 10)
	digits := len(dst) - n
	if x.Sign() < 0 {
		digits--
	}
	if digits > MaxIntDigits {
		return dst[:n], encErr("integer of %d digits: Python refuses more than %d (sys.int_info.default_max_str_digits)", digits, MaxIntDigits)
	}
	return dst, nil
}

// NumberValue converts a json.Number as the decoder converts the same
// literal: int64, *big.Int or float64 (NaN, Infinity and -Infinity
// included; a float literal out of range is ±Inf or 0, as Python reads
// it).
func NumberValue(n json.Number) (any, error) {
	s := string(n)
	switch s {
	case "NaN":
		return math.NaN(), nil
	case "Infinity":
		return math.Inf(1), nil
	case "-Infinity":
		return math.Inf(-1), nil
	}
	if !validNumber([]byte(s)) {
		return nil, fmt.Errorf("invalid json.Number %.40q", s)
	}
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, nil
		}
		i, _ := new(big.Int).SetString(s, 10)
		return i, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		var ne *strconv.NumError
		if !errors.As(err, &ne) || ne.Err != strconv.ErrRange {
			return nil, fmt.Errorf("invalid json.Number %.40q", s)
		}
	}
	return f, nil
}

// Generic converts a value of any other type to the generic form the
// decoder produces, through encoding/json (struct tags and json.Marshaler
// apply). order gives the key order of the objects encoding/json wrote
// (struct fields in declaration order), or nil for a map it did not
// produce. Strings encoding/json would silently change (invalid UTF-8,
// which it replaces with U+FFFD) are refused instead, with an
// *EncodeError.
func Generic(v any) (g any, order func(map[string]any) []string, err error) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
		// A nil pointer, map or slice encodes as null, as encoding/json
		// does.
		if rv.IsNil() {
			return nil, nil, nil
		}
	}
	if err := checkStrings(rv, 0); err != nil {
		return nil, nil, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, nil, encErr("cannot encode value of type %T: %v", v, err)
	}
	type rec struct {
		m    map[string]any
		keys []string
	}
	var orders map[uintptr]rec
	dec := Decoder{UTF8: true, KeyOrder: func(m map[string]any, keys []string) {
		if orders == nil {
			orders = make(map[uintptr]rec)
		}
		orders[reflect.ValueOf(m).Pointer()] = rec{m, keys}
	}}
	g, err = dec.Decode(b)
	if err != nil {
		if errors.Is(err, errDepth) {
			return nil, nil, errDeep()
		}
		return nil, nil, encErr("cannot re-encode value of type %T: %v", v, err)
	}
	if orders == nil {
		return g, nil, nil
	}
	return g, func(m map[string]any) []string {
		if r, ok := orders[reflect.ValueOf(m).Pointer()]; ok {
			return r.keys
		}
		return nil
	}, nil
}

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

// checkStrings finds the strings encoding/json will write from v and
// refuses invalid UTF-8 in them (encoding/json would replace it with
// U+FFFD). Values with their own MarshalJSON or MarshalText are left to
// them (and MarshalJSON's output is checked when it is decoded).
func checkStrings(v reflect.Value, depth int) error {
	if !v.IsValid() || depth > 2*MaxDepth {
		return nil // encoding/json reports cycles; the decoder, depth
	}
	t := v.Type()
	if t.Implements(jsonMarshaler) || t.Implements(textMarshaler) ||
		reflect.PointerTo(t).Implements(jsonMarshaler) || reflect.PointerTo(t).Implements(textMarshaler) {
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return checkStrings(v.Elem(), depth+1)
	case reflect.String:
		if _, err := AppendString(nil, v.String()); err != nil {
			return err
		}
		if bad := firstSurrogate(v.String()); bad >= 0 {
			return encErr("string holds a surrogate code point at offset %d, which encoding/json would change: store it as a plain string instead", bad)
		}
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() && !f.Anonymous {
				continue
			}
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			if name == "" {
				name = f.Name
			}
			if err := checkStrings(v.Field(i), depth+1); err != nil {
				if f.Anonymous {
					return err
				}
				return at(err, keySeg(name))
			}
		}
	case reflect.Map:
		if t.Key().Kind() == reflect.String && !t.Key().Implements(textMarshaler) {
			for _, k := range v.MapKeys() {
				if _, err := AppendString(nil, k.String()); err != nil || firstSurrogate(k.String()) >= 0 {
					return encErr("key %.40q is not valid UTF-8", k.String())
				}
			}
		}
		iter := v.MapRange()
		for iter.Next() {
			if err := checkStrings(iter.Value(), depth+1); err != nil {
				k := iter.Key()
				if k.Kind() == reflect.String {
					return at(err, keySeg(k.String()))
				}
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return nil // base64
		}
		for i := range v.Len() {
			if err := checkStrings(v.Index(i), depth+1); err != nil {
				return at(err, indexSeg(i))
			}
		}
	}
	return nil
}

func firstSurrogate(s string) int {
	for i := 0; i+2 < len(s); i++ {
		if isSurrogateAt(s, i) {
			return i
		}
	}
	return -1
}

func validNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i >= len(b) {
		return false
	}
	if b[i] == '0' {
		i++
	} else if b[i] >= '1' && b[i] <= '9' {
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	} else {
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return false
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return false
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i == len(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string in Python's ensure_ascii style.
// s must be UTF-8, where a surrogate code point in its 3-byte form (see
// [AppendSurrogate]) stands for a lone surrogate of a Python str, written
// as its \udXXX escape; any other invalid byte is an *EncodeError
// (nothing is replaced).
func AppendString(dst []byte, s string) ([]byte, error) {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f && c != '"' && c != '\\' {
			i++
			continue
		}
		dst = append(dst, s[start:i]...)
		if c < utf8.RuneSelf {
			switch c {
			case '"':
				dst = append(dst, '\\', '"')
			case '\\':
				dst = append(dst, '\\', '\\')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = appendU(dst, rune(c))
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			if !isSurrogateAt(s, i) {
				return dst, encErr("string is not valid UTF-8 (byte %#02x at offset %d)", c, i)
			}
			dst = appendU(dst, surrogateAt(s, i))
			size = 3
		case r >= 0x10000:
			r -= 0x10000
			dst = appendU(dst, 0xd800+(r>>10))
			dst = appendU(dst, 0xdc00+(r&0x3ff))
		default:
			dst = appendU(dst, r)
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"'), nil
}

// AppendSurrogate appends the surrogate code point r (U+D800 to U+DFFF)
// in the 3-byte form UTF-8 would give it (ED A0..BF 80..BF), which is how
// a Go string holds a lone surrogate of a Python str: the bytes Python's
// "utf-8" codec writes with errors="surrogatepass" (as pickle does), and
// the form WTF-8 uses. Go's utf8 package treats those bytes as invalid,
// so they never mix with real text by accident.
func AppendSurrogate(dst []byte, r rune) []byte {
	return append(dst, 0xe0|byte(r>>12), 0x80|byte(r>>6)&0x3f, 0x80|byte(r)&0x3f)
}

// IsSurrogateAt reports whether s[i:] starts with a surrogate code point
// in its 3-byte form.
func IsSurrogateAt(s string, i int) bool { return isSurrogateAt(s, i) }

func isSurrogateAt(s string, i int) bool {
	return i+2 < len(s) && s[i] == 0xed && s[i+1] >= 0xa0 && s[i+1] <= 0xbf && s[i+2] >= 0x80 && s[i+2] <= 0xbf
}

func surrogateAt(s string, i int) rune {
	return rune(s[i]&0x0f)<<12 | rune(s[i+1]&0x3f)<<6 | rune(s[i+2]&0x3f)
}

func appendU(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}

// AppendFloat appends f as Python's repr(float) writes it inside JSON.
func AppendFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	}
	// Shortest round-trip digits, in the form [-]d[.ddd]e±dd.
	var buf [32]byte
	e := strconv.AppendFloat(buf[:0], f, 'e', -1, 64)
	neg := e[0] == '-'
	if neg {
		e = e[1:]
	}
	ePos := 0
	for ePos < len(e) && e[ePos] != 'e' {
		ePos++
	}
	mant := e[:ePos]
	exp, _ := strconv.Atoi(string(e[ePos+1:]))
	digits := make([]byte, 0, len(mant))
	for _, c := range mant {
		if c != '.' {
			digits = append(digits, c)
		}
	}
	if neg {
		dst = append(dst, '-')
	}
	if exp < -4 || exp >= 16 {
		// Scientific: d[.ddd]e±XX with at least two exponent digits.
		dst = append(dst, digits[0])
		if len(digits) > 1 {
			dst = append(dst, '.')
			dst = append(dst, digits[1:]...)
		}
		dst = append(dst, 'e')
		if exp < 0 {
			dst = append(dst, '-')
			exp = -exp
		} else {
			dst = append(dst, '+')
		}
		if exp < 10 {
			dst = append(dst, '0')
		}
		return strconv.AppendInt(dst, int64(exp), 10)
	}
	if exp < 0 {
		dst = append(dst, '0', '.')
		for i := -1; i > exp; i-- {
			dst = append(dst, '0')
		}
		return append(dst, digits...)
	}
	intLen := exp + 1
	if len(digits) <= intLen {
		dst = append(dst, digits...)
		for i := len(digits); i < intLen; i++ {
			dst = append(dst, '0')
		}
		return append(dst, '.', '0')
	}
	dst = append(dst, digits[:intLen]...)
	dst = append(dst, '.')
	return append(dst, digits[intLen:]...)
}

// AtIndex adds the segment [i] to the path of an *EncodeError coming out
// of a list item, for encoders outside this package that report errors as
// this one does; other errors are returned unchanged.
func AtIndex(err error, i int) error { return at(err, indexSeg(i)) }

// AtKey adds the segment ["k"] to the path of an *EncodeError coming out
// of a dict value.
func AtKey(err error, k string) error { return at(err, keySeg(k)) }

// FinishPath sets the Path of an *EncodeError from the segments added on
// the way out; call it once, where the error leaves the encoder.
func FinishPath(err error) error { return finish(err) }

// ErrNesting returns the *EncodeError for nesting deeper than MaxDepth.
func ErrNesting() *EncodeError { return errDeep() }

// Errorf returns an *EncodeError.
func Errorf(format string, args ...any) *EncodeError { return encErr(format, args...) }
