// Package memstore is an in-process session engine for tests and
// development: sessions live in a map and vanish when the process exits.
// It implements every optional interface (ExpiredDeleter, Lister, Toucher,
// Swapper, UserIndexer). Expired sessions are never returned and are purged as the
// store is used, so memory stays bounded by the live sessions.
//
// # URL
//
//	memory:                       a new, private store
//	memory:?purge_interval=30s    how often expired entries are swept (default 1m)
//
// Each Open returns a separate store: two managers opened from "memory:"
// do not share sessions. Share one *Store with [sessions.New] instead.
package memstore

import (
	"bytes"
	"context"
	"hash/maphash"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/sessionkit/sessions"
)

// Scheme is the URL scheme of this engine.
const Scheme = "memory"

func init() {
	sessions.Register(sessions.EngineInfo{
		Scheme:     Scheme,
		Aliases:    []string{"mem"},
		Forms:      []string{"memory:", "memory:?purge_interval=30s"},
		Doc:        "in-process map; for tests and development (not shared between processes)",
		NoLocation: true,
	}, func(ctx context.Context, u *url.URL, s sessions.Settings) (sessions.Backend, error) {
		p := sessions.ParseParams(u)
		o := Options{PurgeInterval: p.Duration("purge_interval", time.Minute, time.Second, 24*time.Hour)}
		if err := p.Err(); err != nil {
			return nil, err
		}
		return New(&o), nil
	})
}

// Options configure a Store.
type Options struct {
	// PurgeInterval is the least time between two sweeps of expired
	// entries, which happen during writes. Default: one minute.
	PurgeInterval time.Duration
	// Now returns the current time; nil means time.Now. For tests.
	Now func() time.Time
}

// Store is the in-memory engine. The zero value is not usable; call New.
//
// The sessions are spread over shardCount maps by a hash of the key, each
// under its own lock, so requests on different sessions do not queue
// behind each other (one map under one lock made every write stall every
// other request of the process). The user index has a lock of its own.
type Store struct {
	shards [shardCount]shard
	seed   maphash.Seed

	umu   sync.RWMutex
	users map[string]map[string]userEntry // user ID -> session key -> entry expiry

	now      func() time.Time
	interval time.Duration
	// lastPurge is when the last sweep started (Unix nanoseconds);
	// purging is set while one runs, so writers never queue for it.
	lastPurge atomic.Int64
	purging   atomic.Bool
}

// shardCount is the number of maps the sessions are spread over: enough
// that two requests rarely meet on one lock, few enough that a sweep or a
// listing stays cheap.
const shardCount = 64

type shard struct {
	mu sync.RWMutex
	m  map[string]entry
	_  [64 - (unsafe.Sizeof(sync.RWMutex{})+8)%64]byte // a cache line of its own: no false sharing between neighbours' locks
}

type entry struct {
	data   []byte
	expiry time.Time
}

// userEntry is an entry of the user index.
type userEntry struct {
	meta   []byte
	expiry time.Time
}

// New returns an empty Store. A nil o means default options.
func New(o *Options) *Store {
	s := &Store{users: make(map[string]map[string]userEntry), now: time.Now, interval: time.Minute, seed: maphash.MakeSeed()}
	for i := range s.shards {
		s.shards[i].m = make(map[string]entry)
	}
	if o != nil {
		if o.Now != nil {
			s.now = o.Now
		}
		if o.PurgeInterval > 0 {
			s.interval = o.PurgeInterval
		}
	}
	s.lastPurge.Store(s.now().UnixNano())
	return s
}

// shard returns the shard that holds key.
func (s *Store) shard(key string) *shard {
	return &s.shards[maphash.String(s.seed, key)%shardCount]
}

// Name returns the engine's scheme.
func (s *Store) Name() string { return Scheme }

// Describe says where the data lives.
func (s *Store) Describe() string { return "process memory (lost on exit)" }

// Load implements sessions.Engine.
func (s *Store) Load(ctx context.Context, key string) ([]byte, error) {
	sh := s.shard(key)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	e, ok := sh.m[key]
	if !ok || !e.expiry.After(s.now()) {
		return nil, sessions.ErrNotFound
	}
	return bytes.Clone(e.data), nil
}

// LoadExpiry implements sessions.ExpiryReader.
func (s *Store) LoadExpiry(ctx context.Context, key string) ([]byte, time.Time, error) {
	sh := s.shard(key)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	e, ok := sh.m[key]
	if !ok || !e.expiry.After(s.now()) {
		return nil, time.Time{}, sessions.ErrNotFound
	}
	return bytes.Clone(e.data), e.expiry, nil
}

// live reports whether a live entry is stored under key. Callers hold
// sh.mu.
func (sh *shard) live(key string, now time.Time) (entry, bool) {
	e, ok := sh.m[key]
	return e, ok && e.expiry.After(now)
}

// Create implements sessions.Engine.
func (s *Store) Create(ctx context.Context, key string, data []byte, expiry time.Time) error {
	now := s.now()
	s.maybePurge(now)
	data = bytes.Clone(data) // outside the lock
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.live(key, now); ok {
		return sessions.ErrExists
	}
	sh.m[key] = entry{data: data, expiry: expiry}
	return nil
}

// Update implements sessions.Engine.
func (s *Store) Update(ctx context.Context, key string, data []byte, expiry time.Time) error {
	data = bytes.Clone(data)
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.live(key, s.now()); !ok {
		return sessions.ErrNotFound
	}
	sh.m[key] = entry{data: data, expiry: expiry}
	return nil
}

// Swap implements sessions.Swapper.
func (s *Store) Swap(ctx context.Context, key string, old, data []byte, expiry time.Time) error {
	data = bytes.Clone(data)
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, ok := sh.live(key, s.now())
	if !ok {
		return sessions.ErrNotFound
	}
	if !bytes.Equal(e.data, old) {
		return sessions.ErrConflict
	}
	sh.m[key] = entry{data: data, expiry: expiry}
	return nil
}

// Touch implements sessions.Toucher.
func (s *Store) Touch(ctx context.Context, key string, expiry time.Time) error {
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, ok := sh.live(key, s.now())
	if !ok {
		return sessions.ErrNotFound
	}
	e.expiry = expiry
	sh.m[key] = e
	return nil
}

// Delete implements sessions.Engine.
func (s *Store) Delete(ctx context.Context, key string) error {
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	delete(sh.m, key)
	return nil
}

// DeleteExpired implements sessions.ExpiredDeleter.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	return s.purge(s.now()), nil
}

// List implements sessions.Lister. It lists shard by shard: a session
// created during the listing may or may not be seen.
func (s *Store) List(ctx context.Context, fn func(key string) bool) error {
	now := s.now()
	var keys []string
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		for k, e := range sh.m {
			if e.expiry.After(now) {
				keys = append(keys, k)
			}
		}
		sh.mu.RUnlock()
	}
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !fn(k) {
			return nil
		}
	}
	return nil
}

// Len returns the number of entries held, expired ones not yet purged
// included.
func (s *Store) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}

// Close implements sessions.Engine. It drops every session.
func (s *Store) Close() error {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		sh.m = map[string]entry{}
		sh.mu.Unlock()
	}
	s.umu.Lock()
	defer s.umu.Unlock()
	s.users = map[string]map[string]userEntry{}
	return nil
}

// AddUserSession implements sessions.UserIndexer.
func (s *Store) AddUserSession(ctx context.Context, userID, key string, meta []byte, expiry time.Time) error {
	s.umu.Lock()
	defer s.umu.Unlock()
	u := s.users[userID]
	if u == nil {
		u = make(map[string]userEntry)
		s.users[userID] = u
	}
	e, ok := u[key]
	if len(meta) > 0 {
		e.meta = bytes.Clone(meta)
	}
	if !ok || expiry.After(e.expiry) {
		e.expiry = expiry // never moved back: see sessions.UserIndexer
	}
	u[key] = e
	return nil
}

// UserSessions implements sessions.UserIndexer.
func (s *Store) UserSessions(ctx context.Context, userID string) ([]sessions.UserEntry, error) {
	s.umu.RLock()
	defer s.umu.RUnlock()
	now := s.now()
	out := []sessions.UserEntry{}
	for k, e := range s.users[userID] {
		if e.expiry.After(now) {
			out = append(out, sessions.UserEntry{Key: k, Meta: bytes.Clone(e.meta), Expiry: e.expiry})
		}
	}
	return out, nil
}

// RemoveUserSessions implements sessions.UserIndexer: it forgets the
// entries of keys under userID, and the user once none is left.
func (s *Store) RemoveUserSessions(ctx context.Context, userID string, keys []string) error {
	s.umu.Lock()
	defer s.umu.Unlock()
	u := s.users[userID]
	for _, k := range keys {
		delete(u, k)
	}
	if u != nil && len(u) == 0 {
		delete(s.users, userID)
	}
	return nil
}

// maybePurge sweeps expired entries when PurgeInterval has passed since
// the last sweep, unless one is running: the caller that starts it pays
// for it, no other request waits for it.
func (s *Store) maybePurge(now time.Time) {
	if now.UnixNano()-s.lastPurge.Load() < int64(s.interval) || !s.purging.CompareAndSwap(false, true) {
		return
	}
	defer s.purging.Store(false)
	s.purge(now)
}

// purge removes the entries expired at now, one shard at a time (each
// shard is locked only while it is swept), then the expired entries of
// the user index, and reports how many sessions it removed.
func (s *Store) purge(now time.Time) int64 {
	s.lastPurge.Store(now.UnixNano())
	var n int64
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for k, e := range sh.m {
			if !e.expiry.After(now) {
				delete(sh.m, k)
				n++
			}
		}
		sh.mu.Unlock()
	}
	s.umu.Lock()
	defer s.umu.Unlock()
	for id, u := range s.users {
		for k, e := range u {
			if !e.expiry.After(now) {
				delete(u, k)
			}
		}
		if len(u) == 0 {
			delete(s.users, id)
		}
	}
	return n
}
