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
//	cached-db:?...&plain_copies=true   (Options.PlainCopies: while v0.1.0 processes share the cache)
//	cached-db:?...&sync_install=true   (Options.SyncInstall: install a write's copy before it returns)
//
// Both URLs are escaped query values, for example
// cached-db:?cache=redis%3A%2F%2F127.0.0.1%3A6379%2F0&db=postgres%3A%2F%2Fapp%40db%2Fapp.
// The cache URL gets logical_prefix=django.contrib.sessions.cached_db
// unless it names one. With no database configured the "db" default
// applies (the SQLite file db.sqlite3). Give the cache client short
// timeouts (redis: read_timeout, write_timeout, dial_timeout; memcached:
// timeout): a write waits for them when the cache stalls. The database's
// query_timeout (10 s by default on PostgreSQL and MySQL, see sqlstore)
// bounds what a read that misses the cache, and a write, wait for a
// database that stalls.
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
// Both hold as far as the cache keeps what it acknowledged. A replicated
// cache (Redis behind Sentinel, a Redis Cluster with replicas) that fails
// over to a replica that had not received the latest claims and deletes
// serves the copies they replaced: an acknowledged logout, save or
// DeleteUser is undone through the cache, though the database has it
// right (the conformance suite's Failover mode shows all three). Give such
// a cache's URL wait_replicas=1 (see package redisstore, Replication):
// each claim and delete then waits for a replica, and the suite passes.
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
//     whatever replaced it. If the cache fails at this point, the claim
//     stays until it expires: readers go to the database meanwhile. A
//     write (Create, Update, Swap, Touch) does this step after it has
//     returned, in the background (see below); a delete before it
//     returns.
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
// removes that copy; only if the cache fails again at that moment is a
// copy left that may be stale (the write then fails, or, installed in the
// background, is logged: see below).
//
// The install in the background. The write's claim is in the cache from
// before its database step until the install replaces it, so whatever
// reads the key meanwhile, in any process, reads the database, which
// holds the acknowledged write; a write that follows, in another
// process, finds a live claim and takes the overlapping writes' path. If
// the install never happens (the process dies, the cache fails), the
// claim expires and readers refill the cache from the database, which
// holds the write. A claim lost after the database step (evicted, or the
// cache restarted empty) is harmless too: any refill reads the write.
// So the response need not wait for the install, and neither guarantee
// above changes, with one exception, a double fault: if the claim is
// lost before the database step and a reader puts back the old copy
// meanwhile (see above), the install finds its claim gone and removes
// that copy; should the cache fail at that very moment too, the write
// has already been acknowledged, so the failure is only logged, and the
// old copy may be served until it expires. Synchronous installs
// (Options.SyncInstall, sync_install=true in the URL) return that
// failure to the request instead (when the cache answers the install's
// swap and then fails; when the swap itself fails they too take it for
// an outage that left the claim in place). That is why a delete (a
// logout, DeleteUser, CycleKey's old key) always installs before it
// returns. The background install is the default: it takes a cache
// round trip and the conversion to the cache's format out of every
// write's response.
//
// Background installs run one goroutine per write, on a context detached
// from the request's (context.WithoutCancel) and bounded by
// WriteTimeout; their errors are logged, as a failed request's would be
// by the Manager's error handler. Close waits for them. A write of the
// same key in the same process first waits for the key's pending install
// (at most ReadTimeout), so that it finds the new copy. A load there
// does not wait: while the cache holds the pending write's claim as the
// write left it, no other write has begun its database step since, so
// the load returns the copy being installed (until the session's
// expiry), and the row is not read; finding another claim, it waits for
// the key's pending installs, as a write does, and reads the cache
// again. A request in another process that comes
// within a cache round trip of the response reads the database instead,
// and a write there finds the claim and installs nothing: the key is
// then read from the database until the claims expire (at most
// WriteTimeout + ClockSkew).
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
//     the claim, the database's CAS of the row: 2 RTT and 1 database
//     round trip before the response, as Django's cached_db (GET, UPDATE,
//     SET); then, in the background, a CAS installing the new copy (+1 on
//     memcached). On a copy Django wrote, the row is read first: 2
//     database round trips. With Options.SyncInstall the install is in
//     the response's path: 3 RTT (+1).
//   - New session (Create): an add for the claim, the database insert:
//     1 RTT and 1 database round trip; then the install (+1 on memcached).
//   - Touch, Update: a read and a CAS for the claim, the database write: 2
//     RTT; then the install (+1 on memcached).
//   - Delete (logout): a read and a CAS for the claim, the database
//     delete, a CAS removing the claim: 3 RTT (+1 on memcached for the
//     last), all before it returns.
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
// format. The copies this store writes carry, after the pickle, the
// row's bytes they were made from (see Formats): Swap compares the row
// with those, at the cost of a plain update. For a copy without them (one
// Django wrote), or when the row no longer holds them (perhaps
// rewritten with the same session), Swap reads the row and compares the
// decoded sessions: one more database read. Over a database
// engine that cannot compare-and-swap the engine has no Swap at all (see
// New), and concurrent writes of one session are last-write-wins.
//
// # Formats
//
// The Manager writes the database's format (Django's signed JSON) and
// reads both that and the cache's (Django's pickle). The store converts a
// row to the cache's format itself (a write's new copy, a refill), with
// the codecs it is built with (Options.Codec, Options.CacheCodec), which
// the URL opener takes from the settings it is given. After the pickle's
// STOP opcode, a copy holds the row's stored bytes and a trailer
// (internal/djcache.AppendRow); pickle readers ignore what follows STOP
// (Python's pickle.loads, so Django, and this module's pickle codec of the
// cache engines), so the copy reads as the session alone; it is larger by
// the row's size. (v0.1.0 of this module reads such a copy as a corrupt
// session: while its processes share the cache, set Options.PlainCopies,
// plain_copies=true in the URL.) The Manager reads such a copy from the
// row, which decodes faster than the pickle (the pickle serves if the row
// does not decode, after a secret key was rotated, for example). A copy
// too large for the cache with the row is stored without it. When the
// Manager encrypts (Settings.EncryptionKeys) or uses Settings.Codec, the
// cache holds the rows' bytes as they are (Options.Verbatim): encrypted,
// never a readable pickle.
//
// # Sharing with Django
//
// Django reads a claim as a cache miss (it is a pickled None) and reads
// the database. But Django's own cached_db writes the cache without
// claims: a Django process writing or refilling sessions in a cache shared
// with this engine can put back a stale copy, as Django alone can.
package cacheddb
