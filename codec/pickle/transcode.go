package pickle

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"sync"

	"github.com/sessionkit/sessions/codec"
)

// A session decoded lazily (see fast.go) and saved again after a request
// read or set a few of its values still holds the others unbuilt. The
// encoder writes each of those from the opcodes checking passed, without
// building it: a request that adds to a counter in a session holding a
// large cart does not build the cart to write it back.
//
// The opcodes are not copied as they are: each one goes through the
// encoder's own steps (saveStr, saveInt, write, boundary), so the output
// is byte for byte what building the value and encoding it writes. Memo
// indices are the new pickle's, a str written earlier in it is referred
// to rather than written again (and one the stored pickle referred to is
// written when the new pickle has not written it yet), integers take
// CPython's shortest form, and frames close where the encoder closes
// them. FuzzFastPath holds the two ways of encoding to the same bytes.
//
// The container opcodes (MARK, APPEND(S), SETITEM(S)) are written as
// they come, so a value is transcoded only when its containers are
// filled as CPython's pickler fills them (see canonical), hold no tuple
// (which decodes to a list), and no nested dict repeats a key (Python
// keeps the last value): checkShape verifies that first, writing
// nothing. Any other value is built and encoded.

var errShape = errors.New("pickle: an opcode checkShape does not pass") // not returned: see transcodeValue

// unbuilt is a value of a lazily decoded session that nothing has read
// or set: save writes it from its opcodes.
type unbuilt struct {
	r *lazyRoot
	d *codec.Dict // builds it when it cannot be transcoded
	k string
}

// saveUnbuilt writes the value of u.k; save has run boundary for it.
func (e *encoder) saveUnbuilt(u unbuilt, depth int) error {
	if i, ok := u.r.find(u.k); ok {
		sp := u.r.spans[i]
		if u.r.checkShape(int(sp.from), int(sp.to)) {
			return u.r.transcode(e, int(sp.from), int(sp.to))
		}
	}
	v, _ := u.d.Get(u.k)
	return e.saveValue(v, depth)
}

// find returns the index of key k in r.keys and r.spans.
func (r *lazyRoot) find(k string) (int, bool) {
	if r.index != nil {
		i, ok := r.index[k]
		return i, ok
	}
	i := slices.Index(r.keys, k)
	return i, i >= 0
}

// shapeSlot is an entry of checkShape's stack: a container (con, with
// how it has been filled so far) or a scalar, with its text when it is a
// str.
type shapeSlot struct {
	isCon bool
	isStr bool
	con   shapeCon
	s     string
}

// shapeCon is how a container met by checkShape was filled.
type shapeCon struct {
	dict   bool
	single bool  // one of ops was APPEND or SETITEM
	n      int32 // items; pairs for a dict
	ops    int32 // APPEND(S) or SETITEM(S) that added them
	big    int32 // the largest batch
	last   int32 // the items of the last batch
}

// canonical reports whether c was filled as CPython's pickler fills a
// container of its size (batch_list_exact, batch_dict_exact), which the
// encoder does too: nothing for an empty one, APPEND or SETITEM for one
// item, batches of batchSize under MARK for more. A nested dict must
// come in one batch, so that checkShape sees every key of it at once.
func (c *shapeCon) canonical() bool {
	switch {
	case c.n == 0:
		return c.ops == 0
	case c.n == 1:
		return c.ops == 1 && c.single
	case c.single:
		return false
	case c.dict:
		return c.ops == 1 && c.n < batchSize
	}
	ops := (c.n + batchSize - 1) / batchSize
	return c.big <= batchSize && c.ops == ops && c.last == c.n-batchSize*(ops-1)
}

// shapeCheck is checkShape's state, pooled.
type shapeCheck struct {
	stack []shapeSlot
	marks []int
	seen  map[string]struct{}
}

var shapeChecks = sync.Pool{New: func() any { return new(shapeCheck) }}

// checkShape reports whether the value whose opcodes are r.data[from:to]
// can be transcoded: see the comment at the top of this file. It writes
// nothing and builds nothing.
func (r *lazyRoot) checkShape(from, to int) (ok bool) {
	c := shapeChecks.Get().(*shapeCheck)
	defer func() {
		if recover() != nil {
			ok = false // not reached: checking passed these opcodes
		}
		clear(c.stack[:cap(c.stack)])
		c.stack, c.marks = c.stack[:0], c.marks[:0]
		clear(c.seen)
		if cap(c.stack) <= 2*batchSize {
			shapeChecks.Put(c)
		}
	}()
	for i := from; i < to; {
		op := r.data[i]
		i++
		if skip, ok := skipArg(r.data, i, op); ok {
			i += skip
			if op == opMark {
				c.marks = append(c.marks, len(c.stack))
			}
			continue
		}
		var s shapeSlot
		switch op {
		case opShortBinUnicode, opBinUnicode, opBinUnicode8:
			w := argWidth(op)
			n := int(leUint(r.data[i : i+w]))
			s.isStr, s.s = true, r.s[i+w:i+w+n]
			i += w + n
		case opBinGet, opLongBinGet:
			w := argWidth(op)
			m := r.memoAt(leUint(r.data[i : i+w]))
			s.isStr, s.s = m.isStr, m.s
			i += w
		case opEmptyList, opEmptyDict:
			s.isCon, s.con.dict = true, op == opEmptyDict
		case opAppend, opAppends, opSetItem, opSetItems:
			if !c.fill(op) {
				return false
			}
			continue
		default:
			n, ok := scalarSize(r.data, i, op)
			if !ok {
				return false // a tuple, or a list or dict built from MARK
			}
			i += n
		}
		c.stack = append(c.stack, s)
	}
	if len(c.stack) != 1 || len(c.marks) != 0 {
		return false
	}
	return !c.stack[0].isCon || c.stack[0].con.canonical()
}

// fill runs APPEND(S) or SETITEM(S) on c's stack, as the decoder does,
// counting the items their container gets; it reports false for an item
// that is a container not filled as CPython fills it, a repeated key in
// a dict's batch, or anything the decoder would refuse.
func (c *shapeCheck) fill(op byte) bool {
	var base int
	switch op {
	case opAppend, opSetItem:
		base = len(c.stack) - 1
		if op == opSetItem {
			base--
		}
		if n := len(c.marks); n > 0 && c.marks[n-1] > base-1 {
			return false // a MARK between the container and its items
		}
	default: // APPENDS, SETITEMS: the items since the last MARK
		n := len(c.marks)
		if n == 0 || (n > 1 && c.marks[n-2] >= c.marks[n-1]) {
			return false
		}
		base = c.marks[n-1]
		c.marks = c.marks[:n-1]
	}
	if base < 1 || base > len(c.stack) || !c.stack[base-1].isCon {
		return false
	}
	con := &c.stack[base-1].con
	items := c.stack[base:]
	n := len(items)
	if dict := op == opSetItem || op == opSetItems; dict != con.dict || (dict && (n%2 != 0 || !c.distinctKeys(items))) {
		return false
	} else if dict {
		n /= 2
	}
	for k := range items {
		if items[k].isCon && !items[k].con.canonical() {
			return false // complete: nothing adds to it any more
		}
	}
	con.n += int32(n)
	con.ops++
	con.single = con.single || op == opAppend || op == opSetItem
	con.big, con.last = max(con.big, int32(n)), int32(n)
	clear(items)
	c.stack = c.stack[:base]
	return true
}

// distinctKeys reports whether the keys of the key/value slots items are
// strs, each once.
func (c *shapeCheck) distinctKeys(items []shapeSlot) bool {
	for k := 0; k < len(items); k += 2 {
		if !items[k].isStr {
			return false
		}
	}
	if len(items) <= 32 {
		for k := 2; k < len(items); k += 2 {
			for j := 0; j < k; j += 2 {
				if items[j].s == items[k].s {
					return false
				}
			}
		}
		return true
	}
	if c.seen == nil {
		c.seen = make(map[string]struct{}, len(items)/2)
	}
	for k := 0; k < len(items); k += 2 {
		if _, dup := c.seen[items[k].s]; dup {
			return false
		}
		c.seen[items[k].s] = struct{}{}
	}
	return true
}

// skipArg reports whether op, whose argument begins at data[i], pushes
// nothing: FRAME, MARK and the memo's PUTs, which transcoding passes over
// (the encoder memoizes by itself); skip is the size of its argument.
func skipArg(data []byte, i int, op byte) (skip int, ok bool) {
	switch op {
	case opFrame:
		return 8, true
	case opMark, opMemoize:
		return 0, true
	case opBinPut, opLongBinPut:
		return argWidth(op), true
	}
	return 0, false
}

// scalarSize reports whether op, whose argument begins at data[i], is a
// number, None or a bool, and the size of its argument.
func scalarSize(data []byte, i int, op byte) (size int, ok bool) {
	switch op {
	case opNone, opNewTrue, opNewFalse:
		return 0, true
	case opBinInt1, opBinInt2, opBinInt:
		return argWidth(op), true
	case opBinFloat:
		return 8, true
	case opLong1, opLong4:
		w := argWidth(op)
		return w + int(leUint(data[i:i+w])), true
	}
	return 0, false
}

// leUint reads a little-endian unsigned integer of len(b) bytes.
func leUint(b []byte) uint64 {
	var u uint64
	for k := len(b) - 1; k >= 0; k-- {
		u = u<<8 | uint64(b[k])
	}
	return u
}

// transcode writes the value whose opcodes are r.data[from:to], which
// checkShape passed, through e: what e.save writes for the value built
// from them. save has run boundary for the value itself.
func (r *lazyRoot) transcode(e *encoder, from, to int) error {
	first := true
	for i := from; i < to; {
		op := r.data[i]
		i++
		switch op {
		case opMark, opAppend, opAppends, opSetItem, opSetItems:
			e.write(op)
			continue
		}
		if skip, ok := skipArg(r.data, i, op); ok {
			i += skip
			continue
		}
		if !first {
			if err := e.boundary(); err != nil {
				return err
			}
		}
		first = false
		n, err := r.transcodeValue(e, i, op)
		if err != nil {
			return err
		}
		i += n
	}
	return nil
}

// transcodeValue writes the value that op, whose argument begins at
// r.data[i], pushes (a container: its empty self), and returns the size
// of the argument.
func (r *lazyRoot) transcodeValue(e *encoder, i int, op byte) (int, error) {
	b := r.data[i:]
	switch op {
	case opNone, opNewTrue, opNewFalse:
		e.write(op)
		return 0, nil
	case opEmptyList, opEmptyDict:
		e.write(op)
		e.memoize()
		return 0, nil
	case opBinInt1:
		e.saveInt(int64(b[0]))
		return 1, nil
	case opBinInt2:
		e.saveInt(int64(binary.LittleEndian.Uint16(b)))
		return 2, nil
	case opBinInt:
		e.saveInt(int64(int32(binary.LittleEndian.Uint32(b))))
		return 4, nil
	case opBinFloat:
		e.saveFloat(math.Float64frombits(binary.BigEndian.Uint64(b)))
		return 8, nil
	case opLong1, opLong4:
		w := argWidth(op)
		n := int(leUint(b[:w]))
		return w + n, e.saveValue(decodeLong(b[w:w+n]), 0)
	case opShortBinUnicode, opBinUnicode, opBinUnicode8:
		w := argWidth(op)
		n := int(leUint(b[:w]))
		return w + n, e.saveStr(r.s[i+w : i+w+n])
	case opBinGet, opLongBinGet:
		w := argWidth(op)
		m := r.memoAt(leUint(b[:w]))
		if m.isStr {
			return w, e.saveStr(m.s)
		}
		return w, e.saveValue(m.v, 0)
	}
	return 0, errShape // not reached: checkShape passed the opcodes
}
