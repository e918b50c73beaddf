package redisstore

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/internal/djcache"
)

func init() {
	sessions.Register(sessions.EngineInfo{
		Scheme:  Scheme,
		Aliases: []string{"rediss", "redis+cluster", "rediss+cluster", "redis+sentinel", "rediss+sentinel"},
		Forms: []string{
			"redis://127.0.0.1:6379/0",
			"rediss://:password@redis.example.com:6380/0",
			"redis+cluster://10.0.0.1:7000,10.0.0.2:7001",
			"redis+sentinel://mymaster@10.0.0.1:26379,10.0.0.2:26379/0?wait_replicas=1",
			"redis://127.0.0.1:6379/0?key_prefix=app&version=2&format=pickle&pool_size=20&read_timeout=1s",
		},
		Doc: "Redis, Redis Cluster or Sentinel in Django's cache format (pickle, native TTL)",
	}, openURL)
}

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
	if cp.maxRetries != nil && *cp.maxRetries == 0 {
		// go-redis reads MaxRetries 0 as "its default", 3 retries; a URL
		// that says max_retries=0 asks for none, which go-redis spells -1.
		*cp.maxRetries = -1
	}
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

// configure sets the fields that the three go-redis option types share:
// the pool and timeout parameters of the URL, ContextTimeoutEnabled (see
// Contexts in the package documentation) and the dialer that routes the
// client's log lines (logRoute) and lets cancellation interrupt a call
// (watcher).
func (t *target) configure(poolSize, minIdle, maxIdle, maxActive, maxRetries, dialRetries *int, dial, read, write, pool *time.Duration,
	ctxTimeout *bool, dialer *func(context.Context, string, string) (net.Conn, error), tlsConf *tls.Config) {
	cp := t.cp
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
	*ctxTimeout = true
	t.watch = newWatcher(*read, *write)
	*dialer = t.route.dialer(*dial, tlsConf, t.watch)
}

const ourParams = "key_prefix, version, logical_prefix, format, pool_size, min_idle_conns, max_idle_conns, max_active_conns, max_retries, dialer_retries, dial_timeout, read_timeout, write_timeout, pool_timeout, wait_replicas, wait_timeout"

func openURL(ctx context.Context, u *url.URL, st sessions.Settings) (sessions.Backend, error) {
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
	o := Options{KeyPrefix: l.KeyPrefix, Version: l.Version, LogicalPrefix: l.LogicalPrefix, Format: l.Format,
		WaitReplicas: p.Int("wait_replicas", 0, 0, 100),
		WaitTimeout:  p.Duration("wait_timeout", defaultWaitTimeout, time.Millisecond, time.Minute)}
	t := target{scheme: scheme, u: u, cp: readConnParams(p), rest: p.Rest()}
	for k := range t.rest {
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
	if err := t.parse(); err != nil {
		return nil, err
	}
	t.route = &logRoute{log: st.Logger, secrets: []string{t.pass}}
	switch scheme {
	case "redis", "rediss":
		s.c, s.where, err = t.single()
	case "redis+cluster", "rediss+cluster":
		if err := s.checkSlots(); err != nil {
			return nil, err
		}
		s.c, s.where, err = t.cluster()
	case "redis+sentinel", "rediss+sentinel":
		s.c, s.where, err = t.sentinel()
	default:
		err = fmt.Errorf("%w: redisstore cannot open scheme %q", sessions.ErrBadConfig, scheme)
	}
	if err != nil {
		return nil, err
	}
	if err := checkWait(s.c, s.waitReplicas, s.waitTimeout, t.watch.budget); err != nil {
		s.c.Close()
		return nil, err
	}
	s.own, s.watch = true, t.watch
	t.route.where = s.where
	s.route = t.route
	register(t.route)
	return s, nil
}

// target is what a redis URL says about the servers and how to reach
// them, on the way to a go-redis client.
type target struct {
	scheme     string
	u          *url.URL
	cp         connParams
	rest       url.Values // the parameters go-redis parses
	base       string     // "redis://" or "rediss://"
	hosts      []string
	user, pass string
	route      *logRoute
	watch      *watcher // set by configure
}

// parse reads the hosts and the credentials of the URL.
func (t *target) parse() error {
	t.base = "redis://"
	if strings.HasPrefix(t.scheme, "rediss") {
		t.base = "rediss://"
	}
	t.hosts = strings.Split(t.u.Host, ",")
	for _, h := range t.hosts {
		if h == "" {
			return fmt.Errorf("%w: redis: empty host in %q", sessions.ErrBadConfig, t.u.Host)
		}
	}
	if t.u.User != nil {
		t.user = t.u.User.Username()
		t.pass, _ = t.u.User.Password()
	}
	return nil
}

// bad reports a URL go-redis refused.
func (t *target) bad(err error) error {
	return fmt.Errorf("%w: %v (this engine's parameters: %s; others go to go-redis)", sessions.ErrBadConfig, err, ourParams)
}

// single returns the client of one server (redis://, rediss://) and where
// it is.
func (t *target) single() (redis.UniversalClient, string, error) {
	if len(t.hosts) > 1 {
		return nil, "", fmt.Errorf("%w: %s:// takes one host; use redis+cluster:// for a cluster", sessions.ErrBadConfig, t.scheme)
	}
	opt, err := redis.ParseURL(t.base + t.u.Host + t.u.EscapedPath() + query(t.rest, nil))
	if err != nil {
		return nil, "", t.bad(err)
	}
	opt.Username, opt.Password = t.user, t.pass
	t.configure(&opt.PoolSize, &opt.MinIdleConns, &opt.MaxIdleConns, &opt.MaxActiveConns, &opt.MaxRetries, &opt.DialerRetries,
		&opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout, &opt.PoolTimeout, &opt.ContextTimeoutEnabled, &opt.Dialer, opt.TLSConfig)
	return redis.NewClient(opt), fmt.Sprintf("%s db %d", opt.Addr, opt.DB), nil
}

// cluster returns the client of a Redis Cluster (redis+cluster://) and
// where it is.
func (t *target) cluster() (redis.UniversalClient, string, error) {
	if path := strings.Trim(t.u.Path, "/"); path != "" && path != "0" {
		return nil, "", fmt.Errorf("%w: a Redis Cluster has only database 0", sessions.ErrBadConfig)
	}
	opt, err := redis.ParseClusterURL(t.base + t.hosts[0] + query(t.rest, map[string][]string{"addr": t.hosts[1:]}))
	if err != nil {
		return nil, "", t.bad(err)
	}
	opt.Username, opt.Password = t.user, t.pass
	t.configure(&opt.PoolSize, &opt.MinIdleConns, &opt.MaxIdleConns, &opt.MaxActiveConns, &opt.MaxRetries, &opt.DialerRetries,
		&opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout, &opt.PoolTimeout, &opt.ContextTimeoutEnabled, &opt.Dialer, opt.TLSConfig)
	return redis.NewClusterClient(opt), "cluster " + strings.Join(opt.Addrs, ","), nil
}

// sentinel returns the client of a Sentinel-managed master
// (redis+sentinel://) and where it is. The user part of the URL is the
// master's name.
func (t *target) sentinel() (redis.UniversalClient, string, error) {
	extra := map[string][]string{"addr": t.hosts[1:]}
	if t.user != "" {
		if t.rest.Has("master_name") {
			return nil, "", fmt.Errorf("%w: the master's name is given twice (user part and master_name)", sessions.ErrBadConfig)
		}
		extra["master_name"] = []string{t.user}
	}
	opt, err := redis.ParseFailoverURL(t.base + t.hosts[0] + t.u.EscapedPath() + query(t.rest, extra))
	if err != nil {
		return nil, "", t.bad(err)
	}
	if opt.MasterName == "" {
		return nil, "", fmt.Errorf("%w: redis+sentinel needs the master's name: redis+sentinel://mymaster@host:26379/0", sessions.ErrBadConfig)
	}
	if t.pass != "" {
		opt.Password = t.pass
	}
	t.configure(&opt.PoolSize, &opt.MinIdleConns, &opt.MaxIdleConns, &opt.MaxActiveConns, &opt.MaxRetries, &opt.DialerRetries,
		&opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout, &opt.PoolTimeout, &opt.ContextTimeoutEnabled, &opt.Dialer, opt.TLSConfig)
	t.route.secrets = append(t.route.secrets, opt.Password, opt.SentinelPassword)
	where := fmt.Sprintf("sentinel master %q via %s db %d", opt.MasterName, strings.Join(opt.SentinelAddrs, ","), opt.DB)
	return redis.NewFailoverClient(opt), where, nil
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
