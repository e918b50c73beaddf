package benchmarks

import (
	"context"
	"database/sql"
	"net/url"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/alexedwards/scs/pgxstore"
	"github.com/alexedwards/scs/sqlite3store"
	"github.com/alexedwards/scs/v2"
	"github.com/bradfitz/gomemcache/memcache"
	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/mattn/go-sqlite3"
	"github.com/redis/go-redis/v9"
	"github.com/sessionkit/sessions"
	_ "github.com/sessionkit/sessions/all"
	"github.com/sessionkit/sessions/backends/sqlstore"
	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/codec/pickle"
	"github.com/sessionkit/sessions/internal/testservers"
)

// fixture is one store set up three ways on the same server: our Manager,
// the raw floor (the bare store operations a request cannot avoid:
// read-only and read-write), and scs's SessionManager where scs has a
// store for it. Every store benchmark (separate, interleaved, through the
// delaying proxy, parallel) is built from these, so they all measure the
// same thing.
type fixture struct {
	ours                  *sessions.Manager
	floorRead, floorWrite func(testing.TB)
	scs                   *scs.SessionManager // nil: scs has no store for it
	// control makes the floor's operations again on a client or pool of
	// their own (and a key or table of their own): the interleaved
	// benchmarks time it beside the floor, an A/A comparison that shows
	// how far two measurements of the same work drift apart in one loop.
	control func(testing.TB) (read, write func(testing.TB))
	// floor opens the floor's operations on keys, a client or pool and a
	// table of their own: the parallel benchmark serves its floor from
	// them, on as many sessions as ours.
	floor func(testing.TB) floorOps
	// casWrite, where the store's write without lost updates costs the
	// server more than a plain write (a Lua script on Redis, cas on
	// memcached), makes the read-write floor with that check-and-set, on
	// a client and key of its own: the interleaved benchmarks time it
	// beside the floor, so the report shows what the check-and-set itself
	// costs and what ours adds beyond it.
	casWrite func(testing.TB) func(testing.TB)
	// twin opens our Manager again, as ours was opened but with a client
	// or pool and keys or a table of its own: the interleaved benchmarks
	// time its requests beside ours, the same A/A comparison for our
	// side.
	twin func(testing.TB) *sessions.Manager
}

// withControl returns f with its floor made by ops (on one key), and
// the same again as its control.
func (f fixture) withControl(tb testing.TB, ops func(testing.TB) floorOps) fixture {
	f.floor = ops
	f.control = func(tb testing.TB) (read, write func(testing.TB)) { return ops(tb).one(tb) }
	f.floorRead, f.floorWrite = f.control(tb)
	return f
}

// floorOps are a store's bare operations, the floor of a request, on the
// sessions add stores: read is a read-only request's (the load), write a
// read-write one's (the load and the save).
type floorOps struct {
	add         func() (key string, err error) // stores the standard session under a new key
	read, write func(key string) error
}

// one returns o's read-only and read-write floor on one session of its
// own.
func (o floorOps) one(tb testing.TB) (read, write func(testing.TB)) {
	key, err := o.add()
	if err != nil {
		tb.Fatal(err)
	}
	must := func(op func(string) error) func(testing.TB) {
		return func(tb testing.TB) {
			if err := op(key); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return must(o.read), must(o.write)
}

// withTwin returns f with ours opened by open, and open as its twin.
func (f fixture) withTwin(tb testing.TB, open func(testing.TB) *sessions.Manager) fixture {
	f.ours, f.twin = open(tb), open
	return f
}

func openManager(tb testing.TB, config string) *sessions.Manager {
	tb.Helper()
	m, err := sessions.Open(context.Background(), config, settings())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { m.Close() })
	return m
}

// suffix is a short random name part, so fixtures sharing a server do not
// share tables or keys.
func suffix() string { return sessions.NewKey()[:8] }

// encoded returns the stored bytes of the standard session, as the
// Manager writes them to a database, file or bolt.
func encoded(tb testing.TB) []byte {
	v, err := codec.Signed{Key: secret}.Encode(codec.NewDict(sessionData()))
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// pickled returns the standard session as the cache engines store it.
func pickled(tb testing.TB) []byte {
	v, err := pickle.Codec{}.Encode(codec.NewDict(sessionData()))
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// redisKV is the cache engines' floor operations on Redis: a GET, and a
// SET PX of an hour, of keys under prefix.
type redisKV struct {
	c      redis.UniversalClient
	prefix string
}

func (r redisKV) get(key string) ([]byte, error) {
	return r.c.Get(context.Background(), r.prefix+key).Bytes()
}

// load is get for a read that only waits for the value.
func (r redisKV) load(key string) error {
	_, err := r.get(key)
	return err
}

func (r redisKV) set(key string, v []byte) error {
	return r.c.Set(context.Background(), r.prefix+key, v, time.Hour).Err()
}

// redisFloorOps: one GET (read-only); GET + SET PX (read-write).
func redisFloorOps(tb testing.TB, c redis.UniversalClient) floorOps {
	kv, v := redisKV{c, ":1:django.contrib.sessions.cache"}, pickled(tb)
	return floorOps{
		add: func() (string, error) {
			key := sessions.NewKey()
			return key, kv.set(key, v)
		},
		read: kv.load,
		write: func(key string) error {
			v, err := kv.get(key)
			if err != nil {
				return err
			}
			return kv.set(key, v)
		},
	}
}

// casScript is the check-and-set a no-lost-update write needs: compare
// the stored bytes, then SET PX (what redisstore's Swap runs).
var casScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
if cur ~= ARGV[1] then return -1 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`)

// redisCASWrite: GET + the check-and-set script, the floor of a write
// that cannot lose a concurrent update.
func redisCASWrite(tb testing.TB, c redis.UniversalClient) func(testing.TB) {
	ctx := context.Background()
	key := ":1:django.contrib.sessions.cache" + sessions.NewKey()
	if err := c.Set(ctx, key, pickled(tb), time.Hour).Err(); err != nil {
		tb.Fatal(err)
	}
	return func(tb testing.TB) {
		v, err := c.Get(ctx, key).Bytes()
		if err != nil {
			tb.Fatal(err)
		}
		if err := casScript.Run(ctx, c, []string{key}, v, v, 3600000).Err(); err != nil {
			tb.Fatal(err)
		}
	}
}

// sqlFloorOps: SELECT by key (read-only); SELECT + UPDATE of a changed
// value (read-write), with prepared statements on Django's table.
func sqlFloorOps(tb testing.TB, driver, dsn string, d sqlstore.Dialect) floorOps {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if d == sqlstore.SQLite {
		db.SetMaxOpenConns(1)
	} else {
		// The pool the engine opens (max_open_conns and max_idle_conns
		// 20): database/sql keeps only two idle connections by default,
		// so under parallel load the floor would dial and close
		// connections that ours keeps.
		db.SetMaxOpenConns(20)
		db.SetMaxIdleConns(20)
	}
	table := "floor_" + suffix()
	for _, q := range d.CreateTableSQL(table) {
		if _, err := db.Exec(q); err != nil {
			tb.Fatal(err)
		}
	}
	ph := func(n int) string {
		if d == sqlstore.Postgres {
			return "$" + strconv.Itoa(n)
		}
		return "?"
	}
	ts := func(t time.Time) any {
		t = t.UTC().Truncate(time.Microsecond)
		if d == sqlstore.Postgres {
			return t
		}
		return sqlstore.FormatTime(t)
	}
	ins, err := db.Prepare("INSERT INTO " + table + " VALUES (" + ph(1) + ", " + ph(2) + ", " + ph(3) + ")")
	if err != nil {
		tb.Fatal(err)
	}
	sel, err := db.Prepare("SELECT session_data FROM " + table + " WHERE session_key = " + ph(1) + " AND expire_date > " + ph(2))
	if err != nil {
		tb.Fatal(err)
	}
	upd, err := db.Prepare("UPDATE " + table + " SET session_data = " + ph(1) + ", expire_date = " + ph(2) + " WHERE session_key = " + ph(3) + " AND expire_date > " + ph(4))
	if err != nil {
		tb.Fatal(err)
	}
	data := string(encoded(tb))
	return floorOps{
		add: func() (string, error) {
			key := sessions.NewKey()
			_, err := ins.Exec(key, data, ts(time.Now().Add(time.Hour)))
			return key, err
		},
		read: func(key string) error {
			var got string
			return sel.QueryRow(key, ts(time.Now())).Scan(&got)
		},
		write: func(key string) error {
			now := time.Now()
			var got string
			if err := sel.QueryRow(key, ts(now)).Scan(&got); err != nil {
				return err
			}
			// A changed value, so MySQL cannot skip an unchanged row.
			v := got[:len(got)-1] + string('a'+byte(now.UnixNano()%26))
			_, err := upd.Exec(v, ts(now.Add(time.Hour)), key, ts(now))
			return err
		},
	}
}

// redisFixture: Redis at addr (the server, or a proxy in front of it).
func redisFixture(tb testing.TB, addr string) fixture {
	sc := redis.NewClient(&redis.Options{Addr: addr})
	tb.Cleanup(func() { sc.Close() })
	sm := scs.New()
	sm.Store = goredisstore.New(sc)
	f := fixture{scs: sm}.withTwin(tb, func(tb testing.TB) *sessions.Manager {
		return openManager(tb, "redis://"+addr+"/0?key_prefix=b"+suffix())
	})
	f = f.withControl(tb, func(tb testing.TB) floorOps {
		c := redis.NewClient(&redis.Options{Addr: addr})
		tb.Cleanup(func() { c.Close() })
		return redisFloorOps(tb, c)
	})
	f.casWrite = func(tb testing.TB) func(testing.TB) {
		c := redis.NewClient(&redis.Options{Addr: addr})
		tb.Cleanup(func() { c.Close() })
		return redisCASWrite(tb, c)
	}
	return f
}

// redisClusterFixture: a Redis Cluster (scs has no cluster store).
func redisClusterFixture(tb testing.TB, cl *testservers.RedisCluster) fixture {
	f := fixture{}.withTwin(tb, func(tb testing.TB) *sessions.Manager {
		return openManager(tb, cl.URL()+"?key_prefix=b"+suffix())
	})
	f = f.withControl(tb, func(tb testing.TB) floorOps {
		c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs})
		tb.Cleanup(func() { c.Close() })
		return redisFloorOps(tb, c)
	})
	return f
}

// memcachedFixture: memcached servers at addrs (scs has no memcached
// store). The floor is gomemcache's Get; Get + Set.
func memcachedFixture(tb testing.TB, addrs ...string) fixture {
	cfg := "memcached://"
	for i, a := range addrs {
		if i > 0 {
			cfg += ","
		}
		cfg += a
	}
	f := fixture{}.withTwin(tb, func(tb testing.TB) *sessions.Manager { return openManager(tb, cfg+"?key_prefix=b"+suffix()) })
	f = f.withControl(tb, func(tb testing.TB) floorOps { return memcachedFloorOps(tb, addrs...) })
	f.casWrite = func(tb testing.TB) func(testing.TB) { return memcachedCASWrite(tb, addrs...) }
	return f
}

// memcachedCASWrite: gets + cas, the floor of a write that cannot lose a
// concurrent update (the plain floor's gets + set), on a client of its
// own.
func memcachedCASWrite(tb testing.TB, addrs ...string) func(testing.TB) {
	c := memcache.New(addrs...)
	key := ":1:django.contrib.sessions.cache" + sessions.NewKey()
	if err := c.Set(&memcache.Item{Key: key, Value: pickled(tb), Flags: 1, Expiration: 3600}); err != nil {
		tb.Fatal(err)
	}
	return func(tb testing.TB) {
		it, err := c.Get(key)
		if err != nil {
			tb.Fatal(err)
		}
		if err := c.CompareAndSwap(it); err != nil {
			tb.Fatal(err)
		}
	}
}

// memcachedFloorOps: gomemcache's Get; Get + Set, on a client of their
// own.
func memcachedFloorOps(tb testing.TB, addrs ...string) floorOps {
	c := memcache.New(addrs...)
	// The engine's max_idle_conns: gomemcache keeps two idle connections
	// a server by default, so under parallel load the floor would dial
	// and close connections that ours keeps.
	c.MaxIdleConns = 16
	v := pickled(tb)
	const prefix = ":1:django.contrib.sessions.cache"
	return floorOps{
		add: func() (string, error) {
			key := sessions.NewKey()
			return key, c.Set(&memcache.Item{Key: prefix + key, Value: v, Flags: 1, Expiration: 3600})
		},
		read: func(key string) error {
			_, err := c.Get(prefix + key)
			return err
		},
		write: func(key string) error {
			it, err := c.Get(prefix + key)
			if err != nil {
				return err
			}
			return c.Set(&memcache.Item{Key: prefix + key, Value: it.Value, Flags: 1, Expiration: 3600})
		},
	}
}

// postgresFixture: PostgreSQL pg reached at addr (the server, or a proxy
// in front of it); scs uses its pgx store in a database of its own (its
// table is always named sessions).
func postgresFixture(tb testing.TB, pg *testservers.Postgres, addr string) fixture {
	dbURL := func(db string) string { return "postgres://" + pg.User + "@" + addr + "/" + db + "?sslmode=disable" }
	f := fixture{}.withTwin(tb, func(tb testing.TB) *sessions.Manager {
		return openManager(tb, dbURL(pg.Database)+"&create_table=true&table=ours_"+suffix())
	})
	f = f.withControl(tb, func(tb testing.TB) floorOps {
		return sqlFloorOps(tb, "pgx", dbURL(pg.Database), sqlstore.Postgres)
	})
	scsDB := "scs_" + suffix()
	pg.CreateDatabase(tb, scsDB)
	pool, err := pgxpool.New(context.Background(), dbURL(scsDB))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	if _, err := pool.Exec(context.Background(), `CREATE TABLE sessions (token TEXT PRIMARY KEY, data BYTEA NOT NULL, expiry TIMESTAMPTZ NOT NULL);
		CREATE INDEX sessions_expiry_idx ON sessions (expiry)`); err != nil {
		tb.Fatal(err)
	}
	f.scs = scs.New()
	f.scs.Store = pgxstore.NewWithCleanupInterval(pool, 0)
	return f
}

// mariadbFixture: MariaDB my reached at addr (scs's MySQL store is not
// measured).
func mariadbFixture(tb testing.TB, my *testservers.MariaDB, addr string) fixture {
	f := fixture{}.withTwin(tb, func(tb testing.TB) *sessions.Manager {
		return openManager(tb, "mysql://"+my.User+"@"+addr+"/"+my.Database+"?create_table=true&table=ours_"+suffix())
	})
	f = f.withControl(tb, func(tb testing.TB) floorOps {
		return sqlFloorOps(tb, "mysql", my.User+"@tcp("+addr+")/"+my.Database, sqlstore.MySQL)
	})
	return f
}

// sqliteFixture: the embedded default, SQLite through modernc.org/sqlite
// (pure Go), for ours and the floor (scs has no store on this driver).
func sqliteFixture(tb testing.TB) fixture {
	dir := tb.TempDir()
	f := fixture{}.withTwin(tb, func(tb testing.TB) *sessions.Manager {
		return openManager(tb, "sqlite://"+filepath.Join(dir, "ours-"+suffix()+".sqlite3")+"?create_table=true")
	})
	f = f.withControl(tb, func(tb testing.TB) floorOps {
		return sqlFloorOps(tb, "sqlite", filepath.Join(dir, "floor-"+suffix()+".sqlite3")+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)", sqlstore.SQLite)
	})
	return f
}

// sqliteMattnFixture: SQLite through mattn/go-sqlite3 (cgo), the driver
// scs's store uses, for ours, scs and the floor: the same store for all
// three, with the same pragmas and one connection each.
func sqliteMattnFixture(tb testing.TB) fixture {
	dir := tb.TempDir()
	open := func(name string) *sql.DB {
		db, err := sql.Open("sqlite3", filepath.Join(dir, name)+"?_journal_mode=WAL&_busy_timeout=5000&_synchronous=NORMAL")
		if err != nil {
			tb.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		tb.Cleanup(func() { db.Close() })
		return db
	}
	f := fixture{}.withTwin(tb, func(tb testing.TB) *sessions.Manager {
		st, err := sqlstore.New(open("ours-"+suffix()+".sqlite3"), sqlstore.SQLite, &sqlstore.Options{CreateTable: true})
		if err != nil {
			tb.Fatal(err)
		}
		m, err := sessions.New(st, settings())
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { m.Close() })
		return m
	})
	db := open("scs.sqlite3")
	if _, err := db.Exec(`CREATE TABLE sessions (token TEXT PRIMARY KEY, data BLOB NOT NULL, expiry REAL NOT NULL); CREATE INDEX sessions_expiry_idx ON sessions(expiry);`); err != nil {
		tb.Fatal(err)
	}
	f.scs = scs.New()
	f.scs.Store = sqlite3store.NewWithCleanupInterval(db, 0)
	f = f.withControl(tb, func(tb testing.TB) floorOps {
		return sqlFloorOps(tb, "sqlite3", filepath.Join(dir, "floor-"+suffix()+".sqlite3")+"?_journal_mode=WAL&_busy_timeout=5000&_synchronous=NORMAL", sqlstore.SQLite)
	})
	return f
}

// cachedDBFixture: Redis at redisAddr in front of SQLite. The floor is
// what Django's cached_db does: a cache GET (read-only); a cache GET, the
// row UPDATE and a cache SET (read-write).
func cachedDBFixture(tb testing.TB, redisAddr string) fixture {
	dir := tb.TempDir()
	f := fixture{}.withTwin(tb, func(tb testing.TB) *sessions.Manager {
		cache := "redis://" + redisAddr + "/0?key_prefix=c" + suffix()
		db := "sqlite://" + filepath.Join(dir, "cdb-"+suffix()+".sqlite3") + "?create_table=true"
		return openManager(tb, "cached-db:?cache="+url.QueryEscape(cache)+"&db="+url.QueryEscape(db))
	})
	f = f.withControl(tb, func(tb testing.TB) floorOps { return cachedDBFloorOps(tb, redisAddr, dir) })
	return f
}

// cachedDBFloorOps: a cache GET; a cache GET, the row UPDATE and a cache
// SET, on a Redis client and a SQLite database of their own in dir.
func cachedDBFloorOps(tb testing.TB, redisAddr, dir string) floorOps {
	c := redis.NewClient(&redis.Options{Addr: redisAddr})
	tb.Cleanup(func() { c.Close() })
	ctx := context.Background()
	be, err := sessions.OpenEngine(ctx, "sqlite://"+filepath.Join(dir, "floor-"+suffix()+".sqlite3")+"?create_table=true", settings())
	if err != nil {
		tb.Fatal(err)
	}
	e := be.(sessions.Engine)
	tb.Cleanup(func() { e.Close() })
	kv := redisKV{c, ":1:django.contrib.sessions.cached_db"}
	data, v := encoded(tb), pickled(tb)
	return floorOps{
		add: func() (string, error) {
			key := sessions.NewKey()
			if err := e.Create(ctx, key, data, time.Now().Add(time.Hour)); err != nil {
				return "", err
			}
			return key, kv.set(key, v)
		},
		read: kv.load,
		write: func(key string) error {
			v, err := kv.get(key)
			if err != nil {
				return err
			}
			if err := e.Update(ctx, key, data, time.Now().Add(time.Hour)); err != nil {
				return err
			}
			return kv.set(key, v)
		},
	}
}

// run benchmarks a fixture's sides separately: ours, scs (if any) and the
// floor, read-only and read-write.
func (f fixture) run(b *testing.B, oursName, scsName, floorName string) {
	b.Run(oursName, func(b *testing.B) { oursPair(b, f.ours, sessionData()) })
	if f.scs != nil {
		b.Run(scsName, func(b *testing.B) { scsPair(b, f.scs) })
	}
	b.Run(floorName, func(b *testing.B) { pair(b, f.floorRead, f.floorWrite) })
}

func BenchmarkRedis(b *testing.B) {
	r := testservers.SharedRedis(b)
	redisFixture(b, r.Addr).run(b, "ours", "scs", "floor")
	b.Run("floor-cas", func(b *testing.B) {
		c := redis.NewClient(&redis.Options{Addr: r.Addr})
		defer c.Close()
		w := redisCASWrite(b, c)
		b.Run("write", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				w(b)
			}
		})
	})
}

func BenchmarkRedisCluster(b *testing.B) {
	redisClusterFixture(b, testservers.StartRedisCluster(b, 3)).run(b, "ours", "", "floor")
}

func BenchmarkMemcached(b *testing.B) {
	m1, m2 := testservers.SharedMemcached(b), testservers.StartMemcached(b)
	memcachedFixture(b, m1.Addr, m2.Addr).run(b, "ours", "", "floor")
}

func BenchmarkPostgres(b *testing.B) {
	pg := testservers.SharedPostgres(b)
	postgresFixture(b, pg, pg.Host+":"+strconv.Itoa(pg.Port)).run(b, "ours", "scs", "floor")
}

func BenchmarkMariaDB(b *testing.B) {
	my := testservers.SharedMariaDB(b)
	mariadbFixture(b, my, my.Host+":"+strconv.Itoa(my.Port)).run(b, "ours", "", "floor")
}

func BenchmarkSQLite(b *testing.B) {
	sqliteFixture(b).run(b, "ours", "", "floor")
	// Our engine over mattn/go-sqlite3 (cgo), the driver scs uses, to
	// compare with scs on the same store and separate driver cost from
	// library cost.
	sqliteMattnFixture(b).run(b, "ours-mattn", "scs-mattn", "floor-mattn")
}

func BenchmarkCachedDB(b *testing.B) {
	cachedDBFixture(b, testservers.SharedRedis(b).Addr).run(b, "ours", "", "floor")
}
