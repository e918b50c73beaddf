package benchmarks

import (
	"strconv"
	"testing"

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
func runStreaks(b *testing.B, sides ...side) { runTurns(b, warmStreak, sides...) }

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
// them. A library that runs more code would pay more for cold caches;
// the two figures side by side show how much of a "beyond the floor"
// figure that is (FINDINGS.md §9.14: little).
func BenchmarkWarm(b *testing.B) {
	b.Run("Memory", func(b *testing.B) {
		read, write := memorySides(b)
		b.Run("read", func(b *testing.B) { runStreaks(b, read...) })
		b.Run("write", func(b *testing.B) { runStreaks(b, write...) })
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
