package testservers

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// respConn is one persistent RESP connection.
type respConn struct {
	c net.Conn
	r *bufio.Reader
}

func dialRESP(t testing.TB, a string) *respConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", a, time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", a, err)
	}
	t.Cleanup(func() { c.Close() })
	return &respConn{c: c, r: bufio.NewReader(c)}
}

func respCmd(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, s := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(s), s)
	}
	return b.String()
}

// do sends one command and reads its reply within timeout.
func (r *respConn) do(timeout time.Duration, args ...string) (string, error) {
	r.c.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(r.c, respCmd(args...)); err != nil {
		return "", err
	}
	return readRESP(r.r)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// isDropped reports an error from a connection the proxy reset or closed.
func isDropped(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, syscall.EPIPE)
}

func TestProxyForwardsRedis(t *testing.T) {
	r := StartRedis(t)
	p := NewProxy(t, r.Addr)
	if p.Target() != r.Addr || !strings.HasPrefix(p.Addr(), "127.0.0.1:") {
		t.Fatalf("Addr %s, Target %s", p.Addr(), p.Target())
	}
	mustRedis(t, p.Addr(), "SET", "k", "v")
	if got := mustRedis(t, r.Addr, "GET", "k"); got != "v" {
		t.Fatalf("the server holds %q", got)
	}
	// A large value crosses in many chunks, intact, both ways.
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	c := dialRESP(t, p.Addr())
	if _, err := c.do(5*time.Second, "SET", "big", big); err != nil {
		t.Fatal(err)
	}
	got, err := c.do(5*time.Second, "GET", "big")
	if err != nil || got != big {
		t.Fatalf("1 MiB round trip: %d bytes, %v", len(got), err)
	}
}

func TestProxyForwardsMemcached(t *testing.T) {
	m := StartMemcached(t)
	p := NewProxy(t, m.Addr)
	if got := memcachedCmd(t, p.Addr(), "set k 0 0 2\r\nv1\r\n"); got != "STORED\r\n" {
		t.Fatalf("set through the proxy = %q", got)
	}
	if got := memcachedCmd(t, m.Addr, "get k\r\n"); got != "VALUE k 0 2\r\nv1\r\nEND\r\n" {
		t.Fatalf("get from the server = %q", got)
	}
	p.Cut()
	if err := memcachedTry(p.Addr(), "get k\r\n", time.Second); err == nil || isTimeout(err) {
		t.Fatalf("get through a cut proxy: %v, want a reset", err)
	}
	p.Restore()
	if got := memcachedCmd(t, p.Addr(), "get k\r\n"); got != "VALUE k 0 2\r\nv1\r\nEND\r\n" {
		t.Fatalf("after Restore = %q: the server should have kept its data", got)
	}
	p.Stall()
	if err := memcachedTry(p.Addr(), "set k 0 0 2\r\nv2\r\n", 300*time.Millisecond); !isTimeout(err) {
		t.Fatalf("set through a stalled proxy: %v, want a timeout", err)
	}
	p.Restore()
	if got := memcachedCmd(t, p.Addr(), "get k\r\n"); got != "VALUE k 0 2\r\nv1\r\nEND\r\n" {
		t.Fatalf("after Stall and Restore = %q: the stalled set must have been dropped", got)
	}
}

// memcachedTry sends one request and reads one line of response.
func memcachedTry(a, req string, timeout time.Duration) error {
	c, err := net.DialTimeout("tcp", a, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(c, req); err != nil {
		return err
	}
	_, err = bufio.NewReader(c).ReadString('\n')
	return err
}

func TestProxyCut(t *testing.T) {
	r := StartRedis(t)
	p := NewProxy(t, r.Addr)
	c := dialRESP(t, p.Addr())
	if _, err := c.do(time.Second, "SET", "k", "before"); err != nil {
		t.Fatal(err)
	}
	p.Cut()
	p.Cut() // idempotent
	// A reset, not a timeout: a cut fails at once.
	if _, err := c.do(time.Second, "GET", "k"); !isDropped(err) {
		t.Fatalf("open connection after Cut: %v, want a reset", err)
	}
	if _, err := redisDo(p.Addr(), "GET", "k"); !isDropped(err) {
		t.Fatalf("new connection during Cut: %v, want a reset", err)
	}
	if p.Conns() != 0 {
		t.Errorf("%d connections open during Cut", p.Conns())
	}
	// The server kept running and kept its data.
	mustRedis(t, r.Addr, "SET", "k2", "direct")
	p.Restore()
	if got := mustRedis(t, p.Addr(), "GET", "k"); got != "before" {
		t.Fatalf("after Restore k = %q", got)
	}
	if got := mustRedis(t, p.Addr(), "GET", "k2"); got != "direct" {
		t.Fatalf("after Restore k2 = %q", got)
	}
}

func TestProxyStall(t *testing.T) {
	r := StartRedis(t)
	p := NewProxy(t, r.Addr)
	old := dialRESP(t, p.Addr())
	if _, err := old.do(time.Second, "SET", "k", "before"); err != nil {
		t.Fatal(err)
	}
	p.Stall()
	p.Stall()
	if _, err := old.do(300*time.Millisecond, "SET", "k", "stalled"); !isTimeout(err) {
		t.Fatalf("open connection during Stall: %v, want a timeout", err)
	}
	// New connections are accepted but get nothing either.
	fresh := dialRESP(t, p.Addr())
	if _, err := fresh.do(300*time.Millisecond, "PING"); !isTimeout(err) {
		t.Fatalf("new connection during Stall: %v, want a timeout", err)
	}
	// The server itself is fine and did not receive the stalled SET.
	if got := mustRedis(t, r.Addr, "GET", "k"); got != "before" {
		t.Fatalf("the server holds %q during the stall", got)
	}
	// Conns counts what the client holds open: a connection it closed
	// counts no more, though the stall still holds what it sent.
	if n := p.Conns(); n != 2 {
		t.Errorf("Conns = %d during the stall, want 2", n)
	}
	if n := p.ClientConns(); n != 2 {
		t.Errorf("ClientConns = %d during the stall, want 2", n)
	}
	fresh.c.Close()
	if n := p.ClientConns(); n != 1 {
		t.Errorf("ClientConns = %d once the client closed one of 2 stalled connections, want 1", n)
	}
	for deadline := time.Now().Add(5 * time.Second); p.Conns() != 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("Conns = %d after the client closed one of 2 stalled connections, want 1", p.Conns())
		}
	}
	p.Restore()
	// What the stalled connections held is dropped with them.
	old.c.SetDeadline(time.Now().Add(time.Second))
	if _, err := old.r.ReadByte(); !isDropped(err) {
		t.Fatalf("stalled connection after Restore: %v, want it closed", err)
	}
	if got := mustRedis(t, p.Addr(), "GET", "k"); got != "before" {
		t.Fatalf("after Restore k = %q: the stalled SET must never land", got)
	}
	time.Sleep(100 * time.Millisecond)
	if got := mustRedis(t, r.Addr, "GET", "k"); got != "before" {
		t.Fatalf("later k = %q: the stalled SET must never land", got)
	}
}

func TestProxyRestoreLate(t *testing.T) {
	r := StartRedis(t)
	p := NewProxy(t, r.Addr)
	mustRedis(t, p.Addr(), "SET", "k", "v1")
	p.Stall()
	late := dialRESP(t, p.Addr())
	if _, err := late.do(200*time.Millisecond, "SET", "k", "late"); !isTimeout(err) {
		t.Fatalf("SET during Stall: %v, want a timeout", err)
	}
	late.c.Close() // the client gives up, as clients do after a timeout
	release := p.RestoreLate()
	// New connections work at once; the old request is still held.
	mustRedis(t, p.Addr(), "SET", "k", "v2")
	if got := mustRedis(t, p.Addr(), "GET", "k"); got != "v2" {
		t.Fatalf("k = %q before release", got)
	}
	release()
	release()
	deadline := time.Now().Add(5 * time.Second)
	for mustRedis(t, r.Addr, "GET", "k") != "late" {
		if time.Now().After(deadline) {
			t.Fatal("the held SET never landed after release")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The proxy is back to normal.
	if got := mustRedis(t, p.Addr(), "PING"); got != "PONG" {
		t.Fatal(got)
	}
}

func TestProxyStallThenCut(t *testing.T) {
	r := StartRedis(t)
	p := NewProxy(t, r.Addr)
	c := dialRESP(t, p.Addr())
	p.Stall()
	errc := make(chan error, 1)
	go func() { _, err := c.do(5*time.Second, "PING"); errc <- err }()
	time.Sleep(50 * time.Millisecond)
	p.Cut() // a held connection is reset at once
	select {
	case err := <-errc:
		if !isDropped(err) {
			t.Fatalf("held connection after Cut: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("held connection not closed by Cut")
	}
	p.Stall() // no effect while cut
	if _, err := redisDo(p.Addr(), "PING"); !isDropped(err) {
		t.Fatalf("Stall after Cut: %v, want still cut", err)
	}
	p.Restore()
	mustRedis(t, p.Addr(), "PING")
}

func TestProxyDelay(t *testing.T) {
	r := StartRedis(t)
	p := NewProxy(t, r.Addr)
	c := dialRESP(t, p.Addr())
	const d = 40 * time.Millisecond
	p.SetDelay(d)
	start := time.Now()
	if _, err := c.do(5*time.Second, "PING"); err != nil {
		t.Fatal(err)
	}
	if rt := time.Since(start); rt < 2*d {
		t.Errorf("round trip %v with a delay of %v per direction", rt, d)
	}
	// Order is kept across chunks written at different delays, including
	// a switch back to no delay while delayed chunks are still queued.
	const n = 300
	c.c.SetDeadline(time.Now().Add(10 * time.Second))
	for i := range n {
		switch i {
		case 100:
			p.SetDelay(0)
		case 200:
			p.SetDelay(time.Millisecond)
		}
		if _, err := io.WriteString(c.c, respCmd("RPUSH", "order", strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
		if i%7 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	for i := range n {
		got, err := readRESP(c.r)
		if err != nil || got != strconv.Itoa(i+1) {
			t.Fatalf("reply %d = %q, %v", i, got, err)
		}
	}
	p.SetDelay(0)
	got := mustRedis(t, p.Addr(), "LRANGE", "order", "0", "-1")
	want := make([]string, n)
	for i := range want {
		want[i] = strconv.Itoa(i)
	}
	if got != strings.Join(want, "\n") {
		t.Fatalf("the server received the pushes out of order: %.80q...", got)
	}
	p.SetDelay(-time.Second) // clamped to 0
	start = time.Now()
	mustRedis(t, p.Addr(), "PING")
	if rt := time.Since(start); rt > time.Second {
		t.Errorf("round trip %v with no delay", rt)
	}
}

// Faults while traffic flows: no race, no deadlock, no leak, and the
// proxy works afterwards.
func TestProxyFaultsUnderLoad(t *testing.T) {
	r := StartRedis(t)
	before := runtime.NumGoroutine()
	t.Run("load", func(t *testing.T) {
		p := NewProxy(t, r.Addr)
		var stop atomic.Bool
		var ok, failed atomic.Int64
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; !stop.Load(); i++ {
					c, err := net.DialTimeout("tcp", p.Addr(), time.Second)
					if err != nil {
						failed.Add(1)
						continue
					}
					rc := &respConn{c: c, r: bufio.NewReader(c)}
					for j := 0; j < 20 && !stop.Load(); j++ {
						if _, err := rc.do(100*time.Millisecond, "SET", fmt.Sprintf("w%d", w), strconv.Itoa(i)); err != nil {
							failed.Add(1)
							break
						}
						ok.Add(1)
					}
					c.Close()
				}
			}()
		}
		faults := []func(){p.Cut, p.Stall, p.Restore, func() { p.RestoreLate()() }, func() { p.SetDelay(time.Duration(rand.IntN(3)) * time.Millisecond) }}
		for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); {
			faults[rand.IntN(len(faults))]()
			time.Sleep(time.Duration(rand.IntN(30)) * time.Millisecond)
		}
		p.SetDelay(0)
		p.Restore()
		stop.Store(true)
		wg.Wait()
		if ok.Load() == 0 || failed.Load() == 0 {
			t.Errorf("%d ok, %d failed: the faults should have let some through and failed others", ok.Load(), failed.Load())
		}
		if got := mustRedis(t, p.Addr(), "PING"); got != "PONG" {
			t.Fatal(got)
		}
	})
	// Cleanup closed every connection and goroutine of the proxy.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+2 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			fmt.Fprintf(os.Stderr, "%s", buf[:runtime.Stack(buf, true)])
			t.Fatalf("%d goroutines after the proxy closed, %d before", runtime.NumGoroutine(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestProxyClosedInCleanup(t *testing.T) {
	r := StartRedis(t)
	var addr string
	var c *respConn
	t.Run("inner", func(t *testing.T) {
		p := NewProxy(t, r.Addr)
		addr = p.Addr()
		c = dialRESP(t, addr)
		if _, err := c.do(time.Second, "PING"); err != nil {
			t.Fatal(err)
		}
	})
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Fatalf("%s still accepts connections after cleanup", addr)
	}
}

// BenchmarkProxyRoundTrip compares a PING round trip straight to Redis
// with one through the proxy with no delay: the proxy's own overhead.
func BenchmarkProxyRoundTrip(b *testing.B) {
	r := StartRedis(b)
	run := func(b *testing.B, a string) {
		c := dialRESP(b, a)
		cmd := respCmd("PING")
		b.ReportAllocs()
		for b.Loop() {
			if _, err := io.WriteString(c.c, cmd); err != nil {
				b.Fatal(err)
			}
			if _, err := readRESP(c.r); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("direct", func(b *testing.B) { run(b, r.Addr) })
	b.Run("proxy", func(b *testing.B) { run(b, NewProxy(b, r.Addr).Addr()) })
	b.Run("proxy-delay-100us", func(b *testing.B) {
		p := NewProxy(b, r.Addr)
		p.SetDelay(100 * time.Microsecond)
		run(b, p.Addr())
	})
}

// TestClientConnsUnderChurn: /proc/self/net/tcp is no snapshot (the kernel
// fills each read from the socket table as it is then), so while this
// process closes connections and opens new ones a single read can list a
// socket already closed beside the one that replaced it, or list one
// socket twice. ClientConns must count what is open at one instant: here
// 4 connections held throughout and at most 4 more at a time, replaced
// thousands of times a second. (One read counted up to 20.)
func TestClientConnsUnderChurn(t *testing.T) {
	r := StartRedis(t)
	p := NewProxy(t, r.Addr)
	for range 4 {
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	for deadline := time.Now().Add(5 * time.Second); p.Conns() != 4; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the proxy accepted %d of 4 connections", p.Conns())
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				// Not faster: every closed connection stays in the
				// table as TIME_WAIT for a minute, and a table of tens
				// of thousands takes a second to read.
				if c, err := net.Dial("tcp", p.Addr()); err == nil {
					time.Sleep(time.Millisecond)
					c.Close()
				}
				time.Sleep(3 * time.Millisecond)
			}
		})
	}
	least, most, samples := 1<<30, 0, 0
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); samples++ {
		n := p.ClientConns()
		least, most = min(least, n), max(most, n)
	}
	close(stop)
	wg.Wait()
	t.Logf("%d samples: %d to %d connections (4 held, at most 4 more at a time)", samples, least, most)
	if most > 8 {
		t.Errorf("ClientConns saw %d connections open at once; the client never held more than 8", most)
	}
	if least < 4 {
		t.Errorf("ClientConns saw only %d connections open; the client held 4 throughout", least)
	}
}
