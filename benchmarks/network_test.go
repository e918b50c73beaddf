package benchmarks

import (
	"strconv"
	"testing"
	"time"

	"github.com/sessionkit/sessions/internal/testservers"
)

// networkRTTs are the round trips BenchmarkNetwork adds: a store in the
// same data centre (0.2 ms) and one a little farther (1 ms).
var networkRTTs = []time.Duration{200 * time.Microsecond, time.Millisecond}

// delayed starts a proxy in front of target that adds half of rtt in each
// direction, and returns its address.
func delayed(tb testing.TB, target string, rtt time.Duration) string {
	p := testservers.NewProxy(tb, target)
	p.SetDelay(rtt / 2)
	return p.Addr()
}

func rttName(d time.Duration) string {
	if d < time.Millisecond {
		return "rtt=" + strconv.Itoa(int(d/time.Microsecond)) + "us"
	}
	return "rtt=" + strconv.Itoa(int(d/time.Millisecond)) + "ms"
}

// BenchmarkNetwork runs the network stores' interleaved benchmarks (ours,
// scs where it has a store, and the raw floor, in one loop) with the
// store behind a TCP proxy that adds a fixed latency per direction. Every
// side talks to the store through the same proxy, so the ratios to the
// floor are what a store on another machine gives, not loopback noise.
// (The kernel here has no netem qdisc, so the delay is made in user space
// by internal/testservers' Proxy.) Redis Cluster is left out: its nodes
// announce their own addresses, which a client then dials around the
// proxy.
func BenchmarkNetwork(b *testing.B) {
	for _, rtt := range networkRTTs {
		b.Run(rttName(rtt), func(b *testing.B) {
			b.Run("Redis", func(b *testing.B) {
				redisFixture(b, delayed(b, testservers.SharedRedis(b).Addr, rtt)).interleave(b)
			})
			b.Run("Memcached", func(b *testing.B) {
				m1, m2 := testservers.SharedMemcached(b), testservers.StartMemcached(b)
				memcachedFixture(b, delayed(b, m1.Addr, rtt), delayed(b, m2.Addr, rtt)).interleave(b)
			})
			b.Run("Postgres", func(b *testing.B) {
				pg := testservers.SharedPostgres(b)
				postgresFixture(b, pg, delayed(b, pg.Host+":"+strconv.Itoa(pg.Port), rtt)).interleave(b)
			})
			b.Run("MariaDB", func(b *testing.B) {
				my := testservers.SharedMariaDB(b)
				mariadbFixture(b, my, delayed(b, my.Host+":"+strconv.Itoa(my.Port), rtt)).interleave(b)
			})
			b.Run("CachedDB", func(b *testing.B) {
				cachedDBFixture(b, delayed(b, testservers.SharedRedis(b).Addr, rtt)).interleave(b)
			})
		})
	}
}
