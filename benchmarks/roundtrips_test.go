package benchmarks

import (
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sessionkit/sessions/internal/testservers"
)

// turnCounter is a TCP proxy that counts round trips: on each connection,
// every time the client speaks after the server did (or first), one turn.
// A request and its reply, however many packets they take, is one turn;
// pipelined commands sent together are one turn. Unlike a time, the count
// does not depend on the machine's load.
type turnCounter struct {
	ln     net.Listener
	target string
	turns  atomic.Int64
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

func newTurnCounter(tb testing.TB, target string) *turnCounter {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	c := &turnCounter{ln: ln, target: target}
	c.wg.Add(1)
	go c.accept()
	tb.Cleanup(c.close)
	return c
}

func (c *turnCounter) addr() string { return c.ln.Addr().String() }

func (c *turnCounter) accept() {
	defer c.wg.Done()
	for {
		cc, err := c.ln.Accept()
		if err != nil {
			return
		}
		sc, err := net.Dial("tcp", c.target)
		if err != nil {
			cc.Close()
			continue
		}
		c.mu.Lock()
		c.conns = append(c.conns, cc, sc)
		c.mu.Unlock()
		// clientSpoke is true once the client has spoken and the server
		// has not answered since.
		var clientSpoke atomic.Bool
		c.wg.Add(2)
		go c.pipe(cc, sc, func() {
			if !clientSpoke.Swap(true) {
				c.turns.Add(1)
			}
		})
		go c.pipe(sc, cc, func() { clientSpoke.Store(false) })
	}
}

// pipe copies src to dst, calling seen before forwarding each chunk.
func (c *turnCounter) pipe(src, dst net.Conn, seen func()) {
	defer c.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			seen()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				break
			}
			if tc, ok := dst.(*net.TCPConn); ok {
				tc.CloseWrite()
			}
			return
		}
	}
	src.Close()
	dst.Close()
}

func (c *turnCounter) close() {
	c.ln.Close()
	c.mu.Lock()
	for _, conn := range c.conns {
		conn.Close()
	}
	c.mu.Unlock()
	c.wg.Wait()
}

// roundTripsPer runs op warm times, then n times, and returns the round
// trips per op counted by the proxies.
func roundTripsPer(tb testing.TB, op func(testing.TB), n int, counters ...*turnCounter) float64 {
	for range 20 {
		op(tb)
	}
	var before int64
	for _, c := range counters {
		before += c.turns.Load()
	}
	for range n {
		op(tb)
	}
	var after int64
	for _, c := range counters {
		after += c.turns.Load()
	}
	return float64(after-before) / float64(n)
}

// BenchmarkRoundTrips counts the round trips to the store of our requests
// and of the floor's operations (and scs's, where it has a store), through
// a counting proxy: the sequential exchanges each request waits for, which
// is what a store on another machine charges by. Run it with -benchtime
// 1x; the count is exact, the time is not reported.
func BenchmarkRoundTrips(b *testing.B) {
	const n = 200
	stores := []struct {
		name string
		open func(b *testing.B) (fixture, []*turnCounter)
	}{
		{"Redis", func(b *testing.B) (fixture, []*turnCounter) {
			c := newTurnCounter(b, testservers.SharedRedis(b).Addr)
			return redisFixture(b, c.addr()), []*turnCounter{c}
		}},
		{"Memcached", func(b *testing.B) (fixture, []*turnCounter) {
			c1 := newTurnCounter(b, testservers.SharedMemcached(b).Addr)
			c2 := newTurnCounter(b, testservers.StartMemcached(b).Addr)
			return memcachedFixture(b, c1.addr(), c2.addr()), []*turnCounter{c1, c2}
		}},
		{"Postgres", func(b *testing.B) (fixture, []*turnCounter) {
			pg := testservers.SharedPostgres(b)
			c := newTurnCounter(b, pg.Host+":"+strconv.Itoa(pg.Port))
			return postgresFixture(b, pg, c.addr()), []*turnCounter{c}
		}},
		{"MariaDB", func(b *testing.B) (fixture, []*turnCounter) {
			my := testservers.SharedMariaDB(b)
			c := newTurnCounter(b, my.Host+":"+strconv.Itoa(my.Port))
			return mariadbFixture(b, my, c.addr()), []*turnCounter{c}
		}},
		{"CachedDB", func(b *testing.B) (fixture, []*turnCounter) {
			c := newTurnCounter(b, testservers.SharedRedis(b).Addr)
			return cachedDBFixture(b, c.addr()), []*turnCounter{c}
		}},
	}
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			f, counters := st.open(b)
			or, ow := oursOps(b, f.ours, sessionData())
			var sr, sw func(testing.TB)
			if f.scs != nil {
				sr, sw = scsOps(b, f.scs, sessionData())
			}
			for _, kind := range kinds {
				b.Run(kind, func(b *testing.B) {
					ours, floor, peer := or, f.floorRead, sr
					if kind == "write" {
						ours, floor, peer = ow, f.floorWrite, sw
					}
					var o, fl, p float64
					for b.Loop() {
						o = roundTripsPer(b, ours, n, counters...)
						fl = roundTripsPer(b, floor, n, counters...)
						if peer != nil {
							p = roundTripsPer(b, peer, n, counters...)
						}
					}
					b.ReportMetric(o, "ours-rt/op")
					b.ReportMetric(fl, "floor-rt/op")
					if peer != nil {
						b.ReportMetric(p, "scs-rt/op")
					}
				})
			}
		})
	}
}
