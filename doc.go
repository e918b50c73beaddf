// Package sessions is Django's session framework for Go: per-visitor state
// between HTTP requests with the API and semantics of Django's
// request.session, storage engines chosen by a config string, and storage
// formats byte-compatible with Django's, so a Go service and a Django app
// can share sessions.
//
// A [Manager] ties an engine to [Settings]; its [Manager.Handler] is
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
// and cut to about 200 characters.
//
// # Errors
//
// Errors match the sentinels [ErrNotFound], [ErrExists], [ErrInvalidKey],
// [ErrInterrupted], [ErrResponseStarted], [ErrConflict], [ErrClosed],
// [ErrUnsupported], [ErrTooLarge], [ErrBadConfig] and [ErrWrongType] with
// errors.Is. Every error of an engine call comes wrapped once in [*Error]
// naming the operation and the engine; errors.Is and errors.As also reach
// the client library's own error and context.Canceled or
// context.DeadlineExceeded. No error text or log line holds a secret, a
// password or a full session key.
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
// A server-side engine implements [Engine]: Load, Create, Update, Delete
// and Close, bytes in and bytes out, following the rules in its
// documentation. The Manager is its only caller and guards every call
// (an open store, a live context, a valid key or user ID), so an engine
// does no such checks itself; it maps "absent" to [ErrNotFound], "already
// there" to [ErrExists] and "changed meanwhile" to [ErrConflict], honours
// its context in blocking I/O, and returns its client library's errors
// as they are (the Manager wraps them once).
//
// The optional interfaces, each used by the Manager where the engine has
// it, and otherwise replaced by the plainer path:
//
//   - [Swapper]: compare-and-swap on the bytes a request loaded. With it,
//     concurrent requests keep each other's changes (the Manager merges
//     key by key); without it the last writer wins, as in Django.
//   - [Toucher]: extend a record's expiry without rewriting it, for the
//     idle timeout and SaveEveryRequest; without it the Manager swaps the
//     same bytes (or updates them).
//   - [ExpiredDeleter]: Django's clearsessions ([Manager.ClearExpired]);
//     leave it out when the store expires records by itself.
//   - [Lister]: every live key ([Manager.Keys], the CLI, migrations).
//   - [Counter]: cheap counts of what the store holds ([Manager.Stats],
//     "sessions stats"); without it Stats lists every key (with Lister).
//   - [UserIndexer]: the user index behind [Manager.BindUser] and
//     [Manager.DeleteUser] ("log out everywhere").
//   - [ExpiryReader]: a record with its stored expiry ([Manager.Inspect];
//     cached_db uses it to give a cached copy the row's lifetime).
//   - [Codecer]: the engine's own stored format (Django's cache engines
//     store a pickle; the signed-cookie engine another salt).
//   - [Describer]: the engine's name in errors and where it keeps data.
//
// A store that keeps sessions in the cookie instead implements
// [ClientSide] (Seal, Open, Close) rather than Engine.
//
// Register a URL scheme in an init function with [Register]; read the
// URL's parameters with [ParseParams] so that unknown ones are errors,
// set EngineInfo.NoLocation when the config string takes no host or
// path, and never put credentials in an error. Then make the shared
// suite pass, against a real server, with -race:
//
//	func TestConformance(t *testing.T) {
//		h := conformance.Harness{New: func(t *testing.T) sessions.Backend { ... }}
//		conformance.Run(t, h)        // the storage contract, optional interfaces included
//		conformance.RunManager(t, h) // Django's session and middleware behaviour over it
//		conformance.RunFaults(t, h)  // outages and deadlines, with Harness.NewFaulty
//	}
package sessions
