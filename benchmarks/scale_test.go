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
	"runtime/metrics"
	"strconv"
	"sync"
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

// floorClient serves a store's floor through the harness: a handler that
// takes the session key from the cookie and makes the store's bare
// operations (ops), on sessions of its own. It is what any library pays
// in this harness for the store's work, so its throughput bounds ours and
// the peer's.
func floorClient(ops floorOps) client {
	h := func(op func(string) error) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := r.Cookie("sessionid")
			if err == nil {
				err = op(c.Value)
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
			}
		})
	}
	return client{
		cookieName: "sessionid",
		read:       h(ops.read),
		write:      h(ops.write),
		newSession: func(tb testing.TB) string {
			key, err := ops.add()
			if err != nil {
				tb.Fatal(err)
			}
			return key
		},
	}
}

// harnessClient is the memory engine's floor: the bare harness, a
// handler that does nothing.
func harnessClient() client {
	return client{
		cookieName: "sessionid",
		read:       nopHandler,
		write:      nopHandler,
		newSession: func(testing.TB) string { return sessions.NewKey() },
	}
}

// newJar stores parallelSessions new sessions of c and returns their
// cookies, each replaced by the one a write sends back when c.follow.
func newJar(tb testing.TB, c client) []atomic.Pointer[string] {
	jar := make([]atomic.Pointer[string], parallelSessions)
	for i := range jar {
		v := c.newSession(tb)
		jar[i].Store(&v)
	}
	return jar
}

// serveOne serves one request of the parallel traffic on a session of
// jar picked with rng: read-write parallelWritePct% of the time, else
// read-only.
func serveOne(c client, jar []atomic.Pointer[string], rng *rand.Rand) error {
	i := rng.IntN(len(jar))
	h, write := c.read, rng.IntN(100) < parallelWritePct
	if write {
		h = c.write
	}
	rec, err := do(h, c.cookieName, *jar[i].Load())
	if err != nil {
		return err
	}
	if write && c.follow {
		if v := newCookie(rec, c.cookieName); v != "" {
			jar[i].Store(&v)
		}
	}
	return nil
}

// runParallel serves c's traffic (serveOne) from b.RunParallel with
// parallelism goroutines per GOMAXPROCS and reports requests per second
// per core (per GOMAXPROCS) and the process's CPU time per request. It is
// one library alone, for profiles (BenchmarkParallelOurs); the
// comparisons are runParallelTurns'.
func runParallel(b *testing.B, c client) {
	jar := newJar(b, c)
	var seq atomic.Uint64
	b.ReportAllocs()
	b.SetParallelism(parallelism)
	cpu0 := cpuTime()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(seq.Add(1), 42))
		for pb.Next() {
			if err := serveOne(c, jar, rng); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	cpu := cpuTime() - cpu0
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s/float64(runtime.GOMAXPROCS(0)), "req/s/core")
	}
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/req")
}

// parallelTurn is how long a side serves in each of its turns in
// runParallelTurns.
const parallelTurn = 100 * time.Millisecond

// namedClient is a side of BenchmarkParallel: a library on the store, or
// the floor.
type namedClient struct {
	name string
	c    client
}

// runParallelTurns compares the sides' throughput under the same
// parallel traffic (serveOne from parallelism goroutines per GOMAXPROCS,
// each side on sessions of its own) in turns: every round gives each
// side parallelTurn of the machine, in an order shuffled anew each round,
// so that every side sees the same machine. Benchmarks of one side after
// another do not: on a shared host the throughput drifts by a third
// within seconds (steal time), more than the libraries differ. Per side
// it reports requests per second per core ("<side>-req/s/core"), the
// process's CPU time per request ("<side>-cpu-us/req": user + system,
// every goroutine, the garbage collector included, the store's own
// processes not; it moves much less than the throughput on a shared
// machine) and heap allocations per request ("<side>-allocs/req"). One
// round is one op.
func runParallelTurns(b *testing.B, sides []namedClient) {
	type tally struct {
		n, allocs uint64
		wall, cpu time.Duration
	}
	jars := make([][]atomic.Pointer[string], len(sides))
	for k, s := range sides {
		jars[k] = newJar(b, s.c)
	}
	// A round untimed: the pools filled and the code warm for every side.
	for k, s := range sides {
		serveTurn(b, s.c, jars[k], parallelTurn/2, 0)
	}
	ts := make([]tally, len(sides))
	order := make([]int, len(sides))
	for k := range order {
		order[k] = k
	}
	rng := rand.New(rand.NewPCG(1, 2))
	round := uint64(0)
	for b.Loop() {
		round++
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, k := range order {
			a0, c0 := heapAllocs(), cpuTime()
			n, wall := serveTurn(b, sides[k].c, jars[k], parallelTurn, round)
			ts[k].cpu += cpuTime() - c0
			ts[k].allocs += heapAllocs() - a0
			ts[k].n += n
			ts[k].wall += wall
		}
	}
	procs := float64(runtime.GOMAXPROCS(0))
	for k, s := range sides {
		t := ts[k]
		if t.n == 0 {
			b.Fatalf("%s served no request", s.name)
		}
		b.ReportMetric(float64(t.n)/t.wall.Seconds()/procs, s.name+"-req/s/core")
		b.ReportMetric(float64(t.cpu.Nanoseconds())/1e3/float64(t.n), s.name+"-cpu-us/req")
		b.ReportMetric(float64(t.allocs)/float64(t.n), s.name+"-allocs/req")
	}
}

// serveTurn serves c's traffic (serveOne) from parallelism×GOMAXPROCS
// goroutines for d and returns the requests served and the wall time
// until the last of them ended.
func serveTurn(b *testing.B, c client, jar []atomic.Pointer[string], d time.Duration, seed uint64) (uint64, time.Duration) {
	var served atomic.Uint64
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(d)
	for g := range parallelism * runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(g)))
			n := uint64(0)
			for time.Now().Before(end) {
				if err := serveOne(c, jar, rng); err != nil {
					b.Error(err)
					break
				}
				n++
			}
			served.Add(n)
		})
	}
	wg.Wait()
	return served.Load(), time.Since(start)
}

// heapAllocs is the number of heap objects this process has allocated.
func heapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:objects"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// cpuTime is the CPU time (user + system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// parallelStore is a store of BenchmarkParallel and how to set up its
// sides.
type parallelStore struct {
	name  string
	sides func(b *testing.B) []namedClient // ours first
}

// parallelStores are the stores of BenchmarkParallel: ours on each, with
// scs (gorilla for signed cookies) on the same store where it has a
// store for it, and the store's floor served through the same harness
// (floorClient; for memory, the bare harness).
var parallelStores = []parallelStore{
	{"memory", func(b *testing.B) []namedClient {
		return []namedClient{{"ours", oursClient(newMemoryManager(b))}, {"scs", scsClient(newSCSMemory())}, {"floor", harnessClient()}}
	}},
	{"cookie", func(b *testing.B) []namedClient {
		return []namedClient{{"ours", oursClient(newCookieManager(b))}, {"gorilla", gorillaClient(gsessions.NewCookieStore([]byte(secret)))}}
	}},
	{"sqlite", func(b *testing.B) []namedClient { return fixtureSides(b, sqliteFixture(b)) }},
	{"sqlite-mattn", func(b *testing.B) []namedClient { return fixtureSides(b, sqliteMattnFixture(b)) }},
	{"bolt", func(b *testing.B) []namedClient {
		return []namedClient{{"ours", oursClient(openManager(b, "bolt://"+filepath.Join(b.TempDir(), "par.db")))}}
	}},
	{"postgres", func(b *testing.B) []namedClient {
		pg := testservers.SharedPostgres(b)
		return fixtureSides(b, postgresFixture(b, pg, pg.Host+":"+strconv.Itoa(pg.Port)))
	}},
	{"mariadb", func(b *testing.B) []namedClient {
		my := testservers.SharedMariaDB(b)
		return fixtureSides(b, mariadbFixture(b, my, my.Host+":"+strconv.Itoa(my.Port)))
	}},
	{"redis", func(b *testing.B) []namedClient {
		return fixtureSides(b, redisFixture(b, testservers.SharedRedis(b).Addr))
	}},
	{"memcached", func(b *testing.B) []namedClient {
		return fixtureSides(b, memcachedFixture(b, testservers.SharedMemcached(b).Addr, testservers.StartMemcached(b).Addr))
	}},
	{"cached_db", func(b *testing.B) []namedClient {
		return fixtureSides(b, cachedDBFixture(b, testservers.SharedRedis(b).Addr))
	}},
}

// fixtureSides are ours, scs (where f has it) and the floor of f.
func fixtureSides(b *testing.B, f fixture) []namedClient {
	sides := []namedClient{{"ours", oursClient(f.ours)}}
	if f.scs != nil {
		sides = append(sides, namedClient{"scs", scsClient(f.scs)})
	}
	return append(sides, namedClient{"floor", floorClient(f.floor(b))})
}

// BenchmarkParallel measures throughput under concurrent load for every
// engine, beside scs (gorilla for signed cookies) on the same store and
// the store's floor, in turns (runParallelTurns).
func BenchmarkParallel(b *testing.B) {
	for _, st := range parallelStores {
		b.Run(st.name, func(b *testing.B) { runParallelTurns(b, st.sides(b)) })
	}
}

// BenchmarkParallelOurs serves the same traffic as BenchmarkParallel
// with our side alone, for profiles (scripts/bench.sh's contention
// profiles, contention.sh).
func BenchmarkParallelOurs(b *testing.B) {
	for _, st := range parallelStores {
		b.Run(st.name, func(b *testing.B) { runParallel(b, st.sides(b)[0].c) })
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
