package pickle

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"sync"
	"unicode/utf8"

	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/internal/pyjson"
)

// CPython's pickler constants (Modules/_pickle.c).
const (
	frameHeaderSize = 9         // FRAME opcode + 8-byte length
	frameSizeMin    = 4         // smaller frames are not worth a header
	frameSizeTarget = 64 * 1024 // a frame is closed once it reaches this
	batchSize       = 1000      // items per APPENDS / SETITEMS
)

var errTooLargeAbort = errors.New("pickle: too large")

// encoder writes protocol 5 exactly as CPython's C pickler does for plain
// data. Frames: PROTO is written before framing starts; every write opens
// a frame if none is open (reserving its header); at the start of saving
// each value, a frame holding frameSizeTarget bytes or more is closed;
// str payloads of frameSizeTarget bytes or more are written outside any
// frame; STOP goes into the last frame, which is then closed. Memo: every
// str, list and dict is followed by MEMOIZE; a str already written is
// referenced with BINGET / LONG_BINGET instead.
type encoder struct {
	out        []byte
	frameStart int // -1: no open frame
	framing    bool
	strMemo    map[string]uint32
	nmemo      uint32
	limit      int // negative: none
	// strBytes is the length of every str written so far, each
	// reference counted, as the decoder's budget counts them.
	strBytes int
	// order gives the key order of a map[string]any (see keyOrder); nil
	// means the order the session recorded, or sorted.
	order func(map[string]any) []string
	// json is the scratch of the values written from their JSON text.
	json jsonScratch
}

// newEncoder returns a pooled encoder; release gives it back.
func newEncoder(limit int) *encoder {
	e := encoders.Get().(*encoder)
	e.frameStart, e.limit = -1, limit
	return e
}

// encoders keeps the str memo and the scratch of encoders: the memo of a
// 100 KB session holds some 5,000 strs.
var encoders = sync.Pool{New: func() any { return new(encoder) }}

// startSize is the room a pickle gets when nothing says how large it
// will be.
const startSize = 512

// release empties e, keeping nothing of what it wrote, and pools it
// unless its memo or scratch grew large.
func (e *encoder) release() {
	if len(e.strMemo) > 1<<14 || cap(e.json.raws) > 1<<14 || cap(e.json.keys) > 1<<14 {
		return // a rare large session: its buffers are not kept
	}
	clear(e.strMemo)
	clear(e.json.raws[:cap(e.json.raws)])
	clear(e.json.keys[:cap(e.json.keys)])
	clear(e.json.seen)
	*e = encoder{strMemo: e.strMemo, json: jsonScratch{raws: e.json.raws[:0], keys: e.json.keys[:0], seen: e.json.seen}}
	encoders.Put(e)
}

func (e *encoder) write(b ...byte) {
	if e.framing && e.frameStart < 0 {
		e.frameStart = len(e.out)
		e.out = append(e.out, make([]byte, frameHeaderSize)...)
	}
	e.out = append(e.out, b...)
}

func (e *encoder) commitFrame() {
	if e.frameStart < 0 {
		return
	}
	n := len(e.out) - e.frameStart - frameHeaderSize
	if n >= frameSizeMin {
		e.out[e.frameStart] = opFrame
		binary.LittleEndian.PutUint64(e.out[e.frameStart+1:], uint64(n))
	} else {
		copy(e.out[e.frameStart:], e.out[e.frameStart+frameHeaderSize:])
		e.out = e.out[:len(e.out)-frameHeaderSize]
	}
	e.frameStart = -1
}

// boundary runs at the start of saving each value.
func (e *encoder) boundary() error {
	if e.limit >= 0 && len(e.out) > e.limit {
		return errTooLargeAbort
	}
	if e.framing && e.frameStart >= 0 && len(e.out)-e.frameStart-frameHeaderSize >= frameSizeTarget {
		e.commitFrame()
	}
	return nil
}

// writeBytes writes an opcode header and its payload; a large payload
// bypasses framing, as in CPython's _Pickler_write_bytes.
func (e *encoder) writeBytes(header []byte, data string) {
	if len(data) < frameSizeTarget {
		e.write(header...)
		e.out = append(e.out, data...)
		return
	}
	e.commitFrame()
	e.out = append(e.out, header...)
	e.out = append(e.out, data...)
}

func (e *encoder) memoize() {
	e.write(opMemoize)
	e.nmemo++
}

func (e *encoder) start() {
	if e.out == nil {
		// Room for a session of a few values at once (the standard
		// session is about 400 bytes) rather than growing there by
		// doubling from a few bytes.
		e.out = make([]byte, 0, startSize)
	}
	e.out = append(e.out, opProto, Protocol)
	e.framing = true
}

func (e *encoder) finish() ([]byte, error) {
	e.write(opStop)
	e.commitFrame()
	if e.limit >= 0 && len(e.out) > e.limit {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", codec.ErrTooLarge, len(e.out), e.limit)
	}
	return e.out, nil
}

func (e *encoder) tooLarge(err error) error {
	if errors.Is(err, errTooLargeAbort) {
		return fmt.Errorf("%w: over %d bytes", codec.ErrTooLarge, e.limit)
	}
	return err
}

// dumpDict pickles the session dict, its nested maps in the order d
// recorded; an error is a *codec.EncodeError naming the session key.
func (e *encoder) dumpDict(d *codec.Dict) ([]byte, error) {
	keys := d.Keys()
	e.sizeFor(d, keys)
	e.start()
	e.json.d = d // and its key orders (see keyOrder)
	err := e.saveDict(len(keys), func(i int) (string, any) {
		if src, ok := d.Unbuilt(keys[i]); ok {
			if r, ok := src.(*lazyRoot); ok {
				return keys[i], unbuilt{r: r, d: d, k: keys[i]}
			}
		}
		if raw, ok := d.Stored(keys[i]); ok {
			stored := raw // only a stored value's form goes to the heap
			return keys[i], storedJSON{&stored}
		}
		v, _ := d.Get(keys[i])
		return keys[i], v
	}, 0, func(k string, inKey bool, err error) error {
		if errors.Is(err, errTooLargeAbort) {
			return err
		}
		if inKey {
			return codec.NewKeyError(k, err)
		}
		return codec.NewEncodeError(k, pyjson.FinishPath(err))
	})
	if err != nil {
		return nil, e.tooLarge(err)
	}
	return e.finish()
}

// sizeFor makes room at once for the pickle of a session loaded from a
// pickle or JSON, which is most often saved at about the size it had.
func (e *encoder) sizeFor(d *codec.Dict, keys []string) {
	stored := 0
	for _, k := range keys {
		if src, ok := d.Unbuilt(k); ok {
			if r, ok := src.(*lazyRoot); ok {
				e.out = make([]byte, 0, len(r.data)+64)
				if e.strMemo == nil {
					e.strMemo = make(map[string]uint32, r.strs)
				}
			}
			return
		}
		if raw, ok := d.Stored(k); ok {
			stored += len(raw)
		}
	}
	if stored >= 1024 {
		// JSON takes a little more room than a pickle of the same data:
		// its strs are quoted, its containers' items separated.
		e.out = make([]byte, 0, stored+64)
	}
}

func (e *encoder) dump(v any) ([]byte, error) {
	e.start()
	if err := e.save(v, 0); err != nil {
		if errors.Is(err, errTooLargeAbort) {
			return nil, e.tooLarge(err)
		}
		return nil, fmt.Errorf("%w: %w", codec.ErrUnencodable, pyjson.FinishPath(err))
	}
	return e.finish()
}

func (e *encoder) save(v any, depth int) error {
	if err := e.boundary(); err != nil {
		return err
	}
	return e.saveValue(v, depth)
}

// saveValue is save once boundary has run.
func (e *encoder) saveValue(v any, depth int) error {
	switch x := v.(type) {
	case nil:
		e.write(opNone)
	case bool:
		if x {
			e.write(opNewTrue)
		} else {
			e.write(opNewFalse)
		}
	case string:
		return e.saveStr(x)
	case int:
		e.saveInt(int64(x))
	case int8:
		e.saveInt(int64(x))
	case int16:
		e.saveInt(int64(x))
	case int32:
		e.saveInt(int64(x))
	case int64:
		e.saveInt(x)
	case uint:
		e.saveUint(uint64(x))
	case uint8:
		e.saveInt(int64(x))
	case uint16:
		e.saveInt(int64(x))
	case uint32:
		e.saveInt(int64(x))
	case uint64:
		e.saveUint(x)
	case uintptr:
		e.saveUint(uint64(x))
	case float64:
		e.saveFloat(x)
	case float32:
		e.saveFloat(float64(x))
	case *big.Int:
		if x == nil {
			e.write(opNone)
		} else if x.IsInt64() {
			e.saveInt(x.Int64())
		} else {
			return e.saveLong(x)
		}
	case json.Number:
		n, err := pyjson.NumberValue(x)
		if err != nil {
			return pyjson.Errorf("%v", err)
		}
		return e.save(n, depth)
	case []any:
		return e.saveList(len(x), func(i int) any { return x[i] }, depth)
	case []string:
		return e.saveList(len(x), func(i int) any { return x[i] }, depth)
	case map[string]any:
		keys := e.keyOrder(x)
		return e.saveDict(len(keys), func(i int) (string, any) { return keys[i], x[keys[i]] }, depth, nil)
	case map[string]string:
		keys := sortedKeys(x)
		return e.saveDict(len(keys), func(i int) (string, any) { return keys[i], x[keys[i]] }, depth, nil)
	case unbuilt:
		return e.saveUnbuilt(x, depth)
	case storedJSON:
		return e.saveJSON(*x.raw, depth)
	case *codec.Dict:
		if x == nil {
			e.write(opNone)
			return nil
		}
		keys := x.Keys()
		return e.saveDict(len(keys), func(i int) (string, any) {
			v, _ := x.Get(keys[i])
			return keys[i], v
		}, depth, nil)
	default:
		return e.saveOther(v, depth)
	}
	return nil
}

// saveOther handles any other Go value through encoding/json, as the JSON
// codec does: struct tags and json.Marshaler apply, struct fields keep
// their order, and strings encoding/json would change are refused.
func (e *encoder) saveOther(v any, depth int) error {
	g, order, err := pyjson.Generic(v)
	if err != nil {
		return err
	}
	if order != nil {
		outer := e.order
		e.order = func(m map[string]any) []string {
			if keys := order(m); keys != nil {
				return keys
			}
			if outer != nil {
				return outer(m)
			}
			return e.sessionKeyOrder(m)
		}
		defer func() { e.order = outer }()
	}
	return e.save(g, depth)
}

// keyOrder returns the keys of m in the order to write them.
func (e *encoder) keyOrder(m map[string]any) []string {
	if e.order != nil {
		return e.order(m)
	}
	return e.sessionKeyOrder(m)
}

// sessionKeyOrder returns the keys of m in the order the session being
// written recorded for it, or sorted.
func (e *encoder) sessionKeyOrder(m map[string]any) []string {
	if e.json.d != nil {
		return e.json.d.KeyOrder(m)
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

func (e *encoder) saveInt(n int64) {
	switch {
	case n >= 0 && n <= 0xff:
		e.write(opBinInt1, byte(n))
	case n >= 0 && n <= 0xffff:
		e.write(opBinInt2, byte(n), byte(n>>8))
	case n >= math.MinInt32 && n <= math.MaxInt32:
		u := uint32(int32(n))
		e.write(opBinInt, byte(u), byte(u>>8), byte(u>>16), byte(u>>24))
	default:
		e.saveLong(big.NewInt(n)) // 8 bytes at most: no error
	}
}

func (e *encoder) saveUint(u uint64) {
	if u <= math.MaxInt64 {
		e.saveInt(int64(u))
		return
	}
	e.saveLong(new(big.Int).SetUint64(u)) // 9 bytes at most: no error
}

// saveLong writes LONG1 or LONG4 with CPython's byte count: bitlen/8 + 1
// bytes of two's complement, one less for a negative number whose top
// byte is only sign. It refuses more than MaxIntBytes, which Decode would.
func (e *encoder) saveLong(n *big.Int) error {
	if n.BitLen() > 8*MaxIntBytes+8 {
		return pyjson.Errorf("integer of more than %d bytes: over MaxIntBytes", MaxIntBytes)
	}
	nbytes := n.BitLen()/8 + 1
	le := make([]byte, nbytes)
	if n.Sign() >= 0 {
		n.FillBytes(le)
	} else {
		// Two's complement: 2^(8*nbytes) + n.
		t := new(big.Int).Lsh(big.NewInt(1), uint(8*nbytes))
		t.Add(t, n)
		t.FillBytes(le)
	}
	slices.Reverse(le) // FillBytes is big-endian
	if n.Sign() < 0 && nbytes > 1 && le[nbytes-1] == 0xff && le[nbytes-2]&0x80 != 0 {
		nbytes--
		le = le[:nbytes]
	}
	if nbytes > MaxIntBytes {
		return pyjson.Errorf("integer of %d bytes: over MaxIntBytes (%d)", nbytes, MaxIntBytes)
	}
	if nbytes < 256 {
		e.write(opLong1, byte(nbytes))
	} else {
		e.write(opLong4, byte(nbytes), byte(nbytes>>8), byte(nbytes>>16), byte(nbytes>>24))
	}
	e.write(le...)
	return nil
}

func (e *encoder) saveFloat(f float64) {
	var b [9]byte
	b[0] = opBinFloat
	binary.BigEndian.PutUint64(b[1:], math.Float64bits(f))
	e.write(b[:]...)
}

// saveStr writes a str. s must be UTF-8, where a surrogate code point in
// its 3-byte form is a lone surrogate (what CPython writes with
// "surrogatepass"); other invalid bytes are an error.
func (e *encoder) saveStr(s string) error {
	if !utf8.ValidString(s) {
		if _, err := pyjson.AppendString(nil, s); err != nil {
			return err
		}
	}
	if i, ok := e.strMemo[s]; ok && e.share(len(s)) {
		if i < 256 {
			e.write(opBinGet, byte(i))
		} else {
			e.write(opLongBinGet, byte(i), byte(i>>8), byte(i>>16), byte(i>>24))
		}
		return nil
	}
	e.strBytes += len(s)
	n := len(s)
	switch {
	case n <= 0xff:
		e.writeBytes([]byte{opShortBinUnicode, byte(n)}, s)
	case uint64(n) <= 0xffffffff:
		e.writeBytes([]byte{opBinUnicode, byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24)}, s)
	default:
		h := make([]byte, 9)
		h[0] = opBinUnicode8
		binary.LittleEndian.PutUint64(h[1:], uint64(n))
		e.writeBytes(h, s)
	}
	if e.strMemo == nil {
		e.strMemo = make(map[string]uint32)
	}
	e.strMemo[s] = e.nmemo
	e.memoize()
	return nil
}

// share reports whether one more reference to a str of n bytes already
// written keeps the decoded value within the decoder's budget for shared
// references, counting the pickle as long as it is now (it only grows,
// but for the header of the open frame, which may be dropped). If not, the
// str is written again: its bytes raise the budget more than they cost.
func (e *encoder) share(n int) bool {
	size := len(e.out)
	if e.frameStart >= 0 {
		size -= frameHeaderSize
	}
	if e.strBytes+n > strBudget(size) {
		return false
	}
	e.strBytes += n
	return true
}

// enter guards against too deep nesting (and cycles of Go maps and
// slices): a container at depth is at level depth+1.
func (e *encoder) enter(depth int) error {
	if depth >= MaxDepth {
		return pyjson.ErrNesting()
	}
	return nil
}

func (e *encoder) saveList(n int, item func(int) any, depth int) error {
	if err := e.enter(depth); err != nil {
		return err
	}
	e.write(opEmptyList)
	e.memoize()
	if n == 0 {
		return nil
	}
	if n == 1 {
		if err := e.save(item(0), depth+1); err != nil {
			return pyjson.AtIndex(err, 0)
		}
		e.write(opAppend)
		return nil
	}
	for total := 0; total < n; {
		e.write(opMark)
		for batch := 0; batch < batchSize && total < n; batch++ {
			if err := e.save(item(total), depth+1); err != nil {
				return pyjson.AtIndex(err, total)
			}
			total++
		}
		e.write(opAppends)
	}
	return nil
}

// saveDict writes a dict; wrapErr, when set, decorates an error with the
// key whose value (or the key itself, if inKey) failed.
func (e *encoder) saveDict(n int, item func(int) (string, any), depth int, wrapErr func(k string, inKey bool, err error) error) error {
	if err := e.enter(depth); err != nil {
		return err
	}
	e.write(opEmptyDict)
	e.memoize()
	if n == 0 {
		return nil
	}
	pair := func(i int) error {
		k, v := item(i)
		if err := e.boundary(); err != nil {
			return err
		}
		if err := e.saveStr(k); err != nil {
			if wrapErr != nil {
				return wrapErr(k, true, err)
			}
			var pe *pyjson.EncodeError
			if errors.As(err, &pe) {
				pe.Err = fmt.Errorf("key %.40q: %w", k, pe.Err)
			}
			return err
		}
		if err := e.save(v, depth+1); err != nil {
			if wrapErr != nil {
				return wrapErr(k, false, err)
			}
			return pyjson.AtKey(err, k)
		}
		return nil
	}
	if n == 1 {
		if err := pair(0); err != nil {
			return err
		}
		e.write(opSetItem)
		return nil
	}
	// CPython's batch_dict_exact loops while a batch was full, so a dict
	// of exactly 1000*k items ends with an empty MARK SETITEMS.
	i := 0
	for {
		e.write(opMark)
		batch := 0
		for i < n {
			if err := pair(i); err != nil {
				return err
			}
			i++
			if batch++; batch == batchSize {
				break
			}
		}
		e.write(opSetItems)
		if batch != batchSize {
			return nil
		}
	}
}
