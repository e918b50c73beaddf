package pickle

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"sync"
	"unsafe"

	"github.com/sessionkit/sessions/codec"
)

// The fast path decodes what CPython's pickler writes for a session dict
// of plain data (protocols 2 to 5: the binary opcodes, MEMOIZE or BINPUT
// in order, BINGET of a str or a number) in one pass, straight into the
// codec's Go values: no Python object model in between, no second walk.
// Every other input (text opcodes, a reference to a list or dict, a
// non-str dict key, DUP or POP, an error of any kind) makes it give up,
// and Decode runs the general decoder, which decodes it or says why not.
//
// The fast path returns a result only where the general decoder returns
// the same one: FuzzFastPath holds the two to that, byte for byte of
// their re-encodings, and TestFastPathTaken checks that CPython's own
// pickles of sessions take it.
//
// From lazyFrom bytes on, it first checks the whole pickle without
// building anything but the session's keys, noting where each top-level
// value lies in the data; a value is built from there when it is first
// read (codec.Dict's SetLazy), so a request that reads the user of a
// session holding a large cart does not build the cart; saving it again
// writes the values nobody read from their opcodes (transcode.go).
// Pickles this cannot split so (a memo entry written twice, a root made
// by DICT) are built whole, in one pass.

// fastKind tells what a slot of the fast decoder's stack holds.
type fastKind uint8

const (
	fastValue fastKind = iota // a finished value: v, or s when isStr
	fastList                  // a list being built: items
	fastDict                  // a dict being built: m and keys
)

// fastMode is what a fast decode does with the values it reads.
type fastMode uint8

const (
	eager    fastMode = iota // build every value
	checking                 // check every value, build none, note where the root's values lie
	building                 // build one root value from where checking noted it
)

// span is where a root value lies in the data: from the opcode that
// begins it to the next root item's first opcode (or the SETITEMS).
type span struct{ from, to int32 }

// slot is one entry of the fast decoder's stack. A str stays unboxed
// until it is stored in a container, so that dict keys are never boxed at
// all. Slots are small (a session's lists are pushed 1,000 items at a
// time): a list or dict being built lives in a builder.
type slot struct {
	kind  fastKind
	isStr bool
	h     int32 // nesting height: 0 for a scalar, 1 + the highest item for a container
	at    int32 // where the value begins: its first opcode
	s     string
	v     any
	b     *builder // fastList, fastDict
}

// builder is a list or dict being built. Builders are reused within a
// decode and pooled with their decoder, always emptied.
type builder struct {
	items []any          // fastList
	m     map[string]any // fastDict, nil until its first item
	keys  []string       // fastDict: m's keys, in Python's order
	// direct marks the dict at the bottom of the stack when eager: its
	// items go straight into the Dict being decoded (fastDecoder.out),
	// as the session's, instead of into m (see setRootItems).
	direct bool
}

// memoEntry is an entry of the fast decoder's memo: a str, a number, or
// (ref) a container, which the fast path does not look up.
type memoEntry struct {
	ref   bool
	isStr bool
	s     string
	v     any
}

// fastDecoder is the state of one fast decode. Decoders are pooled: their
// stack, marks and memo are reused, emptied.
type fastDecoder struct {
	b      []byte
	s      string // b as a string: decoded strs are parts of it
	i      int
	stack  []slot
	marks  []int   // stack heights at each MARK
	markAt []int32 // where each MARK is
	memo   []memoEntry
	free   []*builder // emptied builders
	out    *codec.Dict
	// Budgets, as the converter's: the fast path gives up where the
	// general decoder might refuse a value too large for its pickle.
	nodes, strBytes int

	mode fastMode
	root *lazyRoot // building: the memo checking left, and the Dict
	op   int       // where the opcode being run begins
	end  int       // where the run stops: len(b), or the end of the value building builds
	// checking: the root dict's keys, in Python's order, and where each
	// one's value lies; rootAt is where the root dict begins (the items
	// noted are those of the dict that began there).
	rootKeys  []string
	rootSpans []span
	rootIndex map[string]int // of rootKeys, once there are many
	rootAt    int32
	// notLazy is set when checking gives up on a pickle that an eager
	// decode may still take.
	notLazy bool
}

// lazyFrom is the size from which a session's values are built when
// read rather than all at once. Checking costs about 60% of an eager
// decode on a session of 400 bytes, the benchmarks' standard one, where
// building is cheap: a request that reads one value saved a quarter
// there, and one that writes (its encoding reads every value) paid 60%
// more. At 900 bytes reading one value costs less than half the eager
// decode, at 3 KB a third, and writing 15-45% more.
const lazyFrom = 512

// fastSession decodes data as a session dict on the fast path; ok is
// false when data is anything the fast path does not take.
func fastSession(data []byte) (d *codec.Dict, ok bool) {
	if len(data) >= lazyFrom && len(data) < math.MaxInt32 {
		d, ok, notLazy := lazySession(data)
		if ok || !notLazy {
			return d, ok
		}
	}
	return eagerSession(data)
}

// newFast returns a pooled decoder ready to run over data in mode.
func newFast(data []byte, s string, mode fastMode) *fastDecoder {
	f := fastDecoders.Get().(*fastDecoder)
	f.b, f.s, f.i, f.end, f.mode = data, s, 0, len(data), mode
	f.nodes, f.strBytes = nodeBudget(len(data)), strBudget(len(data))
	if n := min(len(data)/16, 1<<16); mode != building && cap(f.memo) < n {
		// CPython memoizes every str, list and dict: room for the memo
		// of a session of small values at once.
		f.memo = make([]memoEntry, 0, n)
	}
	return f
}

// decode runs f and releases it; notLazy is f's when it ended. A panic
// here would be a bug: the fast path then gives up, and the general
// decoder answers for the data.
func (f *fastDecoder) decode() (d *codec.Dict, ok, notLazy bool) {
	defer func() {
		if recover() != nil {
			d, ok = nil, false
		}
		notLazy = f.notLazy
		f.release()
	}()
	d, ok = f.run()
	return d, ok, false
}

// eagerSession decodes data in one pass, building every value.
func eagerSession(data []byte) (*codec.Dict, bool) {
	f := newFast(data, string(data), eager)
	f.out = &codec.Dict{}
	d, ok, _ := f.decode()
	return d, ok
}

// lazySession checks data and returns a Dict whose values are built
// when first read. notLazy reports a pickle that eagerSession may still
// take.
func lazySession(data []byte) (d *codec.Dict, ok, notLazy bool) {
	// The Dict builds its values from the data after Decode has returned,
	// and Decode's caller may reuse its buffer: the values are built from
	// a copy of the data, which nothing ever writes to, and the strings
	// are parts of that same copy.
	own := bytes.Clone(data)
	f := newFast(own, unsafe.String(unsafe.SliceData(own), len(own)), checking)
	f.out = &codec.Dict{}
	return f.decode()
}

// lazyRoot is what building a root value needs: the data and the memo
// as checking left them, and where each value lies.
type lazyRoot struct {
	data []byte
	s    string
	// memo is checking's memo, compact: a str as its place in s
	// (from<<32 | length), a container as memoRef, a number as memoOther
	// | its index in others. A 100 KB session memoizes some 5,000 strs
	// and 2,000 dicts.
	memo   []uint64
	others []memoEntry
	strs   int // the strs in memo
	keys   []string
	spans  []span
	index  map[string]int
	out    *codec.Dict
}

// memoOther marks an entry of lazyRoot.memo that is not a str; memoRef
// is the entry of a container, which building never looks up.
const (
	memoOther = 1 << 63
	memoRef   = memoOther | 1<<62
)

// newLazyRoot returns the lazyRoot of what f checked.
func (f *fastDecoder) newLazyRoot() *lazyRoot {
	r := &lazyRoot{data: f.b, s: f.s, memo: make([]uint64, len(f.memo)), keys: slices.Clone(f.rootKeys),
		spans: slices.Clone(f.rootSpans), index: f.rootIndex, out: f.out}
	base := uintptr(unsafe.Pointer(unsafe.StringData(f.s)))
	for i, e := range f.memo {
		if e.isStr {
			// Every str checking reads is a part of f.s (see run).
			if len(e.s) == 0 {
				r.strs++
				continue // from 0, length 0
			}
			if from := uintptr(unsafe.Pointer(unsafe.StringData(e.s))) - base; from <= uintptr(len(f.s)-len(e.s)) {
				r.memo[i] = uint64(from)<<32 | uint64(len(e.s))
				r.strs++
				continue
			}
		}
		if e.ref {
			r.memo[i] = memoRef
			continue
		}
		r.memo[i] = memoOther | uint64(len(r.others))
		r.others = append(r.others, e)
	}
	return r
}

// memoAt returns the entry n of r's memo.
func (r *lazyRoot) memoAt(n uint64) memoEntry {
	m := r.memo[n]
	if m == memoRef {
		return memoEntry{ref: true}
	}
	if m&memoOther != 0 {
		return r.others[m&^memoOther]
	}
	from := m >> 32
	return memoEntry{isStr: true, s: r.s[from : from+m&0xffffffff]}
}

// Build builds the value of key k (codec.Dict's SetLazy).
func (r *lazyRoot) Build(k string) any {
	i, ok := r.find(k)
	if !ok {
		return nil // not reached: the Dict asks only for its keys
	}
	f := newFast(r.data, r.s, building)
	f.root, f.out = r, r.out
	f.i, f.end = int(r.spans[i].from), int(r.spans[i].to)
	f.nodes, f.strBytes = math.MaxInt, math.MaxInt // charged when checked
	v, ok := f.buildValue()
	f.release()
	if !ok {
		return nil // not reached: the same opcodes passed checking
	}
	return v
}

// buildValue runs f over one root value's opcodes and returns the value.
func (f *fastDecoder) buildValue() (v any, ok bool) {
	defer func() {
		if recover() != nil {
			v, ok = nil, false
		}
	}()
	if _, ok := f.run(); !ok || len(f.stack) != 1 || len(f.marks) != 0 {
		return nil, false
	}
	return f.value(&f.stack[0]), true
}

var fastDecoders = sync.Pool{New: func() any {
	return &fastDecoder{stack: make([]slot, 0, 16), marks: make([]int, 0, 8), markAt: make([]int32, 0, 8), memo: make([]memoEntry, 0, 64)}
}}

// release empties f, so that it keeps no decoded value alive, and pools
// it unless its buffers grew large.
func (f *fastDecoder) release() {
	clear(f.stack[:cap(f.stack)])
	clear(f.memo[:cap(f.memo)])
	if cap(f.stack) > 4096 || cap(f.memo) > 8192 {
		return // a rare large session: its buffers are not kept
	}
	clear(f.rootKeys)
	*f = fastDecoder{stack: f.stack[:0], marks: f.marks[:0], markAt: f.markAt[:0], memo: f.memo[:0], free: f.free[:min(len(f.free), 1024)],
		rootKeys: f.rootKeys[:0], rootSpans: f.rootSpans[:0]}
	fastDecoders.Put(f)
}

// charge counts one decoded node holding n bytes of str.
func (f *fastDecoder) charge(n int) bool {
	f.nodes--
	f.strBytes -= n
	return f.nodes >= 0 && f.strBytes >= 0
}

// argWidth is the size in bytes of the integer argument (a value, a
// length or a memo index) of the opcodes that take one.
func argWidth(op byte) int {
	switch op {
	case opBinInt2:
		return 2
	case opBinInt, opLong4, opBinUnicode, opLongBinPut, opLongBinGet:
		return 4
	case opBinUnicode8:
		return 8
	}
	return 1 // BININT1, LONG1, SHORT_BINUNICODE, BINPUT, BINGET
}

// uint reads an n-byte little-endian unsigned integer.
func (f *fastDecoder) uint(n int) (uint64, bool) {
	if n > len(f.b)-f.i {
		return 0, false
	}
	var u uint64
	for k := n - 1; k >= 0; k-- {
		u = u<<8 | uint64(f.b[f.i+k])
	}
	f.i += n
	return u, true
}

// push pushes s, which begins at the opcode being run.
func (f *fastDecoder) push(s slot) bool {
	if !f.charge(len(s.s)) {
		return false
	}
	s.at = int32(f.op)
	f.stack = append(f.stack, s)
	return true
}

// pushFrom pushes s, which begins at at (its first item, or its MARK).
func (f *fastDecoder) pushFrom(s slot, at int32) bool {
	if !f.push(s) {
		return false
	}
	f.stack[len(f.stack)-1].at = at
	return true
}

// popMark drops the last MARK and returns the stack height and the
// position it marked; ok is false when there is none.
func (f *fastDecoder) popMark() (base int, at int32, ok bool) {
	n := len(f.marks)
	if n == 0 {
		return 0, 0, false
	}
	base, at = f.marks[n-1], f.markAt[n-1]
	f.marks, f.markAt = f.marks[:n-1], f.markAt[:n-1]
	return base, at, true
}

// builder returns an empty builder; none when checking, which builds
// nothing.
func (f *fastDecoder) builder() *builder {
	if f.mode == checking {
		return nil
	}
	if n := len(f.free); n > 0 {
		b := f.free[n-1]
		f.free = f.free[:n-1]
		return b
	}
	return new(builder)
}

// value finishes the slot as the Go value a container stores. A finished
// dict records its key order.
func (f *fastDecoder) value(s *slot) any {
	if f.mode == checking {
		return nil // no builder to give back: see builder
	}
	var v any
	switch s.kind {
	case fastList:
		v = s.b.items
		if s.b.items == nil {
			v = make([]any, 0)
		}
	case fastDict:
		if s.b.direct {
			// Not the session after all (a tuple or list takes it): its
			// items leave the Dict for a map of their own.
			s.b.keys, s.b.m = f.out.Keys(), f.out.Map()
			f.out.SetOrdered(nil, nil)
		}
		v = s.b.m
		if s.b.m == nil {
			v = make(map[string]any)
		} else if len(s.b.keys) > 1 {
			f.out.SetKeyOrder(s.b.m, s.b.keys)
		}
	default:
		if s.isStr {
			return s.s
		}
		return s.v
	}
	*s.b = builder{}
	f.free = append(f.free, s.b)
	s.b = nil
	return v
}

// fromMark finishes the slots pushed since the last MARK, as a list, and
// drops the MARK, which was at at; their height is the highest of
// theirs, and n is how many there were.
func (f *fastDecoder) fromMark() (items []any, n int, h, at int32, ok bool) {
	base, at, ok := f.popMark()
	if !ok {
		return nil, 0, 0, 0, false
	}
	n = len(f.stack) - base
	items, h = f.finish(base)
	return items, n, h, at, true
}

// finish finishes the slots from the stack position base on, as a list
// (none when checking), and pops them; their height is the highest of
// theirs.
func (f *fastDecoder) finish(base int) (items []any, h int32) {
	if f.mode == checking {
		for k := base; k < len(f.stack); k++ {
			f.value(&f.stack[k])
			h = max(h, f.stack[k].h)
		}
		clear(f.stack[base:])
		f.stack = f.stack[:base]
		return nil, h
	}
	items = make([]any, len(f.stack)-base)
	for k := range items {
		s := &f.stack[base+k]
		items[k] = f.value(s)
		h = max(h, s.h)
	}
	clear(f.stack[base:])
	f.stack = f.stack[:base]
	return items, h
}

// underMark returns the slot just under the last MARK (the list or dict
// APPENDS and SETITEMS add the items since the MARK to), or nil if there
// is none above the MARK before it.
func (f *fastDecoder) underMark() *slot {
	n := len(f.marks)
	if n == 0 {
		return nil
	}
	base := f.marks[n-1]
	if base == 0 || (n > 1 && f.marks[n-2] >= base) {
		return nil
	}
	return &f.stack[base-1]
}

// below returns the slot n below the top (the list or dict APPEND and
// SETITEM add the slots above it to), or nil if there is none or a MARK
// lies between it and the top.
func (f *fastDecoder) below(n int) *slot {
	if len(f.stack) < n+1 {
		return nil
	}
	if m := len(f.marks); m > 0 && f.marks[m-1] > len(f.stack)-n-1 {
		return nil // a MARK between the container and its items
	}
	return &f.stack[len(f.stack)-n-1]
}

// setItems stores the key/value slots from the stack position base on
// into the dict slot d.
func (f *fastDecoder) setItems(ds *slot, base int) bool {
	if ds.kind != fastDict || (len(f.stack)-base)%2 != 0 {
		return false
	}
	if f.mode == checking {
		return f.checkItems(ds, base)
	}
	d := ds.b
	if f.mode == eager && ds == &f.stack[0] && d.m == nil {
		return f.setRootItems(ds, base)
	}
	if n := (len(f.stack) - base) / 2; d.m == nil {
		d.m = make(map[string]any, n)
		d.keys = make([]string, 0, n)
	} else {
		d.keys = slices.Grow(d.keys, n)
	}
	return f.putItems(ds, base, func(k string, v any) {
		if _, dup := d.m[k]; !dup {
			d.keys = append(d.keys, k) // Python keeps the first key and the last value
		}
		d.m[k] = v
	})
}

// setRootItems is setItems for the dict at the bottom of the stack when
// eager, which is the session when the pickle ends there: its items go
// straight into the Dict being decoded, which keeps the first key and
// the last value as Python does, with no map built to be copied.
func (f *fastDecoder) setRootItems(ds *slot, base int) bool {
	ds.b.direct = true
	f.out.Grow((len(f.stack) - base) / 2)
	return f.putItems(ds, base, f.out.Set)
}

// putItems gives put the key/value slots from the stack position base
// on, each value finished, pops them, and reports whether the dict slot
// ds took them: false for a non-str key (the general decoder's job) or a
// dict nested too deep.
func (f *fastDecoder) putItems(ds *slot, base int, put func(k string, v any)) bool {
	for k := base; k < len(f.stack); k += 2 {
		key, val := &f.stack[k], &f.stack[k+1]
		if key.kind != fastValue || !key.isStr {
			return false
		}
		v := f.value(val)
		ds.h = max(ds.h, val.h+1)
		put(key.s, v)
	}
	clear(f.stack[base:])
	f.stack = f.stack[:base]
	return ds.h <= MaxDepth
}

// checkItems is setItems when checking: it checks the items and, for
// the root dict, notes where their values lie.
func (f *fastDecoder) checkItems(ds *slot, base int) bool {
	root := ds == &f.stack[0]
	if root && ds.at != f.rootAt {
		// Not the dict the items noted so far went to: only the last
		// dict at the bottom of the stack can be the root.
		clear(f.rootKeys)
		f.rootKeys, f.rootSpans, f.rootIndex, f.rootAt = f.rootKeys[:0], f.rootSpans[:0], nil, ds.at
	}
	for k := base; k < len(f.stack); k += 2 {
		key, val := &f.stack[k], &f.stack[k+1]
		if key.kind != fastValue || !key.isStr {
			return false // a non-str key: the general decoder's job
		}
		ds.h = max(ds.h, val.h+1)
		if root {
			to := int32(f.op) // the SETITEM(S)
			if k+2 < len(f.stack) {
				to = f.stack[k+2].at
			}
			f.noteRootItem(key.s, span{val.at, to})
		}
		f.value(val)
	}
	clear(f.stack[base:])
	f.stack = f.stack[:base]
	return ds.h <= MaxDepth
}

// noteRootItem notes where the value of the root's key k lies: Python
// keeps the first key and the last value.
func (f *fastDecoder) noteRootItem(k string, sp span) {
	i, dup := -1, false
	if f.rootIndex != nil {
		i, dup = f.rootIndex[k]
	} else {
		i = slices.Index(f.rootKeys, k)
		dup = i >= 0
	}
	if dup {
		f.rootSpans[i] = sp
		return
	}
	f.rootKeys = append(f.rootKeys, k)
	f.rootSpans = append(f.rootSpans, sp)
	switch n := len(f.rootKeys); {
	case f.rootIndex != nil:
		f.rootIndex[k] = n - 1
	case n > 16: // a scan costs less than a map below this
		f.rootIndex = make(map[string]int, 2*n)
		for j, x := range f.rootKeys {
			f.rootIndex[x] = j
		}
	}
}

// lazyDict is the Dict of a checked pickle, whose root is the dict at
// the bottom of the stack: its values are built when first read.
func (f *fastDecoder) lazyDict(root *slot) (*codec.Dict, bool) {
	if len(f.rootKeys) == 0 || root.at != f.rootAt {
		// The root never had an item: a dict stays at the bottom of the
		// stack from its first opcode on, so the items noted for
		// another one were not its own.
		return f.out, true
	}
	r := f.newLazyRoot()
	// SetLazy copies the keys: r finds a value's span by the key's place
	// in r.keys, whatever the Dict does with its own.
	if !f.out.SetLazy(r.keys, r) {
		return nil, false // not reached: noteRootItem keeps one of each
	}
	return f.out, true
}

func (f *fastDecoder) run() (*codec.Dict, bool) {
	for f.i < f.end {
		c := f.b[f.i]
		f.op = f.i
		f.i++
		switch c {
		case opProto:
			p, ok := f.uint(1)
			if !ok || p > Protocol {
				return nil, false
			}
		case opFrame:
			n, ok := f.uint(8)
			if !ok || n > uint64(len(f.b)-f.i) {
				return nil, false
			}
		case opStop:
			if len(f.stack) != 1 || len(f.marks) != 0 || f.i != len(f.b) {
				return nil, false
			}
			root := &f.stack[0]
			if root.kind != fastDict || root.h > MaxDepth || f.mode == building {
				return nil, false
			}
			if f.mode == checking {
				return f.lazyDict(root)
			}
			if !root.b.direct && root.b.m != nil && !f.out.SetOrdered(root.b.keys, root.b.m) {
				return nil, false // not reached: keys lists m's keys
			}
			*root.b = builder{}
			f.free = append(f.free, root.b)
			return f.out, true
		case opMark:
			f.marks = append(f.marks, len(f.stack))
			f.markAt = append(f.markAt, int32(f.op))
		case opNone:
			if !f.push(slot{}) {
				return nil, false
			}
		case opNewTrue, opNewFalse:
			if !f.push(slot{v: c == opNewTrue}) {
				return nil, false
			}
		case opBinInt:
			u, ok := f.uint(4)
			if !ok || !f.push(slot{v: int64(int32(uint32(u)))}) {
				return nil, false
			}
		case opBinInt1, opBinInt2:
			u, ok := f.uint(argWidth(c))
			if !ok || !f.push(slot{v: int64(u)}) {
				return nil, false
			}
		case opLong1, opLong4:
			n, ok := f.uint(argWidth(c))
			if !ok || n > MaxIntBytes || n > uint64(len(f.b)-f.i) {
				return nil, false
			}
			v := decodeLong(f.b[f.i : f.i+int(n)])
			f.i += int(n)
			if !f.push(slot{v: v}) {
				return nil, false
			}
		case opBinFloat:
			if len(f.b)-f.i < 8 {
				return nil, false
			}
			x := math.Float64frombits(binary.BigEndian.Uint64(f.b[f.i:]))
			f.i += 8
			if !f.push(slot{v: x}) {
				return nil, false
			}
		case opShortBinUnicode, opBinUnicode, opBinUnicode8:
			n, ok := f.uint(argWidth(c))
			if !ok || n > uint64(len(f.b)-f.i) {
				return nil, false
			}
			str, err := decodeUTF8(f.s[f.i : f.i+int(n)])
			f.i += int(n)
			if err != nil || !f.push(slot{isStr: true, s: str}) {
				return nil, false
			}
		case opEmptyList:
			if !f.push(slot{kind: fastList, h: 1, b: f.builder()}) {
				return nil, false
			}
		case opEmptyDict:
			if !f.push(slot{kind: fastDict, h: 1, b: f.builder()}) { // m is made with its size, at the first SETITEMS
				return nil, false
			}
		case opEmptyTuple:
			if !f.push(slot{v: make([]any, 0), h: 1}) {
				return nil, false
			}
		case opTuple1, opTuple2, opTuple3:
			n := int(c-opTuple1) + 1
			if f.below(n-1) == nil {
				return nil, false
			}
			at := f.stack[len(f.stack)-n].at
			items, h := f.finish(len(f.stack) - n)
			if !f.pushFrom(slot{v: items, h: h + 1}, at) {
				return nil, false
			}
		case opTuple, opList:
			items, _, h, at, ok := f.fromMark()
			if !ok {
				return nil, false
			}
			s := slot{v: items, h: h + 1}
			if c == opList {
				s = slot{kind: fastList, b: f.builder(), h: h + 1}
				if s.b != nil {
					s.b.items = items
				}
			}
			if !f.pushFrom(s, at) {
				return nil, false
			}
		case opAppend:
			l := f.below(1)
			if l == nil || l.kind != fastList {
				return nil, false
			}
			top := &f.stack[len(f.stack)-1]
			if v := f.value(top); f.mode != checking {
				l.b.items = append(l.b.items, v)
			}
			l.h = max(l.h, top.h+1)
			*top = slot{}
			f.stack = f.stack[:len(f.stack)-1]
		case opAppends:
			l := f.underMark()
			if l == nil || l.kind != fastList {
				return nil, false
			}
			items, n, h, _, _ := f.fromMark()
			switch {
			case f.mode == checking:
			case l.b.items == nil:
				l.b.items = items
			default:
				l.b.items = append(l.b.items, items...)
			}
			if n > 0 {
				l.h = max(l.h, h+1)
			}
		case opSetItem:
			d := f.below(2)
			if d == nil || !f.setItems(d, len(f.stack)-2) {
				return nil, false
			}
		case opSetItems:
			d := f.underMark()
			if d == nil {
				return nil, false
			}
			base, _, _ := f.popMark()
			if !f.setItems(d, base) {
				return nil, false
			}
		case opDict:
			base, at, ok := f.popMark()
			if !ok {
				return nil, false
			}
			if base == 0 && f.mode == checking {
				f.notLazy = true // a root built from MARK: not split
				return nil, false
			}
			d := slot{kind: fastDict, h: 1, b: f.builder()}
			if !f.setItems(&d, base) || !f.pushFrom(d, at) {
				return nil, false
			}
		case opMemoize, opBinPut, opLongBinPut:
			if f.mode == building {
				// Checked, and already in the memo checking left.
				if c != opMemoize {
					f.i += argWidth(c)
				}
				continue
			}
			if len(f.stack) == 0 || (len(f.marks) > 0 && f.marks[len(f.marks)-1] == len(f.stack)) {
				return nil, false
			}
			n := uint64(len(f.memo))
			if c != opMemoize {
				var ok bool
				if n, ok = f.uint(argWidth(c)); !ok {
					return nil, false
				}
			}
			top := &f.stack[len(f.stack)-1]
			e := memoEntry{isStr: top.isStr, s: top.s, v: top.v}
			if top.kind != fastValue || top.h > 0 {
				// A list, dict or tuple: a reference to it shares it,
				// which only the general decoder does.
				e = memoEntry{ref: true}
			}
			switch {
			case n < uint64(len(f.memo)) && f.mode == checking:
				f.notLazy = true // a memo entry written twice: values cannot be built apart
				return nil, false
			case n < uint64(len(f.memo)):
				f.memo[n] = e
			case n == uint64(len(f.memo)):
				f.memo = append(f.memo, e)
			default:
				return nil, false // out of order: the general decoder's job
			}
		case opBinGet, opLongBinGet:
			n, ok := f.uint(argWidth(c))
			var e memoEntry
			switch {
			case !ok:
				return nil, false
			case f.mode == building:
				e = f.root.memoAt(n) // checked
			case n >= uint64(len(f.memo)) || f.memo[n].ref:
				return nil, false
			default:
				e = f.memo[n]
			}
			if !f.push(slot{isStr: e.isStr, s: e.s, v: e.v}) {
				return nil, false
			}
		default:
			return nil, false
		}
	}
	return nil, f.mode == building // building stops at its value's end; the others at STOP
}
