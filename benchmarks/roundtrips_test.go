package benchmarks

import (
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessions/internal/testservers"
)

// turnCounter is a TCP proxy that counts round trips: on each connection,
// every time the client speaks after the server did (or first), one turn.
// A request and its reply, however many packets they take, is one turn;
// pipelined commands sent together are one turn. Unlike a time, the count
// does not depend on the machine's load.
//
// It also tells the turns an operation waits for from those it leaves
// running when it returns (cached_db installs a write's copy in the
// background, after the response): every reply is held for replyDelay
// before it is forwarded, and a turn counts as waited for when its reply
// is forwarded while the operation runs (see measure). A background
// exchange begun as the operation returns gets its reply at least
// replyDelay later, after the operation has ended.
type turnCounter struct {
	ln       net.Listener
	target   string
	turns    atomic.Int64 // every turn
	waited   atomic.Int64 // turns whose reply came while inOp
	inflight atomic.Int64 // turns not answered yet
	inOp     atomic.Bool
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    []net.Conn
}

// replyDelay is how long the counting proxy holds every reply.
const replyDelay = time.Millisecond

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
				c.inflight.Add(1)
			}
		})
		go c.pipe(sc, cc, func() {
			time.Sleep(replyDelay)
			if clientSpoke.Swap(false) {
				if c.inOp.Load() {
					c.waited.Add(1)
				}
				c.inflight.Add(-1)
			}
		})
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

// counts are the round trips per operation: all the exchanges, and those
// the operation waited for.
type counts struct{ all, waited float64 }

// roundTripsPer runs op a few times to warm up, then n times, and returns
// the round trips per op counted by the proxies. Each op starts once the
// exchanges the previous one left running have ended.
func roundTripsPer(tb testing.TB, op func(testing.TB), n int, counters ...*turnCounter) counts {
	for range 10 {
		op(tb)
	}
	var all, waited int64
	for range n {
		settle(counters)
		a0, w0 := sum(counters)
		for _, c := range counters {
			c.inOp.Store(true)
		}
		op(tb)
		for _, c := range counters {
			c.inOp.Store(false)
		}
		settle(counters)
		a1, w1 := sum(counters)
		all += a1 - a0
		waited += w1 - w0
	}
	return counts{all: float64(all) / float64(n), waited: float64(waited) / float64(n)}
}

// settle waits until no turn is in flight through any of the counters,
// twice in a row a few reply delays apart.
func settle(counters []*turnCounter) {
	idle := func() bool {
		for _, c := range counters {
			if c.inflight.Load() != 0 {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		if idle() {
			time.Sleep(3 * replyDelay)
			if idle() {
				return
			}
		}
		time.Sleep(replyDelay)
	}
}

func sum(counters []*turnCounter) (all, waited int64) {
	for _, c := range counters {
		all += c.turns.Load()
		waited += c.waited.Load()
	}
	return all, waited
}

// BenchmarkRoundTrips counts the round trips to the store of our requests
// and of the floor's operations (and scs's, where it has a store), through
// a counting proxy: the sequential exchanges each request waits for, which
// is what a store on another machine charges by, and beside them every
// exchange (a cached_db write installs its copy after the response). Run
// it with -benchtime 1x; the count is exact, the time is not reported.
func BenchmarkRoundTrips(b *testing.B) {
	const n = 100
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
					var o, fl, p counts
					for b.Loop() {
						o = roundTripsPer(b, ours, n, counters...)
						fl = roundTripsPer(b, floor, n, counters...)
						if peer != nil {
							p = roundTripsPer(b, peer, n, counters...)
						}
					}
					// "-rt/op": the round trips a request waits for;
					// "-ex/op": every exchange, those left running after
					// the response included.
					b.ReportMetric(o.waited, "ours-rt/op")
					b.ReportMetric(o.all, "ours-ex/op")
					b.ReportMetric(fl.waited, "floor-rt/op")
					b.ReportMetric(fl.all, "floor-ex/op")
					if peer != nil {
						b.ReportMetric(p.waited, "scs-rt/op")
						b.ReportMetric(p.all, "scs-ex/op")
					}
				})
			}
		})
	}
}
