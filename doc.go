// Package sessions is Django's session framework for Go: per-visitor state
// between HTTP requests with the API and semantics of Django's
// request.session, storage engines chosen by a config string, and storage
// formats byte-compatible with Django's, so a Go service and a Django app
// can share sessions.
//
// A [Manager] ties an [Engine] to [Settings]; its [Manager.Handler] is
// Django's SessionMiddleware, and [FromContext] gives a handler the
// request's [Session]:
//
//	s := sessions.DefaultSettings()
//	s.SecretKey = os.Getenv("SECRET_KEY")
//	m, err := sessions.Open(ctx, "redis://127.0.0.1:6379/0", s)
//	...
//	http.ListenAndServe(addr, m.Handler(mux))
//
// # Engines
//
// Engines live in their own packages and register a URL scheme when
// imported; github.com/sessionkit/sessions/all imports them all:
//
//	memory:                                  backends/memstore (tests, development)
//	signed-cookies:                          backends/cookiestore (Django's signed_cookies)
//	sqlite:///path/db.sqlite3, postgres://…, mysql://…   backends/sqlstore (Django's db)
//	file:///var/lib/app/sessions             backends/filestore (Django's file)
//	bolt:///var/lib/app/sessions.db          backends/boltstore (bbolt)
//	redis://…, redis+cluster://…, redis+sentinel://…     backends/redisstore (Django's cache)
//	memcached://h1:11211,h2:11211            backends/memcachestore (Django's cache)
//	cached-db:?cache=…&db=…                  backends/cacheddb (Django's cached_db)
//
// # Config strings
//
// [Open] takes a URL whose scheme names the engine, or one of Django's
// SESSION_ENGINE values ("db", "file", "cache", "cached_db",
// "signed_cookies", with or without the "django.contrib.sessions.backends."
// prefix), which take their location from [Settings] (DatabaseURL,
// FilePath, CacheURL). Unknown schemes name the registered ones and the
// import that is probably missing. Configuration mistakes are errors,
// never silently ignored: an unknown or repeated URL parameter, a
// malformed query, a fragment, a host, path or password on an engine that
// takes none. [Redact] hides every password of a config string, nested
// URLs included, for logs and pages; errors quote config strings redacted
// and cut to about 200 characters ([QuoteConfig]).
//
// # Errors
//
// Errors match the sentinels [ErrNotFound], [ErrExists], [ErrInvalidKey],
// [ErrInterrupted], [ErrConflict], [ErrClosed], [ErrUnsupported],
// [ErrTooLarge] and [ErrBadConfig] with errors.Is, and come wrapped in
// [*Error] naming the operation and the engine. No error text or log line
// holds a secret, a password or a full session key.
//
// # Concurrent requests
//
// Django lets the last writer win: two requests that change different keys
// of one session lose one change. On engines that implement [Swapper] the
// Manager saves with compare-and-swap on the bytes it loaded and, on a
// conflict, re-applies only this request's changes to the newer data, so
// both changes survive. A session deleted by another request (a logout) is
// never brought back: saving it fails with [ErrInterrupted] and the
// middleware answers 400, as Django does.
//
// # Writing an engine
//
// Implement [Engine] following the rules in its documentation, and
// whichever of [Swapper], [Toucher], [ExpiredDeleter] and [Lister] the
// store can do; register a scheme with [Register]; and run the shared
// suite from package conformance in the engine's tests.
package sessions
