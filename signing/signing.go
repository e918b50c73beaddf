// Package signing implements the parts of Django's django.core.signing that
// sessions use, byte for byte: salted HMAC-SHA256 signatures, the
// TimestampSigner with base62 timestamps, and dumps/loads with URL-safe
// base64 and optional zlib compression.
//
// A value produced by [Dumps] has the form payload:timestamp:signature,
// where payload is the URL-safe base64 (no padding) of the serialized data,
// prefixed with "." when it is zlib-compressed; timestamp is the signing
// time in seconds, in base62; and signature is the URL-safe base64 of
// HMAC-SHA256(key = SHA256(salt + "signer" + secret), message =
// payload:timestamp).
//
// Signatures are compared in constant time, against the primary key and
// then each fallback key, as Django's SECRET_KEY_FALLBACKS. Unlike Django,
// decompression is capped (see [Options.MaxSize]): a zip bomb in a cookie
// is refused instead of being inflated.
package signing

import (
	"bytes"
	"compress/zlib"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/sessionkit/sessions/internal/pyjson"
)

// Errors returned by the unsigning functions.
var (
	// ErrBadSignature reports a value whose signature does not match any
	// key, or that has no signature at all (Django's BadSignature).
	ErrBadSignature = errors.New("signing: bad signature")
	// ErrSignatureExpired reports a correctly signed value older than the
	// maximum age (Django's SignatureExpired).
	ErrSignatureExpired = errors.New("signing: signature expired")
	// ErrMalformed reports a correctly signed value whose payload cannot be
	// decoded (bad base64, bad zlib stream, bad timestamp).
	ErrMalformed = errors.New("signing: malformed payload")
	// ErrTooLarge reports a payload over the size limit, before or after
	// decompression.
	ErrTooLarge = errors.New("signing: payload too large")
)

// Sep is the separator Django puts between value, timestamp and signature.
const Sep = ":"

// DefaultSalt is the salt of django.core.signing.dumps and loads.
const DefaultSalt = "django.core.signing"

// DefaultMaxSize is the default limit on a decoded payload (after
// decompression): 4 MiB.
const DefaultMaxSize = 4 << 20

// SaltedHMAC returns Django's salted_hmac(salt, value, secret,
// algorithm="sha256"): HMAC-SHA256 keyed with SHA256(salt + secret).
func SaltedHMAC(salt, value, secret string) []byte {
	k := sha256.Sum256([]byte(salt + secret))
	return hmacSum(k[:], value)
}

func hmacSum(key []byte, value string) []byte {
	m := hmac.New(sha256.New, key)
	io.WriteString(m, value)
	return m.Sum(nil)
}

// macKey is the HMAC state for one derived key (SHA256(salt + "signer" +
// secret)), cached so that a request does not re-derive the key and
// re-allocate the HMAC for every signature.
type macKey struct {
	pool sync.Pool // of hash.Hash, keyed HMAC-SHA256
}

// signature appends the base64 signature of value to dst.
func (k *macKey) signature(dst []byte, value string) []byte {
	h := k.pool.Get().(hash.Hash)
	h.Reset()
	h.Write(unsafe.Slice(unsafe.StringData(value), len(value))) // read-only view: Write does not keep or modify it
	var sum [sha256.Size]byte
	mac := h.Sum(sum[:0])
	k.pool.Put(h)
	return base64.RawURLEncoding.AppendEncode(dst, mac)
}

type macID struct{ salt, secret string }

var (
	macMu    sync.RWMutex
	macCache = map[macID]*macKey{}
)

// maxMacCache bounds the cache of derived keys; past it keys are derived
// per call (correct, only slower).
const maxMacCache = 64

func keyFor(salt, secret string) *macKey {
	id := macID{salt, secret}
	macMu.RLock()
	k := macCache[id]
	macMu.RUnlock()
	if k != nil {
		return k
	}
	derived := sha256.Sum256([]byte(salt + "signer" + secret))
	k = &macKey{}
	k.pool.New = func() any { return hmac.New(sha256.New, derived[:]) }
	macMu.Lock()
	if len(macCache) < maxMacCache {
		macCache[id] = k
	}
	macMu.Unlock()
	return k
}

// Signer is Django's django.core.signing.Signer with the SHA-256 algorithm
// and the ":" separator. The zero Salt means Django's default for a Signer,
// "django.core.signing.Signer".
type Signer struct {
	Key       string   // SECRET_KEY; used to sign and to verify
	Fallbacks []string // SECRET_KEY_FALLBACKS; used only to verify
	Salt      string
}

// String describes the Signer without its keys: fmt's %v, %+v and %s
// show the salt and how many keys it holds, never a key (%#v, through
// GoString, the same).
func (s Signer) String() string {
	key := "unset"
	if s.Key != "" {
		key = "[redacted]"
	}
	return fmt.Sprintf("signing.Signer{Key: %s, Fallbacks: %d [redacted], Salt: %q}", key, len(s.Fallbacks), s.Salt)
}

// GoString is String, for fmt's %#v.
func (s Signer) GoString() string { return s.String() }

// String describes the TimestampSigner without its keys, as
// [Signer.String].
func (s TimestampSigner) String() string {
	return "signing.TimestampSigner{" + s.Signer.String() + "}"
}

// GoString is String, for fmt's %#v.
func (s TimestampSigner) GoString() string { return s.String() }

func (s Signer) salt(def string) string {
	if s.Salt == "" {
		return def
	}
	return s.Salt
}

// signature returns the base64 signature of value under key.
func (s Signer) signature(value, key, salt string) string {
	var buf [64]byte
	return string(keyFor(salt, key).signature(buf[:0], value))
}

// Sign returns value:signature.
func (s Signer) Sign(value string) string {
	return s.sign(value, "django.core.signing.Signer")
}

func (s Signer) sign(value, defSalt string) string {
	return value + Sep + s.signature(value, s.Key, s.salt(defSalt))
}

// Unsign checks the signature of signed and returns the value before it.
func (s Signer) Unsign(signed string) (string, error) {
	return s.unsign(signed, "django.core.signing.Signer")
}

func (s Signer) unsign(signed, defSalt string) (string, error) {
	i := strings.LastIndex(signed, Sep)
	if i < 0 {
		return "", fmt.Errorf("%w: no %q found in value", ErrBadSignature, Sep)
	}
	value, sig := signed[:i], signed[i+1:]
	salt := s.salt(defSalt)
	// Compare against every key, always, so the time taken does not tell
	// which key matched.
	var buf [64]byte
	ok := subtle.ConstantTimeCompare([]byte(sig), keyFor(salt, s.Key).signature(buf[:0], value))
	for _, k := range s.Fallbacks {
		ok |= subtle.ConstantTimeCompare([]byte(sig), keyFor(salt, k).signature(buf[:0], value))
	}
	if ok != 1 {
		return "", fmt.Errorf("%w: signature does not match", ErrBadSignature)
	}
	return value, nil
}

// TimestampSigner is Django's TimestampSigner: it appends the signing time
// (base62 seconds) before signing, and can refuse values older than a
// maximum age. The zero Salt means "django.core.signing.TimestampSigner".
type TimestampSigner struct {
	Signer
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

func (s TimestampSigner) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

const tsSalt = "django.core.signing.TimestampSigner"

// Sign returns value:timestamp:signature.
func (s TimestampSigner) Sign(value string) string {
	return s.Signer.sign(value+Sep+B62Encode(s.now().Unix()), tsSalt)
}

// Unsign checks the signature and, when maxAge > 0, that the value is not
// older than maxAge (a value exactly maxAge old is still valid, as in
// Django). It returns the value and its signing time.
func (s TimestampSigner) Unsign(signed string, maxAge time.Duration) (string, time.Time, error) {
	v, err := s.Signer.unsign(signed, tsSalt)
	if err != nil {
		return "", time.Time{}, err
	}
	i := strings.LastIndex(v, Sep)
	if i < 0 {
		return "", time.Time{}, fmt.Errorf("%w: no timestamp", ErrMalformed)
	}
	ts, err := B62Decode(v[i+1:])
	if err != nil {
		return "", time.Time{}, fmt.Errorf("%w: bad timestamp", ErrMalformed)
	}
	signedAt := time.Unix(ts, 0)
	if maxAge > 0 && s.now().Sub(signedAt) > maxAge {
		return "", signedAt, fmt.Errorf("%w: signed %s ago, max age %s", ErrSignatureExpired, s.now().Sub(signedAt).Truncate(time.Second), maxAge)
	}
	return v[:i], signedAt, nil
}

// Options configure [Dumps] and [Loads].
type Options struct {
	Key       string   // SECRET_KEY: signs, and verifies
	Fallbacks []string // SECRET_KEY_FALLBACKS: verify only
	// Salt separates signatures made for different purposes. Empty means
	// DefaultSalt, as in Django's dumps and loads.
	Salt string
	// Compress zlib-compresses the payload when that saves at least two
	// bytes (Django's rule: len(compressed) < len(data) - 1). Payloads
	// of CompressAbove bytes or fewer are left uncompressed without
	// trying.
	Compress bool
	// CompressAbove is the size a payload must pass for Compress to try
	// it; zero means 100 bytes (JSON this short almost never shrinks).
	CompressAbove int
	// CompressMinSaving, between 0 and 1, keeps the compressed form only
	// when it is at least this share smaller than the payload; zero
	// means Django's two bytes.
	CompressMinSaving float64
	// CompressToFit, when positive, keeps the compressed form of a
	// payload longer than this many bytes whenever it is smaller at all,
	// whatever CompressMinSaving says (a cookie that must fit).
	CompressToFit int
	// MaxAge, when positive, makes Loads refuse values signed longer ago
	// (ErrSignatureExpired).
	MaxAge time.Duration
	// MaxSize limits the payload Loads will decode, after decompression,
	// and the data Dumps will sign. Zero means DefaultMaxSize; negative
	// means no limit (Django's behaviour; not recommended).
	MaxSize int
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

func (o *Options) signer() TimestampSigner {
	salt := o.Salt
	if salt == "" {
		salt = DefaultSalt
	}
	return TimestampSigner{Signer: Signer{Key: o.Key, Fallbacks: o.Fallbacks, Salt: salt}, Now: o.Now}
}

func (o *Options) maxSize() int {
	if o.MaxSize == 0 {
		return DefaultMaxSize
	}
	return o.MaxSize
}

// DumpsBytes signs already-serialized data as Django's signing.dumps does
// after serializing: optional compression, URL-safe base64, timestamp,
// signature.
func DumpsBytes(data []byte, o Options) (string, error) {
	b, err := AppendDumps(nil, data, o)
	return string(b), err
}

// AppendDumps is DumpsBytes appending the signed value to dst: the value
// is built in place, in one buffer, with no intermediate string.
func AppendDumps(dst, data []byte, o Options) ([]byte, error) {
	if m := o.maxSize(); m > 0 && len(data) > m {
		return dst, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), m)
	}
	compressed := false
	if o.Compress && len(data) > o.compressAbove() {
		c := compressors.Get().(*compressor)
		c.buf.Reset()
		c.w.Reset(&c.buf)
		c.w.Write(data)
		c.w.Close()
		if o.keepCompressed(len(data), c.buf.Len()) {
			data = bytes.Clone(c.buf.Bytes())
			compressed = true
		}
		compressors.Put(c)
	}
	// payload:timestamp:signature, the signature over payload:timestamp
	// (TimestampSigner.Sign, without its copies).
	n := base64.RawURLEncoding.EncodedLen(len(data))
	dst = slices.Grow(dst, 1+n+1+12+1+base64.RawURLEncoding.EncodedLen(sha256.Size))
	start := len(dst)
	if compressed {
		dst = append(dst, '.')
	}
	dst = base64.RawURLEncoding.AppendEncode(dst, data)
	s := o.signer()
	dst = append(dst, Sep...)
	dst = appendB62(dst, s.now().Unix())
	value := dst[start:]
	k := keyFor(s.salt(tsSalt), s.Key)
	dst = append(dst, Sep...)
	return k.signature(dst, unsafe.String(unsafe.SliceData(value), len(value))), nil
}

func (o *Options) compressAbove() int {
	if o.CompressAbove > 0 {
		return o.CompressAbove
	}
	return minCompress
}

// keepCompressed decides whether the compressed form (packed bytes) of a
// payload of n bytes is kept.
func (o *Options) keepCompressed(n, packed int) bool {
	switch {
	case packed >= n-1:
		return false // Django's rule: save at least two bytes
	case o.CompressToFit > 0 && n > o.CompressToFit:
		return true
	case o.CompressMinSaving > 0:
		return float64(n-packed) >= o.CompressMinSaving*float64(n)
	}
	return true
}

// minCompress is the size below which compression is not tried. A zlib
// stream costs 6 bytes of header and checksum, and JSON this short almost
// never shrinks by the 2 bytes Django's rule asks for, while the attempt
// costs more than the rest of the request. Django may compress a very
// repetitive payload of this size; both forms are valid and both sides
// read both.
const minCompress = 100

type compressor struct {
	buf bytes.Buffer
	w   *zlib.Writer
}

// compressors pools zlib writers: a new one allocates about 800 KB. They
// use zlib's fastest level: any valid zlib stream is readable by Django,
// resetting a level-1 writer is cheap where level 6 clears 640 KB of hash
// tables, and session data compress nearly as well.
var compressors = sync.Pool{New: func() any {
	c := &compressor{}
	c.w, _ = zlib.NewWriterLevel(&c.buf, zlib.BestSpeed)
	return c
}}

// LoadsBytes verifies s and returns the serialized data inside it,
// decompressed. Errors match ErrBadSignature, ErrSignatureExpired,
// ErrMalformed or ErrTooLarge.
func LoadsBytes(s string, o Options) ([]byte, error) {
	max := o.maxSize()
	// A value far larger than any payload we would accept is refused
	// before any HMAC is computed over it.
	if max > 0 && len(s) > 2*max+128 {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(s))
	}
	v, _, err := o.signer().Unsign(s, o.MaxAge)
	if err != nil {
		return nil, err
	}
	decompress := strings.HasPrefix(v, ".")
	if decompress {
		v = v[1:]
	}
	data, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("%w: bad base64", ErrMalformed)
	}
	if !decompress {
		if max > 0 && len(data) > max {
			return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), max)
		}
		return data, nil
	}
	return inflate(data, max)
}

type decompressor struct {
	src bytes.Reader
	zr  io.ReadCloser // a zlib reader, also a zlib.Resetter
	out bytes.Buffer
}

// decompressors pools zlib readers: a new one allocates about 40 KB.
var decompressors sync.Pool

// inflate decompresses a zlib stream, refusing output over max bytes
// (when max > 0) without producing more than max+1 of it.
func inflate(data []byte, max int) ([]byte, error) {
	d, _ := decompressors.Get().(*decompressor)
	if d == nil {
		d = &decompressor{}
	}
	defer decompressors.Put(d)
	d.src.Reset(data)
	if d.zr == nil {
		zr, err := zlib.NewReader(&d.src)
		if err != nil {
			return nil, fmt.Errorf("%w: bad zlib header", ErrMalformed)
		}
		d.zr = zr
	} else if err := d.zr.(zlib.Resetter).Reset(&d.src, nil); err != nil {
		return nil, fmt.Errorf("%w: bad zlib header", ErrMalformed)
	}
	var r io.Reader = d.zr
	if max > 0 {
		r = io.LimitReader(d.zr, int64(max)+1)
	}
	d.out.Reset()
	if _, err := d.out.ReadFrom(r); err != nil {
		return nil, fmt.Errorf("%w: bad zlib stream", ErrMalformed)
	}
	if max > 0 && d.out.Len() > max {
		return nil, fmt.Errorf("%w: decompresses to more than %d bytes", ErrTooLarge, max)
	}
	if d.out.Cap() > 1<<20 {
		// Do not keep a huge buffer in the pool.
		out := d.out.Bytes()
		d.out = bytes.Buffer{}
		return out, nil
	}
	return bytes.Clone(d.out.Bytes()), nil
}

// Dumps serializes v as Python's json.dumps does (compact separators,
// ASCII only) and signs it: Django's signing.dumps with the JSON
// serializer.
func Dumps(v any, o Options) (string, error) {
	data, err := pyjson.Marshal(v)
	if err != nil {
		return "", err
	}
	return DumpsBytes(data, o)
}

// Loads verifies s and decodes the JSON inside it: Django's signing.loads.
// Objects decode to map[string]any, arrays to []any, integers to int64 (or
// *big.Int beyond 64 bits) and other numbers to float64.
func Loads(s string, o Options) (any, error) {
	data, err := LoadsBytes(s, o)
	if err != nil {
		return nil, err
	}
	v, err := pyjson.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return v, nil
}

const b62Digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// B62Encode returns n in Django's base62 (digits, then upper case, then
// lower case; most significant digit first; "-" for negatives).
func B62Encode(n int64) string {
	if n == 0 {
		return "0"
	}
	var buf [12]byte
	return string(appendB62(buf[:0], n))
}

// appendB62 appends B62Encode(n) to dst.
func appendB62(dst []byte, n int64) []byte {
	if n == 0 {
		return append(dst, '0')
	}
	neg := n < 0
	u := uint64(n)
	if neg {
		u = uint64(-n)
	}
	var buf [12]byte
	i := len(buf)
	for u > 0 {
		i--
		buf[i] = b62Digits[u%62]
		u /= 62
	}
	if neg {
		i--
		buf[i] = '-'
	}
	return append(dst, buf[i:]...)
}

// B62Decode parses Django's base62.
func B62Decode(s string) (int64, error) {
	neg := false
	if strings.HasPrefix(s, "-") {
		neg = true
		s = s[1:]
	}
	if s == "" || len(s) > 11 {
		return 0, fmt.Errorf("%w: bad base62 %q", ErrMalformed, s)
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'A' && c <= 'Z':
			d = c - 'A' + 10
		case c >= 'a' && c <= 'z':
			d = c - 'a' + 36
		default:
			return 0, fmt.Errorf("%w: bad base62 digit", ErrMalformed)
		}
		n = n*62 + uint64(d)
	}
	if n > 1<<62 {
		return 0, fmt.Errorf("%w: base62 value out of range", ErrMalformed)
	}
	if neg {
		return -int64(n), nil
	}
	return int64(n), nil
}
