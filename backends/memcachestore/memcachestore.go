package memcachestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/internal/djcache"
)

// Scheme is the URL scheme of this engine and the name in its errors.
const Scheme = "memcached"

// flagPickle is the memcached flags value of a pickled item, pymemcache's
// FLAG_PICKLE, which PyMemcacheCache sets on sessions.
const flagPickle = 1

// defaultMaxItemSize is memcached's default item size limit (-I 1m).
const defaultMaxItemSize = 1 << 20

// maxKeyLength is memcached's key length limit.
const maxKeyLength = 250

// itemOverhead is what memcached adds to key and value when it checks an
// item against the size limit: the item header (48 bytes), the CAS id
// (8), the key's terminating NUL and the value's CRLF.
const itemOverhead = 48 + 8 + 1 + 2

// Format is how session data is stored.
type Format = djcache.Format

const (
	// FormatPickle is Django's: the session dict pickled with protocol 5,
	// flags 1. The default.
	FormatPickle = djcache.Pickle
	// FormatJSON is the signed JSON of Django's database engines, the
	// Manager's default codec, flags 0: for Go-only deployments that want
	// the data signed. Django's cache engine cannot read it.
	FormatJSON = djcache.JSON
)

// Options configure a Store.
type Options struct {
	// KeyPrefix is Django's CACHES[...]["KEY_PREFIX"]; default "".
	KeyPrefix string
	// Version is Django's CACHES[...]["VERSION"]; zero means 1, Django's
	// default.
	Version int
	// LogicalPrefix comes before the session key; empty means
	// "django.contrib.sessions.cache", Django's cache engine's.
	LogicalPrefix string
	// Format is the stored format; empty means FormatPickle.
	Format Format
	// MaxItemSize is the servers' item size limit (memcached -I); zero
	// means 1 MiB, memcached's default. Larger sessions fail with
	// sessions.ErrTooLarge without a round trip.
	MaxItemSize int
}

// Store is the memcached engine. It implements sessions.Engine, Swapper,
// Toucher, Codecer and Describer, and is safe for concurrent use.
type Store struct {
	c       *memcache.Client
	lanes   *lanes // a Store opened from a URL: its calls' clients (see call)
	closed  atomic.Bool
	prefix  string
	format  Format
	flags   uint32
	maxItem int
	where   string
	now     func() time.Time
	cas     casCache
}

// New returns a Store over an existing client. Close does not close the
// client. A nil o means Django's defaults. It fails if the key prefix
// would make keys longer than memcached allows.
func New(client *memcache.Client, o *Options) (*Store, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: memcachestore.New: nil client", sessions.ErrBadConfig)
	}
	s, err := newStore(o)
	if err != nil {
		return nil, err
	}
	s.c = client
	s.where = "existing client"
	return s, nil
}

func newStore(o *Options) (*Store, error) {
	var opt Options
	if o != nil {
		opt = *o
	}
	l, err := djcache.Layout{KeyPrefix: opt.KeyPrefix, Version: opt.Version, LogicalPrefix: opt.LogicalPrefix, Format: opt.Format}.Resolve(Scheme)
	if err != nil {
		return nil, err
	}
	if opt.MaxItemSize <= 0 {
		opt.MaxItemSize = defaultMaxItemSize
	}
	s := &Store{format: l.Format, maxItem: opt.MaxItemSize, now: time.Now, prefix: l.Prefix()}
	if l.Format == FormatPickle {
		s.flags = flagPickle
	}
	if n := len(s.prefix) + sessions.MaxKeyLength; n > maxKeyLength {
		return nil, fmt.Errorf("%w: memcached keys would be up to %d bytes (key prefix, version and logical prefix take %d, session keys up to %d), over memcached's limit of %d; shorten key_prefix",
			sessions.ErrBadConfig, n, len(s.prefix), sessions.MaxKeyLength, maxKeyLength)
	}
	for i := 0; i < len(s.prefix); i++ {
		if c := s.prefix[i]; c <= ' ' || c == 0x7f {
			return nil, fmt.Errorf("%w: memcached keys cannot contain spaces or control characters; the key prefix %q has one", sessions.ErrBadConfig, s.prefix)
		}
	}
	return s, nil
}

// Name returns the engine's scheme, "memcached".
func (s *Store) Name() string { return Scheme }

// Describe says where the sessions live.
func (s *Store) Describe() string {
	return fmt.Sprintf("memcached %s, keys %q + session key, %s format", s.where, s.prefix, s.format)
}

// Client returns the gomemcache client the Store uses: the one given to
// New, or for a Store opened from a URL a client with its servers,
// timeout and max_idle_conns, which its own calls do not use (they run on
// lanes, see Contexts in the package documentation); Close closes its
// idle connections.
func (s *Store) Client() *memcache.Client { return s.c }

// Key returns the memcached key of a session: "<key_prefix>:<version>:<logical_prefix><key>".
func (s *Store) Key(sessionKey string) string { return s.prefix + sessionKey }

// Codec implements sessions.Codecer: the pickle codec of Django's cache
// engines, or with FormatJSON the Manager's default signed JSON.
func (s *Store) Codec(st sessions.Settings) codec.Codec { return s.format.Codec(st) }

// tooLarge reports a value over the item size limit before sending it.
func (s *Store) tooLarge(k string, data []byte) error {
	if n := itemOverhead + len(k) + len(data); n > s.maxItem {
		return fmt.Errorf("%w: a memcached item of %d bytes (%d of data), over the %d-byte item size limit", sessions.ErrTooLarge, n, len(data), s.maxItem)
	}
	return nil
}

// expiration converts an absolute expiry to memcached's exptime: relative
// seconds up to 30 days, an absolute Unix time beyond. It rounds up and
// adds one second for memcached's coarse clock. ok is false when the
// expiry has passed.
func (s *Store) expiration(expiry time.Time) (exp int32, ok bool) {
	d := expiry.Sub(s.now())
	if d <= 0 {
		return -1, false
	}
	const maxRelative = 30 * 24 * 3600 // seconds; beyond, memcached reads a Unix time
	if d <= maxRelative*time.Second {  // (a far-off d, near time.Duration's limit, would overflow below)
		if secs := int64((d+time.Second-1)/time.Second) + 1; secs <= maxRelative {
			return int32(secs), true
		}
	}
	abs := expiry.Unix() + 2 // round the fraction up, plus the clock's second
	if abs > math.MaxInt32 {
		abs = math.MaxInt32
	}
	return int32(abs), true
}

// Load implements sessions.Engine: one gets. The CAS id is remembered
// for a Swap that follows.
func (s *Store) Load(ctx context.Context, key string) ([]byte, error) {
	k := s.Key(key)
	var it *memcache.Item
	err := s.call(ctx, func(c *memcache.Client) (err error) { it, err = c.Get(k); return })
	if errors.Is(err, memcache.ErrCacheMiss) {
		s.cas.forget(key)
		return nil, sessions.ErrNotFound
	}
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	s.cas.remember(key, it.CasID, it.Value)
	return it.Value, nil
}

// Create implements sessions.Engine: add. With an expiry in the past the
// item is added already expired, so a live session still gives
// ErrExists and nothing readable is stored.
func (s *Store) Create(ctx context.Context, key string, data []byte, expiry time.Time) error {
	k := s.Key(key)
	if err := s.tooLarge(k, data); err != nil {
		return err
	}
	exp, _ := s.expiration(expiry)
	err := s.call(ctx, func(c *memcache.Client) error {
		return c.Add(&memcache.Item{Key: k, Value: data, Flags: s.flags, Expiration: exp})
	})
	if errors.Is(err, memcache.ErrNotStored) {
		return sessions.ErrExists
	}
	if err != nil {
		return s.fail(ctx, err)
	}
	return nil
}

// Update implements sessions.Engine: replace, so a session deleted
// meanwhile stays deleted. An expiry in the past deletes the session.
func (s *Store) Update(ctx context.Context, key string, data []byte, expiry time.Time) error {
	k := s.Key(key)
	s.cas.forget(key)
	exp, ok := s.expiration(expiry)
	if !ok {
		return s.del(ctx, k)
	}
	if err := s.tooLarge(k, data); err != nil {
		return err
	}
	err := s.call(ctx, func(c *memcache.Client) error {
		return c.Replace(&memcache.Item{Key: k, Value: data, Flags: s.flags, Expiration: exp})
	})
	if errors.Is(err, memcache.ErrNotStored) {
		return sessions.ErrNotFound
	}
	if err != nil {
		return s.fail(ctx, err)
	}
	return nil
}

// del deletes k and reports ErrNotFound when it was absent.
func (s *Store) del(ctx context.Context, k string) error {
	err := s.call(ctx, func(c *memcache.Client) error { return c.Delete(k) })
	if errors.Is(err, memcache.ErrCacheMiss) {
		return sessions.ErrNotFound
	}
	if err != nil {
		return s.fail(ctx, err)
	}
	return nil
}

// Delete implements sessions.Engine.
func (s *Store) Delete(ctx context.Context, key string) error {
	s.cas.forget(key)
	if err := s.del(ctx, s.Key(key)); err != nil && !errors.Is(err, sessions.ErrNotFound) {
		return err
	}
	return nil
}

// Touch implements sessions.Toucher: touch. An expiry in the past
// deletes the session.
func (s *Store) Touch(ctx context.Context, key string, expiry time.Time) error {
	k := s.Key(key)
	exp, ok := s.expiration(expiry)
	if !ok {
		s.cas.forget(key)
		return s.del(ctx, k)
	}
	err := s.call(ctx, func(c *memcache.Client) error { return c.Touch(k, exp) })
	if errors.Is(err, memcache.ErrCacheMiss) {
		return sessions.ErrNotFound
	}
	if err != nil {
		return s.fail(ctx, err)
	}
	return nil
}

// Swap implements sessions.Swapper with memcached's check-and-set. When
// the Store loaded old under key, the CAS id of that load is used
// directly (one round trip); otherwise, or when the item changed since,
// it reads the item with gets, compares the bytes and writes with cas.
func (s *Store) Swap(ctx context.Context, key string, old, data []byte, expiry time.Time) error {
	k := s.Key(key)
	exp, _ := s.expiration(expiry) // a past expiry stores an expired item: a conditional delete
	if exp > 0 {
		if err := s.tooLarge(k, data); err != nil {
			return err
		}
	}
	item := &memcache.Item{Key: k, Value: data, Flags: s.flags, Expiration: exp}
	if id, ok := s.cas.take(key, old); ok {
		item.CasID = id
		err := s.call(ctx, func(c *memcache.Client) error { return c.CompareAndSwap(item) })
		switch {
		case err == nil:
			return nil
		case errors.Is(err, memcache.ErrCacheMiss), errors.Is(err, memcache.ErrNotStored):
			return sessions.ErrNotFound
		case !errors.Is(err, memcache.ErrCASConflict):
			return s.fail(ctx, err)
		}
		// Written since our load, perhaps with the same bytes: look.
	}
	var cur *memcache.Item
	err := s.call(ctx, func(c *memcache.Client) (err error) { cur, err = c.Get(k); return })
	if errors.Is(err, memcache.ErrCacheMiss) {
		return sessions.ErrNotFound
	}
	if err != nil {
		return s.fail(ctx, err)
	}
	if !bytes.Equal(cur.Value, old) {
		return sessions.ErrConflict
	}
	item = &memcache.Item{Key: k, Value: data, Flags: s.flags, Expiration: exp, CasID: cur.CasID}
	err = s.call(ctx, func(c *memcache.Client) error { return c.CompareAndSwap(item) })
	switch {
	case err == nil:
		return nil
	case errors.Is(err, memcache.ErrCacheMiss), errors.Is(err, memcache.ErrNotStored):
		return sessions.ErrNotFound
	case errors.Is(err, memcache.ErrCASConflict):
		return sessions.ErrConflict
	}
	return s.fail(ctx, err)
}

// Close implements sessions.Engine. A Store opened from a URL closes its
// idle connections (its lanes', and Client's), and those of calls still
// running as they end; a Store over a client given to New leaves that
// client open. A second Close returns nil.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.cas.clear()
	if s.lanes != nil {
		return errors.Join(s.lanes.close(), s.c.Close())
	}
	return nil
}
