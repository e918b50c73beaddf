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
	"net/url"
	"sync"
	"time"

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
type Store struct {
	mu        sync.RWMutex
	m         map[string]entry
	users     map[string]map[string]userEntry // user ID -> session key -> entry
	now       func() time.Time
	interval  time.Duration
	lastPurge time.Time
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
	s := &Store{m: make(map[string]entry), users: make(map[string]map[string]userEntry), now: time.Now, interval: time.Minute}
	if o != nil {
		if o.Now != nil {
			s.now = o.Now
		}
		if o.PurgeInterval > 0 {
			s.interval = o.PurgeInterval
		}
	}
	s.lastPurge = s.now()
	return s
}

// Name returns the engine's scheme.
func (s *Store) Name() string { return Scheme }

// Describe says where the data lives.
func (s *Store) Describe() string { return "process memory (lost on exit)" }

// Load implements sessions.Engine.
func (s *Store) Load(ctx context.Context, key string) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.m[key]
	if !ok || !e.expiry.After(s.now()) {
		return nil, sessions.ErrNotFound
	}
	return bytes.Clone(e.data), nil
}

// LoadExpiry implements sessions.ExpiryReader.
func (s *Store) LoadExpiry(ctx context.Context, key string) ([]byte, time.Time, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.m[key]
	if !ok || !e.expiry.After(s.now()) {
		return nil, time.Time{}, sessions.ErrNotFound
	}
	return bytes.Clone(e.data), e.expiry, nil
}

// live reports whether a live entry is stored under key. Callers hold mu.
func (s *Store) live(key string, now time.Time) (entry, bool) {
	e, ok := s.m[key]
	return e, ok && e.expiry.After(now)
}

// Create implements sessions.Engine.
func (s *Store) Create(ctx context.Context, key string, data []byte, expiry time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.maybePurge(now)
	if _, ok := s.live(key, now); ok {
		return sessions.ErrExists
	}
	s.m[key] = entry{data: bytes.Clone(data), expiry: expiry}
	return nil
}

// Update implements sessions.Engine.
func (s *Store) Update(ctx context.Context, key string, data []byte, expiry time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.live(key, s.now()); !ok {
		return sessions.ErrNotFound
	}
	s.m[key] = entry{data: bytes.Clone(data), expiry: expiry}
	return nil
}

// Swap implements sessions.Swapper.
func (s *Store) Swap(ctx context.Context, key string, old, data []byte, expiry time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.live(key, s.now())
	if !ok {
		return sessions.ErrNotFound
	}
	if !bytes.Equal(e.data, old) {
		return sessions.ErrConflict
	}
	s.m[key] = entry{data: bytes.Clone(data), expiry: expiry}
	return nil
}

// Touch implements sessions.Toucher.
func (s *Store) Touch(ctx context.Context, key string, expiry time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.live(key, s.now())
	if !ok {
		return sessions.ErrNotFound
	}
	e.expiry = expiry
	s.m[key] = e
	return nil
}

// Delete implements sessions.Engine.
func (s *Store) Delete(ctx context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
	return nil
}

// DeleteExpired implements sessions.ExpiredDeleter.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.purge(s.now()), nil
}

// List implements sessions.Lister.
func (s *Store) List(ctx context.Context, fn func(key string) bool) error {
	s.mu.RLock()
	now := s.now()
	keys := make([]string, 0, len(s.m))
	for k, e := range s.m {
		if e.expiry.After(now) {
			keys = append(keys, k)
		}
	}
	s.mu.RUnlock()
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
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.m)
}

// Close implements sessions.Engine. It drops every session.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m = map[string]entry{}
	s.users = map[string]map[string]userEntry{}
	return nil
}

// AddUserSession implements sessions.UserIndexer.
func (s *Store) AddUserSession(ctx context.Context, userID, key string, meta []byte, expiry time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[userID]
	if u == nil {
		u = make(map[string]userEntry)
		s.users[userID] = u
	}
	e := u[key]
	if len(meta) > 0 {
		e.meta = bytes.Clone(meta)
	}
	e.expiry = expiry
	u[key] = e
	return nil
}

// UserSessions implements sessions.UserIndexer.
func (s *Store) UserSessions(ctx context.Context, userID string) ([]sessions.UserEntry, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
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
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[userID]
	for _, k := range keys {
		delete(u, k)
	}
	if u != nil && len(u) == 0 {
		delete(s.users, userID)
	}
	return nil
}

func (s *Store) maybePurge(now time.Time) {
	if now.Sub(s.lastPurge) >= s.interval {
		s.purge(now)
	}
}

func (s *Store) purge(now time.Time) int64 {
	var n int64
	for k, e := range s.m {
		if !e.expiry.After(now) {
			delete(s.m, k)
			n++
		}
	}
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
	s.lastPurge = now
	return n
}
