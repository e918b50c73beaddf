package cacheddb

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/internal/textutil"
)

func init() {
	sessions.Register(sessions.EngineInfo{
		Scheme:     Scheme,
		Aliases:    []string{"cached_db", "cacheddb"},
		Forms:      []string{"cached-db:?cache=<url-escaped cache URL>&db=<url-escaped database URL>", "cached_db (Settings.CacheURL and Settings.DatabaseURL)"},
		Doc:        "Django's cached_db: a Redis or memcached cache in front of a database, write-through",
		NoLocation: true,
	}, openURL)
}

func openURL(ctx context.Context, u *url.URL, s sessions.Settings) (sessions.Backend, error) {
	p := sessions.ParseParams(u)
	cacheURL := p.String("cache", s.CacheURL)
	dbURL := p.String("db", s.DatabaseURL)
	plain := p.Bool("plain_copies", false)
	syncInstall := p.Bool("sync_install", false)
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
	o := openOptions(ce, de, s)
	o.PlainCopies = plain
	o.SyncInstall = syncInstall
	st, err := newStore(ce, de, o)
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
