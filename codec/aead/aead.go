// Package aead encrypts session data at rest: a [codec.Codec] wrapper that
// seals the bytes of any inner codec (Django's signed JSON, the cache
// engines' pickle, the signed cookie) with XChaCha20-Poly1305, so that
// whoever reads the database, the cache, the session files, a backup or
// the cookie sees neither the data nor a way to change them.
//
// It is opt-in and for Go-only deployments: Django cannot read what it
// writes. Turn it on with sessions.Settings.EncryptionKeys (environment
// SESSION_ENCRYPTION_KEYS); the Manager then wraps whatever codec the
// engine would use, on every engine, the signed-cookie engine included.
// Sessions stored before encryption was turned on (or after it is turned
// off) read as corrupt, that is as no session: their users log in again.
//
// # Threat model
//
// It protects the confidentiality and integrity of session data against
// anyone who can read or write the session store but not the application's
// keys: a database or cache reader, a stolen backup or disk, a shared
// Redis or memcached, an operator with read access to the files, and for
// the cookie engine the browser and its user. Django's cache formats carry
// no signature at all; encrypted, they cannot be read or forged either.
// A value that was changed, truncated or encrypted with a key that is no
// longer configured fails to decrypt, and the Manager treats it as no
// session (never an error page).
//
// It does not protect against:
//
//   - a compromised application server, which holds the keys;
//   - session hijacking by a store reader: session keys are the store's
//     record names (table rows, Redis keys, file names), not encrypted,
//     and a reader can present one as a cookie. Encryption keeps the data
//     secret, not the keys;
//   - size analysis: the length of the stored value follows the length of
//     the data. Data are compressed before encryption when that saves
//     space (the inner signed format compresses as Django does), so the
//     length also depends on how repetitive the data are; an attacker who
//     can both put chosen text into someone's session and watch its
//     stored size could learn about the rest of it (as CRIME did). Do not
//     keep secrets next to attacker-chosen text in one session, or set
//     Options.NoCompress and an inner codec that does not compress;
//   - replay within one session: a store writer can put back an older
//     ciphertext of the same session. The data are not bound to the
//     session key either (the codec interface does not see it), so a
//     writer can also move a ciphertext to another key; but such a writer
//     can read every session key anyway, which is worse.
//
// # Algorithm and format
//
// XChaCha20-Poly1305 with a random 24-byte nonce per encryption: random
// nonces of that size never repeat in practice (AES-GCM's 12-byte random
// nonces limit a key to about 2^32 encryptions, which a busy site reaches
// in days, since every session save encrypts). Keys are never used as
// given: each configured secret goes through HKDF-SHA256 with a context
// string of this package, so the same secret can also serve as SECRET_KEY
// without the two uses meeting.
//
// A stored value is URL-safe base64 without padding (safe in a cookie, a
// text column and a file) of the envelope:
//
//	version (1 byte, 1) | flags (1 byte) | key id (4 bytes) | nonce (24 bytes) | ciphertext and tag
//
// The flags say whether the inner bytes were deflate-compressed (bit 0);
// other bits are reserved and must be zero. The key id is derived from the
// key by HKDF (it reveals nothing about the key) and picks the decryption
// key directly, without trying each one. Version, flags and key id are
// authenticated as associated data. A new version number will mark any
// future change of the format; this one keeps reading version 1.
//
// The overhead is 46 bytes before base64, so an encrypted value is about
// 4/3 of the (compressed) inner value plus 62 characters.
//
// # Keys and rotation
//
// A key is any secret string of at least [MinKeySize] bytes, for example
// the output of "openssl rand -base64 32". The first key encrypts; all
// keys decrypt. To rotate, put the new key first and keep the old one
// after it until every session written with it has expired or been saved
// again (CookieAge at most); then remove it. Sessions still encrypted
// with a removed key read as no session. In SESSION_ENCRYPTION_KEYS the
// keys are separated by commas (so a key cannot contain one) and
// surrounding spaces are ignored.
//
// # Size limits
//
// Options.MaxSize bounds the inner codec's output before encryption, the
// stored value, and the inner bytes after decompression, so a hostile
// value can never make the decoder allocate more.
package aead

import (
	"bytes"
	"compress/flate"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/signing"
)

// Version is the envelope version this package writes.
const Version = 1

// MinKeySize is the shortest secret New accepts, in bytes.
const MinKeySize = 32

// Sizes of the envelope's parts.
const (
	headerSize = 1 + 1 + 4 // version, flags, key id
	nonceSize  = chacha20poly1305.NonceSizeX
	tagSize    = chacha20poly1305.Overhead
	// Overhead is the envelope's size beyond the (compressed) inner
	// bytes, before base64.
	Overhead = headerSize + nonceSize + tagSize
)

const (
	flagDeflate = 1 << 0
	knownFlags  = flagDeflate
)

// HKDF context strings: one per derived value, so that a secret used for
// this package and for something else (such as SECRET_KEY) yields
// unrelated keys.
const (
	infoKey   = "github.com/sessionkit/sessions/codec/aead v1 XChaCha20-Poly1305 key"
	infoKeyID = "github.com/sessionkit/sessions/codec/aead v1 key id"
)

var (
	// ErrAuthentication is wrapped by Decode errors for data that fail
	// authentication: changed, truncated, or forged. Such errors also
	// match codec.ErrCorrupt and signing.ErrBadSignature.
	ErrAuthentication = errors.New("aead: session data failed authentication")
	// ErrUnknownKey is wrapped by Decode errors for data encrypted with a
	// key that is not configured (removed after a rotation, or from
	// another deployment). Such errors also match codec.ErrCorrupt and
	// signing.ErrBadSignature.
	ErrUnknownKey = errors.New("aead: session data encrypted with a key that is not configured")
)

// Options configure a Codec. The zero value is ready to use.
type Options struct {
	// MaxSize limits, in bytes, the inner codec's output, the encrypted
	// value and the decompressed inner bytes. Zero means
	// signing.DefaultMaxSize (4 MiB); negative means no limit.
	MaxSize int
	// NoCompress turns off the deflate compression of the inner bytes
	// before encryption (see the package doc on size analysis). The inner
	// codec may compress by itself.
	NoCompress bool
}

// Codec encrypts the output of an inner codec. It implements codec.Codec
// and is safe for concurrent use.
type Codec struct {
	inner    codec.Codec
	primary  sealer
	byID     map[uint32][]cipher.AEAD
	max      int
	compress bool
}

type sealer struct {
	id   uint32
	aead cipher.AEAD
}

// New returns a Codec that encrypts what inner encodes. The first key
// encrypts; every key decrypts (the fallbacks of a rotation). Each key must
// be a secret of at least MinKeySize bytes; duplicates are ignored. A nil o
// means default options. Errors never contain key material.
func New(inner codec.Codec, o *Options, keys ...[]byte) (*Codec, error) {
	if inner == nil {
		return nil, errors.New("aead: nil inner codec")
	}
	if len(keys) == 0 {
		return nil, errors.New("aead: no encryption key")
	}
	c := &Codec{inner: inner, byID: make(map[uint32][]cipher.AEAD), max: signing.DefaultMaxSize, compress: true}
	if o != nil {
		if o.MaxSize != 0 {
			c.max = o.MaxSize
		}
		c.compress = !o.NoCompress
	}
	seen := make(map[[32]byte]bool)
	for i, secret := range keys {
		if len(secret) < MinKeySize {
			return nil, fmt.Errorf("aead: encryption key %d is %d bytes long, want at least %d (for example the output of \"openssl rand -base64 32\")", i+1, len(secret), MinKeySize)
		}
		k, err := hkdf.Key(sha256.New, secret, nil, infoKey, chacha20poly1305.KeySize)
		if err != nil {
			return nil, fmt.Errorf("aead: deriving key %d: %w", i+1, err)
		}
		if seen[[32]byte(k)] {
			continue
		}
		seen[[32]byte(k)] = true
		idb, err := hkdf.Key(sha256.New, secret, nil, infoKeyID, 4)
		if err != nil {
			return nil, fmt.Errorf("aead: deriving key id %d: %w", i+1, err)
		}
		a, err := chacha20poly1305.NewX(k)
		if err != nil {
			return nil, fmt.Errorf("aead: key %d: %w", i+1, err)
		}
		id := binary.BigEndian.Uint32(idb)
		if i == 0 {
			c.primary = sealer{id: id, aead: a}
		}
		// Two keys with the same id (a 1 in 2^32 chance) both get tried.
		c.byID[id] = append(c.byID[id], a)
	}
	return c, nil
}

// Inner returns the codec whose output c encrypts.
func (c *Codec) Inner() codec.Codec { return c.inner }

// KeyID returns the id of the key that encrypts, as it appears in the
// envelope. It identifies the key without revealing it, for logs.
func (c *Codec) KeyID() uint32 { return c.primary.id }

// Encode implements codec.Codec: the inner encoding, compressed when that
// saves space, encrypted with the first key, as URL-safe base64 text.
func (c *Codec) Encode(d *codec.Dict) ([]byte, error) {
	plain, err := c.inner.Encode(d)
	if err != nil {
		return nil, err
	}
	if c.max > 0 && len(plain) > c.max {
		return nil, fmt.Errorf("%w: %d bytes before encryption, limit %d", codec.ErrTooLarge, len(plain), c.max)
	}
	var flags byte
	if c.compress && len(plain) >= minCompress {
		if z := deflate(plain); len(z) < len(plain) {
			plain, flags = z, flagDeflate
		}
	}
	var hdr [headerSize]byte
	hdr[0], hdr[1] = Version, flags
	binary.BigEndian.PutUint32(hdr[2:], c.primary.id)
	var nonce [nonceSize]byte
	rand.Read(nonce[:]) // never fails (crypto/rand aborts the program instead)
	env := make([]byte, 0, Overhead+len(plain))
	env = append(append(env, hdr[:]...), nonce[:]...)
	env = c.primary.aead.Seal(env, nonce[:], plain, hdr[:])
	if n := base64.RawURLEncoding.EncodedLen(len(env)); c.max > 0 && n > c.max {
		return nil, fmt.Errorf("%w: %d bytes encrypted, limit %d", codec.ErrTooLarge, n, c.max)
	}
	out := make([]byte, base64.RawURLEncoding.EncodedLen(len(env)))
	base64.RawURLEncoding.Encode(out, env)
	return out, nil
}

// Decode implements codec.Codec. Every error matches codec.ErrCorrupt;
// data that fail authentication or name an unknown key also match
// ErrAuthentication or ErrUnknownKey, and signing.ErrBadSignature. Decode
// never panics, whatever the input.
func (c *Codec) Decode(data []byte) (*codec.Dict, error) {
	if c.max > 0 && len(data) > c.max {
		return nil, fmt.Errorf("%w: %w: %d bytes, limit %d", codec.ErrCorrupt, codec.ErrTooLarge, len(data), c.max)
	}
	for _, b := range data {
		if !isBase64URL(b) {
			return nil, fmt.Errorf("%w: aead: not an encrypted session (unexpected character)", codec.ErrCorrupt)
		}
	}
	env := make([]byte, base64.RawURLEncoding.DecodedLen(len(data)))
	n, err := base64.RawURLEncoding.Strict().Decode(env, data)
	if err != nil {
		return nil, fmt.Errorf("%w: aead: not an encrypted session (bad base64)", codec.ErrCorrupt)
	}
	env = env[:n]
	if len(env) < Overhead {
		return nil, fmt.Errorf("%w: aead: encrypted session too short (%d bytes)", codec.ErrCorrupt, len(env))
	}
	if env[0] != Version {
		return nil, fmt.Errorf("%w: aead: unknown envelope version %d", codec.ErrCorrupt, env[0])
	}
	flags := env[1]
	if flags&^knownFlags != 0 {
		return nil, fmt.Errorf("%w: aead: unknown envelope flags %#x", codec.ErrCorrupt, flags)
	}
	id := binary.BigEndian.Uint32(env[2:headerSize])
	keys := c.byID[id]
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: %w (key id %08x): %w", codec.ErrCorrupt, ErrUnknownKey, id, signing.ErrBadSignature)
	}
	nonce, sealed := env[headerSize:headerSize+nonceSize], env[headerSize+nonceSize:]
	var plain []byte
	for _, k := range keys {
		// Decrypt into a fresh buffer: a failed Open may have written to it.
		if plain, err = k.Open(nil, nonce, sealed, env[:headerSize]); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w: %w", codec.ErrCorrupt, ErrAuthentication, signing.ErrBadSignature)
	}
	if flags&flagDeflate != 0 {
		if plain, err = inflate(plain, c.max); err != nil {
			return nil, fmt.Errorf("%w: aead: %w", codec.ErrCorrupt, err)
		}
	}
	d, err := c.inner.Decode(plain)
	if err != nil {
		if !errors.Is(err, codec.ErrCorrupt) {
			err = fmt.Errorf("%w: %w", codec.ErrCorrupt, err)
		}
		return nil, err
	}
	return d, nil
}

func isBase64URL(b byte) bool {
	return b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '-' || b == '_'
}

// minCompress is the shortest inner value worth trying to compress.
const minCompress = 64

var writers = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestSpeed) // on small inputs as small as the default level, and faster
	return w
}}

// deflate returns b compressed with raw DEFLATE.
func deflate(b []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(b) / 2)
	w := writers.Get().(*flate.Writer)
	w.Reset(&buf)
	w.Write(b) // writes to a bytes.Buffer do not fail
	w.Close()
	writers.Put(w)
	return buf.Bytes()
}

var readers = sync.Pool{New: func() any { return flate.NewReader(bytes.NewReader(nil)) }}

// inflate decompresses raw DEFLATE data, refusing more than max bytes of
// output (no limit when max is negative).
func inflate(z []byte, max int) ([]byte, error) {
	r := readers.Get().(io.ReadCloser)
	defer readers.Put(r)
	if err := r.(flate.Resetter).Reset(bytes.NewReader(z), nil); err != nil {
		return nil, fmt.Errorf("bad compressed data: %w", err)
	}
	var src io.Reader = r
	if max > 0 {
		src = io.LimitReader(r, int64(max)+1)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(src); err != nil {
		return nil, fmt.Errorf("bad compressed data: %w", err)
	}
	if max > 0 && buf.Len() > max {
		return nil, fmt.Errorf("%w: decompresses to more than %d bytes", codec.ErrTooLarge, max)
	}
	return buf.Bytes(), nil
}
