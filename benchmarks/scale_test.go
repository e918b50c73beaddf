package benchmarks

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	gsessions "github.com/gorilla/sessions"
	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/sqlstore"
	"github.com/sessionkit/sessions/internal/testservers"
)

// sweepSizes are the session sizes of BenchmarkSize, in bytes of JSON.
var sweepSizes = []int{100, 1000, 10_000, 100_000}

// BenchmarkSize shows how the cost of a request grows with the session's
// size (about 100 B, 1 KB, 10 KB and 100 KB of JSON: a cart of more and
// more items), read-only and read-write, on the memory engine (the codec
// and the middleware alone), SQLite and Redis. b.SetBytes reports the
// throughput in session bytes.
func BenchmarkSize(b *testing.B) {
	engines := []struct {
		name string
		open func(b *testing.B) *sessions.Manager
	}{
		{"memory", newMemoryManagerB},
		{"sqlite", func(b *testing.B) *sessions.Manager {
			return openManager(b, "sqlite://"+filepath.Join(b.TempDir(), "size.db")+"?create_table=true")
		}},
		{"redis", func(b *testing.B) *sessions.Manager {
			return openManager(b, testservers.SharedRedis(b).URL()+"?key_prefix=s"+suffix())
		}},
		{"cached_db", func(b *testing.B) *sessions.Manager {
			// Redis in front of SQLite: a write stores the session twice,
			// as a pickle in the cache and as signed JSON in the row.
			cache := testservers.SharedRedis(b).URL() + "?key_prefix=s" + suffix()
			db := "sqlite://" + filepath.Join(b.TempDir(), "size.db") + "?create_table=true"
			return openManager(b, "cached-db:?cache="+url.QueryEscape(cache)+"&db="+url.QueryEscape(db))
		}},
	}
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			m := e.open(b)
			for _, size := range sweepSizes {
				data := sizedData(size)
				n := jsonSize(data)
				r, w := oursOps(b, m, data)
				for _, kind := range []string{"read", "write"} {
					op := map[string]func(testing.TB){"read": r, "write": w}[kind]
					b.Run(kind+"/"+human(size), func(b *testing.B) {
						b.ReportAllocs()
						b.SetBytes(int64(n))
						for b.Loop() {
							op(b)
						}
					})
				}
			}
		})
	}
}

func newMemoryManagerB(b *testing.B) *sessions.Manager { return newMemoryManager(b) }

func human(n int) string {
	if n >= 1000 {
		return fmt.Sprintf("%dKB", n/1000)
	}
	return fmt.Sprintf("%dB", n)
}

// Parallel load: how many requests a core serves when many requests run
// at once on many sessions.
const (
	parallelSessions = 1000 // distinct sessions, each request picks one at random
	parallelWritePct = 20   // percentage of read-write requests; the rest read only
	parallelism      = 8    // goroutines per GOMAXPROCS (b.SetParallelism)
)

// client is one library on one store, as the parallel benchmark drives
// it: its two handlers, how it stores a new session, and whether the
// cookie changes on a write (signed cookies).
type client struct {
	cookieName  string
	read, write http.Handler
	newSession  func(tb testing.TB) string
	follow      bool
}

func oursClient(m *sessions.Manager) client {
	return client{
		cookieName: m.Settings().CookieName,
		read:       m.Handler(readHandler),
		write:      m.Handler(writeHandler),
		newSession: func(tb testing.TB) string { return seed(tb, m, sessionData()) },
		follow:     m.Describe().Name == "signed-cookies",
	}
}

func scsClient(sm *scs.SessionManager) client {
	r, w := scsHandlers(sm)
	return client{
		cookieName: sm.Cookie.Name,
		read:       r,
		write:      w,
		newSession: func(tb testing.TB) string { return scsSeed(tb, sm, sessionData()) },
	}
}

func gorillaClient(store gsessions.Store) client {
	r, w := gorillaHandlers(store)
	return client{
		cookieName: "sessionid",
		read:       r,
		write:      w,
		newSession: func(tb testing.TB) string { return gorillaCookie(tb, store, sessionData()).Value },
		follow:     true,
	}
}

// runParallel serves parallelWritePct% read-write and the rest read-only
// requests from parallelism×GOMAXPROCS goroutines, each on one of
// parallelSessions sessions picked at random, and reports requests per
// second per core (per GOMAXPROCS).
func runParallel(b *testing.B, c client) {
	jar := make([]atomic.Pointer[string], parallelSessions)
	for i := range jar {
		v := c.newSession(b)
		jar[i].Store(&v)
	}
	var seq atomic.Uint64
	b.ReportAllocs()
	b.SetParallelism(parallelism)
	cpu0 := cpuTime()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(seq.Add(1), 42))
		for pb.Next() {
			i := rng.IntN(len(jar))
			h, write := c.read, rng.IntN(100) < parallelWritePct
			if write {
				h = c.write
			}
			rec, err := do(h, c.cookieName, *jar[i].Load())
			if err != nil {
				b.Error(err)
				return
			}
			if write && c.follow {
				if v := newCookie(rec, c.cookieName); v != "" {
					jar[i].Store(&v)
				}
			}
		}
	})
	b.StopTimer()
	cpu := cpuTime() - cpu0
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s/float64(runtime.GOMAXPROCS(0)), "req/s/core")
	}
	// The process's CPU time per request (user + system, every goroutine,
	// the garbage collector included; not the store's own processes): on a
	// shared machine it moves much less than the wall-clock throughput.
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/req")
}

// cpuTime is the CPU time (user + system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkParallel measures throughput under concurrent load (see
// runParallel) for every engine, beside scs (gorilla for signed cookies)
// on the same store.
func BenchmarkParallel(b *testing.B) {
	stores := []struct {
		name    string
		clients func(b *testing.B) map[string]client
	}{
		{"memory", func(b *testing.B) map[string]client {
			return map[string]client{"ours": oursClient(newMemoryManager(b)), "scs": scsClient(newSCSMemory())}
		}},
		{"cookie", func(b *testing.B) map[string]client {
			return map[string]client{"ours": oursClient(newCookieManager(b)), "gorilla": gorillaClient(gsessions.NewCookieStore([]byte(secret)))}
		}},
		{"sqlite", func(b *testing.B) map[string]client {
			return map[string]client{"ours": oursClient(sqliteFixture(b).ours)}
		}},
		{"sqlite-mattn", func(b *testing.B) map[string]client {
			f := sqliteMattnFixture(b)
			return map[string]client{"ours": oursClient(f.ours), "scs": scsClient(f.scs)}
		}},
		{"bolt", func(b *testing.B) map[string]client {
			return map[string]client{"ours": oursClient(openManager(b, "bolt://"+filepath.Join(b.TempDir(), "par.db")))}
		}},
		{"postgres", func(b *testing.B) map[string]client {
			pg := testservers.SharedPostgres(b)
			f := postgresFixture(b, pg, pg.Host+":"+strconv.Itoa(pg.Port))
			return map[string]client{"ours": oursClient(f.ours), "scs": scsClient(f.scs)}
		}},
		{"mariadb", func(b *testing.B) map[string]client {
			my := testservers.SharedMariaDB(b)
			return map[string]client{"ours": oursClient(mariadbFixture(b, my, my.Host+":"+strconv.Itoa(my.Port)).ours)}
		}},
		{"redis", func(b *testing.B) map[string]client {
			f := redisFixture(b, testservers.SharedRedis(b).Addr)
			return map[string]client{"ours": oursClient(f.ours), "scs": scsClient(f.scs)}
		}},
		{"memcached", func(b *testing.B) map[string]client {
			f := memcachedFixture(b, testservers.SharedMemcached(b).Addr, testservers.StartMemcached(b).Addr)
			return map[string]client{"ours": oursClient(f.ours)}
		}},
		{"cached_db", func(b *testing.B) map[string]client {
			return map[string]client{"ours": oursClient(cachedDBFixture(b, testservers.SharedRedis(b).Addr).ours)}
		}},
	}
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			clients := st.clients(b)
			for _, lib := range []string{"ours", "scs", "gorilla"} {
				if c, ok := clients[lib]; ok {
					b.Run(lib, func(b *testing.B) { runParallel(b, c) })
				}
			}
		})
	}
}

// BenchmarkClearSessions times DeleteExpired on a store full of expired
// sessions: CLEAR_ROWS of them (default 10,000; make bench sets 1,000,000
// for the databases and 100,000 for file and bolt).
func BenchmarkClearSessions(b *testing.B) {
	n := 10_000
	if v, err := strconv.Atoi(os.Getenv("CLEAR_ROWS")); err == nil && v > 0 {
		n = v
	}
	for _, eng := range []string{"sqlite", "postgres", "file", "bolt"} {
		b.Run(fmt.Sprintf("%s/%d", eng, n), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				dir := b.TempDir()
				var cfg string
				switch eng {
				case "sqlite":
					cfg = "sqlite://" + filepath.Join(dir, "c.db") + "?create_table=true"
				case "postgres":
					cfg = testservers.SharedPostgres(b).URL() + "&create_table=true&table=clear_" + suffix()
				case "file":
					os.Mkdir(filepath.Join(dir, "s"), 0o700)
					cfg = "file://" + filepath.Join(dir, "s") + "?sync=false"
				case "bolt":
					cfg = "bolt://" + filepath.Join(dir, "c.db") + "?nosync=true"
				}
				e, err := sessions.OpenEngine(context.Background(), cfg, settings())
				if err != nil {
					b.Fatal(err)
				}
				fillExpired(b, e.(sessions.Engine), n)
				b.StartTimer()
				got, err := e.(sessions.ExpiredDeleter).DeleteExpired(context.Background())
				b.StopTimer()
				if err != nil || got != int64(n) {
					b.Fatalf("DeleteExpired = %d, %v; want %d", got, err, n)
				}
				e.Close()
				b.StartTimer()
			}
		})
	}
}

// fillExpired stores n sessions that expired an hour ago: one SQL
// statement on the databases, the engine's own Create elsewhere.
func fillExpired(b *testing.B, e sessions.Engine, n int) {
	ctx := context.Background()
	data := encoded(b)
	past := time.Now().Add(-time.Hour)
	if st, ok := e.(*sqlstore.Store); ok {
		_, w := st.DB()
		var q string
		switch st.Dialect() {
		case sqlstore.SQLite:
			q = `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < ?)
				INSERT INTO "` + st.Table() + `" SELECT printf('%032d', i), ?, ? FROM n`
			_, err := w.ExecContext(ctx, q, n, string(data), sqlstore.FormatTime(past))
			if err != nil {
				b.Fatal(err)
			}
		case sqlstore.Postgres:
			q = `INSERT INTO "` + st.Table() + `" SELECT lpad(i::text, 32, '0'), $2, $3 FROM generate_series(1, $1) i`
			if _, err := w.ExecContext(ctx, q, n, string(data), past); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	for range n {
		if err := e.Create(ctx, sessions.NewKey(), data, past); err != nil {
			b.Fatal(err)
		}
	}
}
