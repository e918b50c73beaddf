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
//	wait_replicas=N     every write waits until N replicas acknowledged it (0-100;
//	                    default 0, none); see Replication
//	wait_timeout=500ms  how long a write waits for them (1ms-1m; shorter than
//	                    read_timeout and write_timeout)
//
// Pool and timeout parameters, checked here: pool_size (1-10000),
// min_idle_conns, max_idle_conns (0-10000), max_active_conns (0-100000),
// max_retries (0 or -1: no retries, up to 100; unset: go-redis's 3),
// dialer_retries (dial attempts per connection, 1-100), dial_timeout,
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
// (after cluster-node-timeout and an election: 2-7 s in the tests), and
// the Store serves the dead master's sessions again as soon as it has: a
// command that finds a node unreachable makes go-redis reload the slot
// map (in the background, at most every 200 ms), where go-redis alone
// waits for a MOVED reply, which a dead node never sends, or its reload
// every 60 s (TestClusterMasterDeath kills a master with a replica).
//
// # Replication
//
// Replication is asynchronous, in a Cluster as behind Sentinel: a write
// the master acknowledged and had not yet sent to its replica is lost
// when the replica takes over. For sessions that is a save, and also a
// logout (Flush, DeleteUser, CycleKey's old key): a failover in that
// window brings a deleted session back, so by default the promise that an
// acknowledged logout is never undone holds only as far as Redis keeps
// acknowledged writes. Redis's min-replicas-to-write and
// min-replicas-max-lag narrow the window (a master without a fresh
// replica refuses writes).
//
// wait_replicas=N (Options.WaitReplicas) closes it: every write (Create,
// Update, Swap, Touch, Delete, and the user index's) is sent with WAIT N
// in the same round trip, on a connection to the master of the key
// written, and the Store acknowledges it only once N replicas have it;
// when fewer did within wait_timeout, the call fails with an error
// matching ErrNotReplicated (the master applied the write), which the
// Manager reports as it reports any failed save, so a logout a failover
// could undo is not acknowledged. A failover that promotes a replica that
// acknowledged the write keeps it (Sentinel and Cluster prefer the
// replica with the most data; with several replicas, N of them is what
// makes the promoted one likely to hold every acknowledged write). The
// write and its WAIT go as a go-redis pipeline, which takes a connection
// of go-redis's pipeline pool (pipeline_pool_size, 10 by default) before
// one of pool_size's: a server that stalls can hold that many more
// connections of the Store. A write then costs the replica's
// acknowledgement, about one more round trip between master and replica,
// and while fewer than N replicas answer, every write fails after
// wait_timeout. Loads do not wait.
//
// With go-redis's defaults (3 retries, 5 dial attempts each) a command
// against a server that refuses connections fails after about 1.7 s;
// max_retries=0 brings that to 0.4 s and dialer_retries=1 further down,
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
// context's deadline. go-redis does not watch for cancellation, so a
// Store that opens its own client watches its connections: each call runs
// in the caller's goroutine, and its context's cancellation sets an
// expired deadline on the connection it is using, which ends a blocked
// read or write at once; go-redis then closes that connection rather than
// return it to the pool, so a later command never reads the reply meant
// for the interrupted one. (The call hands go-redis a deadline that only
// it uses, which tells the connection which call it serves, and a context
// that ends at that deadline; so a call as a whole, retries and waits for
// a connection of a full pool included, ends by the shorter of
// read_timeout and write_timeout, counted from its start, also under
// context.Background, with an error matching os.ErrDeadlineExceeded that
// says so. Without that, during a stall with more requests than
// pool_size, a call waited pool_timeout for a connection once per retry:
// 12 s with read_timeout=2s.) A command already sent may
// still take effect on the server, as with any request that times out. A
// client given to [New] is not watched: with a context that can end, each
// command runs in a goroutine of its own, which the method leaves behind
// when the context ends, and which ends at the context's deadline or,
// without one, by the client's read timeout (turn on its
// ContextTimeoutEnabled, or it waits for the read timeout even past a
// deadline).
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
