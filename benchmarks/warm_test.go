package benchmarks

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/sessionkit/sessions/internal/testservers"
)

// warmStreak is how many requests of one side BenchmarkWarm times in a
// row, after one it does not time.
const warmStreak = 8

// runStreaks is runInterleaved with each side's turn a streak: one
// request untimed, which brings the side's code and data back into the
// caches, then warmStreak requests timed in a row. The order of the
// sides is shuffled each iteration as in runInterleaved, so drift still
// reaches every side alike; what changes is that no timed request follows
// another side's. Metrics are per request, named as runInterleaved names
// them.
func runStreaks(b *testing.B, sides ...side) {
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
			sides[k].op(b)
			t0 := time.Now()
			for range warmStreak {
				sides[k].op(b)
			}
			t[k] += time.Since(t0)
		}
	}
	n := float64(b.N * warmStreak)
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

// warm runs f's read-only and read-write benchmarks in streaks (see
// runStreaks), with the same sides as interleave.
func (f fixture) warm(b *testing.B) {
	read, write := f.sides(b)
	b.Run("read", func(b *testing.B) { runStreaks(b, read...) })
	b.Run("write", func(b *testing.B) { runStreaks(b, write...) })
}

// BenchmarkWarm is BenchmarkPaired's loop with every side timed in
// streaks of requests of its own (runStreaks) instead of one request
// after another side's: what a request costs when the code and data it
// runs on are still in the caches, as in a server that serves session
// requests back to back, beside BenchmarkPaired's figure, what it costs
// after other work has run, as in a server doing anything else between
// them. A library that runs more code pays more for cold caches, so the
// gap between the two is part of every "beyond the floor" figure.
func BenchmarkWarm(b *testing.B) {
	b.Run("Memory", func(b *testing.B) {
		or, ow := oursOps(b, newMemoryManager(b), sessionData())
		tr, tw := oursOps(b, newMemoryManager(b), sessionData())
		sr, sw := scsOps(b, newSCSMemory(), sessionData())
		h := func(tb testing.TB) { request(tb, nopHandler, "sessionid", "abcdefghijklmnopqrstuvwxyz012345") }
		b.Run("read", func(b *testing.B) {
			runStreaks(b, side{"ours", or}, side{"scs", sr}, side{"harness", h}, side{"twin", tr})
		})
		b.Run("write", func(b *testing.B) {
			runStreaks(b, side{"ours", ow}, side{"scs", sw}, side{"harness", h}, side{"twin", tw})
		})
	})
	b.Run("SQLiteMattn", func(b *testing.B) { sqliteMattnFixture(b).warm(b) })
	b.Run("Postgres", func(b *testing.B) {
		pg := testservers.SharedPostgres(b)
		postgresFixture(b, pg, pg.Host+":"+strconv.Itoa(pg.Port)).warm(b)
	})
	b.Run("Redis", func(b *testing.B) { redisFixture(b, testservers.SharedRedis(b).Addr).warm(b) })
	b.Run("Memcached", func(b *testing.B) {
		memcachedFixture(b, testservers.SharedMemcached(b).Addr, testservers.StartMemcached(b).Addr).warm(b)
	})
	b.Run("CachedDB", func(b *testing.B) { cachedDBFixture(b, testservers.SharedRedis(b).Addr).warm(b) })
}
