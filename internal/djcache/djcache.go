// Package djcache is Django's cache format of sessions, in one place for
// the engines that share it (redisstore, memcachestore, and cacheddb for
// its cache): the key of a session, as django.core.cache's make_key builds
// it from the session engine's prefix, and the stored value, the session
// dict pickled as Django's cache backends write it, or for Go-only
// deployments the signed JSON of the database engines.
package djcache

import (
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/codec/pickle"
)

// The logical prefixes Django's session engines put before the session
// key (their KEY_PREFIX class attributes).
const (
	// CachePrefix is the cache engine's
	// (django.contrib.sessions.backends.cache).
	CachePrefix = "django.contrib.sessions.cache"
	// CachedDBPrefix is the cached_db engine's
	// (django.contrib.sessions.backends.cached_db).
	CachedDBPrefix = "django.contrib.sessions.cached_db"
)

// Format is how session data is stored in the cache.
type Format string

const (
	// Pickle is Django's: the session dict pickled with protocol 5
	// (package codec/pickle), as the cache backends store it. The
	// default.
	Pickle Format = "pickle"
	// JSON is the signed JSON of Django's database engines, the Manager's
	// default codec: for Go-only deployments that want the data signed.
	// Django's cache engines cannot read it.
	JSON Format = "json"
)

// Codec returns the codec of the format with the keys and limits of st.
func (f Format) Codec(st sessions.Settings) codec.Codec {
	if f == JSON {
		return sessions.DefaultCodec(st)
	}
	return pickleCodec{pickle.Codec{MaxSize: st.MaxDataSize}}
}

// pickleCodec is the pickle codec that also reads copies with a row
// trailer (see AppendRow), as Python's pickle.loads does.
type pickleCodec struct{ pickle.Codec }

func (c pickleCodec) Decode(b []byte) (*codec.Dict, error) { return c.Codec.Decode(StripRow(b)) }

// rowMagic ends a row trailer. Its last byte is not STOP ('.'), with which
// every pickle ends, so a pickle without a trailer is never mistaken for
// one with.
const rowMagic = "\x00sessionkit-row\x01"

// rowTrailerSize is the trailer's size beyond the row: the row's length
// (4 bytes, big-endian) and rowMagic.
const rowTrailerSize = 4 + len(rowMagic)

// AppendRow returns pickled followed by a trailer holding row, the
// database row's stored bytes the pickle was made from (package cacheddb
// compares-and-swaps the row with them without reading it first).
// Pickle readers ignore what follows the STOP opcode (Python's
// pickle.loads and Unpickler.load, so Django; SplitRow here), so a copy
// with a trailer reads as the pickle alone.
func AppendRow(pickled, row []byte) []byte {
	b := make([]byte, 0, len(pickled)+len(row)+rowTrailerSize)
	b = append(b, pickled...)
	b = append(b, row...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(row)))
	return append(b, rowMagic...)
}

// SplitRow splits a copy written by AppendRow into the pickle and the
// row; ok is false (and pickled is b) for anything else, such as a
// pickle Django wrote.
func SplitRow(b []byte) (pickled, row []byte, ok bool) {
	n := len(b) - rowTrailerSize
	if n < 2 || string(b[n+4:]) != rowMagic {
		return b, nil, false
	}
	rl := int64(binary.BigEndian.Uint32(b[n:]))
	if rl > int64(n-2) {
		return b, nil, false
	}
	p := n - int(rl)
	if !IsPickle(b[:p]) || b[p-1] != '.' {
		return b, nil, false
	}
	return b[:p:p], b[p:n:n], true
}

// StripRow returns the pickle of a copy with a row trailer, else b.
func StripRow(b []byte) []byte {
	p, _, _ := SplitRow(b)
	return p
}

// IsPickle reports whether b is a pickle, which from protocol 2 on starts
// with the PROTO opcode (0x80), rather than Django's signed JSON, which is
// URL-safe base64 text.
func IsPickle(b []byte) bool { return len(b) > 0 && b[0] == 0x80 }

// Layout is where and how a cache engine stores sessions: Django's CACHES
// KEY_PREFIX and VERSION, the session engine's logical prefix, and the
// format.
type Layout struct {
	KeyPrefix     string
	Version       int    // zero means 1, Django's default
	LogicalPrefix string // empty means CachePrefix
	Format        Format // empty means Pickle
}

// Resolve returns the layout with its defaults filled in, or an error
// matching sessions.ErrBadConfig for an unknown format. engine names the
// engine in the error.
func (l Layout) Resolve(engine string) (Layout, error) {
	if l.Version == 0 {
		l.Version = 1
	}
	if l.LogicalPrefix == "" {
		l.LogicalPrefix = CachePrefix
	}
	switch l.Format {
	case "":
		l.Format = Pickle
	case Pickle, JSON:
	default:
		return l, fmt.Errorf("%w: %s format %q: want pickle or json", sessions.ErrBadConfig, engine, l.Format)
	}
	return l, nil
}

// Prefix returns what comes before the session key in the key of every
// session: "<key_prefix>:<version>:<logical_prefix>".
func (l Layout) Prefix() string { return MakeKey(l.KeyPrefix, l.Version, l.LogicalPrefix) }

// MakeKey is Django's default KEY_FUNCTION (django.core.cache.backends.
// base.default_key_func): "<key_prefix>:<version>:<key>".
func MakeKey(keyPrefix string, version int, key string) string {
	return keyPrefix + ":" + strconv.Itoa(version) + ":" + key
}

// FromParams reads the layout parameters of a cache engine's URL:
// key_prefix and version (defaults: the settings' CacheKeyPrefix and
// CacheVersion), logical_prefix (default CachePrefix) and format (default
// pickle). Mistakes are reported by p.Err and Resolve.
func FromParams(p *sessions.Params, st sessions.Settings) Layout {
	version := st.CacheVersion
	if version == 0 {
		version = 1
	}
	return Layout{
		KeyPrefix:     p.String("key_prefix", st.CacheKeyPrefix),
		Version:       p.Int("version", version, 1, 1<<31-1),
		LogicalPrefix: p.String("logical_prefix", CachePrefix),
		Format:        Format(p.String("format", string(Pickle))),
	}
}
