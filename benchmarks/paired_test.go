package benchmarks

import (
	"context"
	"database/sql"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/redis/go-redis/v9"
	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/sqlstore"
	"github.com/sessionkit/sessions/internal/testservers"
)

// On loopback a round trip costs 10-20 µs and, on a small VM, jumps
// between those two levels with scheduling, so ours and the floor timed in
// separate benchmarks can land on different levels. The paired benchmarks
// time both in the same loop, alternating which goes first, and report
// ours-ns/op, floor-ns/op and their ratio: both sides see the same
// conditions.

type pairOps struct {
	ours  func(b *testing.B)
	floor func(b *testing.B)
}

func runPaired(b *testing.B, p pairOps) {
	var to, tf time.Duration
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if i%2 == 0 {
			t0 := time.Now()
			p.ours(b)
			t1 := time.Now()
			p.floor(b)
			to += t1.Sub(t0)
			tf += time.Since(t1)
		} else {
			t0 := time.Now()
			p.floor(b)
			t1 := time.Now()
			p.ours(b)
			tf += t1.Sub(t0)
			to += time.Since(t1)
		}
		i++
	}
	n := float64(b.N)
	b.ReportMetric(float64(to.Nanoseconds())/n, "ours-ns/op")
	b.ReportMetric(float64(tf.Nanoseconds())/n, "floor-ns/op")
	if tf > 0 {
		b.ReportMetric(float64(to)/float64(tf), "ours/floor")
	}
}

// pairedRequests builds the read-only and read-write pairs for a Manager
// and the floor operations.
func pairedRequests(b *testing.B, m *sessions.Manager, floorRead, floorWrite func(b *testing.B)) {
	cookie := seed(b, m, baseData(0))
	for _, kind := range []string{"read", "write"} {
		h := m.Handler(map[string]http.Handler{"read": readHandler, "write": writeHandler}[kind])
		floor := map[string]func(*testing.B){"read": floorRead, "write": floorWrite}[kind]
		b.Run(kind, func(b *testing.B) {
			runPaired(b, pairOps{
				ours:  func(b *testing.B) { request(b, h, "sessionid", cookie) },
				floor: floor,
			})
		})
	}
}

func redisFloorOps(b *testing.B, c redis.UniversalClient) (read, write func(*testing.B)) {
	ctx := context.Background()
	key := ":1:django.contrib.sessions.cache" + sessions.NewKey()
	c.Set(ctx, key, pickled(b), time.Hour)
	read = func(b *testing.B) {
		if _, err := c.Get(ctx, key).Bytes(); err != nil {
			b.Fatal(err)
		}
	}
	write = func(b *testing.B) {
		v, err := c.Get(ctx, key).Bytes()
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Set(ctx, key, v, time.Hour).Err(); err != nil {
			b.Fatal(err)
		}
	}
	return read, write
}

func sqlFloorOps(b *testing.B, driver, dsn string, d sqlstore.Dialect) (read, write func(*testing.B)) {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if d == sqlstore.SQLite {
		db.SetMaxOpenConns(1)
	}
	table := "pf_" + sessions.NewKey()[:8]
	for _, q := range d.CreateTableSQL(table) {
		if _, err := db.Exec(q); err != nil {
			b.Fatal(err)
		}
	}
	ph := func(n int) string {
		if d == sqlstore.Postgres {
			return "$" + string(rune('0'+n))
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
	key := sessions.NewKey()
	if _, err := db.Exec("INSERT INTO "+table+" VALUES ("+ph(1)+", "+ph(2)+", "+ph(3)+")", key, string(encoded(b)), ts(time.Now().Add(time.Hour))); err != nil {
		b.Fatal(err)
	}
	sel, err := db.Prepare("SELECT session_data FROM " + table + " WHERE session_key = " + ph(1) + " AND expire_date > " + ph(2))
	if err != nil {
		b.Fatal(err)
	}
	upd, err := db.Prepare("UPDATE " + table + " SET session_data = " + ph(1) + ", expire_date = " + ph(2) + " WHERE session_key = " + ph(3) + " AND expire_date > " + ph(4))
	if err != nil {
		b.Fatal(err)
	}
	var got string
	read = func(b *testing.B) {
		if err := sel.QueryRow(key, ts(time.Now())).Scan(&got); err != nil {
			b.Fatal(err)
		}
	}
	write = func(b *testing.B) {
		now := time.Now()
		if err := sel.QueryRow(key, ts(now)).Scan(&got); err != nil {
			b.Fatal(err)
		}
		// A changed value, so MySQL cannot skip an unchanged row.
		v := got[:len(got)-1] + string('a'+byte(now.UnixNano()%26))
		if _, err := upd.Exec(v, ts(now.Add(time.Hour)), key, ts(now)); err != nil {
			b.Fatal(err)
		}
	}
	return read, write
}

func BenchmarkPaired(b *testing.B) {
	b.Run("SQLite", func(b *testing.B) {
		dir := b.TempDir()
		m := openManager(b, "sqlite://"+filepath.Join(dir, "ours.db")+"?create_table=true")
		r, w := sqlFloorOps(b, "sqlite", filepath.Join(dir, "floor.db")+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)", sqlstore.SQLite)
		pairedRequests(b, m, r, w)
	})
	b.Run("Postgres", func(b *testing.B) {
		pg := testservers.SharedPostgres(b)
		m := openManager(b, pg.URL()+"&create_table=true&table=pours_"+sessions.NewKey()[:8])
		r, w := sqlFloorOps(b, "pgx", pg.URL(), sqlstore.Postgres)
		pairedRequests(b, m, r, w)
	})
	b.Run("MariaDB", func(b *testing.B) {
		my := testservers.SharedMariaDB(b)
		m := openManager(b, my.URL()+"?create_table=true&table=pours_"+sessions.NewKey()[:8])
		r, w := sqlFloorOps(b, "mysql", "root@tcp("+my.Host+":"+itoa(my.Port)+")/"+my.Database, sqlstore.MySQL)
		pairedRequests(b, m, r, w)
	})
	b.Run("Redis", func(b *testing.B) {
		rs := testservers.SharedRedis(b)
		m := openManager(b, rs.URL()+"?key_prefix=p"+sessions.NewKey()[:6])
		c := redis.NewClient(&redis.Options{Addr: rs.Addr})
		b.Cleanup(func() { c.Close() })
		r, w := redisFloorOps(b, c)
		pairedRequests(b, m, r, w)
	})
	b.Run("RedisCluster", func(b *testing.B) {
		cl := testservers.StartRedisCluster(b, 3)
		m := openManager(b, cl.URL())
		c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs})
		b.Cleanup(func() { c.Close() })
		r, w := redisFloorOps(b, c)
		pairedRequests(b, m, r, w)
	})
	b.Run("Memcached", func(b *testing.B) {
		m1, m2 := testservers.SharedMemcached(b), testservers.StartMemcached(b)
		m := openManager(b, "memcached://"+m1.Addr+","+m2.Addr+"?key_prefix=p"+sessions.NewKey()[:6])
		c := memcache.New(m1.Addr, m2.Addr)
		key := ":1:django.contrib.sessions.cache" + sessions.NewKey()
		c.Set(&memcache.Item{Key: key, Value: pickled(b), Flags: 1, Expiration: 3600})
		r := func(b *testing.B) {
			if _, err := c.Get(key); err != nil {
				b.Fatal(err)
			}
		}
		w := func(b *testing.B) {
			it, err := c.Get(key)
			if err != nil {
				b.Fatal(err)
			}
			if err := c.Set(&memcache.Item{Key: key, Value: it.Value, Flags: 1, Expiration: 3600}); err != nil {
				b.Fatal(err)
			}
		}
		pairedRequests(b, m, r, w)
	})
	b.Run("CachedDB", func(b *testing.B) {
		rs := testservers.SharedRedis(b)
		dir := b.TempDir()
		cache := rs.URL() + "?key_prefix=pc" + sessions.NewKey()[:6]
		db := "sqlite://" + filepath.Join(dir, "cdb.sqlite3") + "?create_table=true"
		m := openManager(b, "cached-db:?cache="+url.QueryEscape(cache)+"&db="+url.QueryEscape(db))
		c := redis.NewClient(&redis.Options{Addr: rs.Addr})
		b.Cleanup(func() { c.Close() })
		ctx := context.Background()
		be, err := sessions.OpenEngine(ctx, "sqlite://"+filepath.Join(dir, "floor.sqlite3")+"?create_table=true", settings())
		if err != nil {
			b.Fatal(err)
		}
		e := be.(sessions.Engine)
		b.Cleanup(func() { e.Close() })
		key := sessions.NewKey()
		ck := ":1:django.contrib.sessions.cached_db" + key
		data := encoded(b)
		e.Create(ctx, key, data, time.Now().Add(time.Hour))
		c.Set(ctx, ck, pickled(b), time.Hour)
		r := func(b *testing.B) {
			if _, err := c.Get(ctx, ck).Bytes(); err != nil {
				b.Fatal(err)
			}
		}
		w := func(b *testing.B) {
			v, err := c.Get(ctx, ck).Bytes()
			if err != nil {
				b.Fatal(err)
			}
			if err := e.Update(ctx, key, data, time.Now().Add(time.Hour)); err != nil {
				b.Fatal(err)
			}
			if err := c.Set(ctx, ck, v, time.Hour).Err(); err != nil {
				b.Fatal(err)
			}
		}
		pairedRequests(b, m, r, w)
	})
}
