// Package cacheddb is Django's cached_db session engine: a cache (Redis or
// memcached) in front of a database, write-through. Reads hit the cache
// and fall back to the database, refilling the cache; writes go to the
// database first, then to the cache; deletes remove both. The database
// holds the truth, so an evicted or restarted cache logs nobody out.
//
// Both stores hold exactly what Django's cached_db engine writes: the
// database row of the db engine (signed JSON in django_session) and, in
// the cache, the session dict pickled under
// "<KEY_PREFIX>:<VERSION>:django.contrib.sessions.cached_db<key>", so a Go
// service and a Django site can share them.
//
// # URLs
//
//	cached-db:?cache=<cache URL>&db=<database URL>
//	cached-db:                  (Django's "cached_db": Settings.CacheURL and Settings.DatabaseURL)
//
// Both URLs are escaped query values, for example
// cached-db:?cache=redis%3A%2F%2F127.0.0.1%3A6379%2F0&db=postgres%3A%2F%2Fapp%40db%2Fapp.
// The cache URL gets logical_prefix=django.contrib.sessions.cached_db
// unless it names one. With no database configured the "db" default
// applies (the SQLite file db.sqlite3).
//
// # Failures
//
// When the cache is down, requests keep working from the database; the
// outage is logged once, and its end once, not per request (Django 5.1+
// behaves the same for writes). When the database is down, loads of
// sessions the cache holds still work, but writes fail with the database's
// error and nothing is written to the cache alone.
//
// # Concurrent requests
//
// Swap (no lost updates) is a compare-and-swap on the database row. The
// Manager may have loaded the session from the cache, in the cache's
// format; Swap then reads the row and compares the decoded sessions, so
// it costs one more database read than a plain update.
package cacheddb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/codec/pickle"
)

// Scheme is the URL scheme of this engine.
const Scheme = "cached-db"

// LogicalPrefix is the cache key prefix of Django's cached_db engine.
const LogicalPrefix = "django.contrib.sessions.cached_db"

func init() {
	sessions.Register(sessions.EngineInfo{
		Scheme:  Scheme,
		Aliases: []string{"cached_db", "cacheddb"},
		Forms:   []string{"cached-db:?cache=<url-escaped cache URL>&db=<url-escaped database URL>", "cached_db (Settings.CacheURL and Settings.DatabaseURL)"},
		Doc:     "Django's cached_db: a Redis or memcached cache in front of a database, write-through",
	}, open)
}

func open(ctx context.Context, u *url.URL, s sessions.Settings) (sessions.Engine, error) {
	if err := sessions.CheckNoLocation(u); err != nil {
		return nil, err
	}
	p := sessions.ParseParams(u)
	cacheURL := p.String("cache", s.CacheURL)
	dbURL := p.String("db", s.DatabaseURL)
	if err := p.Err(); err != nil {
		return nil, err
	}
	if cacheURL == "" {
		return nil, fmt.Errorf("%w: cached_db needs a cache: cached-db:?cache=<url> or Settings.CacheURL (SESSION_CACHE_URL)", sessions.ErrBadConfig)
	}
	if dbURL == "" {
		dbURL = "db"
	}
	cu, err := url.Parse(cacheURL)
	if err != nil {
		return nil, fmt.Errorf("%w: cached_db cache URL %s does not parse", sessions.ErrBadConfig, sessions.QuoteConfig(cacheURL))
	}
	// Added to the query as written, so that the cache engine sees its
	// mistakes too (url.URL.Query would drop a malformed pair).
	if q, _ := url.ParseQuery(cu.RawQuery); !q.Has("logical_prefix") {
		if cu.RawQuery != "" {
			cu.RawQuery += "&"
		}
		cu.RawQuery += "logical_prefix=" + url.QueryEscape(LogicalPrefix)
	}
	for _, bad := range []string{Scheme, "cached_db", "cacheddb"} {
		if strings.EqualFold(cu.Scheme, bad) || strings.HasPrefix(dbURL, bad) {
			return nil, fmt.Errorf("%w: cached_db cannot nest itself", sessions.ErrBadConfig)
		}
	}
	cache, err := sessions.OpenEngine(ctx, cu.String(), s)
	if err != nil {
		return nil, fmt.Errorf("cached_db cache: %w", err)
	}
	db, err := sessions.OpenEngine(ctx, dbURL, s)
	if err != nil {
		cache.Close()
		return nil, fmt.Errorf("cached_db database: %w", err)
	}
	st, err := New(cache, db, &Options{Logger: s.Logger})
	if err != nil {
		cache.Close()
		db.Close()
		return nil, err
	}
	st.own = true
	return st, nil
}

// Options configure a Store.
type Options struct {
	// Logger receives the cache outage messages; nil means slog.Default().
	Logger *slog.Logger
}

// Store is the cached_db engine. It implements sessions.Engine, Swapper,
// Toucher, Codecer and Describer, and ExpiredDeleter, Lister and
// UserIndexer when the database engine does.
type Store struct {
	cache, db sessions.Engine
	own       bool // Close closes cache and db
	log       *slog.Logger
	closed    atomic.Bool
	cacheDown atomic.Bool

	// Set by Codec: the database format (to read what the Manager writes)
	// and the cache format.
	mu         sync.RWMutex
	dbCodec    codec.Codec
	cacheCodec codec.Codec
	verbatim   bool // the data are encrypted: the cache stores the row's bytes
}

// New returns a Store over a cache engine (whose stored format is the
// cache codec, Django's pickle for redisstore and memcachestore) and a
// database engine. The cache engine should use the cached_db logical
// prefix (see LogicalPrefix). The database engine should implement
// sessions.ExpiryReader (sqlstore does), so the cache is refilled with the
// row's exact lifetime; without it reads that miss the cache are not
// cached. Close does not close engines given to New.
func New(cache, db sessions.Engine, o *Options) (*Store, error) {
	if cache == nil || db == nil {
		return nil, fmt.Errorf("%w: cacheddb.New needs a cache and a database engine", sessions.ErrBadConfig)
	}
	if _, ok := cache.(sessions.ClientSide); ok {
		return nil, fmt.Errorf("%w: cached_db's cache cannot be a client-side engine", sessions.ErrBadConfig)
	}
	if _, ok := db.(sessions.ClientSide); ok {
		return nil, fmt.Errorf("%w: cached_db's database cannot be a client-side engine", sessions.ErrBadConfig)
	}
	s := &Store{cache: cache, db: db, log: slog.Default()}
	if o != nil && o.Logger != nil {
		s.log = o.Logger
	}
	return s, nil
}

// Name returns the engine's scheme.
func (s *Store) Name() string { return Scheme }

// Describe says where the sessions live.
func (s *Store) Describe() string {
	return "cache " + describe(s.cache) + " in front of " + describe(s.db)
}

func describe(e sessions.Engine) string {
	if d, ok := e.(sessions.Describer); ok {
		return d.Describe()
	}
	return fmt.Sprintf("%T", e)
}

// Codec returns the codec the Manager uses: it writes the database's
// format (Django's signed JSON, or the settings' override) and reads both
// that and the cache's format (Django's pickle), since a load may come
// from either. With st.EncryptionKeys the Manager encrypts what this codec
// writes, and the cache then holds the database's encrypted bytes as they
// are, never a readable pickle.
func (s *Store) Codec(st sessions.Settings) codec.Codec {
	dbc := st.Codec
	if dbc == nil {
		if c, ok := s.db.(sessions.Codecer); ok {
			dbc = c.Codec(st)
		} else {
			dbc = codec.Signed{Key: st.SecretKey, Fallbacks: st.SecretKeyFallbacks, Salt: st.KeySalt, MaxSize: st.MaxDataSize}
		}
	}
	var cc codec.Codec = pickle.Codec{}
	if c, ok := s.cache.(sessions.Codecer); ok {
		cc = c.Codec(st)
	}
	s.mu.Lock()
	s.dbCodec, s.cacheCodec = dbc, cc
	s.verbatim = len(st.EncryptionKeys) > 0
	s.mu.Unlock()
	return dual{db: dbc, cache: cc}
}

func (s *Store) codecs() (db, cache codec.Codec) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.dbCodec, s.cacheCodec
}

// isPickle reports whether b is a pickle (protocol 2 or later starts with
// the PROTO opcode 0x80), rather than Django's signed JSON, which is
// URL-safe base64 text.
func isPickle(b []byte) bool { return len(b) > 0 && b[0] == 0x80 }

// dual encodes in the database format and decodes either format.
type dual struct{ db, cache codec.Codec }

func (d dual) Encode(x *codec.Dict) ([]byte, error) { return d.db.Encode(x) }

func (d dual) Decode(b []byte) (*codec.Dict, error) {
	if isPickle(b) {
		return d.cache.Decode(b)
	}
	return d.db.Decode(b)
}

func (s *Store) check(ctx context.Context, key string) error {
	return sessions.Precheck(ctx, key, s.closed.Load())
}

// cacheFailed records a cache error: logged when the cache goes down,
// not for every request.
func (s *Store) cacheFailed(ctx context.Context, op string, err error) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return
	}
	if !s.cacheDown.Swap(true) {
		s.log.LogAttrs(ctx, slog.LevelError, "cached_db: cache unavailable, serving sessions from the database", slog.String("op", op), slog.String("error", err.Error()))
	}
}

func (s *Store) cacheOK(ctx context.Context) {
	if s.cacheDown.Swap(false) {
		s.log.LogAttrs(ctx, slog.LevelInfo, "cached_db: cache available again")
	}
}

// Load implements sessions.Engine: the cache's copy when it has one
// (in the cache's format), else the database row, which then refills the
// cache until the row's expiry.
func (s *Store) Load(ctx context.Context, key string) ([]byte, error) {
	if err := s.check(ctx, key); err != nil {
		return nil, err
	}
	data, err := s.cache.Load(ctx, key)
	switch {
	case err == nil:
		s.cacheOK(ctx)
		return data, nil
	case errors.Is(err, sessions.ErrNotFound):
		s.cacheOK(ctx)
	case ctx.Err() != nil:
		return nil, err
	default:
		s.cacheFailed(ctx, "load", err)
	}
	er, ok := s.db.(sessions.ExpiryReader)
	if !ok {
		return s.db.Load(ctx, key)
	}
	data, exp, err := er.LoadExpiry(ctx, key)
	if err != nil {
		return nil, err
	}
	if !s.cacheDown.Load() {
		s.putCache(ctx, key, data, exp, false)
	}
	return data, nil
}

// putCache writes the cache's copy of data (database format) under key,
// or removes it when it cannot be made. create says whether the key is
// new (Create) rather than possibly present.
func (s *Store) putCache(ctx context.Context, key string, data []byte, exp time.Time, create bool) {
	b, ok := s.toCache(data)
	if !ok {
		s.dropCache(ctx, key)
		return
	}
	var err error
	if create {
		err = s.cache.Create(ctx, key, b, exp)
		if errors.Is(err, sessions.ErrExists) {
			err = s.cache.Update(ctx, key, b, exp)
		}
	} else {
		err = s.cache.Update(ctx, key, b, exp)
		if errors.Is(err, sessions.ErrNotFound) {
			err = s.cache.Create(ctx, key, b, exp)
			if errors.Is(err, sessions.ErrExists) {
				err = s.cache.Update(ctx, key, b, exp)
			}
		}
	}
	switch {
	case err == nil:
		s.cacheOK(ctx)
	case errors.Is(err, sessions.ErrTooLarge):
		// Too big for the cache: serve it from the database.
		s.dropCache(ctx, key)
	default:
		s.cacheFailed(ctx, "set", err)
	}
}

func (s *Store) dropCache(ctx context.Context, key string) {
	if err := s.cache.Delete(ctx, key); err != nil {
		s.cacheFailed(ctx, "delete", err)
	}
}

// toCache converts database-format data to the cache's format.
func (s *Store) toCache(data []byte) ([]byte, bool) {
	s.mu.RLock()
	verbatim := s.verbatim
	s.mu.RUnlock()
	if verbatim {
		return data, true
	}
	dbc, cc := s.codecs()
	if dbc == nil || cc == nil {
		return nil, false // no settings: the formats are unknown
	}
	d, err := dbc.Decode(data)
	if err != nil {
		return nil, false
	}
	b, err := cc.Encode(d)
	return b, err == nil
}

// Create implements sessions.Engine: the database first, then the cache.
func (s *Store) Create(ctx context.Context, key string, data []byte, expiry time.Time) error {
	if err := s.check(ctx, key); err != nil {
		return err
	}
	if err := s.db.Create(ctx, key, data, expiry); err != nil {
		return err
	}
	s.putCache(ctx, key, data, expiry, true)
	return nil
}

// Update implements sessions.Engine: the database first (ErrNotFound if
// the row is gone: never resurrected), then the cache.
func (s *Store) Update(ctx context.Context, key string, data []byte, expiry time.Time) error {
	if err := s.check(ctx, key); err != nil {
		return err
	}
	if err := s.db.Update(ctx, key, data, expiry); err != nil {
		if errors.Is(err, sessions.ErrNotFound) {
			s.dropCache(ctx, key)
		}
		return err
	}
	s.putCache(ctx, key, data, expiry, false)
	return nil
}

// Swap implements sessions.Swapper on the database row. old may be the
// cache's copy (another format): the row is read and the two sessions
// compared decoded.
func (s *Store) Swap(ctx context.Context, key string, old, data []byte, expiry time.Time) error {
	if err := s.check(ctx, key); err != nil {
		return err
	}
	sw, ok := s.db.(sessions.Swapper)
	if !ok {
		return s.Update(ctx, key, data, expiry)
	}
	cur := old
	if isPickle(old) {
		row, err := s.db.Load(ctx, key)
		if err != nil {
			if errors.Is(err, sessions.ErrNotFound) {
				s.dropCache(ctx, key)
			}
			return err
		}
		if !bytes.Equal(row, old) && !s.equivalent(row, old) {
			// The row changed since this request loaded: the cache copy it
			// read is stale too.
			s.dropCache(ctx, key)
			return sessions.ErrConflict
		}
		cur = row
	}
	if err := sw.Swap(ctx, key, cur, data, expiry); err != nil {
		if errors.Is(err, sessions.ErrNotFound) || errors.Is(err, sessions.ErrConflict) {
			s.dropCache(ctx, key)
		}
		return err
	}
	s.putCache(ctx, key, data, expiry, false)
	return nil
}

// equivalent reports whether two stored forms (either format) hold the
// same session.
func (s *Store) equivalent(a, b []byte) bool {
	dbc, cc := s.codecs()
	if dbc == nil {
		return false
	}
	dec := dual{db: dbc, cache: cc}
	da, err1 := dec.Decode(a)
	db, err2 := dec.Decode(b)
	if err1 != nil || err2 != nil {
		return false
	}
	ca, err1 := codec.MarshalPython(codec.NewDict(da.Map()))
	cb, err2 := codec.MarshalPython(codec.NewDict(db.Map()))
	return err1 == nil && err2 == nil && bytes.Equal(ca, cb)
}

// Touch implements sessions.Toucher: the row's expiry, then the cache's.
func (s *Store) Touch(ctx context.Context, key string, expiry time.Time) error {
	if err := s.check(ctx, key); err != nil {
		return err
	}
	var err error
	if t, ok := s.db.(sessions.Toucher); ok {
		err = t.Touch(ctx, key, expiry)
	} else {
		return fmt.Errorf("%w: the database engine cannot touch", sessions.ErrUnsupported)
	}
	if err != nil {
		if errors.Is(err, sessions.ErrNotFound) {
			s.dropCache(ctx, key)
		}
		return err
	}
	if t, ok := s.cache.(sessions.Toucher); ok {
		if err := t.Touch(ctx, key, expiry); err != nil && !errors.Is(err, sessions.ErrNotFound) {
			s.cacheFailed(ctx, "touch", err)
		}
	} else {
		s.dropCache(ctx, key)
	}
	return nil
}

// Delete implements sessions.Engine: the database, then the cache.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.check(ctx, key); err != nil {
		return err
	}
	if err := s.db.Delete(ctx, key); err != nil {
		return err
	}
	if err := s.cache.Delete(ctx, key); err != nil {
		if ctx.Err() != nil {
			return err
		}
		s.cacheFailed(ctx, "delete", err)
	}
	return nil
}

// DeleteExpired implements sessions.ExpiredDeleter with the database's
// (cache entries expire by themselves).
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	if s.closed.Load() {
		return 0, sessions.ErrClosed
	}
	d, ok := s.db.(sessions.ExpiredDeleter)
	if !ok {
		return 0, sessions.ErrUnsupported
	}
	return d.DeleteExpired(ctx)
}

// List implements sessions.Lister with the database's.
func (s *Store) List(ctx context.Context, fn func(key string) bool) error {
	if s.closed.Load() {
		return sessions.ErrClosed
	}
	l, ok := s.db.(sessions.Lister)
	if !ok {
		return sessions.ErrUnsupported
	}
	return l.List(ctx, fn)
}

// AddUserSession implements sessions.UserIndexer with the database's.
func (s *Store) AddUserSession(ctx context.Context, userID, key string, expiry time.Time) error {
	ix, err := s.index()
	if err != nil {
		return err
	}
	return ix.AddUserSession(ctx, userID, key, expiry)
}

// UserSessions implements sessions.UserIndexer with the database's.
func (s *Store) UserSessions(ctx context.Context, userID string) ([]string, error) {
	ix, err := s.index()
	if err != nil {
		return nil, err
	}
	return ix.UserSessions(ctx, userID)
}

// RemoveUserSessions implements sessions.UserIndexer with the database's.
func (s *Store) RemoveUserSessions(ctx context.Context, userID string, keys []string) error {
	ix, err := s.index()
	if err != nil {
		return err
	}
	return ix.RemoveUserSessions(ctx, userID, keys)
}

func (s *Store) index() (sessions.UserIndexer, error) {
	if s.closed.Load() {
		return nil, sessions.ErrClosed
	}
	ix, ok := s.db.(sessions.UserIndexer)
	if !ok {
		return nil, sessions.ErrUnsupported
	}
	return ix, nil
}

// Close implements sessions.Engine. It closes the two engines if the
// store opened them.
func (s *Store) Close() error {
	if s.closed.Swap(true) || !s.own {
		return nil
	}
	return errors.Join(s.cache.Close(), s.db.Close())
}
