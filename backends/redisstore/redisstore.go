// Package redisstore is Django's cache session engine on Redis: a single
// server, a Redis Cluster or a Sentinel-managed master, through
// github.com/redis/go-redis/v9. Sessions are stored exactly as Django's
// django.contrib.sessions.backends.cache engine stores them with
// django.core.cache.backends.redis.RedisCache, so a Go service and a
// Django site can share them.
//
// # URLs
//
//	redis://[[user]:password@]host:6379/0          one server, database 0
//	rediss://...                                   the same over TLS
//	redis+cluster://h1:7000,h2:7001                a Redis Cluster (seed nodes)
//	rediss+cluster://h1:7000,h2:7001               the same over TLS
//	redis+sentinel://mymaster@h1:26379,h2:26379/0  the master Sentinel calls "mymaster"
//	rediss+sentinel://...                          the same over TLS
//
// In the Sentinel form the user part is the master's name (or use
// master_name=...) and a password there is the master's password.
//
// Parameters of this engine:
//
//	key_prefix=...      Django's CACHES KEY_PREFIX (default Settings.CacheKeyPrefix, "")
//	version=N           Django's CACHES VERSION (default Settings.CacheVersion, 1)
//	logical_prefix=...  default "django.contrib.sessions.cache"; Django's
//	                    cached_db engine uses "django.contrib.sessions.cached_db"
//	format=pickle|json  see Format (default pickle)
//
// Pool and timeout parameters, checked here: pool_size (1-10000),
// min_idle_conns, max_idle_conns (0-10000), max_active_conns (0-100000),
// max_retries (-1 disables retries, up to 100), dialer_retries (dial
// attempts per connection, 1-100), dial_timeout,
// read_timeout, write_timeout, pool_timeout (1ms-1h, "5s" or a number of
// seconds). Every other go-redis URL option (client_name, protocol,
// conn_max_idle_time, route_by_latency, skip_verify, ...) is handed to
// go-redis's own URL parser. An unknown parameter is an error, and so is
// a parameter given twice (go-redis would silently take the last), except
// addr, go-redis's list of further cluster nodes or sentinels.
//
// [New] wraps a redis.UniversalClient you built yourself; the Store does
// not close it. Turn on its ContextTimeoutEnabled option (see Contexts).
//
// # Format
//
// The physical key of a session is "<key_prefix>:<version>:<logical_prefix><session key>",
// Django's default key function: ":1:django.contrib.sessions.cache" followed
// by the 32-character key with Django's defaults. The value is the
// session dict pickled with protocol 5, as RedisCache writes it (see
// package codec/pickle); nothing is signed, so anyone who can write to
// the Redis database can write sessions (as with Django). With
// format=json the value is instead the signed JSON of Django's database
// engines (Settings.SecretKey signs it), for Go-only deployments that
// want the data signed; Django's cache engine cannot read it.
//
// # Expiry
//
// Redis expires sessions itself: every write sets a millisecond TTL
// (SET ... PX), rounded up so a session never expires early. Create is
// SET NX, Update is SET XX (a session deleted by a concurrent request is
// never brought back), Swap is a Lua script that compares the stored
// bytes and writes with SET PX in one step (run with EVALSHA, falling
// back to EVAL), Touch is PEXPIRE. An expiry in the past deletes the
// session. There is no DeleteExpired (sessions.ExpiredDeleter): with
// nothing to remove, Manager.ClearExpired reports 0, as Django's
// clear_expired does for the cache engine. A read-only request costs one
// round trip (GET), a read-write request two (GET, then EVALSHA).
//
// List walks the keys with SCAN MATCH on the key prefix (on every master
// of a cluster); it holds the keys seen in memory to report each once.
//
// # Eviction
//
// Redis may evict keys when it reaches maxmemory (unless the policy is
// noeviction or volatile-* with other keys to pick), and a restarted
// server without persistence starts empty. Either way, for a user an
// evicted session is a logout: the next request finds no session and
// starts a new one. Give Redis enough memory, or a noeviction policy, if
// that matters.
//
// # Errors
//
// A missing or expired session is sessions.ErrNotFound; Create on a live
// key is sessions.ErrExists; Swap on changed data is
// sessions.ErrConflict. A connection failure is an error naming the
// server ("redis unreachable (127.0.0.1:6379): dial tcp ...") that wraps
// go-redis's error, which the Manager hands to Settings.ErrorHandler;
// go-redis reconnects by itself once the server is back. A context that
// ends gives the context's error (see Contexts). Opening does not contact the server
// (go-redis connects on first use), so an application can start before
// Redis does; conformance.Check or a first request shows a wrong address.
//
// In a Redis Cluster, sessions on a master that dies fail at once with
// "redis unreachable"; once the cluster marks the node failed
// (cluster-node-timeout) a cluster without a replica to promote stops
// serving every slot (cluster-require-full-coverage, the default), so all
// requests fail with "CLUSTERDOWN The cluster is down" until the node is
// back, when they work again without any action (the tests kill a node
// of a 3-master cluster to check this). With replicas Redis promotes one
// and go-redis follows the new slot map; the tests have no replicas.
//
// With go-redis's defaults (3 retries, 5 dial attempts each) a command
// against a server that refuses connections fails after about 1.7 s;
// max_retries=-1 brings that to 0.4 s and dialer_retries=1 further down,
// at the price of failing on a single dropped connection.
//
// # Contexts
//
// Every method returns within a few milliseconds of the end of its
// context (deadline or cancellation: a request whose client went away),
// with the context's error (errors.Is(err, context.DeadlineExceeded) or
// context.Canceled), however the server behaves, even one that accepts
// connections and never answers. The clients a Store opens run with
// go-redis's ContextTimeoutEnabled, so socket reads and writes end at the
// context's deadline. go-redis does not watch for cancellation, so with a
// context that can end each command runs in a goroutine of its own, which
// the method leaves behind when the context ends; that goroutine ends at
// the context's deadline or, without one, by read_timeout at the latest,
// and go-redis closes its connection rather than return it to the pool, so
// a later command never reads the reply meant for an abandoned one. A
// command already sent may still take effect on the server, as with any
// request that times out. A client given to [New] without
// ContextTimeoutEnabled leaves such goroutines until its read timeout.
//
// # Logging
//
// go-redis writes lines of its own ("redis: connection pool: failed to
// dial ...", Sentinel and Cluster events) through one process-wide logger,
// stderr by default. The first Store opened installs a router in its place
// (redis.SetLogger, once per process) that hands them, at level Warn with
// engine=redis, to Settings.Logger (Options.Logger for [New]; Stores from
// New without one are left out): a failed dial to the logger of the Store
// whose connection failed, with server=...; any other line, which go-redis
// does not tie to a client, to the logger of every open Store, once per
// distinct logger; and when none is open, to the logger of the last one
// closed. The password of every open Store is replaced by "xxxxx" in the
// lines. An application that calls redis.SetLogger after opening a Store
// takes go-redis's lines back; one that called it before is overridden.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"syscall"
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

func init() {
	sessions.Register(sessions.EngineInfo{
		Scheme:  Scheme,
		Aliases: []string{"rediss", "redis+cluster", "rediss+cluster", "redis+sentinel", "rediss+sentinel"},
		Forms: []string{
			"redis://127.0.0.1:6379/0",
			"rediss://:password@redis.example.com:6380/0",
			"redis+cluster://10.0.0.1:7000,10.0.0.2:7001",
			"redis+sentinel://mymaster@10.0.0.1:26379,10.0.0.2:26379/0",
			"redis://127.0.0.1:6379/0?key_prefix=app&version=2&format=pickle&pool_size=20&read_timeout=1s",
		},
		Doc: "Redis, Redis Cluster or Sentinel in Django's cache format (pickle, native TTL)",
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
	// "django.contrib.sessions.cache", Django's cache engine's. Django's
	// cached_db engine uses "django.contrib.sessions.cached_db".
	LogicalPrefix string
	// Format is the stored format; empty means FormatPickle.
	Format Format
	// Logger, when set, receives go-redis's own log lines while the
	// Store is open (see the package documentation, Logging). A Store
	// opened from a URL uses Settings.Logger.
	Logger *slog.Logger
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
	return &Store{
		prefix: l.Prefix(),
		users:  djcache.MakeKey(l.KeyPrefix, l.Version, "sessionkit.users."+l.LogicalPrefix+"."),
		format: l.Format,
	}, nil
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
	return fmt.Sprintf("redis %s, keys %q + session key, %s format", s.where, s.prefix, s.format)
}

// Client returns the go-redis client the Store uses.
func (s *Store) Client() redis.UniversalClient { return s.c }

// Key returns the Redis key of a session: "<key_prefix>:<version>:<logical_prefix><key>".
func (s *Store) Key(sessionKey string) string { return s.prefix + sessionKey }

// Codec implements sessions.Codecer: the pickle codec of Django's cache
// engines, or with FormatJSON the Manager's default signed JSON.
func (s *Store) Codec(st sessions.Settings) codec.Codec { return s.format.Codec(st) }

// fail turns a go-redis error into the engine's: context errors pass
// through, connection errors name the server.
func (s *Store) fail(ctx context.Context, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr // the failure is the context's doing
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		// The socket's read deadline (the context's) fired a moment
		// before the context's own timer.
		return context.DeadlineExceeded
	}
	if isNetErr(err) {
		return fmt.Errorf("redis unreachable (%s): %w", s.where, err)
	}
	return fmt.Errorf("redis (%s): %w", s.where, err)
}

func isNetErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, redis.ErrPoolTimeout)
}

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
	d := time.Until(expiry)
	if d <= 0 {
		return 0
	}
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// Load implements sessions.Engine: one GET.
func (s *Store) Load(ctx context.Context, key string) ([]byte, error) {
	k := s.Key(key)
	b, err := call(ctx, func(ctx context.Context) ([]byte, error) { return s.c.Get(ctx, k).Bytes() })
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
		n, err := call(ctx, func(ctx context.Context) (int64, error) { return s.c.Exists(ctx, k).Result() })
		if err != nil {
			return s.fail(ctx, err)
		}
		if n > 0 {
			return sessions.ErrExists
		}
		return nil
	}
	err := callErr(ctx, func(ctx context.Context) error {
		return s.c.SetArgs(ctx, k, data, redis.SetArgs{Mode: "NX", TTL: sendTTL(expiry)}).Err()
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
	err := callErr(ctx, func(ctx context.Context) error {
		return s.c.SetArgs(ctx, k, data, redis.SetArgs{Mode: "XX", TTL: sendTTL(expiry)}).Err()
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
	n, err := call(ctx, func(ctx context.Context) (int64, error) { return s.c.Del(ctx, k).Result() })
	if err != nil {
		return s.fail(ctx, err)
	}
	if n == 0 {
		return sessions.ErrNotFound
	}
	return nil
}

// Delete implements sessions.Engine.
func (s *Store) Delete(ctx context.Context, key string) error {
	k := s.Key(key)
	if err := callErr(ctx, func(ctx context.Context) error { return s.c.Del(ctx, k).Err() }); err != nil {
		return s.fail(ctx, err)
	}
	return nil
}

// Touch implements sessions.Toucher: PEXPIRE, which deletes the session
// when the expiry has passed.
func (s *Store) Touch(ctx context.Context, key string, expiry time.Time) error {
	k := s.Key(key)
	ok, err := call(ctx, func(ctx context.Context) (bool, error) {
		ms := ttl(expiry) // counted from when the command leaves
		if ms <= 0 {
			ms = -1 // PEXPIRE with a negative TTL deletes the key
		}
		return s.c.PExpire(ctx, k, time.Duration(ms)*time.Millisecond).Result()
	})
	if err != nil {
		return s.fail(ctx, err)
	}
	if !ok {
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
	n, err := call(ctx, func(ctx context.Context) (int, error) {
		return swapScript.Run(ctx, s.c, []string{k}, old, data, ttl(expiry)).Int() // counted from when the command leaves
	})
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

// List implements sessions.Lister with SCAN MATCH on the key prefix, on
// every master of a cluster in turn. fn is called from the caller's
// goroutine, never concurrently, and never after List returns.
func (s *Store) List(ctx context.Context, fn func(key string) bool) error {
	nodes := []redis.UniversalClient{s.c}
	if cc, ok := s.c.(*redis.ClusterClient); ok {
		masters, err := call(ctx, func(ctx context.Context) ([]redis.UniversalClient, error) {
			var (
				mu  sync.Mutex
				out []redis.UniversalClient
			)
			err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
				mu.Lock()
				out = append(out, c)
				mu.Unlock()
				return nil
			})
			return out, err
		})
		if err != nil {
			return s.fail(ctx, err)
		}
		nodes = masters
	}
	pattern := globEscape(s.prefix) + "*"
	seen := map[string]bool{} // SCAN may return a key twice
	type page struct {
		keys []string
		next uint64
	}
	for _, c := range nodes {
		var cursor uint64
		for {
			from := cursor
			p, err := call(ctx, func(ctx context.Context) (page, error) {
				keys, next, err := c.Scan(ctx, from, pattern, 1000).Result()
				return page{keys, next}, err
			})
			if err != nil {
				return s.fail(ctx, err)
			}
			for _, full := range p.keys {
				k, ok := strings.CutPrefix(full, s.prefix)
				if !ok || !sessions.ValidKey(k) || seen[k] {
					continue // another logical prefix that starts like ours, or seen
				}
				seen[k] = true
				if !fn(k) {
					return nil
				}
			}
			if p.next == 0 {
				break
			}
			cursor = p.next
		}
	}
	return nil
}

// globEscape escapes the glob metacharacters of a SCAN MATCH pattern.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\', '^', '-':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
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

// --- opening from a URL --------------------------------------------------------

// connParams are the pool and timeout parameters checked here.
type connParams struct {
	poolSize, minIdle, maxIdle, maxActive, maxRetries, dialRetries *int
	dialTimeout, readTimeout, writeTimeout, poolTimeout            *time.Duration
}

func readConnParams(p *sessions.Params) connParams {
	var cp connParams
	intp := func(name string, min, max int) *int {
		if !p.Has(name) {
			return nil
		}
		v := p.Int(name, 0, min, max)
		return &v
	}
	durp := func(name string) *time.Duration {
		if !p.Has(name) {
			return nil
		}
		v := p.Duration(name, 0, time.Millisecond, time.Hour)
		return &v
	}
	cp.poolSize = intp("pool_size", 1, 10000)
	cp.minIdle = intp("min_idle_conns", 0, 10000)
	cp.maxIdle = intp("max_idle_conns", 0, 10000)
	cp.maxActive = intp("max_active_conns", 0, 100000)
	cp.maxRetries = intp("max_retries", -1, 100)
	cp.dialRetries = intp("dialer_retries", 1, 100)
	cp.dialTimeout = durp("dial_timeout")
	cp.readTimeout = durp("read_timeout")
	cp.writeTimeout = durp("write_timeout")
	cp.poolTimeout = durp("pool_timeout")
	return cp
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

func (cp connParams) apply(poolSize, minIdle, maxIdle, maxActive, maxRetries, dialRetries *int, dial, read, write, pool *time.Duration) {
	set(dialRetries, cp.dialRetries)
	set(poolSize, cp.poolSize)
	set(minIdle, cp.minIdle)
	set(maxIdle, cp.maxIdle)
	set(maxActive, cp.maxActive)
	set(maxRetries, cp.maxRetries)
	set(dial, cp.dialTimeout)
	set(read, cp.readTimeout)
	set(write, cp.writeTimeout)
	set(pool, cp.poolTimeout)
}

const ourParams = "key_prefix, version, logical_prefix, format, pool_size, min_idle_conns, max_idle_conns, max_active_conns, max_retries, dialer_retries, dial_timeout, read_timeout, write_timeout, pool_timeout"

func open(ctx context.Context, u *url.URL, st sessions.Settings) (sessions.Backend, error) {
	scheme := strings.ToLower(u.Scheme)
	lists := []string(nil)
	if strings.Contains(scheme, "+") {
		lists = []string{"addr"} // go-redis's extra cluster nodes or sentinels
	}
	if err := noRepeats(u, lists...); err != nil {
		return nil, err
	}
	p := sessions.ParseParams(u)
	l := djcache.FromParams(p, st)
	o := Options{KeyPrefix: l.KeyPrefix, Version: l.Version, LogicalPrefix: l.LogicalPrefix, Format: l.Format}
	cp := readConnParams(p)
	rest := p.Rest()
	for k := range rest {
		if slices.Contains(lists, k) {
			p.Strings(k) // a list: may be given more than once
			continue
		}
		p.Has(k) // go-redis checks these
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	s, err := newStore(&o)
	if err != nil {
		return nil, err
	}
	tls := strings.HasPrefix(scheme, "rediss")
	base := "redis://"
	if tls {
		base = "rediss://"
	}
	hosts := strings.Split(u.Host, ",")
	for _, h := range hosts {
		if h == "" {
			return nil, fmt.Errorf("%w: redis: empty host in %q", sessions.ErrBadConfig, u.Host)
		}
	}
	user, pass := "", ""
	if u.User != nil {
		user = u.User.Username()
		pass, _ = u.User.Password()
	}
	route := &logRoute{log: st.Logger, secrets: []string{pass}}
	bad := func(err error) error {
		return fmt.Errorf("%w: %v (this engine's parameters: %s; others go to go-redis)", sessions.ErrBadConfig, err, ourParams)
	}
	switch scheme {
	case "redis", "rediss":
		if len(hosts) > 1 {
			return nil, fmt.Errorf("%w: %s:// takes one host; use redis+cluster:// for a cluster", sessions.ErrBadConfig, scheme)
		}
		opt, err := redis.ParseURL(base + u.Host + u.EscapedPath() + query(rest, nil))
		if err != nil {
			return nil, bad(err)
		}
		opt.Username, opt.Password = user, pass
		cp.apply(&opt.PoolSize, &opt.MinIdleConns, &opt.MaxIdleConns, &opt.MaxActiveConns, &opt.MaxRetries, &opt.DialerRetries,
			&opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout, &opt.PoolTimeout)
		opt.ContextTimeoutEnabled = true
		opt.Dialer = route.dialer(opt.DialTimeout, opt.TLSConfig)
		s.c = redis.NewClient(opt)
		s.where = fmt.Sprintf("%s db %d", opt.Addr, opt.DB)
	case "redis+cluster", "rediss+cluster":
		if path := strings.Trim(u.Path, "/"); path != "" && path != "0" {
			return nil, fmt.Errorf("%w: a Redis Cluster has only database 0", sessions.ErrBadConfig)
		}
		opt, err := redis.ParseClusterURL(base + hosts[0] + query(rest, map[string][]string{"addr": hosts[1:]}))
		if err != nil {
			return nil, bad(err)
		}
		opt.Username, opt.Password = user, pass
		cp.apply(&opt.PoolSize, &opt.MinIdleConns, &opt.MaxIdleConns, &opt.MaxActiveConns, &opt.MaxRetries, &opt.DialerRetries,
			&opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout, &opt.PoolTimeout)
		opt.ContextTimeoutEnabled = true
		opt.Dialer = route.dialer(opt.DialTimeout, opt.TLSConfig)
		s.c = redis.NewClusterClient(opt)
		s.where = "cluster " + strings.Join(opt.Addrs, ",")
	case "redis+sentinel", "rediss+sentinel":
		extra := map[string][]string{"addr": hosts[1:]}
		if user != "" {
			if rest.Has("master_name") {
				return nil, fmt.Errorf("%w: the master's name is given twice (user part and master_name)", sessions.ErrBadConfig)
			}
			extra["master_name"] = []string{user}
		}
		opt, err := redis.ParseFailoverURL(base + hosts[0] + u.EscapedPath() + query(rest, extra))
		if err != nil {
			return nil, bad(err)
		}
		if opt.MasterName == "" {
			return nil, fmt.Errorf("%w: redis+sentinel needs the master's name: redis+sentinel://mymaster@host:26379/0", sessions.ErrBadConfig)
		}
		if pass != "" {
			opt.Password = pass
		}
		cp.apply(&opt.PoolSize, &opt.MinIdleConns, &opt.MaxIdleConns, &opt.MaxActiveConns, &opt.MaxRetries, &opt.DialerRetries,
			&opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout, &opt.PoolTimeout)
		opt.ContextTimeoutEnabled = true
		opt.Dialer = route.dialer(opt.DialTimeout, opt.TLSConfig)
		route.secrets = append(route.secrets, opt.Password, opt.SentinelPassword)
		s.c = redis.NewFailoverClient(opt)
		s.where = fmt.Sprintf("sentinel master %q via %s db %d", opt.MasterName, strings.Join(opt.SentinelAddrs, ","), opt.DB)
	default:
		return nil, fmt.Errorf("%w: redisstore cannot open scheme %q", sessions.ErrBadConfig, scheme)
	}
	s.own = true
	route.where = s.where
	s.route = route
	register(route)
	return s, nil
}

// noRepeats rejects a parameter given more than once (go-redis would
// silently take the last), except the list parameters named. It names the
// parameter, never its values.
func noRepeats(u *url.URL, lists ...string) error {
	q := u.Query()
	var twice []string
	for k, v := range q {
		if len(v) > 1 && !slices.Contains(lists, k) {
			twice = append(twice, k)
		}
	}
	if len(twice) == 0 {
		return nil
	}
	slices.Sort(twice)
	msgs := make([]string, len(twice))
	for i, k := range twice {
		msgs[i] = fmt.Sprintf("%s is given %d times; give it once", k, len(q[k]))
	}
	return fmt.Errorf("%w: %s", sessions.ErrBadConfig, strings.Join(msgs, "; "))
}

// query encodes the parameters go-redis parses, plus extra values.
func query(rest url.Values, extra map[string][]string) string {
	q := url.Values{}
	for k, v := range rest {
		q[k] = v
	}
	for k, v := range extra {
		q[k] = append(q[k], v...)
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}
