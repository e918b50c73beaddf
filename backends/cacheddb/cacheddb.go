package cacheddb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/internal/djcache"
)

// Scheme is the URL scheme of this engine.
const Scheme = "cached-db"

// LogicalPrefix is the cache key prefix of Django's cached_db engine,
// which the cache engine given to New should use (redisstore's and
// memcachestore's Options.LogicalPrefix).
const LogicalPrefix = djcache.CachedDBPrefix

// ErrCacheUnavailable reports a write or delete that was refused because
// the cache could not be reached to invalidate the session's copy first.
// Nothing was changed: the request can be retried once the cache is back.
// The error also wraps the cache client's own error.
var ErrCacheUnavailable = errors.New("cached_db: the cache is unreachable, so the session was not changed")

// Defaults of Options.
const (
	defaultWriteTimeout  = 10 * time.Second
	defaultClockSkew     = time.Second
	defaultRetryInterval = time.Second
	defaultReadTimeout   = 200 * time.Millisecond
)

// Options configure a Store.
type Options struct {
	// Logger receives the cache outage messages; nil means slog.Default().
	Logger *slog.Logger
	// WriteTimeout bounds the database step of every write; it is also how
	// long the write's claim on the cache key keeps readers from caching
	// (plus ClockSkew). 0 means 10 seconds. The database must not
	// apply a write it was given later than that (see the package doc).
	WriteTimeout time.Duration
	// ClockSkew is how far the clocks of the processes sharing the cache
	// may disagree. 0 means one second.
	ClockSkew time.Duration
	// RetryInterval is how long reads go straight to the database after a
	// cache error before they try the cache again. 0 means
	// one second; negative means never skip the cache.
	RetryInterval time.Duration
	// ReadTimeout bounds the cache's part of a load: a cache slower than
	// that (a paused server, a black-holed network) counts as down and
	// the load goes to the database, within the request's deadline. The
	// bound is also at most half the time the load's context has left.
	// 0 means 200 ms.
	ReadTimeout time.Duration

	// Codec reads the database's rows, in the format the Manager writes
	// them: sessions.DefaultCodec(settings), Django's signed JSON, with the
	// Manager's settings (or the database engine's own codec). The store
	// decodes rows with it to give the cache its copy in CacheCodec's
	// format. New needs it unless Verbatim is set.
	Codec codec.Codec
	// CacheCodec is the format of the cache's copies; nil means Django's
	// pickle (package codec/pickle), what redisstore and memcachestore
	// store by default.
	CacheCodec codec.Codec
	// Verbatim makes the cache hold the rows' bytes as they are instead of
	// converting them to CacheCodec's format. Set it when the Manager's
	// codec is not Codec: with Settings.EncryptionKeys (the cache's copies
	// are then encrypted too, never a readable pickle) or Settings.Codec.
	// Django's cached_db cannot read such copies.
	Verbatim bool
	// PlainCopies makes the cache hold the pickle alone, without the
	// row's bytes after it (see Formats in the package doc), as v0.1.0
	// did: set it while processes of v0.1.0, which read such copies as
	// corrupt sessions, share the cache. A read-write request then reads
	// the row before swapping it, one database round trip more.
	PlainCopies bool
	// SyncInstall makes a write (Create, Update, Swap, Touch) swap its
	// claim for the new copy before it returns, as v0.1.0 did, rather
	// than in the background after it returns (see Consistency in the
	// package doc): one cache round trip more in the request's path, and
	// an error for the request, not only a log message, in the rare case
	// that the cache cannot be checked for an older copy after the
	// database write. Delete always removes its claim before it returns.
	SyncInstall bool
}

// Store is the cached_db engine over a database that can compare-and-swap.
// It implements sessions.Engine, Swapper, Toucher, Codecer and Describer,
// and ExpiredDeleter, Lister, UserIndexer and Counter with the database
// engine's (an error matching sessions.ErrUnsupported when it has none).
type Store struct {
	cache, db sessions.Engine
	cacheSw   sessions.Swapper
	dbSw      sessions.Swapper // nil: the database cannot swap
	own       bool             // Close closes cache and db
	log       *slog.Logger
	cacheDown atomic.Bool
	retryAt   atomic.Int64 // unix ns: reads skip the cache until then

	writeTimeout, skew, retry, readTimeout time.Duration

	// The formats (see Options): the rows', in which the Manager writes,
	// and the cache's copies'; verbatim: the copies are the rows' bytes.
	dbCodec, cacheCodec codec.Codec
	verbatim            bool
	plain               bool // Options.PlainCopies
	syncInstall         bool // Options.SyncInstall
	bg                  installs
	warnOnce            sync.Once
}

// withoutSwap is every method of a Store but Swap.
type withoutSwap interface {
	sessions.Engine
	sessions.Toucher
	sessions.ExpiredDeleter
	sessions.Lister
	sessions.UserIndexer
	sessions.Counter
	sessions.Codecer
	sessions.Describer
}

var _ withoutSwap = (*Store)(nil)

// noSwap is a Store over a database that cannot compare-and-swap, with
// every method but Swap.
type noSwap struct{ withoutSwap }

// New returns the cached_db engine over a cache engine and a database
// engine. The cache engine must implement sessions.Swapper
// (compare-and-swap: redisstore, memcachestore and memstore do) and
// should use the cached_db logical prefix (see LogicalPrefix). The
// database engine should implement sessions.ExpiryReader (sqlstore
// does), so the cache is refilled with the row's exact lifetime; without
// it reads that miss the cache are not cached. o must give the rows'
// format (Options.Codec) or Verbatim. Close does not close engines given
// to New.
//
// When the database engine implements sessions.Swapper, the result is a
// *Store. Otherwise it is an engine with every method of a Store but
// Swap: the Manager then writes with Update (the last write wins) rather
// than trust a compare-and-swap that the database cannot do.
func New(cache, db sessions.Engine, o *Options) (sessions.Engine, error) {
	s, err := newStore(cache, db, o)
	if err != nil {
		return nil, err
	}
	return s.engine(), nil
}

// engine returns s, or s without Swap when the database cannot swap.
func (s *Store) engine() sessions.Engine {
	if s.dbSw == nil {
		return noSwap{s}
	}
	return s
}

func newStore(cache, db sessions.Engine, o *Options) (*Store, error) {
	if cache == nil || db == nil {
		return nil, fmt.Errorf("%w: cacheddb.New needs a cache and a database engine", sessions.ErrBadConfig)
	}
	if _, ok := cache.(sessions.ClientSide); ok {
		return nil, fmt.Errorf("%w: cached_db's cache cannot be a client-side engine", sessions.ErrBadConfig)
	}
	if _, ok := db.(sessions.ClientSide); ok {
		return nil, fmt.Errorf("%w: cached_db's database cannot be a client-side engine", sessions.ErrBadConfig)
	}
	sw, ok := cache.(sessions.Swapper)
	if !ok {
		return nil, fmt.Errorf("%w: cached_db's cache must support compare-and-swap (sessions.Swapper), which %T does not", sessions.ErrBadConfig, cache)
	}
	if o == nil || o.Codec == nil && !o.Verbatim {
		return nil, fmt.Errorf("%w: cacheddb.New needs the database's format, Options.Codec (sessions.DefaultCodec(settings) for Django's), or Options.Verbatim", sessions.ErrBadConfig)
	}
	s := &Store{cache: cache, db: db, cacheSw: sw, log: slog.Default(),
		writeTimeout: defaultWriteTimeout, skew: defaultClockSkew, retry: defaultRetryInterval, readTimeout: defaultReadTimeout,
		dbCodec: o.Codec, cacheCodec: o.CacheCodec, verbatim: o.Verbatim, plain: o.PlainCopies, syncInstall: o.SyncInstall}
	s.dbSw, _ = db.(sessions.Swapper)
	if s.cacheCodec == nil {
		s.cacheCodec = djcache.Pickle.Codec(sessions.Settings{})
	}
	if o.Logger != nil {
		s.log = o.Logger
	}
	if o.WriteTimeout > 0 {
		s.writeTimeout = o.WriteTimeout
	}
	if o.ClockSkew > 0 {
		s.skew = o.ClockSkew
	}
	if o.RetryInterval != 0 {
		s.retry = max(o.RetryInterval, 0)
	}
	if o.ReadTimeout > 0 {
		s.readTimeout = o.ReadTimeout
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

// Codec implements sessions.Codecer: the Manager's codec writes the
// database's format with the Manager's settings st (the database engine's
// codec, else sessions.DefaultCodec(st): what Options.Codec must read)
// and reads both that and the cache's format (Options.CacheCodec), since
// a load may come from either. It keeps nothing of st: the store converts
// with the codecs New was given. A Manager that encrypts
// (st.EncryptionKeys) a store built to convert the rows rather than copy
// them (without Options.Verbatim) is logged, since the cache then stays
// empty.
func (s *Store) Codec(st sessions.Settings) codec.Codec {
	if len(st.EncryptionKeys) > 0 && !s.verbatim {
		s.warnOnce.Do(func() {
			s.log.LogAttrs(context.Background(), slog.LevelWarn, "cached_db: the Manager encrypts sessions but the store was built without Options.Verbatim: nothing will be cached")
		})
	}
	return dual{db: dbFormat(s.db, st), cache: s.cacheCodec}
}

// dbFormat is the codec of a database engine's rows with the settings st:
// its own (Codecer), else Django's signed JSON.
func dbFormat(db sessions.Engine, st sessions.Settings) codec.Codec {
	if c, ok := db.(sessions.Codecer); ok {
		if dbc := c.Codec(st); dbc != nil {
			return dbc
		}
	}
	return sessions.DefaultCodec(st)
}

// dual encodes in the database format and decodes either format.
type dual struct{ db, cache codec.Codec }

func (d dual) Encode(x *codec.Dict) ([]byte, error) { return d.db.Encode(x) }

// Decode reads a row, or a copy from the cache. A copy with the row's
// bytes (see Store.Swap) is read from the row, which decodes several
// times faster than the pickle (and gives the values a cache miss would);
// the pickle serves when the row does not decode (a secret key rotated
// since, for example), as it does for a copy without the row.
func (d dual) Decode(b []byte) (*codec.Dict, error) {
	if !djcache.IsPickle(b) {
		return d.db.Decode(b)
	}
	p, row, ok := djcache.SplitRow(b)
	if ok {
		if x, err := d.db.Decode(row); err == nil {
			return x, nil
		}
	}
	return d.cache.Decode(p)
}

// cacheFailed records a cache error: logged when the cache goes down,
// not for every request; reads skip the cache for the retry interval.
func (s *Store) cacheFailed(ctx context.Context, op string, err error) {
	if ctx.Err() != nil {
		return // the caller gave up, not the cache
	}
	s.retryAt.Store(time.Now().Add(s.retry).UnixNano())
	if !s.cacheDown.Swap(true) {
		s.log.LogAttrs(ctx, slog.LevelError, "cached_db: cache unavailable: serving sessions from the database, refusing changes", slog.String("op", op), slog.String("error", err.Error()))
	}
}

func (s *Store) cacheOK(ctx context.Context) {
	if s.cacheDown.Load() && s.cacheDown.Swap(false) {
		s.log.LogAttrs(ctx, slog.LevelInfo, "cached_db: cache available again")
	}
}

// skipCache reports whether reads should go straight to the database: the
// cache failed less than the retry interval ago.
func (s *Store) skipCache() bool {
	return s.cacheDown.Load() && time.Now().UnixNano() < s.retryAt.Load()
}

// DeleteExpired implements sessions.ExpiredDeleter with the database's
// (cache entries expire by themselves).
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	d, ok := s.db.(sessions.ExpiredDeleter)
	if !ok {
		return 0, sessions.ErrUnsupported
	}
	return d.DeleteExpired(ctx)
}

// List implements sessions.Lister with the database's.
func (s *Store) List(ctx context.Context, fn func(key string) bool) error {
	l, ok := s.db.(sessions.Lister)
	if !ok {
		return sessions.ErrUnsupported
	}
	return l.List(ctx, fn)
}

// Count implements sessions.Counter with the database's: the database
// holds every session, the cache only copies. Over a database that
// cannot count it returns an error matching sessions.ErrUnsupported, and
// Manager.Stats lists the keys instead.
func (s *Store) Count(ctx context.Context, progress func(done, total int64)) (sessions.Counts, error) {
	c, ok := s.db.(sessions.Counter)
	if !ok {
		return sessions.Counts{Sessions: -1, Expired: -1, Users: -1, UserEntries: -1}, sessions.ErrUnsupported
	}
	return c.Count(ctx, progress)
}

// AddUserSession implements sessions.UserIndexer with the database's.
// The index and its metadata live in the database only.
func (s *Store) AddUserSession(ctx context.Context, userID, key string, meta []byte, expiry time.Time) error {
	ix, err := s.index()
	if err != nil {
		return err
	}
	return ix.AddUserSession(ctx, userID, key, meta, expiry)
}

// UserSessions implements sessions.UserIndexer with the database's.
func (s *Store) UserSessions(ctx context.Context, userID string) ([]sessions.UserEntry, error) {
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
	ix, ok := s.db.(sessions.UserIndexer)
	if !ok {
		return nil, sessions.ErrUnsupported
	}
	return ix, nil
}

// Close implements sessions.Engine. It waits for the writes' copies
// being installed in the background (each within WriteTimeout), then
// closes the two engines if the store opened them. Engines given to New
// must stay open until Close returns.
func (s *Store) Close() error {
	s.closeInstalls()
	if !s.own {
		return nil
	}
	return errors.Join(s.cache.Close(), s.db.Close())
}
