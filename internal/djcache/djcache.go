// Package djcache is Django's cache format of sessions, in one place for
// the engines that share it (redisstore, memcachestore, and cacheddb for
// its cache): the key of a session, as django.core.cache's make_key builds
// it from the session engine's prefix, and the stored value, the session
// dict pickled as Django's cache backends write it, or for Go-only
// deployments the signed JSON of the database engines.
package djcache

import (
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
	return pickle.Codec{MaxSize: st.MaxDataSize}
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
