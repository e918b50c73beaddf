package pyjson

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// MaxIntDigits is CPython's default int_max_str_digits: json.loads refuses
// longer integer literals and json.dumps refuses to write longer integers,
// and so do we.
const MaxIntDigits = 4300

// ErrSyntax is wrapped by every decoding error.
var ErrSyntax = errors.New("pyjson: invalid JSON")

// errDepth is wrapped by the decoding error for too deep nesting.
var errDepth = errors.New("nesting too deep")

// Decoder holds decoding options. The zero value decodes as Django does.
type Decoder struct {
	// UTF8 reads non-ASCII bytes as UTF-8 (such as encoding/json's
	// output), not Latin-1; invalid UTF-8 is then an error.
	UTF8 bool
	// Outer is the number of containers around the decoded value, for
	// MaxDepth: 1 for a value of the session dict.
	Outer int
	// KeyOrder, when set, is called for every object decoded into a
	// map[string]any with two keys or more, with its keys in the order
	// they first appear.
	KeyOrder func(m map[string]any, keys []string)
	// Alias lets decoded strings share the input's memory when they are
	// written without escapes and in ASCII (most keys and values), instead
	// of each being copied: for input that nothing will ever modify, and
	// that may then stay in memory as long as any such string does.
	Alias bool
}

// Decode parses one JSON value from b, which is read as Latin-1 (every
// byte is one character), as Django reads session data.
func Decode(b []byte) (any, error) { return Decoder{}.Decode(b) }

// DecodeUTF8 is Decode for input whose non-ASCII bytes are UTF-8 (such as
// encoding/json's output), not Latin-1. Invalid UTF-8 is an error.
func DecodeUTF8(b []byte) (any, error) { return Decoder{UTF8: true}.Decode(b) }

// DecodeObject parses a JSON object from b and calls fn for each member in
// the order they appear. Members with the same key are all reported; the
// last one wins in Python.
func DecodeObject(b []byte, fn func(key string, value any)) error {
	return Decoder{}.DecodeObject(b, func(k string, v any, _ []byte) { fn(k, v) })
}

// Decode parses one JSON value from b.
func (o Decoder) Decode(b []byte) (any, error) {
	d := decoder{b: b, o: o}
	d.skipWS()
	v, err := d.value(o.Outer)
	if err == nil {
		err = d.end()
	}
	if err != nil {
		return nil, err
	}
	return v, nil
}

// DecodeObject parses a JSON object from b (a container at level
// Outer+1) and calls fn for each member in the order they appear, with
// raw, the member's value as it is written in b (a subslice of b, without
// the whitespace around it). Members with the same key are all reported;
// the last one wins in Python.
func (o Decoder) DecodeObject(b []byte, fn func(key string, value any, raw []byte)) error {
	d, err := o.begin(b, '{', "an object")
	if err != nil {
		return err
	}
	if err := d.object(o.Outer+1, func(k string, v any, start, end int) { fn(k, v, d.b[start:end:end]) }); err != nil {
		return err
	}
	return d.end()
}

// ScanObject checks that b is a JSON object that DecodeObject would
// accept (a container at level Outer+1) and calls fn for each member in
// the order they appear, with its key and raw, its value as written in b
// (a subslice of b, without the whitespace around it). The values are
// checked (syntax, nesting, integer length, UTF-8 when asked) but not
// built: decode raw with Decoder{Outer: Outer+1} when it is needed.
func (o Decoder) ScanObject(b []byte, fn func(key string, raw []byte)) error {
	d, err := o.begin(b, '{', "an object")
	if err != nil {
		return err
	}
	err = d.members(func(k string) error {
		start := d.i
		if err := d.skip(o.Outer + 1); err != nil {
			return err
		}
		fn(k, d.b[start:d.i:d.i])
		return nil
	})
	if err != nil {
		return err
	}
	return d.end()
}

// String parses b, one JSON string, as Decode does, without boxing it in
// an any.
func (o Decoder) String(b []byte) (string, error) {
	d, err := o.begin(b, '"', "a string")
	if err != nil {
		return "", err
	}
	s, err := d.str()
	if err == nil {
		err = d.end()
	}
	if err != nil {
		return "", err
	}
	return s, nil
}

// ScanArray checks that b is a JSON array that Decode would accept (a
// container at level Outer+1) and calls fn for each item in order, with
// raw, the item as written in b (a subslice of b, without the whitespace
// around it). The items are checked but not built.
func (o Decoder) ScanArray(b []byte, fn func(raw []byte)) error {
	d, err := o.begin(b, '[', "an array")
	if err != nil {
		return err
	}
	d.i++
	d.skipWS()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
	} else if err := d.items(o.Outer+1, fn); err != nil {
		return err
	}
	return d.end()
}

// begin returns a decoder at the first byte of b's one value, after any
// whitespace; the value must begin with open (what it is), and a
// container be at level Outer+1 at most.
func (o Decoder) begin(b []byte, open byte, what string) (decoder, error) {
	d := decoder{b: b, o: o}
	d.skipWS()
	if d.i >= len(d.b) || d.b[d.i] != open {
		return d, d.errf("expected %s", what)
	}
	if open != '"' && o.Outer+1 > MaxDepth {
		return d, d.depthErr()
	}
	return d, nil
}

// end checks that nothing but whitespace follows the value d read.
func (d *decoder) end() error {
	d.skipWS()
	if d.i != len(d.b) {
		return d.errf("extra data")
	}
	return nil
}

// items walks the items of the array whose '[' and whitespace d has
// read, up to its ']', checking each one and calling fn with it.
func (d *decoder) items(level int, fn func(raw []byte)) error {
	for {
		d.skipWS()
		start := d.i
		if err := d.skip(level); err != nil {
			return err
		}
		fn(d.b[start:d.i:d.i])
		if more, err := d.more(']', "array"); !more {
			return err
		}
	}
}

type decoder struct {
	b    []byte
	i    int
	buf  []byte
	o    Decoder
	keys []string // the keys of the objects being decoded, for KeyOrder
}

func (d *decoder) errf(format string, args ...any) error {
	return fmt.Errorf("%w: %s at offset %d", ErrSyntax, fmt.Sprintf(format, args...), d.i)
}

func (d *decoder) skipWS() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) literal(s string) bool {
	if len(d.b)-d.i >= len(s) && string(d.b[d.i:d.i+len(s)]) == s {
		d.i += len(s)
		return true
	}
	return false
}

func (d *decoder) depthErr() error {
	return fmt.Errorf("%w: %w: nesting deeper than %d levels at offset %d", ErrSyntax, errDepth, MaxDepth, d.i)
}

// value parses a value inside outer containers.
func (d *decoder) value(outer int) (any, error) {
	if d.i >= len(d.b) {
		return nil, d.errf("unexpected end of input")
	}
	switch c := d.b[d.i]; {
	case c == '{' || c == '[':
		if outer+1 > MaxDepth {
			return nil, d.depthErr()
		}
		if c == '[' {
			return d.array(outer + 1)
		}
		m := map[string]any{}
		// The keys go on a stack shared by the nested objects (each
		// truncates it back when done), then into one exact-size slice.
		mark := len(d.keys)
		err := d.object(outer+1, func(k string, v any, _, _ int) {
			if d.o.KeyOrder != nil {
				if _, dup := m[k]; !dup {
					d.keys = append(d.keys, k)
				}
			}
			m[k] = v
		})
		if err == nil && len(d.keys)-mark > 1 {
			d.o.KeyOrder(m, slices.Clone(d.keys[mark:]))
		}
		clear(d.keys[mark:])
		d.keys = d.keys[:mark]
		return m, err
	case c == '"':
		return d.str()
	case c == 'n' && d.literal("null"):
		return nil, nil
	case c == 't' && d.literal("true"):
		return true, nil
	case c == 'f' && d.literal("false"):
		return false, nil
	case c == 'N' && d.literal("NaN"):
		return math.NaN(), nil
	case c == 'I' && d.literal("Infinity"):
		return math.Inf(1), nil
	case c == '-' && d.literal("-Infinity"):
		return math.Inf(-1), nil
	case c == '-' || isDigit(c):
		return d.number()
	}
	return nil, d.errf("unexpected character %q", d.b[d.i])
}

// skip checks a value inside outer containers as value would parse it,
// without building it.
func (d *decoder) skip(outer int) error {
	if d.i >= len(d.b) {
		return d.errf("unexpected end of input")
	}
	switch c := d.b[d.i]; {
	case c == '{' || c == '[':
		if outer+1 > MaxDepth {
			return d.depthErr()
		}
		end, what := byte('}'), "object"
		if c == '[' {
			end, what = ']', "array"
		}
		d.i++
		d.skipWS()
		if d.i < len(d.b) && d.b[d.i] == end {
			d.i++
			return nil
		}
		for {
			d.skipWS()
			if c == '{' {
				if d.i >= len(d.b) || d.b[d.i] != '"' {
					return d.errf("expected a property name in double quotes")
				}
				if _, _, err := d.strBytes(); err != nil {
					return err
				}
				d.skipWS()
				if d.i >= len(d.b) || d.b[d.i] != ':' {
					return d.errf("expected ':'")
				}
				d.i++
				d.skipWS()
			}
			if err := d.skip(outer + 1); err != nil {
				return err
			}
			if more, err := d.more(end, what); !more {
				return err
			}
		}
	case c == '"':
		_, _, err := d.strBytes()
		return err
	case c == 'n' && d.literal("null"), c == 't' && d.literal("true"), c == 'f' && d.literal("false"),
		c == 'N' && d.literal("NaN"), c == 'I' && d.literal("Infinity"), c == '-' && d.literal("-Infinity"):
		return nil
	case c == '-' || isDigit(c):
		lit, isFloat, err := d.numberLit()
		if err != nil || isFloat {
			return err
		}
		return d.checkInt(lit)
	}
	return d.errf("unexpected character %q", d.b[d.i])
}

// more reads what follows an item of the container that end closes (an
// object or array, what): ',' before another item, or end.
func (d *decoder) more(end byte, what string) (bool, error) {
	d.skipWS()
	if d.i >= len(d.b) {
		return false, d.errf("unexpected end of input in %s", what)
	}
	switch d.b[d.i] {
	case ',':
		d.i++
		return true, nil
	case end:
		d.i++
		return false, nil
	}
	return false, d.errf("expected ',' or '%c'", end)
}

// object parses an object at nesting level level, reporting each member
// with the offsets of its value.
func (d *decoder) object(level int, fn func(k string, v any, start, end int)) error {
	return d.members(func(k string) error {
		start := d.i
		v, err := d.value(level)
		if err != nil {
			return err
		}
		fn(k, v, start, d.i)
		return nil
	})
}

// members walks the object at d.i ('{'): for each member it reads the
// key and the ':' and calls value with d.i at the start of the member's
// value, which value must consume.
func (d *decoder) members(value func(k string) error) error {
	d.i++ // '{'
	d.skipWS()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return nil
	}
	for {
		d.skipWS()
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			return d.errf("expected a property name in double quotes")
		}
		k, err := d.str()
		if err != nil {
			return err
		}
		d.skipWS()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return d.errf("expected ':'")
		}
		d.i++
		d.skipWS()
		if err := value(k); err != nil {
			return err
		}
		if more, err := d.more('}', "object"); !more {
			return err
		}
	}
}

// array parses an array at nesting level level.
func (d *decoder) array(level int) (any, error) {
	d.i++ // '['
	out := []any{}
	d.skipWS()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		return out, nil
	}
	for {
		d.skipWS()
		v, err := d.value(level)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		if more, err := d.more(']', "array"); !more {
			if err != nil {
				return nil, err
			}
			return out, nil
		}
	}
}

func (d *decoder) str() (string, error) {
	b, inInput, err := d.strBytes()
	switch {
	case err != nil:
		return "", err
	case len(b) == 0:
		return "", nil
	case d.o.Alias && inInput:
		return unsafe.String(&b[0], len(b)), nil
	}
	return string(b), nil
}

// special8 reports whether any of the eight bytes of x (a word of input,
// little-endian) is one strBytes must stop at: '"', '\\', a control
// character or a byte of a multi-byte UTF-8 sequence. Each term sets the
// top bit of a byte that is what it tests for (the lowest such byte at
// least), and otherwise only of bytes above one that is (a borrow), so
// the answer is exact (TestSpecial8).
func special8(x uint64) bool {
	const ones, tops = 0x0101010101010101, 0x8080808080808080
	quote := x ^ (ones * '"')
	backslash := x ^ (ones * '\\')
	return ((quote-ones)&^quote|(backslash-ones)&^backslash|(x-ones*0x20)&^x|x)&tops != 0
}

// strBytes parses a string and returns its decoded bytes: a subslice of
// the input when the string has no escapes and only ASCII, else of d.buf
// (valid until the next call); inInput tells which.
func (d *decoder) strBytes() (b []byte, inInput bool, err error) {
	d.i++ // opening quote
	start := d.i
	// Eight bytes at a time while none of them ends the plain run.
	for d.i+8 <= len(d.b) && !special8(binary.LittleEndian.Uint64(d.b[d.i:])) {
		d.i += 8
	}
	for d.i < len(d.b) {
		c := d.b[d.i]
		if c == '"' {
			d.i++
			return d.b[start : d.i-1], true, nil
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
		d.i++
	}
	d.buf = append(d.buf[:0], d.b[start:d.i]...)
	for {
		if d.i >= len(d.b) {
			return nil, false, d.errf("unterminated string")
		}
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			return d.buf, false, nil
		case c == '\\':
			if d.i+1 >= len(d.b) {
				return nil, false, d.errf("unterminated escape")
			}
			e := d.b[d.i+1]
			d.i += 2
			switch e {
			case '"', '\\', '/':
				d.buf = append(d.buf, e)
			case 'b':
				d.buf = append(d.buf, '\b')
			case 'f':
				d.buf = append(d.buf, '\f')
			case 'n':
				d.buf = append(d.buf, '\n')
			case 'r':
				d.buf = append(d.buf, '\r')
			case 't':
				d.buf = append(d.buf, '\t')
			case 'u':
				r, ok := d.hex4()
				if !ok {
					return nil, false, d.errf("invalid \\u escape")
				}
				if utf16.IsSurrogate(r) {
					// A high surrogate followed by an escaped low one is
					// one astral character, as Python reads it; a lone
					// surrogate is kept in its 3-byte form (see
					// AppendSurrogate), so that it is written back as
					// the same escape.
					if r < 0xdc00 && d.i+1 < len(d.b) && d.b[d.i] == '\\' && d.b[d.i+1] == 'u' {
						save := d.i
						d.i += 2
						r2, ok := d.hex4()
						if ok && r2 >= 0xdc00 && r2 <= 0xdfff {
							d.buf = utf8.AppendRune(d.buf, utf16.DecodeRune(r, r2))
							continue
						}
						d.i = save
					}
					d.buf = AppendSurrogate(d.buf, r)
					continue
				}
				d.buf = utf8.AppendRune(d.buf, r)
			default:
				return nil, false, d.errf("invalid escape")
			}
		case c < 0x20:
			return nil, false, d.errf("invalid control character in string")
		case c < utf8.RuneSelf:
			d.buf = append(d.buf, c)
			d.i++
		case d.o.UTF8:
			r, size := utf8.DecodeRune(d.b[d.i:])
			if r == utf8.RuneError && size == 1 {
				return nil, false, d.errf("invalid UTF-8")
			}
			d.buf = append(d.buf, d.b[d.i:d.i+size]...)
			d.i += size
		default:
			// Latin-1: the byte is the code point.
			d.buf = utf8.AppendRune(d.buf, rune(c))
			d.i++
		}
	}
}

func (d *decoder) hex4() (rune, bool) {
	if d.i+4 > len(d.b) {
		return 0, false
	}
	var r rune
	for _, c := range d.b[d.i : d.i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	d.i += 4
	return r, true
}

func (d *decoder) number() (any, error) {
	b, isFloat, err := d.numberLit()
	if err != nil {
		return nil, err
	}
	lit := string(b)
	if isFloat {
		f, err := strconv.ParseFloat(lit, 64)
		if err != nil {
			var ne *strconv.NumError
			if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
				return f, nil // ±Inf or 0, as Python's float() gives
			}
			return nil, d.errf("invalid number")
		}
		return f, nil
	}
	if n, err := strconv.ParseInt(lit, 10, 64); err == nil {
		return n, nil
	}
	if err := d.checkInt(b); err != nil {
		return nil, err
	}
	n, ok := new(big.Int).SetString(lit, 10)
	if !ok {
		return nil, d.errf("invalid number")
	}
	return n, nil
}

// checkInt refuses an integer literal longer than MaxIntDigits digits.
func (d *decoder) checkInt(lit []byte) error {
	digits := len(lit)
	if lit[0] == '-' {
		digits--
	}
	if digits > MaxIntDigits {
		return d.errf("integer longer than %d digits", MaxIntDigits)
	}
	return nil
}

// numberLit scans a number as Python's scanner does and returns its
// literal and whether it is a float.
func (d *decoder) numberLit() ([]byte, bool, error) {
	start := d.i
	if d.b[d.i] == '-' {
		d.i++
	}
	if d.i >= len(d.b) {
		return nil, false, d.errf("invalid number")
	}
	if d.b[d.i] == '0' {
		d.i++
	} else if d.b[d.i] >= '1' && d.b[d.i] <= '9' {
		for d.i < len(d.b) && isDigit(d.b[d.i]) {
			d.i++
		}
	} else {
		return nil, false, d.errf("invalid number")
	}
	isFloat := false
	// Python's scanner takes a fraction or exponent only when digits
	// follow; otherwise the number ends before it (and the rest is then a
	// syntax error at the caller).
	if d.i+1 < len(d.b) && d.b[d.i] == '.' && isDigit(d.b[d.i+1]) {
		isFloat = true
		d.i += 2
		for d.i < len(d.b) && isDigit(d.b[d.i]) {
			d.i++
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		j := d.i + 1
		if j < len(d.b) && (d.b[j] == '+' || d.b[j] == '-') {
			j++
		}
		if j < len(d.b) && isDigit(d.b[j]) {
			isFloat = true
			for j < len(d.b) && isDigit(d.b[j]) {
				j++
			}
			d.i = j
		}
	}
	return d.b[start:d.i], isFloat, nil
}
