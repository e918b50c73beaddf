package pickle

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/internal/pyjson"
)

// The opcodes of pickletools, protocols 0 to 5.
const (
	opMark           = '('
	opStop           = '.'
	opPop            = '0'
	opPopMark        = '1'
	opDup            = '2'
	opFloat          = 'F'
	opInt            = 'I'
	opBinInt         = 'J'
	opBinInt1        = 'K'
	opLong           = 'L'
	opBinInt2        = 'M'
	opNone           = 'N'
	opPersID         = 'P'
	opBinPersID      = 'Q'
	opReduce         = 'R'
	opString         = 'S'
	opBinString      = 'T'
	opShortBinString = 'U'
	opUnicode        = 'V'
	opBinUnicode     = 'X'
	opAppend         = 'a'
	opBuild          = 'b'
	opGlobal         = 'c'
	opDict           = 'd'
	opEmptyDict      = '}'
	opAppends        = 'e'
	opGet            = 'g'
	opBinGet         = 'h'
	opInst           = 'i'
	opLongBinGet     = 'j'
	opList           = 'l'
	opEmptyList      = ']'
	opObj            = 'o'
	opPut            = 'p'
	opBinPut         = 'q'
	opLongBinPut     = 'r'
	opSetItem        = 's'
	opTuple          = 't'
	opEmptyTuple     = ')'
	opSetItems       = 'u'
	opBinFloat       = 'G'
	opBinBytes       = 'B'
	opShortBinBytes  = 'C'

	opProto           = 0x80
	opNewObj          = 0x81
	opExt1            = 0x82
	opExt2            = 0x83
	opExt4            = 0x84
	opTuple1          = 0x85
	opTuple2          = 0x86
	opTuple3          = 0x87
	opNewTrue         = 0x88
	opNewFalse        = 0x89
	opLong1           = 0x8a
	opLong4           = 0x8b
	opShortBinUnicode = 0x8c
	opBinUnicode8     = 0x8d
	opBinBytes8       = 0x8e
	opEmptySet        = 0x8f
	opAddItems        = 0x90
	opFrozenSet       = 0x91
	opNewObjEx        = 0x92
	opStackGlobal     = 0x93
	opMemoize         = 0x94
	opFrame           = 0x95
	opByteArray8      = 0x96
	opNextBuffer      = 0x97
	opReadOnlyBuffer  = 0x98
)

// forbidden names the opcodes that are valid pickle but not plain data.
var forbidden = map[byte]string{
	opGlobal:         "GLOBAL (names a Python global)",
	opStackGlobal:    "STACK_GLOBAL (names a Python global)",
	opInst:           "INST (instantiates a class)",
	opObj:            "OBJ (instantiates a class)",
	opNewObj:         "NEWOBJ (instantiates a class)",
	opNewObjEx:       "NEWOBJ_EX (instantiates a class)",
	opReduce:         "REDUCE (calls a callable)",
	opBuild:          "BUILD (sets an object's state)",
	opPersID:         "PERSID (persistent id)",
	opBinPersID:      "BINPERSID (persistent id)",
	opExt1:           "EXT1 (extension registry)",
	opExt2:           "EXT2 (extension registry)",
	opExt4:           "EXT4 (extension registry)",
	opNextBuffer:     "NEXT_BUFFER (out-of-band data)",
	opReadOnlyBuffer: "READONLY_BUFFER (out-of-band data)",
	opEmptySet:       "EMPTY_SET (a set)",
	opAddItems:       "ADDITEMS (a set)",
	opFrozenSet:      "FROZENSET (a frozenset)",
	opBinBytes:       "BINBYTES (bytes)",
	opShortBinBytes:  "SHORT_BINBYTES (bytes)",
	opBinBytes8:      "BINBYTES8 (bytes)",
	opByteArray8:     "BYTEARRAY8 (a bytearray)",
	opString:         "STRING (a Python 2 byte string)",
	opBinString:      "BINSTRING (a Python 2 byte string)",
	opShortBinString: "SHORT_BINSTRING (a Python 2 byte string)",
}

// Values on the decoder's stack: nil (None), bool, int64, *big.Int,
// float64, string, and the containers below. Lists and dicts are pointers
// so that memo references share them, as in Python.
type (
	pyList  struct{ items []any }
	pyTuple struct{ items []any }
	pyDict  struct {
		keys []any
		vals []any
		dks  []dictKey       // keyOf(keys[i])
		idx  map[dictKey]int // index of dks, once the dict outgrows a scan
	}
)

// dictScan is the size up to which a dict finds its keys by scanning
// (a session's dicts are small: a map would cost more than it saves).
const dictScan = 8

// dictKey is a comparable form of a hashable key, equal for keys Python
// considers equal (1, 1.0 and True; a str and its copy).
type dictKey struct {
	kind byte // 's' str, 'n' number, 'N' None
	s    string
}

func keyOf(k any) (dictKey, error) {
	switch x := k.(type) {
	case string:
		return dictKey{'s', x}, nil
	case nil:
		return dictKey{'N', ""}, nil
	case bool:
		if x {
			return dictKey{'n', "1"}, nil
		}
		return dictKey{'n', "0"}, nil
	case int64:
		return dictKey{'n', strconv.FormatInt(x, 10)}, nil
	case *big.Int:
		return dictKey{'n', x.String()}, nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e18 {
			return dictKey{'n', strconv.FormatInt(int64(x), 10)}, nil
		}
		return dictKey{'n', strconv.FormatFloat(x, 'g', -1, 64)}, nil
	case *pyTuple:
		return dictKey{}, notPlainf("a tuple as a dict key")
	}
	return dictKey{}, corruptf("a dict key of unhashable type %s", typeName(k))
}

func (d *pyDict) set(k, v any) error {
	dk, err := keyOf(k)
	if err != nil {
		return err
	}
	i := -1
	if d.idx != nil {
		if j, ok := d.idx[dk]; ok {
			i = j
		}
	} else {
		for j := range d.dks {
			if d.dks[j] == dk {
				i = j
				break
			}
		}
	}
	if i >= 0 {
		d.vals[i] = v // Python keeps the first key and the last value
		return nil
	}
	d.keys = append(d.keys, k)
	d.vals = append(d.vals, v)
	d.dks = append(d.dks, dk)
	switch {
	case d.idx != nil:
		d.idx[dk] = len(d.dks) - 1
	case len(d.dks) > dictScan:
		d.idx = make(map[dictKey]int, 2*len(d.dks))
		for j, x := range d.dks {
			d.idx[x] = j
		}
	}
	return nil
}

// grow makes room for n more entries.
func (d *pyDict) grow(n int) {
	d.keys = slices.Grow(d.keys, n)
	d.vals = slices.Grow(d.vals, n)
	d.dks = slices.Grow(d.dks, n)
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int64, *big.Int:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case *pyList:
		return "list"
	case *pyTuple:
		return "tuple"
	case *pyDict:
		return "dict"
	}
	return fmt.Sprintf("%T", v)
}

// decoder is the unpickling stack machine, restricted to plain data. Its
// memory use is bounded by a constant times the input size: every opcode
// pushes at most one value, and copies at most its own argument bytes.
type decoder struct {
	b     []byte
	s     string // b as a string: the strs decoded are parts of it, one allocation for all
	i     int    // read position
	op    int    // position of the current opcode, for errors
	stack []any
	meta  [][]any // stacks saved by MARK
	memo  memo
}

// memo is the unpickler's memo. Pickles memoize in order (MEMOIZE, and
// the PUT indices that Python's pickler writes count up from zero), so the
// entries live in a slice; an index out of order (a hand-made pickle)
// moves every later one to a map. Its length is Python's len(memo).
type memo struct {
	dense  []any         // entries 0 .. len(dense)-1
	sparse map[int64]any // entries put out of order, all >= len(dense)
}

func (m *memo) get(n int64) (any, bool) {
	if n >= 0 && n < int64(len(m.dense)) {
		return m.dense[n], true
	}
	v, ok := m.sparse[n]
	return v, ok
}

func (m *memo) put(n int64, v any) {
	switch {
	case n < int64(len(m.dense)):
		m.dense[n] = v
	case n == int64(len(m.dense)) && m.sparse == nil:
		m.dense = append(m.dense, v)
	default:
		if m.sparse == nil {
			m.sparse = make(map[int64]any)
		}
		m.sparse[n] = v
	}
}

func (m *memo) len() int { return len(m.dense) + len(m.sparse) }

func load(data []byte) (v any, err error) {
	d := &decoder{b: data, s: string(data)}
	// CPython memoizes every str, list and dict, each of which takes at
	// least 3 bytes with its MEMOIZE: room for a typical session's memo at
	// once.
	d.memo.dense = make([]any, 0, min(len(data)/8, 1024))
	defer func() {
		// The decoder is written not to panic; this is a last line of
		// defence for a Codec that must never panic.
		if r := recover(); r != nil {
			v, err = nil, corruptf("internal error at offset %d: %v", d.op, r)
		}
	}()
	return d.run()
}

func (d *decoder) errf(format string, args ...any) error {
	return corruptf("%s at offset %d", fmt.Sprintf(format, args...), d.op)
}

func (d *decoder) truncated() error {
	return corruptf("truncated data at offset %d", d.op)
}

func (d *decoder) read(n int) ([]byte, error) {
	if n < 0 || n > len(d.b)-d.i {
		return nil, d.truncated()
	}
	s := d.b[d.i : d.i+n]
	d.i += n
	return s, nil
}

func (d *decoder) readUint(n int) (uint64, error) {
	s, err := d.read(n)
	if err != nil {
		return 0, err
	}
	var u uint64
	for k := n - 1; k >= 0; k-- {
		u = u<<8 | uint64(s[k])
	}
	return u, nil
}

// readLine returns the argument of a text opcode, without its newline.
func (d *decoder) readLine() ([]byte, error) {
	for j := d.i; j < len(d.b); j++ {
		if d.b[j] == '\n' {
			s := d.b[d.i:j]
			d.i = j + 1
			return s, nil
		}
	}
	return nil, d.truncated()
}

func (d *decoder) push(v any) { d.stack = append(d.stack, v) }

func (d *decoder) pop() (any, error) {
	n := len(d.stack)
	if n == 0 {
		return nil, d.errf("stack underflow")
	}
	v := d.stack[n-1]
	d.stack[n-1] = nil
	d.stack = d.stack[:n-1]
	return v, nil
}

func (d *decoder) top() (any, error) {
	if len(d.stack) == 0 {
		return nil, d.errf("stack underflow")
	}
	return d.stack[len(d.stack)-1], nil
}

// popMark returns the items pushed since the last MARK and restores the
// stack below it.
func (d *decoder) popMark() ([]any, error) {
	n := len(d.meta)
	if n == 0 {
		return nil, d.errf("no MARK")
	}
	items := d.stack
	d.stack = d.meta[n-1]
	d.meta[n-1] = nil
	d.meta = d.meta[:n-1]
	return items, nil
}

func (d *decoder) memoIndex(n int64) (any, error) {
	v, ok := d.memo.get(n)
	if !ok {
		return nil, d.errf("memo value %d not found", n)
	}
	return v, nil
}

func (d *decoder) memoPut(n int64) error {
	if n < 0 {
		return d.errf("negative memo index")
	}
	v, err := d.top()
	if err != nil {
		return err
	}
	d.memo.put(n, v)
	return nil
}

func (d *decoder) run() (any, error) {
	for {
		if d.i >= len(d.b) {
			return nil, corruptf("truncated data: no STOP opcode")
		}
		d.op = d.i
		c := d.b[d.i]
		d.i++
		if what, ok := forbidden[c]; ok {
			return nil, notPlainf("opcode %s at offset %d", what, d.op)
		}
		switch c {
		case opStop:
			v, err := d.pop()
			if err != nil {
				return nil, err
			}
			if len(d.stack) != 0 || len(d.meta) != 0 {
				return nil, d.errf("values left on the stack at STOP")
			}
			if d.i != len(d.b) {
				return nil, corruptf("%d bytes of trailing data after STOP", len(d.b)-d.i)
			}
			return v, nil
		case opProto:
			p, err := d.readUint(1)
			if err != nil {
				return nil, err
			}
			if p > Protocol {
				return nil, d.errf("unsupported pickle protocol %d", p)
			}
		case opFrame:
			n, err := d.readUint(8)
			if err != nil {
				return nil, err
			}
			if n > uint64(len(d.b)-d.i) {
				return nil, d.truncated()
			}
		case opMark:
			d.meta = append(d.meta, d.stack)
			d.stack = make([]any, 0, 4)
		case opPop:
			if len(d.stack) > 0 {
				d.pop()
			} else if _, err := d.popMark(); err != nil { // CPython pops a MARK here
				return nil, err
			}
		case opPopMark:
			if _, err := d.popMark(); err != nil {
				return nil, err
			}
		case opDup:
			v, err := d.top()
			if err != nil {
				return nil, err
			}
			d.push(v)
		case opNone:
			d.push(nil)
		case opNewTrue:
			d.push(true)
		case opNewFalse:
			d.push(false)
		case opBinInt:
			u, err := d.readUint(4)
			if err != nil {
				return nil, err
			}
			d.push(int64(int32(uint32(u))))
		case opBinInt1:
			u, err := d.readUint(1)
			if err != nil {
				return nil, err
			}
			d.push(int64(u))
		case opBinInt2:
			u, err := d.readUint(2)
			if err != nil {
				return nil, err
			}
			d.push(int64(u))
		case opLong1, opLong4:
			var n uint64
			var err error
			if c == opLong1 {
				n, err = d.readUint(1)
			} else {
				var u uint64
				u, err = d.readUint(4)
				if int32(uint32(u)) < 0 {
					return nil, d.errf("LONG4 with a negative length")
				}
				n = u
			}
			if err != nil {
				return nil, err
			}
			if n > MaxIntBytes {
				return nil, d.errf("integer of %d bytes, limit %d", n, MaxIntBytes)
			}
			s, err := d.read(int(n))
			if err != nil {
				return nil, err
			}
			d.push(decodeLong(s))
		case opInt, opLong:
			line, err := d.readLine()
			if err != nil {
				return nil, err
			}
			if c == opInt && string(line) == "00" {
				d.push(false)
				break
			}
			if c == opInt && string(line) == "01" {
				d.push(true)
				break
			}
			if c == opLong && len(line) > 0 && line[len(line)-1] == 'L' {
				line = line[:len(line)-1]
			}
			v, err := parseDecimal(line)
			if err != nil {
				return nil, d.errf("%v", err)
			}
			d.push(v)
		case opFloat:
			line, err := d.readLine()
			if err != nil {
				return nil, err
			}
			f, err := parseFloat(line)
			if err != nil {
				return nil, d.errf("%v", err)
			}
			d.push(f)
		case opBinFloat:
			u, err := d.read(8)
			if err != nil {
				return nil, err
			}
			d.push(math.Float64frombits(binary.BigEndian.Uint64(u)))
		case opShortBinUnicode, opBinUnicode, opBinUnicode8:
			var n uint64
			var err error
			switch c {
			case opShortBinUnicode:
				n, err = d.readUint(1)
			case opBinUnicode:
				n, err = d.readUint(4)
			default:
				n, err = d.readUint(8)
			}
			if err != nil {
				return nil, err
			}
			if n > uint64(len(d.b)-d.i) {
				return nil, d.truncated()
			}
			start := d.i
			d.read(int(n))
			str, err := decodeUTF8(d.s[start:d.i])
			if err != nil {
				return nil, d.errf("%v", err)
			}
			d.push(str)
		case opUnicode:
			line, err := d.readLine()
			if err != nil {
				return nil, err
			}
			str, err := decodeRawUnicodeEscape(line)
			if err != nil {
				return nil, d.errf("%v", err)
			}
			d.push(str)
		case opEmptyList:
			d.push(&pyList{})
		case opEmptyTuple:
			d.push(&pyTuple{})
		case opEmptyDict:
			d.push(&pyDict{})
		case opList:
			items, err := d.popMark()
			if err != nil {
				return nil, err
			}
			d.push(&pyList{items: items})
		case opTuple:
			items, err := d.popMark()
			if err != nil {
				return nil, err
			}
			d.push(&pyTuple{items: items})
		case opTuple1, opTuple2, opTuple3:
			n := int(c-opTuple1) + 1
			if len(d.stack) < n {
				return nil, d.errf("stack underflow")
			}
			items := make([]any, n)
			copy(items, d.stack[len(d.stack)-n:])
			d.stack = d.stack[:len(d.stack)-n]
			d.push(&pyTuple{items: items})
		case opDict:
			items, err := d.popMark()
			if err != nil {
				return nil, err
			}
			if len(items)%2 != 0 {
				return nil, d.errf("odd number of items for DICT")
			}
			m := &pyDict{}
			m.grow(len(items) / 2)
			for k := 0; k < len(items); k += 2 {
				if err := m.set(items[k], items[k+1]); err != nil {
					return nil, err
				}
			}
			d.push(m)
		case opAppend:
			v, err := d.pop()
			if err != nil {
				return nil, err
			}
			t, err := d.top()
			if err != nil {
				return nil, err
			}
			l, ok := t.(*pyList)
			if !ok {
				return nil, d.errf("APPEND to a %s", typeName(t))
			}
			l.items = append(l.items, v)
		case opAppends:
			items, err := d.popMark()
			if err != nil {
				return nil, err
			}
			t, err := d.top()
			if err != nil {
				return nil, err
			}
			l, ok := t.(*pyList)
			if !ok {
				return nil, d.errf("APPENDS to a %s", typeName(t))
			}
			l.items = append(l.items, items...)
		case opSetItem:
			v, err := d.pop()
			if err != nil {
				return nil, err
			}
			k, err := d.pop()
			if err != nil {
				return nil, err
			}
			t, err := d.top()
			if err != nil {
				return nil, err
			}
			m, ok := t.(*pyDict)
			if !ok {
				return nil, d.errf("SETITEM on a %s", typeName(t))
			}
			if err := m.set(k, v); err != nil {
				return nil, err
			}
		case opSetItems:
			items, err := d.popMark()
			if err != nil {
				return nil, err
			}
			if len(items)%2 != 0 {
				return nil, d.errf("odd number of items for SETITEMS")
			}
			t, err := d.top()
			if err != nil {
				return nil, err
			}
			m, ok := t.(*pyDict)
			if !ok {
				return nil, d.errf("SETITEMS on a %s", typeName(t))
			}
			m.grow(len(items) / 2)
			for k := 0; k < len(items); k += 2 {
				if err := m.set(items[k], items[k+1]); err != nil {
					return nil, err
				}
			}
		case opBinGet, opLongBinGet:
			n := 1
			if c == opLongBinGet {
				n = 4
			}
			u, err := d.readUint(n)
			if err != nil {
				return nil, err
			}
			v, err := d.memoIndex(int64(u))
			if err != nil {
				return nil, err
			}
			d.push(v)
		case opGet:
			line, err := d.readLine()
			if err != nil {
				return nil, err
			}
			n, err := strconv.ParseInt(string(line), 10, 64)
			if err != nil {
				return nil, d.errf("bad GET argument")
			}
			v, err := d.memoIndex(n)
			if err != nil {
				return nil, err
			}
			d.push(v)
		case opBinPut, opLongBinPut:
			n := 1
			if c == opLongBinPut {
				n = 4
			}
			u, err := d.readUint(n)
			if err != nil {
				return nil, err
			}
			if err := d.memoPut(int64(u)); err != nil {
				return nil, err
			}
		case opPut:
			line, err := d.readLine()
			if err != nil {
				return nil, err
			}
			n, err := strconv.ParseInt(string(line), 10, 64)
			if err != nil {
				return nil, d.errf("bad PUT argument")
			}
			if err := d.memoPut(n); err != nil {
				return nil, err
			}
		case opMemoize:
			if err := d.memoPut(int64(d.memo.len())); err != nil {
				return nil, err
			}
		default:
			return nil, d.errf("invalid opcode 0x%02x", c)
		}
	}
}

// decodeLong decodes a little-endian two's complement integer.
func decodeLong(s []byte) any {
	if len(s) == 0 {
		return int64(0)
	}
	if len(s) <= 8 {
		var u uint64
		for k := len(s) - 1; k >= 0; k-- {
			u = u<<8 | uint64(s[k])
		}
		shift := uint(64 - 8*len(s))
		return int64(u<<shift) >> shift // sign-extend
	}
	be := make([]byte, len(s))
	for k := range s {
		be[len(s)-1-k] = s[k]
	}
	n := new(big.Int).SetBytes(be)
	if s[len(s)-1]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(s))))
	}
	return normInt(n)
}

// normInt returns n as an int64 when it fits.
func normInt(n *big.Int) any {
	if n.IsInt64() {
		return n.Int64()
	}
	return n
}

// maxIntDigits is CPython's default sys.int_info.default_max_str_digits:
// int() refuses longer decimal strings, and so do the text opcodes.
const maxIntDigits = 4300

// parseDecimal parses the argument of INT and LONG: an optional sign and
// decimal digits.
func parseDecimal(s []byte) (any, error) {
	digits := s
	if len(digits) > 0 && (digits[0] == '-' || digits[0] == '+') {
		digits = digits[1:]
	}
	if len(digits) == 0 {
		return nil, fmt.Errorf("empty integer")
	}
	if len(digits) > maxIntDigits {
		return nil, fmt.Errorf("integer of more than %d digits", maxIntDigits)
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return nil, fmt.Errorf("invalid integer")
		}
	}
	if n, err := strconv.ParseInt(string(s), 10, 64); err == nil {
		return n, nil
	}
	n, ok := new(big.Int).SetString(string(s), 10)
	if !ok {
		return nil, fmt.Errorf("invalid integer")
	}
	return normInt(n), nil
}

// parseFloat parses the argument of FLOAT as Python's float() does for
// repr output: decimal notation, nan and inf.
func parseFloat(s []byte) (float64, error) {
	if len(s) == 0 || len(s) > 64 {
		return 0, fmt.Errorf("invalid float")
	}
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9', c == '.', c == '-', c == '+', c == 'e', c == 'E',
			c == 'n', c == 'a', c == 'i', c == 'f', c == 'N', c == 'I', c == 'F', c == 'A':
		default:
			return 0, fmt.Errorf("invalid float")
		}
	}
	f, err := strconv.ParseFloat(string(s), 64)
	if err != nil && f == 0 {
		return 0, fmt.Errorf("invalid float")
	}
	return f, nil // out-of-range values are ±Inf, as in Python
}

// decodeUTF8 decodes str data as CPython does ("utf-8", "surrogatepass").
// A surrogate code point is kept in its 3-byte form, the form codec
// strings use for lone surrogates (see pyjson.AppendSurrogate), so it is
// written back unchanged; any other invalid byte is an error.
func decodeUTF8(str string) (string, error) {
	if utf8.ValidString(str) {
		return str, nil
	}
	for k := 0; k < len(str); {
		r, size := utf8.DecodeRuneInString(str[k:])
		if r != utf8.RuneError || size > 1 {
			k += size
			continue
		}
		if pyjson.IsSurrogateAt(str, k) {
			k += 3
			continue
		}
		return "", fmt.Errorf("invalid UTF-8 in a str")
	}
	return str, nil
}

// decodeRawUnicodeEscape decodes the argument of UNICODE (protocol 0):
// Latin-1 bytes with \uXXXX and \UXXXXXXXX escapes, which count only after
// an odd number of backslashes.
func decodeRawUnicodeEscape(s []byte) (string, error) {
	out := make([]byte, 0, len(s))
	for k := 0; k < len(s); {
		c := s[k]
		if c != '\\' {
			out = utf8.AppendRune(out, rune(c))
			k++
			continue
		}
		start := k
		for k < len(s) && s[k] == '\\' {
			k++
		}
		nbs := k - start
		if nbs%2 == 0 || k >= len(s) || (s[k] != 'u' && s[k] != 'U') {
			for range nbs {
				out = append(out, '\\')
			}
			continue
		}
		for range nbs - 1 {
			out = append(out, '\\')
		}
		n := 4
		if s[k] == 'U' {
			n = 8
		}
		k++
		if k+n > len(s) {
			return "", fmt.Errorf("truncated \\uXXXX escape")
		}
		v, err := strconv.ParseUint(string(s[k:k+n]), 16, 32)
		if err != nil {
			return "", fmt.Errorf("invalid \\uXXXX escape")
		}
		if v > utf8.MaxRune {
			return "", fmt.Errorf("\\Uxxxxxxxx out of range")
		}
		if r := rune(v); r >= 0xd800 && r <= 0xdfff {
			out = pyjson.AppendSurrogate(out, r) // not joined with a neighbour, as in Python
		} else {
			out = utf8.AppendRune(out, r)
		}
		k += n
	}
	return string(out), nil
}

// converter turns decoded values into the codec's Go types, within a
// budget: memo references let a small pickle describe a large (or, for
// lists and dicts, cyclic) value.
type converter struct {
	nodes, strBytes int
	// order, when set, records the key order of every dict decoded into
	// a map[string]any.
	order func(m map[string]any, keys []string)
}

// The converter's budget for an input of n bytes. The encoder keeps within
// it (see encoder.share), so that what it writes is read back.
func nodeBudget(n int) int { return 16*n + 4096 }
func strBudget(n int) int  { return 64*n + 1<<20 }

func newConverter(inputLen int) *converter {
	return &converter{nodes: nodeBudget(inputLen), strBytes: strBudget(inputLen)}
}

func (c *converter) charge(strLen int) error {
	c.nodes--
	c.strBytes -= strLen
	if c.nodes < 0 || c.strBytes < 0 {
		return corruptf("the decoded value is too large for its size (shared references)")
	}
	return nil
}

// sessionDict converts the top-level dict, whose keys must be str.
func (c *converter) sessionDict(root *pyDict) (*codec.Dict, error) {
	out := &codec.Dict{}
	c.order = out.SetKeyOrder
	for i, k := range root.keys {
		ks, ok := k.(string)
		if !ok {
			return nil, corruptf("a session key of type %s (session keys are str)", typeName(k))
		}
		if err := c.charge(len(ks)); err != nil {
			return nil, err
		}
		v, err := c.value(root.vals[i], 1)
		if err != nil {
			return nil, err
		}
		out.Set(ks, v)
	}
	return out, nil
}

// value converts v, found inside a container at nesting level depth (0
// for the root).
func (c *converter) value(v any, depth int) (any, error) {
	switch v.(type) {
	case *pyList, *pyTuple, *pyDict:
		if depth+1 > MaxDepth {
			return nil, corruptf("nesting deeper than %d (or a recursive structure)", MaxDepth)
		}
	}
	s, _ := v.(string)
	if err := c.charge(len(s)); err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case nil, bool, int64, *big.Int, float64, string:
		return v, nil
	case *pyList:
		return c.slice(x.items, depth)
	case *pyTuple:
		return c.slice(x.items, depth)
	case *pyDict:
		m := make(map[string]any, len(x.keys))
		var keys []string
		for i, k := range x.keys {
			ks, err := keyString(k)
			if err != nil {
				return nil, err
			}
			if err := c.charge(len(ks)); err != nil {
				return nil, err
			}
			e, err := c.value(x.vals[i], depth+1)
			if err != nil {
				return nil, err
			}
			if _, dup := m[ks]; !dup && c.order != nil {
				keys = append(keys, ks) // 1 and "1" are one key here
			}
			m[ks] = e
		}
		if len(keys) > 1 {
			c.order(m, keys)
		}
		return m, nil
	}
	return nil, corruptf("unexpected value of type %T", v)
}

func (c *converter) slice(items []any, depth int) ([]any, error) {
	out := make([]any, len(items))
	for i, e := range items {
		var err error
		if out[i], err = c.value(e, depth+1); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// keyString converts a nested dict key as json.dumps does.
func keyString(k any) (string, error) {
	switch x := k.(type) {
	case string:
		return x, nil
	case nil:
		return "null", nil
	case bool:
		if x {
			return "true", nil
		}
		return "false", nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case *big.Int:
		return x.String(), nil
	case float64:
		return string(pyjson.AppendFloat(nil, x)), nil
	}
	return "", corruptf("a dict key of type %s", typeName(k))
}
