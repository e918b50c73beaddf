package sessions

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Opener opens an engine from a parsed config URL. It receives the
// settings so that engines can follow Django's settings (the cookie name
// of the file engine, the secret key of the signed-cookie engine, the cache
// key prefix...). It must reject unknown query parameters (see [Params])
// and must not put credentials in its errors.
type Opener func(ctx context.Context, u *url.URL, s Settings) (Engine, error)

// EngineInfo describes a registered engine for listings such as the CLI's
// "sessions engines".
type EngineInfo struct {
	Scheme  string   // canonical URL scheme, for example "redis"
	Aliases []string // other schemes opening the same engine
	Forms   []string // example config strings
	Doc     string   // one line
}

type registration struct {
	info   EngineInfo
	opener Opener
}

var (
	regMu    sync.RWMutex
	registry = map[string]*registration{}
)

// Register makes an engine available to [Open] under info.Scheme and each
// of info.Aliases. Engines call it from an init function, so a blank import
// of the engine's package is enough. It panics if opener is nil or a scheme
// is registered twice, as database/sql's Register does.
func Register(info EngineInfo, opener Opener) {
	if opener == nil {
		panic("sessions: Register opener is nil")
	}
	regMu.Lock()
	defer regMu.Unlock()
	r := &registration{info: info, opener: opener}
	for _, sch := range append([]string{info.Scheme}, info.Aliases...) {
		sch = strings.ToLower(sch)
		if _, dup := registry[sch]; dup {
			panic("sessions: Register called twice for scheme " + sch)
		}
		registry[sch] = r
	}
}

// Engines returns the registered engines, sorted by scheme.
func Engines() []EngineInfo {
	regMu.RLock()
	defer regMu.RUnlock()
	seen := map[*registration]bool{}
	var out []EngineInfo
	for _, r := range registry {
		if !seen[r] {
			seen[r] = true
			out = append(out, r.info)
		}
	}
	slices.SortFunc(out, func(a, b EngineInfo) int { return strings.Compare(a.Scheme, b.Scheme) })
	return out
}

// Where the built-in engines live, for the "forgotten import?" hint.
var builtinPackages = map[string]string{
	"memory":          "backends/memstore",
	"signed-cookies":  "backends/cookiestore",
	"sqlite":          "backends/sqlstore",
	"sqlite3":         "backends/sqlstore",
	"postgres":        "backends/sqlstore",
	"postgresql":      "backends/sqlstore",
	"mysql":           "backends/sqlstore",
	"file":            "backends/filestore",
	"bolt":            "backends/boltstore",
	"bbolt":           "backends/boltstore",
	"redis":           "backends/redisstore",
	"rediss":          "backends/redisstore",
	"redis+cluster":   "backends/redisstore",
	"redis+sentinel":  "backends/redisstore",
	"rediss+cluster":  "backends/redisstore",
	"rediss+sentinel": "backends/redisstore",
	"memcached":       "backends/memcachestore",
	"memcache":        "backends/memcachestore",
	"cached-db":       "backends/cacheddb",
}

// Django's engine names, resolved before URL parsing (an underscore is not
// legal in a URL scheme).
var djangoAliases = map[string]string{
	"db":             "db",
	"file":           "file",
	"cache":          "cache",
	"cached_db":      "cached_db",
	"signed_cookies": "signed_cookies",
	"memory":         "memory",
}

// ResolveConfig turns a config string into the engine URL it stands for:
// Django's engine names ("db", "cache", "django.contrib.sessions.backends.file"...)
// take their location from the settings; URLs are returned unchanged.
func ResolveConfig(config string, s Settings) (string, error) {
	c := strings.TrimSpace(config)
	if c == "" {
		c = s.Engine
	}
	if c == "" {
		c = DefaultEngine
	}
	name := strings.TrimPrefix(c, "django.contrib.sessions.backends.")
	alias, ok := djangoAliases[name]
	if !ok {
		return c, nil
	}
	switch alias {
	case "db":
		if s.DatabaseURL != "" {
			return s.DatabaseURL, nil
		}
		return "sqlite:db.sqlite3", nil
	case "file":
		if s.FilePath == "" {
			return "", fmt.Errorf("%w: the file engine needs Settings.FilePath (SESSION_FILE_PATH)", ErrBadConfig)
		}
		if filepath.IsAbs(s.FilePath) {
			return (&url.URL{Scheme: "file", Path: filepath.ToSlash(s.FilePath)}).String(), nil
		}
		return "file:" + (&url.URL{Path: filepath.ToSlash(s.FilePath)}).EscapedPath(), nil
	case "cache":
		if s.CacheURL == "" {
			return "", fmt.Errorf("%w: the cache engine needs Settings.CacheURL (SESSION_CACHE_URL), for example redis://127.0.0.1:6379/0", ErrBadConfig)
		}
		return s.CacheURL, nil
	case "cached_db":
		return "cached-db:", nil
	case "signed_cookies":
		return "signed-cookies:", nil
	case "memory":
		return "memory:", nil
	}
	return c, nil
}

// OpenEngine opens the engine a config string names (see [Open]).
func OpenEngine(ctx context.Context, config string, s Settings) (Engine, error) {
	resolved, err := ResolveConfig(config, s)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(resolved)
	if err != nil || u.Scheme == "" {
		return nil, fmt.Errorf("%w: %q is neither a Django engine name nor a URL with a scheme (registered: %s)", ErrBadConfig, Redact(resolved), strings.Join(schemes(), ", "))
	}
	scheme := strings.ToLower(u.Scheme)
	regMu.RLock()
	r := registry[scheme]
	regMu.RUnlock()
	if r == nil {
		hint := ""
		if p, ok := builtinPackages[scheme]; ok {
			hint = fmt.Sprintf("; forgotten import of \"github.com/sessionkit/sessions/%s\" (or .../all)?", p)
		}
		return nil, fmt.Errorf("%w: unknown session engine %q (registered: %s)%s", ErrBadConfig, scheme, strings.Join(schemes(), ", "), hint)
	}
	e, err := r.opener(ctx, u, s)
	if err != nil {
		return nil, fmt.Errorf("sessions: open %s engine: %w", scheme, err)
	}
	return e, nil
}

// Open opens the engine named by config and returns a Manager over it.
// config is a URL whose scheme names the engine ("memory:",
// "sqlite:///var/lib/app/sessions.sqlite3", "postgres://...",
// "file:///var/lib/app/sessions", "redis://127.0.0.1:6379/0",
// "memcached://h1:11211,h2:11211", "cached-db:", "bolt:///path",
// "signed-cookies:") or one of Django's engine names ("db", "file", "cache",
// "cached_db", "signed_cookies", with or without the
// "django.contrib.sessions.backends." prefix), which take their location
// from the settings. An empty config means s.Engine.
//
// The engine's package must be imported (blank import, or import
// github.com/sessionkit/sessions/all for every built-in engine).
func Open(ctx context.Context, config string, s Settings) (*Manager, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	e, err := OpenEngine(ctx, config, s)
	if err != nil {
		return nil, err
	}
	m, err := New(e, s)
	if err != nil {
		e.Close()
		return nil, err
	}
	return m, nil
}

func schemes() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	var out []string
	for k := range registry {
		out = append(out, k)
	}
	if len(out) == 0 {
		return []string{"none"}
	}
	slices.Sort(out)
	return out
}

// Redact returns a config string with any password replaced by "xxxxx",
// safe for logs and errors. Strings that do not parse as URLs are reduced
// to their scheme.
func Redact(config string) string {
	u, err := url.Parse(config)
	if err != nil {
		if i := strings.Index(config, "://"); i > 0 {
			return config[:i] + "://…"
		}
		return "…"
	}
	q := u.Query()
	changed := false
	for k := range q {
		lk := strings.ToLower(k)
		if strings.Contains(lk, "password") || strings.Contains(lk, "secret") || lk == "pass" || lk == "token" {
			q.Set(k, "xxxxx")
			changed = true
		}
	}
	if changed {
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// Params reads the query parameters of a config URL and remembers which
// were used, so an engine can reject the unknown ones (a typo in a
// parameter name must not be silently ignored).
type Params struct {
	v    url.Values
	used map[string]bool
	errs []string
}

// ParseParams returns the query parameters of u.
func ParseParams(u *url.URL) *Params {
	return &Params{v: u.Query(), used: map[string]bool{}}
}

// Has reports whether the parameter is present.
func (p *Params) Has(name string) bool {
	p.used[name] = true
	return p.v.Has(name)
}

// String returns the parameter's value, or def when absent.
func (p *Params) String(name, def string) string {
	p.used[name] = true
	if !p.v.Has(name) {
		return def
	}
	return p.v.Get(name)
}

// value returns the parameter's value and whether it is present; a
// present but empty value is recorded as an error.
func (p *Params) value(name, want string) (string, bool) {
	p.used[name] = true
	if !p.v.Has(name) {
		return "", false
	}
	v := p.v.Get(name)
	if v == "" {
		p.errs = append(p.errs, name+" is empty; want "+want)
		return "", false
	}
	return v, true
}

// Int returns the parameter as an integer within [min, max], or def when
// absent. A bad or empty value is recorded and reported by Err.
func (p *Params) Int(name string, def, min, max int) int {
	s, ok := p.value(name, "an integer")
	if !ok {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < min || n > max {
		p.errs = append(p.errs, fmt.Sprintf("%s must be an integer between %d and %d", name, min, max))
		return def
	}
	return n
}

// Duration returns the parameter as a duration ("5s", "250ms", or a bare
// number of seconds) within [min, max], or def when absent.
func (p *Params) Duration(name string, def, min, max time.Duration) time.Duration {
	s, ok := p.value(name, "a duration such as 5s")
	if !ok {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		n, err2 := strconv.ParseFloat(s, 64)
		if err2 != nil {
			p.errs = append(p.errs, fmt.Sprintf("%s must be a duration such as 5s or 250ms", name))
			return def
		}
		d = time.Duration(n * float64(time.Second))
	}
	if d < min || d > max {
		p.errs = append(p.errs, fmt.Sprintf("%s must be between %s and %s", name, min, max))
		return def
	}
	return d
}

// Bool returns the parameter as a boolean, or def when absent.
func (p *Params) Bool(name string, def bool) bool {
	s, ok := p.value(name, "true or false")
	if !ok {
		return def
	}
	b, err := parseBool(s)
	if err != nil {
		p.errs = append(p.errs, name+" must be true or false")
		return def
	}
	return b
}

// Err reports bad values and every parameter that was never asked for, as
// an error matching [ErrBadConfig]. Call it after reading all parameters.
func (p *Params) Err() error {
	errs := slices.Clone(p.errs)
	var unknown []string
	for k := range p.v {
		if !p.used[k] {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	if len(unknown) > 0 {
		known := make([]string, 0, len(p.used))
		for k := range p.used {
			known = append(known, k)
		}
		slices.Sort(known)
		msg := "unknown parameter " + strings.Join(unknown, ", ")
		if len(known) > 0 {
			msg += " (known: " + strings.Join(known, ", ") + ")"
		}
		errs = append(errs, msg)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrBadConfig, strings.Join(errs, "; "))
}

// Rest returns the parameters that were not read, for passing on to a
// client library's own URL parser.
func (p *Params) Rest() url.Values {
	out := url.Values{}
	for k, v := range p.v {
		if !p.used[k] {
			out[k] = v
		}
	}
	return out
}
