// Package pickle is the session format of Django's cache engines: the
// session dict pickled by Python's pickle module, as
// django.core.cache.backends.redis.RedisCache and PyMemcacheCache store it
// (pickle.dumps(session_dict, pickle.HIGHEST_PROTOCOL), protocol 5 on
// CPython 3.8 and later). The data is neither signed nor encrypted: it is
// only as trustworthy as the cache it comes from.
//
// # Encoding
//
// [Codec.Encode] and [Marshal] write protocol 5 exactly as CPython's
// pickler writes plain data: the same opcodes, the same 64 KiB framing,
// batches of 1000 items, MEMOIZE after every str, list and dict, and a
// BINGET for a string that was already written (CPython does that for
// the same string object). For a dict whose strings are all distinct the
// bytes are identical to pickle.dumps(d, 5). Go values map to Python as
// follows:
//
//	nil                          None
//	bool                         bool
//	every integer type, *big.Int int (any size)
//	float32, float64             float (NaN and infinities included)
//	string                       str (see below)
//	[]any, []string              list
//	map[string]any, *codec.Dict  dict (in the order the session Dict recorded, see below)
//	json.Number                  int or float
//
// Any other value is first marshalled by encoding/json (struct tags and
// json.Marshaler are honoured, struct fields keep their order) and the
// result is pickled, so a value that the default JSON codec accepts is
// accepted here too.
//
// Encode refuses exactly what Decode would not read back, with a
// *codec.EncodeError that names the session key (and the place inside
// the value) and matches codec.ErrUnencodable: nesting deeper than
// [MaxDepth], integers over [MaxIntBytes], and strings that are not
// UTF-8. A value repeating one long str many times is still read back:
// the encoder references a str it already wrote (BINGET) only while the
// decoder's bound on shared references allows it, and writes it again
// otherwise.
//
// # Strings
//
// CPython pickles a str as UTF-8 with errors="surrogatepass", so a str
// with lone surrogates ("x\ud800y") is legal. A Go string holds such a
// str as those very bytes (a surrogate is the 3-byte sequence ED A0..BF
// 80..BF, the form the codec package documents), so it is decoded and
// written back unchanged. Any other invalid UTF-8 is an encode error.
//
// # Key order
//
// The session dict keeps its order (codec.Dict). Nested dicts decode to
// map[string]any, whose order Decode records in the Dict
// (codec.Dict.SetKeyOrder); Encode writes every map[string]any in the
// order the Dict gives (codec.Dict.KeyOrder). A nested dict read, changed
// and set back keeps CPython's order, new keys last; maps Go builds are
// written with sorted keys.
//
// # Decoding
//
// [Codec.Decode] and [Unmarshal] read the output of CPython's pickler for
// plain data, protocols 0 to 5: None, bool, int (int64, or *big.Int when
// it does not fit), float (float64), str (string), list and tuple ([]any)
// and dict. The session dict keeps its insertion order; nested dicts
// become map[string]any, and their non-str keys are converted as
// json.dumps converts them (1 → "1", True → "true", None → "null",
// 1.5 → "1.5"). The keys of the session dict itself must be str.
//
// Everything else is refused with an error matching codec.ErrCorrupt:
// opcodes that name a global (GLOBAL, STACK_GLOBAL, INST), call or build
// an object (REDUCE, BUILD, OBJ, NEWOBJ, NEWOBJ_EX), refer to persistent
// ids, the extension registry or out-of-band buffers, bytes, bytearray,
// sets, and Python 2 byte strings. Those errors also match
// [ErrNotPlainData]. Nothing is ever looked up, instantiated or called:
// the decoder is a small stack machine over plain values, so a pickle
// written by an attacker who can write to the cache is at worst an
// undecodable session, never code execution.
//
// Hostile input is bounded: the input size (MaxSize), the nesting depth
// ([MaxDepth]), integer sizes ([MaxIntBytes], and Python's 4300-digit
// limit for decimal ints), and the size of the decoded value (memo
// references may make a value larger than its pickle, but not without
// bound). Decode never panics.
//
// Decode checks the whole pickle before it returns, so a corrupt session
// is refused at once, but for a session of more than a few hundred bytes
// as CPython writes it (protocols 2 to 5) it builds a value only when it
// is first read (Get, All, Map, Clone): a request that reads the user of
// a session holding a large cart does not build the cart. Encode writes
// the values nobody read or set from what they were decoded from (the
// pickle's opcodes, or a JSON codec's text) without building them, and
// writes the same bytes as building them would.
//
// # Why not a pickle library
//
// The decoder and encoder are small and written here, and
// github.com/kisielk/og-rek serves as an independent reader in the tests
// of the e2e module (e2e/pickle), which keeps it out of this module.
// og-rek v1.3.0 cannot be the codec: it decodes dicts into Go maps (the
// session's key order is lost), reads the second reference to a list as
// the empty list it was when memoized ({"a": x, "b": x} comes back with
// b == []), misreads LONG1 integers of 128 bytes or more, has no LONG4 or
// BINUNICODE8, and its encoder writes maps in random order without
// MEMOIZE or frames, so it cannot produce Django's bytes. The tests
// compare this package with CPython itself, byte for byte.
package pickle

import (
	"errors"
	"fmt"

	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/signing"
)

// Protocol is the pickle protocol Encode writes: Python's
// pickle.HIGHEST_PROTOCOL, what Django's cache backends use.
const Protocol = 5

// MaxDepth is the deepest nesting of lists, tuples and dicts that Encode
// writes and Decode accepts (the session dict itself is level 1), the
// same as the JSON codecs' codec.MaxDepth.
const MaxDepth = codec.MaxDepth

// MaxIntBytes is the largest binary integer (LONG1/LONG4 payload) Decode
// accepts and Encode writes: 64 KiB, about 157,000 decimal digits.
const MaxIntBytes = 64 << 10

// DefaultMaxSize is the size limit of a Codec whose MaxSize is zero.
const DefaultMaxSize = signing.DefaultMaxSize

// ErrNotPlainData is wrapped, together with codec.ErrCorrupt, by Decode
// errors for a pickle that is well formed but holds something other than
// plain data: a global, a call, an object, a persistent id, bytes, a set.
// Such a pickle was not written by Django for a session; it may be an
// attack on a cache an attacker could write to.
var ErrNotPlainData = errors.New("pickle: not plain data")

// Codec is the codec.Codec of Django's cache session engines. The zero
// value is ready to use.
type Codec struct {
	// MaxSize limits the size of a pickle in bytes, when encoding and when
	// decoding. Zero means DefaultMaxSize (4 MiB); negative means no limit.
	MaxSize int
}

var _ codec.Codec = Codec{}

func (c Codec) limit() int {
	if c.MaxSize == 0 {
		return DefaultMaxSize
	}
	return c.MaxSize
}

// Encode implements codec.Codec: the session dict pickled with protocol 5.
// An unencodable value gives a *codec.EncodeError (matching
// codec.ErrUnencodable) that names its session key; a result over MaxSize
// gives an error matching codec.ErrTooLarge.
func (c Codec) Encode(d *codec.Dict) ([]byte, error) {
	if d == nil {
		d = &codec.Dict{}
	}
	e := newEncoder(c.limit())
	defer e.release()
	b, err := e.dumpDict(d)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// Decode implements codec.Codec. Every error matches codec.ErrCorrupt;
// see the package documentation for what is accepted.
func (c Codec) Decode(data []byte) (*codec.Dict, error) {
	if m := c.limit(); m > 0 && len(data) > m {
		return nil, fmt.Errorf("%w: %w: %d bytes, limit %d", codec.ErrCorrupt, codec.ErrTooLarge, len(data), m)
	}
	if d, ok := fastSession(data); ok {
		return d, nil
	}
	v, err := load(data)
	if err != nil {
		return nil, err
	}
	root, ok := v.(*pyDict)
	if !ok {
		return nil, corruptf("the pickle holds a value of type %s, not a dict", typeName(v))
	}
	cv := newConverter(len(data))
	return cv.sessionDict(root)
}

// Marshal returns the protocol 5 pickle of a plain value, as
// pickle.dumps(v, 5) writes it. See the package documentation for the
// accepted Go types. It applies no size limit.
func Marshal(v any) ([]byte, error) {
	e := newEncoder(-1)
	defer e.release()
	return e.dump(v)
}

// Unmarshal decodes a pickle of plain data of any shape (a dict, a list, a
// scalar), with the types listed in the package documentation; dicts
// become map[string]any. It applies no size limit beyond those of the
// decoder itself. Every error matches codec.ErrCorrupt.
func Unmarshal(data []byte) (any, error) {
	v, err := load(data)
	if err != nil {
		return nil, err
	}
	return newConverter(len(data)).value(v, 0)
}

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: pickle: %s", codec.ErrCorrupt, fmt.Sprintf(format, args...))
}

func notPlainf(format string, args ...any) error {
	return fmt.Errorf("%w: %w: %s", codec.ErrCorrupt, ErrNotPlainData, fmt.Sprintf(format, args...))
}
