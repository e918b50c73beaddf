package redisstore

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/internal/djcache"
)

// Scheme is the URL scheme of this engine and the name in its errors.
const Scheme = "redis"

// Format is how session data is stored.
type Format = djcache.Format

const (
	// FormatPickle is Django's: the session dict pickled with protocol 5
	// (codec/pickle). The default.
	FormatPickle = djcache.Pickle
	// FormatJSON is the signed JSON of Django's database engines, the
	// Manager's default codec: for Go-only deployments that want the
	// data signed. Django's cache engine cannot read it.
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
	// "django.contrib.sessions.cache", Django's cache engine's. Django's
	// cached_db engine uses "django.contrib.sessions.cached_db".
	LogicalPrefix string
	// Format is the stored format; empty means FormatPickle.
	Format Format
	// Logger, when set, receives go-redis's own log lines while the
	// Store is open (see the package documentation, Logging). A Store
	// opened from a URL uses Settings.Logger.
	Logger *slog.Logger
	// WaitReplicas, when positive, makes every write (a save, a delete,
	// a user index entry) wait until that many replicas acknowledged it,
	// with Redis's WAIT in the same round trip, so that a failover
	// cannot lose it (see Replication in the package documentation); a
	// write fewer replicas acknowledged within WaitTimeout fails with an
	// error matching ErrNotReplicated. It needs a *redis.Client or a
	// *redis.ClusterClient. 0, the default, waits for none.
	WaitReplicas int
	// WaitTimeout is how long a write waits for its replicas; zero means
	// 500 ms. It must be shorter than the client's read and write
	// timeouts.
	WaitTimeout time.Duration
}

// Store is the Redis engine. It implements sessions.Engine, Swapper,
// Toucher, Lister, UserIndexer, Codecer and Describer, and is safe for
// concurrent use.
type Store struct {
	c      redis.UniversalClient
	own    bool   // Close closes c
	prefix string // "<KeyPrefix>:<Version>:<LogicalPrefix>"
	users  string // "<KeyPrefix>:<Version>:sessionkit.users."
	format Format
	where  string // servers, for errors and Describe
	route  *logRoute
	watch  *watcher // nil for a client given to New

	waitReplicas int           // Options.WaitReplicas
	waitTimeout  time.Duration // Options.WaitTimeout
}

// New returns a Store over an existing client: a *redis.Client (one
// server or a Sentinel failover client), a *redis.ClusterClient or any
// other redis.UniversalClient. Close does not close the client. A nil o
// means Django's defaults.
func New(client redis.UniversalClient, o *Options) (*Store, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: redisstore.New: nil client", sessions.ErrBadConfig)
	}
	s, err := newStore(o)
	if err != nil {
		return nil, err
	}
	if _, ok := client.(*redis.ClusterClient); ok {
		if err := s.checkSlots(); err != nil {
			return nil, err
		}
	}
	if err := checkWait(client, s.waitReplicas, s.waitTimeout, 0); err != nil {
		return nil, err
	}
	s.c = client
	s.where = describeClient(client)
	if o != nil && o.Logger != nil {
		s.route = &logRoute{log: o.Logger, where: s.where}
		register(s.route)
	}
	return s, nil
}

func newStore(o *Options) (*Store, error) {
	var l djcache.Layout
	if o != nil {
		l = djcache.Layout{KeyPrefix: o.KeyPrefix, Version: o.Version, LogicalPrefix: o.LogicalPrefix, Format: o.Format}
	}
	l, err := l.Resolve(Scheme)
	if err != nil {
		return nil, err
	}
	st := &Store{
		prefix:      l.Prefix(),
		users:       djcache.MakeKey(l.KeyPrefix, l.Version, "sessionkit.users."+l.LogicalPrefix+"."),
		format:      l.Format,
		waitTimeout: defaultWaitTimeout,
	}
	if o != nil {
		st.waitReplicas = o.WaitReplicas
		if o.WaitTimeout != 0 {
			st.waitTimeout = o.WaitTimeout
		}
	}
	return st, nil
}

func describeClient(c redis.UniversalClient) string {
	switch x := c.(type) {
	case *redis.Client:
		o := x.Options()
		return fmt.Sprintf("%s db %d", o.Addr, o.DB)
	case *redis.ClusterClient:
		return "cluster " + strings.Join(x.Options().Addrs, ",")
	}
	return fmt.Sprintf("%T", c)
}

// Name returns the engine's scheme, "redis".
func (s *Store) Name() string { return Scheme }

// Describe says where the sessions live, without credentials.
func (s *Store) Describe() string {
	d := fmt.Sprintf("redis %s, keys %q + session key, %s format", s.where, s.prefix, s.format)
	if s.waitReplicas > 0 {
		plural := "s"
		if s.waitReplicas == 1 {
			plural = ""
		}
		d += fmt.Sprintf(", writes wait for %d replica%s (%v)", s.waitReplicas, plural, s.waitTimeout)
	}
	return d
}

// Client returns the go-redis client the Store uses.
func (s *Store) Client() redis.UniversalClient { return s.c }

// Key returns the Redis key of a session: "<key_prefix>:<version>:<logical_prefix><key>".
func (s *Store) Key(sessionKey string) string { return s.prefix + sessionKey }

// Codec implements sessions.Codecer: the pickle codec of Django's cache
// engines, or with FormatJSON the Manager's default signed JSON.
func (s *Store) Codec(st sessions.Settings) codec.Codec { return s.format.Codec(st) }

// sendTTL is the TTL of a SET whose expiry was in the future a moment
// ago, computed as the command leaves (so that time spent getting there,
// such as a goroutine's start, does not make the session outlive its
// expiry): at least 1 ms.
func sendTTL(expiry time.Time) time.Duration {
	return time.Duration(max(ttl(expiry), 1)) * time.Millisecond
}

// ttl returns the milliseconds until expiry, rounded up; zero or less
// means the expiry has passed.
func ttl(expiry time.Time) int64 {
	d := time.Until(expiry) // saturates at about 292 years
	if d <= 0 {
		return 0
	}
	if d > math.MaxInt64-time.Millisecond { // rounding up would wrap below zero
		return int64(d / time.Millisecond)
	}
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// Load implements sessions.Engine: one GET.
func (s *Store) Load(ctx context.Context, key string) ([]byte, error) {
	k := s.Key(key)
	b, err := watched(ctx, s, func(ctx context.Context) ([]byte, error) { return s.c.Get(ctx, k).Bytes() })
	if err == redis.Nil {
		return nil, sessions.ErrNotFound
	}
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return b, nil
}

// Create implements sessions.Engine: SET key data PX ttl NX. With an
// expiry in the past nothing is stored, but a live session under key
// still gives ErrExists.
func (s *Store) Create(ctx context.Context, key string, data []byte, expiry time.Time) error {
	k := s.Key(key)
	ms := ttl(expiry)
	if ms <= 0 {
		n, err := watched(ctx, s, func(ctx context.Context) (int64, error) { return s.c.Exists(ctx, k).Result() })
		if err != nil {
			return s.fail(ctx, err)
		}
		if n > 0 {
			return sessions.ErrExists
		}
		return nil
	}
	err := watchedErr(ctx, s, func(ctx context.Context) error {
		return s.write(ctx, k, func(c redis.Cmdable) redis.Cmder {
			return c.SetArgs(ctx, k, data, redis.SetArgs{Mode: "NX", TTL: sendTTL(expiry)})
		}, nil)
	})
	if err == redis.Nil {
		return sessions.ErrExists
	}
	if err != nil {
		return s.fail(ctx, err)
	}
	return nil
}

// Update implements sessions.Engine: SET key data PX ttl XX, so a session
// deleted meanwhile stays deleted. An expiry in the past deletes the
// session.
func (s *Store) Update(ctx context.Context, key string, data []byte, expiry time.Time) error {
	k := s.Key(key)
	ms := ttl(expiry)
	if ms <= 0 {
		return s.del(ctx, k)
	}
	err := watchedErr(ctx, s, func(ctx context.Context) error {
		return s.write(ctx, k, func(c redis.Cmdable) redis.Cmder {
			return c.SetArgs(ctx, k, data, redis.SetArgs{Mode: "XX", TTL: sendTTL(expiry)})
		}, nil)
	})
	if err == redis.Nil {
		return sessions.ErrNotFound
	}
	if err != nil {
		return s.fail(ctx, err)
	}
	return nil
}

// del deletes k and reports ErrNotFound when it was absent.
func (s *Store) del(ctx context.Context, k string) error {
	var del *redis.IntCmd
	err := watchedErr(ctx, s, func(ctx context.Context) error {
		return s.write(ctx, k, func(c redis.Cmdable) redis.Cmder { del = c.Del(ctx, k); return del },
			func() bool { return del.Val() > 0 })
	})
	if err != nil {
		return s.fail(ctx, err)
	}
	if del.Val() == 0 {
		return sessions.ErrNotFound
	}
	return nil
}

// Delete implements sessions.Engine.
func (s *Store) Delete(ctx context.Context, key string) error {
	k := s.Key(key)
	// Every Delete waits for the replicas (wait_replicas), a key already
	// gone included: the earlier delete (a logout) may be the one they
	// have not acknowledged yet.
	err := watchedErr(ctx, s, func(ctx context.Context) error {
		return s.write(ctx, k, func(c redis.Cmdable) redis.Cmder { return c.Del(ctx, k) }, nil)
	})
	if err != nil {
		return s.fail(ctx, err)
	}
	return nil
}

// Touch implements sessions.Toucher: PEXPIRE, which deletes the session
// when the expiry has passed.
func (s *Store) Touch(ctx context.Context, key string, expiry time.Time) error {
	k := s.Key(key)
	var exp *redis.BoolCmd
	err := watchedErr(ctx, s, func(ctx context.Context) error {
		ms := ttl(expiry) // counted from when the command leaves
		if ms <= 0 {
			ms = -1 // PEXPIRE with a negative TTL deletes the key
		}
		return s.write(ctx, k, func(c redis.Cmdable) redis.Cmder {
			exp = c.PExpire(ctx, k, time.Duration(ms)*time.Millisecond)
			return exp
		}, func() bool { return exp.Val() })
	})
	if err != nil {
		return s.fail(ctx, err)
	}
	if !exp.Val() {
		return sessions.ErrNotFound
	}
	return nil
}

// swapScript compares the stored value with ARGV[1] and, when equal,
// stores ARGV[2] with a TTL of ARGV[3] ms (deleting the key when the TTL
// is not positive). It returns 1 when swapped, 0 when the key is absent
// and -1 when the value differs.
var swapScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
if cur ~= ARGV[1] then return -1 end
local ms = tonumber(ARGV[3])
if ms <= 0 then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ms)
end
return 1
`)

// Swap implements sessions.Swapper with a Lua script: one round trip
// (EVALSHA; EVAL once after a server restart).
func (s *Store) Swap(ctx context.Context, key string, old, data []byte, expiry time.Time) error {
	k := s.Key(key)
	var sw *redis.Cmd
	err := watchedErr(ctx, s, func(ctx context.Context) error {
		return s.write(ctx, k, func(c redis.Cmdable) redis.Cmder {
			sw = script(ctx, c, swapScript, []string{k}, old, data, ttl(expiry)) // counted from when the command leaves
			return sw
		}, func() bool { n, _ := sw.Int(); return n == 1 })
	})
	if err != nil {
		return s.fail(ctx, err)
	}
	n, err := sw.Int()
	if err != nil {
		return s.fail(ctx, err)
	}
	switch n {
	case 1:
		return nil
	case 0:
		return sessions.ErrNotFound
	}
	return sessions.ErrConflict
}

// Close implements sessions.Engine. It closes the client only when the
// Store opened it from a URL.
func (s *Store) Close() error {
	if s.route != nil {
		unregister(s.route)
	}
	if s.own {
		return s.c.Close()
	}
	return nil
}
