package sessions

import (
	"context"
	"fmt"
	"github.com/sessionkit/sessions/internal/textutil"
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
type Opener func(ctx context.Context, u *url.URL, s Settings) (Backend, error)

// EngineInfo describes a registered engine for listings such as the CLI's
// "sessions engines".
type EngineInfo struct {
	Scheme  string   // canonical URL scheme, for example "redis"
	Aliases []string // other schemes opening the same engine
	Forms   []string // example config strings
	Doc     string   // one line
	// NoLocation marks engines whose config string is their scheme and
	// parameters only ("memory:", "memory:?purge_interval=30s"): a user,
	// host or path is an error matching [ErrBadConfig] rather than
	// something silently ignored.
	NoLocation bool
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
	"migrate":         "backends/migrate",
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

// resolveConfig turns a config string into the engine URL it stands for:
// Django's engine names ("db", "cache", "django.contrib.sessions.backends.file"...)
// take their location from the settings; URLs are returned unchanged.
func resolveConfig(config string, s Settings) (string, error) {
	c := strings.TrimSpace(config)
	if c == "" {
		c = s.Engine
	}
	if c == "" {
		c = defaultEngine
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

// OpenEngine opens the engine a config string names (see [Open]): an
// [Engine] or a [ClientSide] engine.
func OpenEngine(ctx context.Context, config string, s Settings) (Backend, error) {
	resolved, err := resolveConfig(config, s)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(resolved)
	if err != nil {
		// url.Parse's error quotes the string, and its message quotes
		// the bad part, which may be a piece of a password.
		return nil, fmt.Errorf("%w: %s does not parse as a URL: write the special characters of a password or a path escaped (%% as %%25, @ as %%40, / as %%2F, ? as %%3F, # as %%23, space as %%20)", ErrBadConfig, quoteConfig(resolved))
	}
	if u.Scheme == "" {
		return nil, fmt.Errorf("%w: %s is neither a Django engine name nor a URL with a scheme (registered: %s)", ErrBadConfig, quoteConfig(resolved), strings.Join(schemes(), ", "))
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
		return nil, fmt.Errorf("%w: unknown session engine %s (registered: %s)%s", ErrBadConfig, textutil.Quote(scheme), strings.Join(schemes(), ", "), hint)
	}
	if err := checkURL(u, resolved); err != nil {
		return nil, fmt.Errorf("sessions: open %s engine: %w", scheme, err)
	}
	var e Backend
	if r.info.NoLocation {
		err = checkNoLocation(u)
	}
	if err == nil {
		e, err = r.opener(ctx, u, s)
	}
	if err != nil {
		// Whatever the engine put in its error, no password of the
		// config strings and no endless quote leaves here.
		return nil, redactError(fmt.Errorf("sessions: open %s engine: %w", scheme, err), config, resolved, s.DatabaseURL, s.CacheURL)
	}
	return e, nil
}

// checkURL rejects what no engine takes: a fragment, and an '@' after the
// host, both the sign of a password with an unescaped character.
func checkURL(u *url.URL, raw string) error {
	if u.Fragment != "" || u.RawFragment != "" || strings.Contains(raw, "#") {
		return fmt.Errorf("%w: the config string has a '#', which starts a URL fragment that no engine takes: write a # in a password, a path or a value as %%23", ErrBadConfig)
	}
	if (u.Host != "" || u.User != nil) && strings.Contains(u.EscapedPath(), "@") {
		return fmt.Errorf("%w: the config string has an '@' after the host: write a / in a password as %%2F and an @ as %%40", ErrBadConfig)
	}
	return nil
}

// checkNoLocation returns an error matching [ErrBadConfig] when u has user
// information, a host or a path (see EngineInfo.NoLocation).
func checkNoLocation(u *url.URL) error {
	form := strings.ToLower(u.Scheme) + ":"
	switch {
	case u.User != nil:
		return fmt.Errorf("%w: %s takes no user or password; write %s", ErrBadConfig, form, form)
	case u.Host != "":
		return fmt.Errorf("%w: %s takes no host (got %s); write %s", ErrBadConfig, form, textutil.Quote(u.Host), form)
	case u.Opaque != "" || u.Path != "":
		return fmt.Errorf("%w: %s takes no path (got %s); write %s", ErrBadConfig, form, quotePath(u), form)
	}
	return nil
}

// quotePath quotes the path of u (or its opaque part) for an error; one
// with an '@' may hold a password and is not quoted.
func quotePath(u *url.URL) string {
	p := u.Opaque
	if p == "" {
		p = u.EscapedPath()
	}
	if strings.Contains(p, "@") {
		return "a path with an '@'"
	}
	return textutil.Quote(p)
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

// Params reads the query parameters of a config URL and remembers which
// were used, so an engine can reject the unknown ones (a typo in a
// parameter name must not be silently ignored). A parameter given twice
// is an error too (pool_size=2&pool_size=abc: which one counts?), unless
// the engine reads it with [Params.Strings]; so is a malformed query.
// Errors name parameters, never quote values, which may be secret.
type Params struct {
	v     url.Values
	used  map[string]bool
	multi map[string]bool   // read with Strings: may be repeated
	hide  map[string]string // names not to quote (pieces of a password): why
	errs  []string
}

// ParseParams returns the query parameters of u.
func ParseParams(u *url.URL) *Params {
	p := &Params{v: url.Values{}, used: map[string]bool{}, multi: map[string]bool{}, hide: map[string]string{}}
	afterSecret := ""
	var semicolon, badName bool
	for _, pair := range strings.Split(u.RawQuery, "&") {
		if pair == "" {
			continue
		}
		if strings.Contains(pair, ";") {
			semicolon, afterSecret = true, ""
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			badName, afterSecret = true, ""
			continue
		}
		switch {
		case afterSecret != "":
			// Reported only if unknown: then it may well be the rest
			// of a secret value with an unescaped '&'.
			p.hide[name] = "an unknown parameter follows " + afterSecret + " (an unescaped '&' in its value? write & as %26)"
		case strings.Contains(name, "@"):
			p.hide[name] = "a parameter name has an '@' (an unescaped '?' in a password? write ? as %3F)"
		}
		afterSecret = ""
		if secretName(name) {
			afterSecret = p.quoteName(name)
		}
		value, err := url.QueryUnescape(v)
		if err != nil {
			p.errs = append(p.errs, "the value of "+p.quoteName(name)+" has an invalid %-escape (write a % as %25)")
			p.used[name] = true
			continue
		}
		p.v[name] = append(p.v[name], value)
	}
	if badName {
		p.errs = append(p.errs, "a parameter name has an invalid %-escape (write a % as %25)")
	}
	if semicolon {
		p.errs = append(p.errs, "the query has a ';': separate parameters with '&', and write a ; in a value as %3B")
	}
	return p
}

// quoteName returns a parameter name for an error: as is if it is a
// plain name, else quoted, and cut if long.
func (p *Params) quoteName(name string) string {
	if len(name) > 40 {
		return textutil.Quote(name[:40]) + "…"
	}
	plain := name != ""
	for _, c := range name {
		if !(c == '_' || c == '-' || c == '.' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			plain = false
		}
	}
	if !plain {
		return textutil.Quote(name)
	}
	return name
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

// Strings returns every value of a parameter that may be given more than
// once (addr=h1&addr=h2), in order; nil when absent.
func (p *Params) Strings(name string) []string {
	p.used[name] = true
	p.multi[name] = true
	return slices.Clone(p.v[name])
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

// Err reports bad values, parameters given more than once, and every
// parameter that was never asked for, as an error matching
// [ErrBadConfig]. Call it after reading all parameters.
func (p *Params) Err() error {
	errs := slices.Clone(p.errs)
	var unknown, twice []string
	for k, vs := range p.v {
		switch {
		case !p.used[k]:
			unknown = append(unknown, k)
		case len(vs) > 1 && !p.multi[k]:
			twice = append(twice, k)
		}
	}
	slices.Sort(twice)
	for _, k := range twice {
		errs = append(errs, fmt.Sprintf("%s is given %d times; give it once", p.quoteName(k), len(p.v[k])))
	}
	// Names that may be pieces of a password are not quoted.
	var names, hidden []string
	for _, k := range unknown {
		if why, ok := p.hide[k]; ok {
			if !slices.Contains(hidden, why) {
				hidden = append(hidden, why)
			}
		} else {
			names = append(names, p.quoteName(k))
		}
	}
	slices.Sort(hidden)
	errs = append(errs, hidden...)
	slices.Sort(names)
	if len(names) > 0 {
		if len(names) > 10 {
			names = append(names[:10], fmt.Sprintf("and %d more", len(names)-10))
		}
		known := make([]string, 0, len(p.used))
		for k := range p.used {
			known = append(known, k)
		}
		slices.Sort(known)
		msg := "unknown parameter " + strings.Join(names, ", ")
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
