// Package memcachestore is Django's cache session engine on memcached,
// through github.com/bradfitz/gomemcache, over one or several servers.
// Sessions are stored exactly as Django's
// django.contrib.sessions.backends.cache engine stores them with
// django.core.cache.backends.memcached.PyMemcacheCache, so a Go service
// and a Django site can share them.
//
// # URLs
//
//	memcached://127.0.0.1:11211                 one server (the port defaults to 11211)
//	memcached://h1:11211,h2:11211,h3:11211      several servers
//	memcached:///run/memcached/memcached.sock   a unix socket
//	memcache://...                              the same
//
// Parameters:
//
//	key_prefix=...       Django's CACHES KEY_PREFIX (default Settings.CacheKeyPrefix, "")
//	version=N            Django's CACHES VERSION (default Settings.CacheVersion, 1)
//	logical_prefix=...   default "django.contrib.sessions.cache"
//	format=pickle|json   see Format (default pickle)
//	timeout=500ms        socket read/write timeout (10ms-1m; default gomemcache's 500ms)
//	max_idle_conns=16    idle connections kept per server (1-10000; default 16)
//	max_item_size=1m     the servers' item size limit, memcached's -I (default 1 MiB)
//	distribution=...     pymemcache (default, as Django) or crc32 (gomemcache's ServerList)
//
// An unknown parameter is an error, and so is a parameter given twice. A
// user name or password in the URL is an error: memcached takes no
// credentials. [New] wraps a *memcache.Client you built yourself; the
// Store does not close it.
//
// A session lives on one server, chosen from its key. By default the
// choice is pymemcache's (the client of Django's PyMemcacheCache):
// rendezvous hashing of the server names (see [PymemcacheSelector]), so a
// Go service and a Django site listing the same servers under the same
// names look for a session on the same server. distribution=crc32
// chooses as gomemcache's ServerList does (CRC-32 of the key modulo the
// number of servers), for sharing with other Go programs that use
// gomemcache's default. Either way, adding or removing a server moves
// some sessions to a server where they are not found: their users are
// logged out.
//
// # Format
//
// The key of a session is "<key_prefix>:<version>:<logical_prefix><session key>",
// ":1:django.contrib.sessions.cache" followed by the session key with
// Django's defaults. Memcached keys are limited to 250 bytes without
// spaces or control characters; a prefix that would break that limit is
// refused when the engine is opened. The value is the session dict
// pickled with protocol 5 with memcached flags 1, pymemcache's
// FLAG_PICKLE (see package codec/pickle). Nothing is signed: anyone who
// can write to the servers can write sessions, as with Django. With
// format=json the value is the signed JSON of Django's database engines
// (flags 0), for Go-only deployments; Django cannot read it.
//
// # Expiry
//
// Memcached expires items itself, in whole seconds, on a clock that
// ticks once a second: an item stored with a relative expiry of N seconds
// lives between N-1 and N seconds. Expiries are therefore rounded up and
// one second is added, so a session never expires early (it may outlive
// its expiry by up to two seconds). An expiry more than 30 days ahead
// (2592000 s) is sent as an absolute Unix time, as memcached requires,
// and is capped at 2038-01-19 (memcached's 32-bit time).
//
// Create is add, Update is replace (a session deleted by a concurrent
// request is never brought back), Swap compares the stored bytes and
// writes with cas (check-and-set on the CAS id from gets), Touch is
// touch. An expiry in the past deletes the session. A read-only request
// costs one round trip (gets); a read-write request two (gets, then cas
// with the CAS id remembered from that gets; a third when another
// request wrote meanwhile). There is no DeleteExpired
// (sessions.ExpiredDeleter): with nothing to remove, Manager.ClearExpired
// reports 0, as Django's clear_expired does for the cache engine.
// Memcached cannot list its keys, so there is no List.
//
// # Eviction
//
// Memcached is a cache: when its memory is full it evicts the least
// recently used items, and a restarted server starts empty. For a user,
// an evicted session is a logout: the next request finds no session and
// starts a new one. Size memcached so that sessions are not evicted, or
// use the database (or cached_db) engine when that matters.
//
// # Errors
//
// A missing or expired session is sessions.ErrNotFound; Create on a live
// key is sessions.ErrExists; Swap on changed data is
// sessions.ErrConflict. A value over the item size limit is
// sessions.ErrTooLarge (checked before sending, and mapped from the
// server's "SERVER_ERROR object too large for cache"). A server that
// cannot be reached gives an error naming the servers ("memcached
// unreachable (127.0.0.1:11211): dial tcp ...") that wraps gomemcache's
// error; the Manager hands it to Settings.ErrorHandler, and service
// returns by itself once the server is back. A context that ends gives
// the context's error (see Contexts). Opening resolves the server names but does not
// connect; a connection that went stale (a restarted server) is noticed
// and replaced on the next call, which then succeeds.
//
// # Contexts
//
// Every method returns within a few milliseconds of the end of its
// context (deadline or cancellation), with the context's error
// (errors.Is(err, context.DeadlineExceeded) or context.Canceled), even
// against a server that accepts connections and never answers. gomemcache
// takes no context and bounds each call by its timeout (timeout=, 500 ms
// by default), for the dial and again for the command; so with a context
// that can end each gomemcache call runs in a goroutine of its own, which
// the method leaves behind when the context ends. That goroutine ends
// within twice the timeout (dial, then command) at the latest; gomemcache closes the connection of a command
// that failed rather than return it to the pool, so a later call never
// reads the reply meant for an abandoned one, and a command that completes
// returns its connection clean (closed, if the Store was closed
// meanwhile). A command already sent may still take effect on the server,
// as with any request that times out.
package memcachestore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/internal/djcache"
)

// Scheme is the URL scheme of this engine and the name in its errors.
const Scheme = "memcached"

// FlagPickle is the memcached flags value of a pickled item, pymemcache's
// FLAG_PICKLE, which PyMemcacheCache sets on sessions.
const FlagPickle = 1

// DefaultMaxItemSize is memcached's default item size limit (-I 1m).
const DefaultMaxItemSize = 1 << 20

// MaxKeyLength is memcached's key length limit.
const MaxKeyLength = 250

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

func init() {
	sessions.Register(sessions.EngineInfo{
		Scheme:  Scheme,
		Aliases: []string{"memcache"},
		Forms: []string{
			"memcached://127.0.0.1:11211",
			"memcached://10.0.0.1:11211,10.0.0.2:11211?timeout=250ms&max_idle_conns=64",
			"memcached:///run/memcached/memcached.sock",
			"memcached://127.0.0.1:11211?key_prefix=app&version=2&format=pickle",
		},
		Doc: "memcached (one or several servers) in Django's cache format (pickle, native TTL)",
	}, open)
}

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
	// means DefaultMaxItemSize. Larger sessions fail with
	// sessions.ErrTooLarge without a round trip.
	MaxItemSize int
}

// Store is the memcached engine. It implements sessions.Engine, Swapper,
// Toucher, Codecer and Describer, and is safe for concurrent use.
type Store struct {
	c       *memcache.Client
	own     bool
	closed  atomic.Bool // set by Close; see do
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
		opt.MaxItemSize = DefaultMaxItemSize
	}
	s := &Store{format: l.Format, maxItem: opt.MaxItemSize, now: time.Now, prefix: l.Prefix()}
	if l.Format == FormatPickle {
		s.flags = FlagPickle
	}
	if n := len(s.prefix) + sessions.MaxKeyLength; n > MaxKeyLength {
		return nil, fmt.Errorf("%w: memcached keys would be up to %d bytes (key prefix, version and logical prefix take %d, session keys up to %d), over memcached's limit of %d; shorten key_prefix",
			sessions.ErrBadConfig, n, len(s.prefix), sessions.MaxKeyLength, MaxKeyLength)
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

// Client returns the gomemcache client the Store uses.
func (s *Store) Client() *memcache.Client { return s.c }

// Key returns the memcached key of a session: "<key_prefix>:<version>:<logical_prefix><key>".
func (s *Store) Key(sessionKey string) string { return s.prefix + sessionKey }

// Codec implements sessions.Codecer: the pickle codec of Django's cache
// engines, or with FormatJSON the Manager's default signed JSON.
func (s *Store) Codec(st sessions.Settings) codec.Codec { return s.format.Codec(st) }

// fail turns a gomemcache error into the engine's: the context's error
// when the context ended, which is then the cause.
func (s *Store) fail(ctx context.Context, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	if isTooLarge(err) {
		return fmt.Errorf("%w: memcached (%s) refused the value: %w", sessions.ErrTooLarge, s.where, err)
	}
	var ne net.Error
	var cte *memcache.ConnectTimeoutError
	if errors.As(err, &ne) || errors.As(err, &cte) || errors.Is(err, memcache.ErrNoServers) || staleConn(err) {
		return fmt.Errorf("memcached unreachable (%s): %w", s.where, err)
	}
	return fmt.Errorf("memcached (%s): %w", s.where, err)
}

// call runs op, one gomemcache call, and returns its error, or the
// context's error as soon as ctx ends, whichever comes first.
//
// gomemcache takes no context: each call is bounded only by the client's
// timeout (timeout=, 500 ms by default), for the dial and again for the
// command. So, with a context that can end, op runs in a goroutine of its
// own, which call leaves behind when the context ends. That goroutine ends
// within twice the client's timeout (dial, then command) at the latest,
// and gomemcache closes a connection whose command failed (a timeout is
// not a protocol-level reply) instead of returning it to the pool, so a
// later call never reads the reply meant for an abandoned one; a command
// that completes returns its connection clean. A command already sent may still take effect on
// the server, as with any request that times out.
func (s *Store) call(ctx context.Context, op func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if ctx.Done() == nil { // context.Background and the like never end
		return s.do(ctx, op)
	}
	type result struct {
		err    error
		panicv any // a panic in op goes on in the caller
	}
	done := make(chan result, 1) // buffered: an abandoned op does not block
	go func() {
		var r result
		defer func() {
			if p := recover(); p != nil {
				r.panicv = p
			}
			done <- r
		}()
		r.err = s.do(ctx, op)
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		select {
		case r = <-done: // finished at the same moment: keep its answer
		default:
			return ctx.Err()
		}
	}
	if r.panicv != nil {
		panic(r.panicv)
	}
	return r.err
}

// do runs op, and once more if it failed on a connection that had gone
// stale (the server restarted, or something dropped the idle
// connection) and ctx has not ended: it first drops the client's idle
// connections, so the retry dials afresh. A retried write is safe: add
// and cas report that the first attempt took effect (ErrExists,
// ErrConflict), which the Manager handles, and replace, touch and delete
// are idempotent. A connection that an op abandoned by call returns to
// the pool after Close is closed here.
func (s *Store) do(ctx context.Context, op func() error) error {
	err := op()
	if err != nil && staleConn(err) && ctx.Err() == nil {
		s.c.Close() // idle connections only; the client stays usable
		err = op()
	}
	if s.own && s.closed.Load() {
		s.c.Close()
	}
	return err
}

func staleConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}

func isTooLarge(err error) bool {
	return err != nil && strings.Contains(err.Error(), "object too large")
}

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
	secs := int64((d+time.Second-1)/time.Second) + 1
	if secs <= 30*24*3600 {
		return int32(secs), true
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
	err := s.call(ctx, func() (err error) { it, err = s.c.Get(k); return })
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
	err := s.call(ctx, func() error { return s.c.Add(&memcache.Item{Key: k, Value: data, Flags: s.flags, Expiration: exp}) })
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
	err := s.call(ctx, func() error { return s.c.Replace(&memcache.Item{Key: k, Value: data, Flags: s.flags, Expiration: exp}) })
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
	err := s.call(ctx, func() error { return s.c.Delete(k) })
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
	err := s.call(ctx, func() error { return s.c.Touch(k, exp) })
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
		err := s.call(ctx, func() error { return s.c.CompareAndSwap(item) })
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
	err := s.call(ctx, func() (err error) { cur, err = s.c.Get(k); return })
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
	err = s.call(ctx, func() error { return s.c.CompareAndSwap(item) })
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

// Close implements sessions.Engine. It closes the client's connections
// only when the Store opened it from a URL. A second Close returns nil.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.cas.clear()
	if s.own {
		return s.c.Close()
	}
	return nil
}

// casCache remembers the CAS id of recent loads, keyed by session key,
// with a digest of the value loaded, so that the Swap of a request that
// loaded the session needs no second gets. It is bounded: when full it
// starts over.
type casCache struct {
	mu sync.Mutex
	m  map[string]casEntry
}

type casEntry struct {
	id  uint64
	sum [sha256.Size]byte
}

const casCacheSize = 4096

func (c *casCache) remember(key string, id uint64, value []byte) {
	e := casEntry{id: id, sum: sha256.Sum256(value)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= casCacheSize {
		c.m = make(map[string]casEntry)
	}
	c.m[key] = e
}

// take returns the remembered CAS id of key if the value loaded then was
// old, and forgets it.
func (c *casCache) take(key string, old []byte) (uint64, bool) {
	c.mu.Lock()
	e, ok := c.m[key]
	delete(c.m, key)
	c.mu.Unlock()
	if !ok || e.sum != sha256.Sum256(old) {
		return 0, false
	}
	return e.id, true
}

func (c *casCache) forget(key string) {
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
}

func (c *casCache) clear() {
	c.mu.Lock()
	c.m = nil
	c.mu.Unlock()
}

// --- opening from a URL --------------------------------------------------------

func open(ctx context.Context, u *url.URL, st sessions.Settings) (sessions.Backend, error) {
	if u.User != nil {
		// Not echoed: the user part may hold a password.
		return nil, fmt.Errorf("%w: memcached takes no user name or password (it has no authentication over its text protocol); remove the part before @ from the URL", sessions.ErrBadConfig)
	}
	if err := noRepeats(u); err != nil {
		return nil, err
	}
	p := sessions.ParseParams(u)
	l := djcache.FromParams(p, st)
	o := Options{
		KeyPrefix:     l.KeyPrefix,
		Version:       l.Version,
		LogicalPrefix: l.LogicalPrefix,
		Format:        l.Format,
		MaxItemSize:   sizeParam(p, "max_item_size", DefaultMaxItemSize),
	}
	timeout := p.Duration("timeout", memcache.DefaultTimeout, 10*time.Millisecond, time.Minute)
	distribution := p.String("distribution", "pymemcache")
	maxIdle := p.Int("max_idle_conns", 16, 1, 10000)
	if err := p.Err(); err != nil {
		return nil, err
	}
	var servers []string
	switch {
	case u.Host != "":
		for _, h := range strings.Split(u.Host, ",") {
			if h == "" {
				return nil, fmt.Errorf("%w: memcached: empty server in %q", sessions.ErrBadConfig, u.Host)
			}
			if _, _, err := net.SplitHostPort(h); err != nil {
				h = net.JoinHostPort(strings.Trim(h, "[]"), "11211")
			}
			servers = append(servers, h)
		}
		if u.Path != "" && u.Path != "/" {
			return nil, fmt.Errorf("%w: memcached URLs have no path (got %q); a unix socket is memcached:///path/to.sock", sessions.ErrBadConfig, u.Path)
		}
	case u.Path != "":
		servers = []string{u.Path} // a unix socket
	default:
		return nil, fmt.Errorf("%w: memcached: no server; for example memcached://127.0.0.1:11211", sessions.ErrBadConfig)
	}
	var sel memcache.ServerSelector
	switch distribution {
	case "pymemcache":
		ps, err := NewPymemcacheSelector(servers...)
		if err != nil {
			return nil, fmt.Errorf("%w: memcached servers %s: %v", sessions.ErrBadConfig, strings.Join(servers, ","), err)
		}
		sel = ps
	case "crc32":
		var sl memcache.ServerList
		if err := sl.SetServers(servers...); err != nil {
			return nil, fmt.Errorf("%w: memcached servers %s: %v", sessions.ErrBadConfig, strings.Join(servers, ","), err)
		}
		sel = &sl
	default:
		return nil, fmt.Errorf("%w: memcached distribution %q: want pymemcache or crc32", sessions.ErrBadConfig, distribution)
	}
	s, err := newStore(&o)
	if err != nil {
		return nil, err
	}
	c := memcache.NewFromSelector(sel)
	c.Timeout = timeout
	c.MaxIdleConns = maxIdle
	s.c, s.own, s.where = c, true, strings.Join(servers, ",")
	return s, nil
}

// noRepeats rejects a parameter given more than once, naming it but never
// its values.
func noRepeats(u *url.URL) error {
	var twice []string
	for k, v := range u.Query() {
		if len(v) > 1 {
			twice = append(twice, k)
		}
	}
	if len(twice) == 0 {
		return nil
	}
	slices.Sort(twice)
	q := u.Query()
	msgs := make([]string, len(twice))
	for i, k := range twice {
		msgs[i] = fmt.Sprintf("%s is given %d times; give it once", k, len(q[k]))
	}
	return fmt.Errorf("%w: %s", sessions.ErrBadConfig, strings.Join(msgs, "; "))
}

// sizeParam reads a byte size: a number, or a number with k or m (KiB,
// MiB) as memcached's -I takes it, between 1 KiB and 1 GiB.
func sizeParam(p *sessions.Params, name string, def int) int {
	v := strings.ToLower(strings.TrimSpace(p.String(name, "")))
	if v == "" {
		return def
	}
	mult := 1
	switch {
	case strings.HasSuffix(v, "k"):
		mult, v = 1<<10, strings.TrimSuffix(v, "k")
	case strings.HasSuffix(v, "m"):
		mult, v = 1<<20, strings.TrimSuffix(v, "m")
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 || n*mult < 1<<10 || n*mult > 1<<30 {
		// Let Params report it with its other errors.
		p.Int(name, 0, 1<<10, 1<<30)
		return def
	}
	return n * mult
}
