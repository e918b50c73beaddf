package memcachestore

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/internal/djcache"
)

func init() {
	sessions.Register(sessions.EngineInfo{
		Scheme:  Scheme,
		Aliases: []string{"memcache"},
		Forms: []string{
			"memcached://127.0.0.1:11211",
			"memcached://10.0.0.1:11211,10.0.0.2:11211?timeout=250ms&max_conns=100&max_idle_conns=64",
			"memcached:///run/memcached/memcached.sock",
			"memcached://127.0.0.1:11211?key_prefix=app&version=2&format=pickle",
		},
		Doc: "memcached (one or several servers) in Django's cache format (pickle, native TTL)",
	}, openURL)
}

func openURL(ctx context.Context, u *url.URL, st sessions.Settings) (sessions.Backend, error) {
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
		MaxItemSize:   sizeParam(p, "max_item_size", defaultMaxItemSize),
	}
	timeout := p.Duration("timeout", memcache.DefaultTimeout, 10*time.Millisecond, time.Minute)
	distribution := p.String("distribution", "pymemcache")
	maxIdle := p.Int("max_idle_conns", 16, 1, 10000)
	maxConns := p.Int("max_conns", 10*runtime.GOMAXPROCS(0), 1, 100_000)
	poolTimeout := p.Duration("pool_timeout", timeout, time.Millisecond, time.Minute)
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
	s.c, s.where = c, strings.Join(servers, ",")
	s.lanes = &lanes{sel: sel, timeout: timeout, maxIdle: min(maxIdle, maxConns), maxConns: maxConns, wait: poolTimeout}
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
