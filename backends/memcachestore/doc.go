// Package memcachestore is Django's cache session engine on memcached,
// through github.com/bradfitz/gomemcache, over one or several servers.
// Sessions are stored exactly as Django's
// django.contrib.sessions.backends.cache engine stores them with
// django.core.cache.backends.memcached.PyMemcacheCache, so a Go service
// and a Django site can share them.
//
// # URLs
//
//	memcached://127.0.0.1:11211                 one server (the port defaults to 11211)
//	memcached://h1:11211,h2:11211,h3:11211      several servers
//	memcached:///run/memcached/memcached.sock   a unix socket
//	memcache://...                              the same
//
// Parameters:
//
//	key_prefix=...       Django's CACHES KEY_PREFIX (default Settings.CacheKeyPrefix, "")
//	version=N            Django's CACHES VERSION (default Settings.CacheVersion, 1)
//	logical_prefix=...   default "django.contrib.sessions.cache"
//	format=pickle|json   see Format (default pickle)
//	timeout=500ms        socket read/write timeout (10ms-1m; default gomemcache's 500ms)
//	max_conns=N          connections open at once per server (1-100000; default 10 per
//	                     CPU, runtime.GOMAXPROCS, as go-redis's pool_size; see Contexts)
//	pool_timeout=...     how long a call waits for a connection while max_conns are busy
//	                     (1ms-1m; default the timeout)
//	max_idle_conns=16    idle connections kept per server (1-10000, at most max_conns;
//	                     default 16; see Contexts)
//	max_item_size=1m     the servers' item size limit, memcached's -I (default 1 MiB)
//	distribution=...     pymemcache (default, as Django) or crc32 (gomemcache's ServerList)
//
// An unknown parameter is an error, and so is a parameter given twice. A
// user name or password in the URL is an error: memcached takes no
// credentials. [New] wraps a *memcache.Client you built yourself; the
// Store does not close it, and runs its calls as Contexts says.
//
// A session lives on one server, chosen from its key. By default the
// choice is pymemcache's (the client of Django's PyMemcacheCache):
// rendezvous hashing of the server names (see [PymemcacheSelector]), so a
// Go service and a Django site listing the same servers under the same
// names look for a session on the same server. distribution=crc32
// chooses as gomemcache's ServerList does (CRC-32 of the key modulo the
// number of servers), for sharing with other Go programs that use
// gomemcache's default. Either way, adding or removing a server moves
// some sessions to a server where they are not found: their users are
// logged out.
//
// # Format
//
// The key of a session is "<key_prefix>:<version>:<logical_prefix><session key>",
// ":1:django.contrib.sessions.cache" followed by the session key with
// Django's defaults. Memcached keys are limited to 250 bytes without
// spaces or control characters; a prefix that would break that limit is
// refused when the engine is opened. The value is the session dict
// pickled with protocol 5 with memcached flags 1, pymemcache's
// FLAG_PICKLE (see package codec/pickle). Nothing is signed: anyone who
// can write to the servers can write sessions, as with Django. With
// format=json the value is the signed JSON of Django's database engines
// (flags 0), for Go-only deployments; Django cannot read it.
//
// # Expiry
//
// Memcached expires items itself, in whole seconds, on a clock that
// ticks once a second: an item stored with a relative expiry of N seconds
// lives between N-1 and N seconds. Expiries are therefore rounded up and
// one second is added, so a session never expires early (it may outlive
// its expiry by up to two seconds). An expiry more than 30 days ahead
// (2592000 s) is sent as an absolute Unix time, as memcached requires,
// and is capped at 2038-01-19 (memcached's 32-bit time).
//
// Create is add, Update is replace (a session deleted by a concurrent
// request is never brought back), Swap compares the stored bytes and
// writes with cas (check-and-set on the CAS id from gets), Touch is
// touch. An expiry in the past deletes the session. A read-only request
// costs one round trip (gets); a read-write request two (gets, then cas
// with the CAS id remembered from that gets; a third when another
// request wrote meanwhile). There is no DeleteExpired
// (sessions.ExpiredDeleter): with nothing to remove, Manager.ClearExpired
// reports 0, as Django's clear_expired does for the cache engine.
// Memcached cannot list its keys, so there is no List.
//
// # Eviction
//
// Memcached is a cache: when its memory is full it evicts the least
// recently used items, and a restarted server starts empty. For a user,
// an evicted session is a logout: the next request finds no session and
// starts a new one. Size memcached so that sessions are not evicted, or
// use the database (or cached_db) engine when that matters.
//
// # Errors
//
// A missing or expired session is sessions.ErrNotFound; Create on a live
// key is sessions.ErrExists; Swap on changed data is
// sessions.ErrConflict. A value over the item size limit is
// sessions.ErrTooLarge (checked before sending, and mapped from the
// server's "SERVER_ERROR object too large for cache"). A server that
// cannot be reached gives an error naming the servers ("memcached
// unreachable (127.0.0.1:11211): dial tcp ...") that wraps gomemcache's
// error; the Manager hands it to Settings.ErrorHandler, and service
// returns by itself once the server is back. A context that ends gives
// the context's error (see Contexts). Opening resolves the server names but does not
// connect; a connection that went stale (a restarted server) is noticed
// and replaced on the next call, which then succeeds.
//
// # Contexts
//
// Every method returns within a few milliseconds of the end of its
// context (deadline or cancellation), with the context's error
// (errors.Is(err, context.DeadlineExceeded) or context.Canceled), even
// against a server that accepts connections and never answers. gomemcache
// takes no context and bounds each call by its timeout (timeout=, 500 ms
// by default), for the dial and again for the command.
//
// A Store opened from a URL runs each gomemcache call inline, on a lane:
// a gomemcache client of its own (the same servers and timeout) that
// serves one call at a time, taken from the Store's free list and given
// back after the call. When the context ends during the call, the lane's
// connections get an expired deadline (and keep one until the call
// returns), so the blocked read or write fails at once, and the dial of
// a new connection stops; gomemcache then closes that connection rather
// than return it to the pool, so a later call never reads the reply
// meant for the interrupted one. Nothing is left running. A lane keeps at
// most one idle connection per server, and max_idle_conns bounds the idle
// lanes, so at most max_idle_conns idle connections per server are kept;
// lanes beyond it are closed as their calls end. At most max_conns lanes
// exist at a time, so at most max_conns connections to any one server are
// open: a call that finds them all busy waits for one, first come first
// served, for pool_timeout (and no longer than its context), and then
// fails with a timeout ("memcached unreachable (...): all 20 connections
// (max_conns) busy for 500ms (pool_timeout)", matching
// os.ErrDeadlineExceeded). A stalled server thus costs the process
// max_conns file descriptors however many requests pile up, where a
// gomemcache client opens one per waiting call; a call that waited for a
// connection may then wait the timeout for its command, so it ends within
// pool_timeout plus twice the timeout (dial, then command). Close closes
// the idle lanes, fails the calls waiting for one with
// sessions.ErrClosed, and closes each busy lane when its call ends. [Store.Client] returns a client with the Store's servers and
// settings, which the Store's own calls do not use.
//
// A Store over your own client ([New]) cannot reach that client's
// connections, nor bound them (gomemcache has no limit on open
// connections): with a context that can end, each gomemcache call runs in
// a goroutine of its own, which the method leaves behind when the context
// ends. That goroutine ends within twice the timeout (dial, then command)
// at the latest; gomemcache closes the connection of a command that
// failed rather than return it to the pool, so a later call never reads
// the reply meant for an abandoned one. That goroutine costs some tens of
// microseconds a call; open the Store from a URL to avoid it.
//
// Either way, a command already sent may still take effect on the
// server, as with any request that times out. A context that can never
// end (context.Background) runs the call inline with nothing to watch it.
package memcachestore
