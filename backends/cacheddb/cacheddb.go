// Package cacheddb is Django's cached_db session engine: a cache (Redis or
// memcached) in front of a database. The database holds the truth; the
// cache holds copies that reads use without touching the database, so an
// evicted or restarted cache logs nobody out.
//
// Both stores hold exactly what Django's cached_db engine writes: the
// database row of the db engine (signed JSON in django_session) and, in
// the cache, the session dict pickled under
// "<KEY_PREFIX>:<VERSION>:django.contrib.sessions.cached_db<key>", so a Go
// service and a Django site can share them (see "Sharing with Django"
// below for what that costs the guarantees).
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
// applies (the SQLite file db.sqlite3). Give the cache client short
// timeouts (redis: read_timeout, write_timeout, dial_timeout; memcached:
// timeout): a write waits for them when the cache stalls.
//
// # Consistency
//
// A cache that misses an invalidation must never serve the old copy
// afterwards: a logout, Manager.DeleteUser or the old key of CycleKey
// would be undone, and an acknowledged write would read back stale. The
// cache can miss one in many ways: it is unreachable while keeping its
// data (a partition, a restarting proxy, a paused server) from one app
// process and not from another; a write that timed out may have been
// applied, or may land later, after newer ones; a reader may put back a
// copy it read from the database just before a write. This engine keeps
// these guarantees whatever the cache does:
//
//   - An acknowledged delete (Delete, and so Flush, DeleteUser and
//     CycleKey's old key) is never undone, and an acknowledged write never
//     reads back older data, through any process sharing the cache.
//   - A write or delete that fails after its database write does not come
//     back either: the cache was invalidated before the database was
//     touched.
//
// It does so with a claim on the cache key around every write, checked
// with compare-and-swap, never with a read of the database on the read
// path:
//
//   - A write (Create, Update, Swap, Touch, Delete) first replaces the
//     cache entry with a claim, a small marker with a random token and the
//     time by which the write's database step is over (WriteTimeout, plus
//     ClockSkew). If the cache cannot take the claim, the write fails and
//     the database is not touched: while the cache is unreachable,
//     sessions cannot be changed, created or deleted (the middleware's save
//     fails and Settings.ErrorHandler answers the request; Flush and
//     CycleKey return the error).
//   - Then it writes the database, within WriteTimeout.
//   - Then it swaps its claim, and only its claim, for the new copy (or
//     removes it, for a delete). If the claim is gone, it invalidates
//     whatever replaced it; if that cannot be done, the write fails. If the
//     cache fails at this point, the claim stays until it expires: readers
//     go to the database meanwhile, and the write is acknowledged.
//   - A reader that finds a copy returns it. One that finds a live claim
//     reads the database and caches nothing. One that finds nothing (or an
//     expired claim) takes a lease (a claim of its own), reads the
//     database and swaps its lease for the copy; a write that comes in
//     between replaces the lease, so the stale copy is never stored.
//   - When two writes overlap, the one that finds the other's live claim
//     installs nothing, since it cannot know which database write landed
//     last; the key is then read from the database until the claims
//     expire (at most WriteTimeout + ClockSkew).
//
// A copy can only enter the cache by a compare-and-swap on a token that
// nobody else holds, so a cache write that lands late finds the token gone
// and does nothing. This rests on two assumptions, stated here because
// nothing in a cache can check them: the database applies a write within
// WriteTimeout of the claim or not at all (a statement cancelled at the
// deadline does not commit minutes later), and the clocks of the
// processes sharing the cache agree within ClockSkew (they already must
// for session expiry). If a claim is lost between the claim and the
// database write (the cache evicted it or restarted empty) and a reader
// refilled the old copy meanwhile, the writer finds its claim gone and
// removes that copy; only if the cache fails again at that moment does the
// write fail with a copy left that may be stale.
//
// The trade-off: reads keep working through an outage (from the
// database), writes do not. A design that let writes succeed without the
// cache would need every cached read to be checked against the database
// (another process may still reach the cache and serve the old copy), and
// then the cache saves nothing. Use the database engine instead if writes
// must survive cache outages.
//
// # Cost per request
//
// Round trips, for a session in the cache; RTT is one cache round trip.
// On memcached a swap after anything but a read of the same item costs a
// gets as well (marked +1).
//
//   - Read-only request: 1 RTT (GET), as before. During a cache outage the
//     database read instead; after a cache error, reads skip the cache
//     for RetryInterval.
//   - Read-write request (the Manager's Swap): the load's GET, a CAS for
//     the claim, the database's read and CAS of the row (as before), a CAS
//     installing the new copy: 3 RTT (+1) and 2 database round trips, one
//     RTT more than a plain write-through.
//   - New session (Create): an add for the claim, the database insert, a
//     CAS installing the copy: 2 RTT (+1) and 1 database round trip.
//   - Delete (logout), Touch, Update: a read and a CAS for the claim, the
//     database write, a CAS installing or removing: 3 RTT (+1 on memcached
//     for the last).
//   - A read that misses the cache (after an eviction, a restart, or
//     overlapping writes): GET, a lease (add or CAS), the database read,
//     a CAS installing the copy: 3 RTT (+1) and 1 database round trip.
//
// # Failures
//
// When the cache is down, loads are served from the database; writes fail
// with an error matching ErrCacheUnavailable and change nothing. The outage
// is logged once, and its end once, not per request. When the database is
// down, loads of sessions the cache holds still work, but writes fail with
// the database's error and no copy is written to the cache.
//
// # Concurrent requests
//
// Swap (no lost updates) is a compare-and-swap on the database row. The
// Manager may have loaded the session from the cache, in the cache's
// format; Swap then reads the row and compares the decoded sessions, so
// it costs one more database read than a plain update. Over a database
// engine that cannot compare-and-swap the engine has no Swap at all (see
// New), and concurrent writes of one session are last-write-wins.
//
// # Formats
//
// The Manager writes the database's format (Django's signed JSON) and
// reads both that and the cache's (Django's pickle). The store converts a
// row to the cache's format itself (a write's new copy, a refill), with
// the codecs it is built with (Options.Codec, Options.CacheCodec), which
// the URL opener takes from the settings it is given. When the Manager
// encrypts (Settings.EncryptionKeys) or uses Settings.Codec, the cache
// holds the rows' bytes as they are (Options.Verbatim): encrypted, never
// a readable pickle.
//
// # Sharing with Django
//
// Django reads a claim as a cache miss (it is a pickled None) and reads
// the database. But Django's own cached_db writes the cache without
// claims: a Django process writing or refilling sessions in a cache shared
// with this engine can put back a stale copy, as Django alone can.
package cacheddb

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/sessionkit/sessions/internal/textutil"
	"log/slog"
	mrand "math/rand/v2"
	"net/url"
	"strconv"
	"strings"
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

func init() {
	sessions.Register(sessions.EngineInfo{
		Scheme:     Scheme,
		Aliases:    []string{"cached_db", "cacheddb"},
		Forms:      []string{"cached-db:?cache=<url-escaped cache URL>&db=<url-escaped database URL>", "cached_db (Settings.CacheURL and Settings.DatabaseURL)"},
		Doc:        "Django's cached_db: a Redis or memcached cache in front of a database, write-through",
		NoLocation: true,
	}, open)
}

func open(ctx context.Context, u *url.URL, s sessions.Settings) (sessions.Backend, error) {
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
		return nil, fmt.Errorf("%w: cached_db cache URL %s does not parse", sessions.ErrBadConfig, textutil.Quote(sessions.Redact(cacheURL)))
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
	ce, ok1 := cache.(sessions.Engine)
	de, ok2 := db.(sessions.Engine)
	if !ok1 || !ok2 {
		cache.Close()
		db.Close()
		return nil, fmt.Errorf("%w: cached_db's cache and database must be server-side engines", sessions.ErrBadConfig)
	}
	st, err := newStore(ce, de, openOptions(ce, de, s))
	if err != nil {
		cache.Close()
		db.Close()
		return nil, err
	}
	st.own = true
	return st.engine(), nil
}

// openOptions are the options of a store opened from a URL with the
// settings s: the formats the Manager will use with the same settings.
// The rows are in the settings' codec if they name one, else in the
// database engine's (Django's signed JSON); the cache copies are in the
// cache engine's format (Django's pickle), or, when the Manager's codec is
// not the database's (Settings.Codec, or encryption), the rows' bytes.
func openOptions(cache, db sessions.Engine, s sessions.Settings) *Options {
	o := &Options{Logger: s.Logger, Codec: s.Codec, Verbatim: s.Codec != nil || len(s.EncryptionKeys) > 0}
	if o.Codec == nil {
		o.Codec = dbFormat(db, s)
	}
	if c, ok := cache.(sessions.Codecer); ok {
		o.CacheCodec = c.Codec(s)
	}
	return o
}

// ErrCacheUnavailable reports a write or delete that was refused because
// the cache could not be reached to invalidate the session's copy first.
// Nothing was changed: the request can be retried once the cache is back.
// The error also wraps the cache client's own error.
var ErrCacheUnavailable = errors.New("cached_db: the cache is unreachable, so the session was not changed")

// Defaults of Options.
const (
	DefaultWriteTimeout  = 10 * time.Second
	DefaultClockSkew     = time.Second
	DefaultRetryInterval = time.Second
	DefaultReadTimeout   = 200 * time.Millisecond
)

// leaseTime is how long a reader's lease keeps other readers from
// refilling the same key (they read the database meanwhile).
const leaseTime = 2 * time.Second

// maxClaimAttempts bounds the compare-and-swap retries of one claim: each
// failed attempt means another request changed the entry meanwhile.
const maxClaimAttempts = 100

// Options configure a Store.
type Options struct {
	// Logger receives the cache outage messages; nil means slog.Default().
	Logger *slog.Logger
	// WriteTimeout bounds the database step of every write; it is also how
	// long the write's claim on the cache key keeps readers from caching
	// (plus ClockSkew). 0 means DefaultWriteTimeout. The database must not
	// apply a write it was given later than that (see the package doc).
	WriteTimeout time.Duration
	// ClockSkew is how far the clocks of the processes sharing the cache
	// may disagree. 0 means DefaultClockSkew.
	ClockSkew time.Duration
	// RetryInterval is how long reads go straight to the database after a
	// cache error before they try the cache again. 0 means
	// DefaultRetryInterval; negative means never skip the cache.
	RetryInterval time.Duration
	// ReadTimeout bounds the cache's part of a load: a cache slower than
	// that (a paused server, a black-holed network) counts as down and
	// the load goes to the database, within the request's deadline. The
	// bound is also at most half the time the load's context has left.
	// 0 means DefaultReadTimeout.
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
}

// Store is the cached_db engine over a database that can compare-and-swap.
// It implements sessions.Engine, Swapper, Toucher, Codecer and Describer,
// and ExpiredDeleter, Lister and UserIndexer with the database engine's
// (an error matching sessions.ErrUnsupported when it has none).
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
	warnOnce            sync.Once
}

// withoutSwap is every method of a Store but Swap.
type withoutSwap interface {
	sessions.Engine
	sessions.Toucher
	sessions.ExpiredDeleter
	sessions.Lister
	sessions.UserIndexer
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
		writeTimeout: DefaultWriteTimeout, skew: DefaultClockSkew, retry: DefaultRetryInterval, readTimeout: DefaultReadTimeout,
		dbCodec: o.Codec, cacheCodec: o.CacheCodec, verbatim: o.Verbatim}
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

func (d dual) Decode(b []byte) (*codec.Dict, error) {
	if djcache.IsPickle(b) {
		return d.cache.Decode(b)
	}
	return d.db.Decode(b)
}

// --- cache health ------------------------------------------------------------

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

// raced reports the answers of a compare-and-swap, add or replace that
// lost to another request: the entry changed meanwhile.
func raced(err error) bool {
	return errors.Is(err, sessions.ErrConflict) || errors.Is(err, sessions.ErrExists) || errors.Is(err, sessions.ErrNotFound)
}

// --- claims ------------------------------------------------------------------

// markerPrefix starts every claim in the cache: a pickled None (so Django
// reads a claim as a miss; pickle ignores what follows STOP), then a tag.
const markerPrefix = "\x80\x05N.sessionkit-cached_db:"

const (
	kindWrite = 'w' // a writer's claim
	kindLease = 'r' // a reader's lease
)

// marker is a claim on a cache entry: "<prefix><kind>:<until ms>:<token>".
type marker struct {
	kind  byte
	until time.Time // the holder's database step is over by then
	token string
}

func newToken() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (m marker) encode() []byte {
	ms := (m.until.UnixNano() + int64(time.Millisecond) - 1) / int64(time.Millisecond)
	return []byte(markerPrefix + string(m.kind) + ":" + strconv.FormatInt(ms, 10) + ":" + m.token)
}

func parseMarker(b []byte) (marker, bool) {
	rest, ok := bytes.CutPrefix(b, []byte(markerPrefix))
	if !ok {
		return marker{}, false
	}
	parts := bytes.SplitN(rest, []byte(":"), 3)
	if len(parts) != 3 || len(parts[0]) != 1 {
		return marker{}, false
	}
	ms, err := strconv.ParseInt(string(parts[1]), 10, 64)
	if err != nil {
		return marker{}, false
	}
	return marker{kind: parts[0][0], until: time.UnixMilli(ms), token: string(parts[2])}, true
}

// isMarker reports whether b is a claim rather than a session.
func isMarker(b []byte) bool { return bytes.HasPrefix(b, []byte(markerPrefix)) }

// busyWriter reports whether b is a writer's claim whose database step may
// not be over yet, and until when.
func busyWriter(b []byte, now time.Time) (time.Time, bool) {
	m, ok := parseMarker(b)
	if !ok || m.kind != kindWrite || !m.until.After(now) {
		return time.Time{}, false
	}
	return m.until, true
}

// claim is a write's hold on a cache entry.
type claim struct {
	key       string
	token     string
	marker    []byte    // our marker, as stored
	contended bool      // we replaced another writer's live claim
	others    time.Time // the latest end of the claims we replaced
	seen      []byte    // the copy we replaced, when not contended
	deadline  time.Time // our database step ends by then
}

// claimKey replaces the cache entry of key with a claim of a new write.
// guess is what the caller believes the entry holds (the copy the
// Manager loaded) and absent says it believes there is none; either saves
// a read. It fails, and the write must not touch the database, when the
// cache cannot be reached.
func (s *Store) claimKey(ctx context.Context, key string, guess []byte, absent bool) (*claim, error) {
	now := time.Now()
	c := &claim{key: key, token: newToken(), deadline: now.Add(s.writeTimeout)}
	own := c.deadline.Add(s.skew)
	seen, known := guess, guess != nil || absent
	for attempt := 0; attempt < maxClaimAttempts; attempt++ {
		if attempt > 3 {
			time.Sleep(time.Duration(mrand.Int64N(int64(attempt) * int64(100*time.Microsecond))))
		}
		if !known {
			b, err := s.cache.Load(ctx, key)
			switch {
			case err == nil:
				seen = b
			case errors.Is(err, sessions.ErrNotFound):
				seen = nil
			default:
				return nil, s.claimFailed(ctx, err)
			}
		}
		known = false
		var copySeen []byte
		if m, ok := parseMarker(seen); ok {
			if m.token == c.token {
				// An earlier attempt landed after all (a client retry).
				c.marker = seen
				return c, nil
			}
			if until, busy := busyWriter(seen, time.Now()); busy {
				c.contended = true
				if until.After(c.others) {
					c.others = until
				}
			}
		} else {
			copySeen = seen
		}
		until := own
		if c.others.After(until) {
			until = c.others
		}
		mk := marker{kind: kindWrite, until: until, token: c.token}.encode()
		var err error
		if seen == nil {
			err = s.cache.Create(ctx, key, mk, until.Add(s.skew))
		} else {
			err = s.cacheSw.Swap(ctx, key, seen, mk, until.Add(s.skew))
		}
		switch {
		case err == nil:
			s.cacheOK(ctx)
			c.marker, c.seen = mk, copySeen
			return c, nil
		case raced(err):
			continue
		default:
			return nil, s.claimFailed(ctx, err)
		}
	}
	return nil, fmt.Errorf("%w: cached_db: the cache entry kept changing under concurrent requests", sessions.ErrConflict)
}

func (s *Store) claimFailed(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	s.cacheFailed(ctx, "claim", err)
	return fmt.Errorf("%w: %w", ErrCacheUnavailable, err)
}

// dbContext bounds the database step of a claimed write.
func (c *claim) dbContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithDeadline(ctx, c.deadline)
}

// dbFailed handles a failed database step: a definite answer (the row was
// not there, or changed, or the data was refused) left the database as it
// was, so the claim is released; any other error may or may not have
// been applied, so the claim stays until it expires, keeping readers on
// the database. It returns the error to report.
func (s *Store) dbFailed(ctx context.Context, c *claim, err error) error {
	if errors.Is(err, sessions.ErrNotFound) || errors.Is(err, sessions.ErrConflict) || errors.Is(err, sessions.ErrExists) ||
		errors.Is(err, sessions.ErrTooLarge) || errors.Is(err, sessions.ErrInvalidKey) {
		s.release(ctx, c, false)
		return err
	}
	if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("cached_db: the database did not answer within %v: %w", s.writeTimeout, err)
	}
	return err
}

// finish ends a write whose database step succeeded: it swaps the claim
// for the new copy (data in the database's format, nil for none), or
// releases it when another write overlapped or there is no copy to
// install. An error means the write is in the database but a copy older
// than it may remain in the cache.
func (s *Store) finish(ctx context.Context, c *claim, data []byte, expiry time.Time) error {
	var cb []byte
	if data != nil && !c.contended {
		cb, _ = s.toCache(data)
	}
	return s.install(ctx, c, cb, expiry)
}

// install swaps the claim for cb (in the cache's format), or releases it
// when cb is nil or another write overlapped.
func (s *Store) install(ctx context.Context, c *claim, cb []byte, expiry time.Time) error {
	if cb == nil || c.contended {
		return s.release(ctx, c, true)
	}
	err := s.cacheSw.Swap(ctx, c.key, c.marker, cb, expiry)
	switch {
	case err == nil:
		s.cacheOK(ctx)
		return nil
	case errors.Is(err, sessions.ErrTooLarge):
		// Too big for the cache: serve it from the database.
		return s.release(ctx, c, true)
	case raced(err):
		return s.verify(ctx, c, cb)
	default:
		// Our claim, or the new copy if the swap landed after all, is in
		// the cache: either is safe.
		s.cacheFailed(ctx, "set", err)
		return nil
	}
}

// release drops our claim: removed when no other write overlapped, else
// replaced by one that keeps the overlapping writes' claims. written says
// the database was changed, so whatever replaced a lost claim must be
// checked.
func (s *Store) release(ctx context.Context, c *claim, written bool) error {
	var err error
	if c.contended {
		mk := marker{kind: kindWrite, until: c.others, token: c.token}.encode()
		err = s.cacheSw.Swap(ctx, c.key, c.marker, mk, c.others.Add(s.skew))
	} else {
		err = s.dropEntry(ctx, c.key, c.marker)
	}
	switch {
	case err == nil:
		return nil
	case raced(err):
		if written {
			return s.verify(ctx, c, nil)
		}
		return nil
	default:
		s.cacheFailed(ctx, "release", err)
		return nil // our claim stays until it expires: safe
	}
}

// dropEntry removes the entry of key if it still holds b (a swap with an
// expiry in the past is a conditional delete).
func (s *Store) dropEntry(ctx context.Context, key string, b []byte) error {
	return s.cacheSw.Swap(ctx, key, b, b, time.Unix(1, 0))
}

// verify runs when our claim was replaced or lost after our database
// write: by an overlapping write (which then installs nothing), or by an
// eviction or restart, after which a reader may have cached the row as it
// was before our write. Anything but our own copy is replaced by a
// claim that keeps readers on the database until the overlapping writes
// are over.
func (s *Store) verify(ctx context.Context, c *claim, cb []byte) error {
	for attempt := 0; attempt < maxClaimAttempts; attempt++ {
		b, err := s.cache.Load(ctx, c.key)
		switch {
		case errors.Is(err, sessions.ErrNotFound):
			return nil
		case err != nil:
			return s.unsure(ctx, err)
		case cb != nil && bytes.Equal(b, cb):
			return nil // our swap landed after all (a client retry)
		}
		until := time.Now()
		if u, busy := busyWriter(b, until); busy {
			until = u
		}
		mk := marker{kind: kindWrite, until: until, token: c.token}.encode()
		err = s.cacheSw.Swap(ctx, c.key, b, mk, until.Add(s.skew))
		switch {
		case err == nil:
			return nil
		case raced(err):
			continue
		default:
			return s.unsure(ctx, err)
		}
	}
	return s.unsure(ctx, sessions.ErrConflict)
}

func (s *Store) unsure(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	s.cacheFailed(ctx, "verify", err)
	return fmt.Errorf("%w: the database was written, but the cache could not be checked for an older copy afterwards: %w", ErrCacheUnavailable, err)
}

// --- reads -------------------------------------------------------------------

// Load implements sessions.Engine: the cache's copy when it has one (in
// the cache's format), else the database row. A miss refills the cache
// under a lease, so that a write in between cannot be overwritten by the
// older row; a live claim means a write is under way, and the row is
// read without caching it.
func (s *Store) Load(ctx context.Context, key string) ([]byte, error) {
	if s.skipCache() {
		return s.db.Load(ctx, key)
	}
	b, err := s.cacheLoad(ctx, key)
	switch {
	case err == nil:
		s.cacheOK(ctx)
		if !isMarker(b) {
			return b, nil
		}
		if m, _ := parseMarker(b); m.until.After(time.Now()) {
			return s.db.Load(ctx, key) // a write (or another refill) is under way
		}
		return s.refill(ctx, key, b)
	case errors.Is(err, sessions.ErrNotFound):
		s.cacheOK(ctx)
		return s.refill(ctx, key, nil)
	case ctx.Err() != nil:
		return nil, ctx.Err()
	default:
		s.cacheFailed(ctx, "load", err)
		return s.db.Load(ctx, key)
	}
}

// cacheLoad reads the cache within the read budget (see
// Options.ReadTimeout), so a stalled cache leaves the load time to read
// the database.
func (s *Store) cacheLoad(ctx context.Context, key string) ([]byte, error) {
	budget := s.readTimeout
	if dl, ok := ctx.Deadline(); ok {
		budget = min(budget, time.Until(dl)/2)
	}
	cctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	b, err := s.cache.Load(cctx, key)
	if err != nil && ctx.Err() == nil && cctx.Err() != nil {
		return nil, fmt.Errorf("cached_db: the cache did not answer within %v: %w", budget.Round(time.Millisecond), err)
	}
	return b, err
}

// refill reads the row under a lease on the cache entry, which holds seen
// (nil: nothing), and caches it until the row's expiry.
func (s *Store) refill(ctx context.Context, key string, seen []byte) ([]byte, error) {
	er, ok := s.db.(sessions.ExpiryReader)
	if !ok {
		return s.db.Load(ctx, key)
	}
	until := time.Now().Add(leaseTime)
	lease := marker{kind: kindLease, until: until, token: newToken()}.encode()
	var err error
	if seen == nil {
		err = s.cache.Create(ctx, key, lease, until)
	} else {
		err = s.cacheSw.Swap(ctx, key, seen, lease, until)
	}
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case !raced(err):
			s.cacheFailed(ctx, "lease", err)
		}
		return s.db.Load(ctx, key) // someone else is at it, or the cache failed
	}
	data, exp, err := er.LoadExpiry(ctx, key)
	if err != nil {
		if errors.Is(err, sessions.ErrNotFound) {
			s.dropEntry(ctx, key, lease)
		}
		return nil, err
	}
	cb, ok := s.toCache(data)
	if !ok {
		s.dropEntry(ctx, key, lease)
		return data, nil
	}
	switch err := s.cacheSw.Swap(ctx, key, lease, cb, exp); {
	case err == nil, raced(err):
	case errors.Is(err, sessions.ErrTooLarge):
		s.dropEntry(ctx, key, lease)
	default:
		s.cacheFailed(ctx, "refill", err)
	}
	return data, nil
}

// toCache converts database-format data to the cache's format.
func (s *Store) toCache(data []byte) ([]byte, bool) {
	if s.verbatim {
		return data, true
	}
	d, err := s.dbCodec.Decode(data)
	if err != nil {
		return nil, false
	}
	b, err := s.cacheCodec.Encode(d)
	return b, err == nil
}

// --- writes ------------------------------------------------------------------

// Create implements sessions.Engine: a claim on the cache entry, the
// database row, then the cache's copy.
func (s *Store) Create(ctx context.Context, key string, data []byte, expiry time.Time) error {
	c, err := s.claimKey(ctx, key, nil, true)
	if err != nil {
		return err
	}
	dctx, cancel := c.dbContext(ctx)
	defer cancel()
	if err := s.db.Create(dctx, key, data, expiry); err != nil {
		return s.dbFailed(ctx, c, err)
	}
	return s.finish(ctx, c, data, expiry)
}

// Update implements sessions.Engine: a claim on the cache entry, the
// database row (ErrNotFound if the row is gone: never resurrected), then
// the cache's copy.
func (s *Store) Update(ctx context.Context, key string, data []byte, expiry time.Time) error {
	c, err := s.claimKey(ctx, key, nil, false)
	if err != nil {
		return err
	}
	dctx, cancel := c.dbContext(ctx)
	defer cancel()
	if err := s.db.Update(dctx, key, data, expiry); err != nil {
		return s.dbFailed(ctx, c, err)
	}
	return s.finish(ctx, c, data, expiry)
}

// Swap implements sessions.Swapper on the database row. old may be the
// cache's copy (another format): the row is read and the two sessions
// compared decoded.
func (s *Store) Swap(ctx context.Context, key string, old, data []byte, expiry time.Time) error {
	if s.dbSw == nil {
		return fmt.Errorf("%w: the database engine cannot compare-and-swap", sessions.ErrUnsupported)
	}
	var guess []byte
	if djcache.IsPickle(old) {
		guess = old // the cache's copy the request loaded
	}
	c, err := s.claimKey(ctx, key, guess, false)
	if err != nil {
		return err
	}
	dctx, cancel := c.dbContext(ctx)
	defer cancel()
	cur := old
	if djcache.IsPickle(old) {
		row, err := s.db.Load(dctx, key)
		if err != nil {
			return s.dbFailed(ctx, c, err)
		}
		if !bytes.Equal(row, old) && !s.equivalent(row, old) {
			// The row changed since this request loaded.
			return s.dbFailed(ctx, c, sessions.ErrConflict)
		}
		cur = row
	}
	if err := s.dbSw.Swap(dctx, key, cur, data, expiry); err != nil {
		return s.dbFailed(ctx, c, err)
	}
	return s.finish(ctx, c, data, expiry)
}

// equivalent reports whether two stored forms (either format) hold the
// same session.
func (s *Store) equivalent(a, b []byte) bool {
	if s.dbCodec == nil {
		return false
	}
	dec := dual{db: s.dbCodec, cache: s.cacheCodec}
	da, err1 := dec.Decode(a)
	db, err2 := dec.Decode(b)
	if err1 != nil || err2 != nil {
		return false
	}
	ca, err1 := codec.MarshalPython(codec.NewDict(da.Map()))
	cb, err2 := codec.MarshalPython(codec.NewDict(db.Map()))
	return err1 == nil && err2 == nil && bytes.Equal(ca, cb)
}

// Touch implements sessions.Toucher: a claim, the row's expiry, then the
// cache's copy again with the new expiry.
func (s *Store) Touch(ctx context.Context, key string, expiry time.Time) error {
	t, ok := s.db.(sessions.Toucher)
	if !ok {
		return fmt.Errorf("%w: the database engine cannot touch", sessions.ErrUnsupported)
	}
	c, err := s.claimKey(ctx, key, nil, false)
	if err != nil {
		return err
	}
	dctx, cancel := c.dbContext(ctx)
	defer cancel()
	if err := t.Touch(dctx, key, expiry); err != nil {
		return s.dbFailed(ctx, c, err)
	}
	// The copy we replaced is the row's data, which Touch left alone.
	return s.install(ctx, c, c.seen, expiry)
}

// Delete implements sessions.Engine: a claim on the cache entry, the
// database row, then the claim is removed.
func (s *Store) Delete(ctx context.Context, key string) error {
	c, err := s.claimKey(ctx, key, nil, false)
	if err != nil {
		return err
	}
	dctx, cancel := c.dbContext(ctx)
	defer cancel()
	if err := s.db.Delete(dctx, key); err != nil {
		return s.dbFailed(ctx, c, err)
	}
	return s.finish(ctx, c, nil, time.Time{})
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
	ix, ok := s.db.(sessions.UserIndexer)
	if !ok {
		return nil, sessions.ErrUnsupported
	}
	return ix, nil
}

// Close implements sessions.Engine. It closes the two engines if the
// store opened them.
func (s *Store) Close() error {
	if !s.own {
		return nil
	}
	return errors.Join(s.cache.Close(), s.db.Close())
}
