package benchmarks

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	gsessions "github.com/gorilla/sessions"
	"github.com/sessionkit/sessions"
	ourmem "github.com/sessionkit/sessions/backends/memstore"
	"github.com/sessionkit/sessions/internal/testservers"
	"github.com/sessionkit/sessions/observe"
)

// On loopback a round trip costs 10-20 µs and, on a small VM, jumps
// between those two levels with scheduling, so ours and the floor timed in
// separate benchmarks can land on different levels; on a shared machine
// the same goes for any two benchmarks run a minute apart. The paired
// benchmarks time every side (ours, the floor, the peer) in the same
// loop, in a shuffled order, and report each side's ns/op
// ("ours-ns/op", "floor-ns/op", "scs-ns/op", ...) and ours/floor: every
// side sees the same conditions.

// side is one participant of an interleaved benchmark.
type side struct {
	name string
	op   func(testing.TB)
}

// runInterleaved runs one op of every side per iteration, in an order
// shuffled anew each iteration, and reports each side's mean time as
// "<name>-ns/op". A side's time depends on the side before it (one with
// a large footprint leaves the caches cold for the next): rotating a
// fixed order would give every side the same place but not the same
// predecessors (with three sides, one of them would follow the same
// neighbour two times out of three), so the order is shuffled, with a
// fixed seed.
func runInterleaved(b *testing.B, sides ...side) { runTurns(b, 0, sides...) }

// runTurns is runInterleaved with each side's turn a streak when streak
// is above zero: one op untimed, then streak ops timed in a row (see
// runStreaks). Metrics are per op either way.
func runTurns(b *testing.B, streak int, sides ...side) {
	t := make([]time.Duration, len(sides))
	order := make([]int, len(sides))
	for k := range order {
		order[k] = k
	}
	rng := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	for b.Loop() {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, k := range order {
			timed := 1
			if streak > 0 {
				sides[k].op(b)
				timed = streak
			}
			t0 := time.Now()
			for range timed {
				sides[k].op(b)
			}
			t[k] += time.Since(t0)
		}
	}
	n := float64(b.N * max(streak, 1))
	var ours, floor time.Duration
	for k, s := range sides {
		b.ReportMetric(float64(t[k].Nanoseconds())/n, s.name+"-ns/op")
		switch s.name {
		case "ours":
			ours = t[k]
		case "floor":
			floor = t[k]
		}
	}
	if ours > 0 && floor > 0 {
		b.ReportMetric(float64(ours)/float64(floor), "ours/floor")
	}
}

// interleave runs the read-only and read-write interleaved benchmarks of
// a fixture: ours, scs (if the fixture has it), the floor, the
// check-and-set floor (read-write, where the fixture has one) and, for
// the stores, two A/A controls: the control (the floor's work again on a
// client of its own) and the twin (our requests again, through a Manager
// of its own). The report compares each with its original to tell a
// difference from the noise of the loop.
func (f fixture) interleave(b *testing.B) {
	read, write := f.sides(b)
	b.Run("read", func(b *testing.B) { runInterleaved(b, read...) })
	b.Run("write", func(b *testing.B) { runInterleaved(b, write...) })
}

// sides returns the read-only and read-write sides of f's interleaved
// benchmarks (see interleave).
func (f fixture) sides(b *testing.B) (read, write []side) {
	add := func(name string, r, w func(testing.TB)) {
		read, write = append(read, side{name, r}), append(write, side{name, w})
	}
	or, ow := oursOps(b, f.ours, sessionData())
	add("ours", or, ow)
	add("floor", f.floorRead, f.floorWrite)
	if f.scs != nil {
		sr, sw := scsOps(b, f.scs, sessionData())
		add("scs", sr, sw)
	}
	if f.control != nil {
		cr, cw := f.control(b)
		add("control", cr, cw)
	}
	if f.twin != nil {
		tr, tw := oursOps(b, f.twin(b), sessionData())
		add("twin", tr, tw)
	}
	if f.casWrite != nil {
		write = append(write, side{"floor-cas", f.casWrite(b)})
	}
	return read, write
}

// memorySides returns the memory engine's interleaved sides. There is no
// floor: the peer (scs on its memstore) and the bare harness.
func memorySides(b *testing.B) (read, write []side) {
	or, ow := oursOps(b, newMemoryManager(b), sessionData())
	tr, tw := oursOps(b, newMemoryManager(b), sessionData())
	sr, sw := scsOps(b, newSCSMemory(), sessionData())
	h := func(tb testing.TB) { request(tb, nopHandler, "sessionid", "abcdefghijklmnopqrstuvwxyz012345") }
	read = []side{{"ours", or}, {"scs", sr}, {"harness", h}, {"twin", tr}}
	write = []side{{"ours", ow}, {"scs", sw}, {"harness", h}, {"twin", tw}}
	return read, write
}

// BenchmarkPaired is the headline measurement: every engine beside its
// floor and its peer in one loop.
func BenchmarkPaired(b *testing.B) {
	b.Run("Memory", func(b *testing.B) {
		read, write := memorySides(b)
		b.Run("read", func(b *testing.B) { runInterleaved(b, read...) })
		b.Run("write", func(b *testing.B) { runInterleaved(b, write...) })
	})
	b.Run("SignedCookie", func(b *testing.B) {
		or, ow := oursOps(b, newCookieManager(b), sessionData())
		tr, tw := oursOps(b, newCookieManager(b), sessionData())
		gr, gw := gorillaOps(b, gsessions.NewCookieStore([]byte(secret)), sessionData())
		fr, fw := cookieFloorOps(b)
		b.Run("read", func(b *testing.B) {
			runInterleaved(b, side{"ours", or}, side{"gorilla", gr}, side{"floor", fr}, side{"twin", tr})
		})
		b.Run("write", func(b *testing.B) {
			runInterleaved(b, side{"ours", ow}, side{"gorilla", gw}, side{"floor", fw}, side{"twin", tw})
		})
	})
	b.Run("SQLite", func(b *testing.B) { sqliteFixture(b).interleave(b) })
	b.Run("SQLiteMattn", func(b *testing.B) { sqliteMattnFixture(b).interleave(b) })
	b.Run("Postgres", func(b *testing.B) {
		pg := testservers.SharedPostgres(b)
		postgresFixture(b, pg, pg.Host+":"+strconv.Itoa(pg.Port)).interleave(b)
	})
	b.Run("MariaDB", func(b *testing.B) {
		my := testservers.SharedMariaDB(b)
		mariadbFixture(b, my, my.Host+":"+strconv.Itoa(my.Port)).interleave(b)
	})
	b.Run("Redis", func(b *testing.B) { redisFixture(b, testservers.SharedRedis(b).Addr).interleave(b) })
	b.Run("RedisCluster", func(b *testing.B) {
		redisClusterFixture(b, testservers.StartRedisCluster(b, 3)).interleave(b)
	})
	b.Run("Memcached", func(b *testing.B) {
		memcachedFixture(b, testservers.SharedMemcached(b).Addr, testservers.StartMemcached(b).Addr).interleave(b)
	})
	b.Run("CachedDB", func(b *testing.B) { cachedDBFixture(b, testservers.SharedRedis(b).Addr).interleave(b) })
}

// BenchmarkContext measures what honouring the request's context costs
// the engines that watch it (Redis and memcached interrupt the connection
// a call is using when its context ends): our read-only and
// read-write requests with a cancellable context, as net/http gives
// them ("ours"), and with context.Background ("background"), interleaved.
func BenchmarkContext(b *testing.B) {
	for _, st := range []struct {
		name string
		open func(b *testing.B) *sessions.Manager
	}{
		{"Redis", func(b *testing.B) *sessions.Manager { return redisFixture(b, testservers.SharedRedis(b).Addr).ours }},
		{"Memcached", func(b *testing.B) *sessions.Manager {
			return memcachedFixture(b, testservers.SharedMemcached(b).Addr).ours
		}},
	} {
		b.Run(st.name, func(b *testing.B) {
			m := st.open(b)
			cookie := seed(b, m, sessionData())
			for _, kind := range kinds {
				h := m.Handler(map[string]http.Handler{"read": readHandler, "write": writeHandler}[kind])
				bg := func(tb testing.TB) {
					req := httptest.NewRequest("GET", "/", nil)
					req.AddCookie(&http.Cookie{Name: "sessionid", Value: cookie})
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != 200 {
						tb.Fatalf("status %d", rec.Code)
					}
				}
				b.Run(kind, func(b *testing.B) {
					runInterleaved(b, side{"ours", func(tb testing.TB) { request(tb, h, "sessionid", cookie) }}, side{"background", bg})
				})
			}
		})
	}
}

var kinds = []string{"read", "write"}

// countingObserver is what a metrics exporter does per event: one atomic
// add, by operation and outcome.
type countingObserver struct{ n [64]atomic.Int64 }

func (c *countingObserver) Observe(_ context.Context, e observe.Event) {
	c.n[(len(e.Op)*7+len(e.Outcome))%len(c.n)].Add(1)
}

// BenchmarkObserver measures what Settings.Observer costs (issue 16):
// the same requests through a Manager without an observer ("ours") and
// through one whose observer counts every event ("observed"),
// interleaved, on the memory engine (where the library's own cost is
// everything) and on Redis.
func BenchmarkObserver(b *testing.B) {
	for _, st := range []struct {
		name string
		open func(b *testing.B, s sessions.Settings) *sessions.Manager
	}{
		{"Memory", func(b *testing.B, s sessions.Settings) *sessions.Manager {
			m, err := sessions.New(ourmem.New(nil), s)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { m.Close() })
			return m
		}},
		{"Redis", func(b *testing.B, s sessions.Settings) *sessions.Manager {
			m, err := sessions.Open(context.Background(), "redis://"+testservers.SharedRedis(b).Addr+"/0?key_prefix=o"+suffix(), s)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { m.Close() })
			return m
		}},
	} {
		b.Run(st.name, func(b *testing.B) {
			plain := st.open(b, settings())
			withObs := settings()
			withObs.Observer = &countingObserver{}
			observed := st.open(b, withObs)
			c1, c2 := seed(b, plain, sessionData()), seed(b, observed, sessionData())
			for _, kind := range kinds {
				h := map[string]http.Handler{"read": readHandler, "write": writeHandler}[kind]
				h1, h2 := plain.Handler(h), observed.Handler(h)
				b.Run(kind, func(b *testing.B) {
					runInterleaved(b, side{"ours", func(tb testing.TB) { request(tb, h1, "sessionid", c1) }},
						side{"observed", func(tb testing.TB) { request(tb, h2, "sessionid", c2) }})
				})
			}
		})
	}
}
