package testservers

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Proxy is a TCP proxy in front of one server, for fault tests: it can
// make the server unreachable ([Proxy.Cut]), stall it ([Proxy.Stall]),
// bring it back ([Proxy.Restore], [Proxy.RestoreLate]) and add network
// latency ([Proxy.SetDelay]), while the server itself keeps running and
// keeps its data. Point a client at [Proxy.Addr] instead of the server.
//
// Every method is safe for concurrent use, returns at once (it never
// waits for traffic) and may be called in any order and any number of
// times, so a test harness can hand them out as plain funcs (p.Cut,
// p.Restore). A Proxy is closed, with every connection through it, in
// t.Cleanup.
type Proxy struct {
	ln    net.Listener
	delay atomic.Int64 // nanoseconds added per chunk and direction

	mu     sync.Mutex
	target string     // where new connections go (Retarget changes it)
	cond   *sync.Cond // signalled when a connection is released or dies
	mode   proxyMode
	conns  map[*proxyConn]struct{}
	// clients holds the address of every client connection accepted, in
	// the form of /proc/net/tcp, for ClientConns.
	clients map[string]struct{}
	closed  bool
	wg      sync.WaitGroup
}

type proxyMode int

const (
	proxyForward proxyMode = iota
	proxyCut
	proxyStalled
)

// NewProxy starts a proxy on 127.0.0.1 (a free port) that forwards every
// connection to target ("host:port"). It is closed in t.Cleanup.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testservers: proxy: %v", err)
	}
	p := &Proxy{target: target, ln: ln, conns: map[*proxyConn]struct{}{}, clients: map[string]struct{}{}}
	p.cond = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// Addr returns the proxy's "127.0.0.1:port".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target returns the address the proxy forwards to.
func (p *Proxy) Target() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.target
}

// Retarget makes the proxy forward new connections to target from now on,
// and closes every open connection with a reset, as when a failover moves
// a service's address to another server: clients reconnect, to target.
func (p *Proxy) Retarget(target string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.target = target
	p.abortAll()
}

// abortAll resets every open connection. Callers hold p.mu.
func (p *Proxy) abortAll() {
	for c := range p.conns {
		c.abort()
	}
	p.cond.Broadcast()
}

// Cut makes the server unreachable while it keeps its data, as a network
// partition or a restarting proxy does: every open connection is closed
// with a reset (RST) on both sides, dropping whatever was in flight, and
// new connections are accepted and reset at once, until [Proxy.Restore].
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = proxyCut
	p.abortAll()
}

// Stall stops all traffic while keeping the connections open, as a paused
// server or a network that silently drops packets: nothing is forwarded
// in either direction, and new connections are accepted (and connected to
// the server) but forward nothing either. Bytes the proxy reads after
// Stall returns are held, not forwarded, until [Proxy.Restore] drops them
// or [Proxy.RestoreLate] delivers them. Clients see their requests time
// out.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == proxyCut {
		return // nothing is open; new connections stay refused
	}
	p.mode = proxyStalled
	for c := range p.conns {
		c.held.Store(true)
	}
}

// Restore ends a Cut or a Stall: new connections forward again. The
// connections that were stalled are closed with a reset and what they
// held is dropped, as when a dead network path's connections time out:
// the requests sent during the stall never reach the server.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = proxyForward
	for c := range p.conns {
		if c.held.Load() {
			c.abort()
		}
	}
	p.cond.Broadcast()
}

// RestoreLate ends a Cut or a Stall like [Proxy.Restore], except that the
// connections that were stalled stay open and keep holding what they read
// until release is called; then they deliver it, late, and forward
// normally. This is a request that a client gave up on landing after
// newer ones, as when a partition heals and TCP retransmits an old
// connection's data, or a paused server resumes and executes what was
// queued on its sockets. release may be called more than once.
func (p *Proxy) RestoreLate() (release func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = proxyForward
	var held []*proxyConn
	for c := range p.conns {
		if c.held.Load() {
			held = append(held, c)
		}
	}
	return func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range held {
			c.held.Store(false)
		}
		p.cond.Broadcast()
	}
}

// SetDelay adds a fixed latency d to every chunk of data in each
// direction (so a request and its reply take 2d more), keeping the order
// of the bytes. It applies to chunks read from then on. 0 (the default)
// forwards at once.
func (p *Proxy) SetDelay(d time.Duration) {
	if d < 0 {
		d = 0
	}
	p.delay.Store(int64(d))
}

// Conns returns the number of connections through the proxy that the
// client holds open: one the client closed counts no more, even while a
// stall holds what it sent.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for c := range p.conns {
		if !c.clientGone.Load() {
			n++
		}
	}
	return n
}

// ClientConns returns the number of the proxy's client connections that
// this process holds open: sockets connected to [Proxy.Addr] from an
// address the proxy accepted, and still open (/proc/self/net/tcp; a
// socket the process closed is orphaned there, without an inode, until
// its FIN handshake ends). It is what a client in this process spends
// on the proxy's server in file descriptors, seen the moment it closes
// one, where [Proxy.Conns] sees it when the proxy next reads from it.
// (A socket left from an earlier proxy on the same port, which a client
// that closes connections in the background may hold for a while, does
// not count.) On systems without /proc it returns -1.
//
// /proc/self/net/tcp is no snapshot: the kernel fills each read from the
// socket table as it is then, so while the client closes connections and
// opens others one reading can list a socket already closed beside its
// replacement (or one socket twice), and count more than were ever open
// at once. ClientConns reads it twice and counts the sockets (by inode,
// each once) listed both times: an inode is not reused while its socket
// lives, so each of them was open through the instant between the two
// readings, all at once.
func (p *Proxy) ClientConns() int {
	first, ok := p.clientSockets()
	if !ok {
		return -1
	}
	second, ok := p.clientSockets()
	if !ok {
		return -1
	}
	n := 0
	for inode := range second {
		if _, ok := first[inode]; ok {
			n++
		}
	}
	return n
}

// clientSockets reads /proc/self/net/tcp once and returns the inodes of
// the open sockets connected to the proxy from an address it accepted.
func (p *Proxy) clientSockets() (map[string]struct{}, bool) {
	b, err := os.ReadFile("/proc/self/net/tcp")
	if err != nil {
		return nil, false
	}
	want := procAddr(p.ln.Addr())
	p.mu.Lock()
	defer p.mu.Unlock()
	inodes := map[string]struct{}{}
	for line := range strings.Lines(string(b)) {
		if !strings.Contains(line, want) {
			continue // most lines (the machine's other sockets, TIME_WAIT): not split
		}
		f := strings.Fields(line)
		// sl local rem st tx:rx tr:when retr uid timeout inode ...
		if len(f) < 10 || f[2] != want || f[9] == "0" {
			continue
		}
		if _, ok := p.clients[f[1]]; ok {
			inodes[f[9]] = struct{}{}
		}
	}
	return inodes, true
}

// procAddr formats a TCP address as /proc/net/tcp does: the IPv4 address
// as its 32 bits in host order (little-endian here) and the port, in hex.
func procAddr(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok || ta.IP.To4() == nil {
		return ""
	}
	ip4 := ta.IP.To4()
	return fmt.Sprintf("%02X%02X%02X%02X:%04X", ip4[3], ip4[2], ip4[1], ip4[0], ta.Port)
}

func (p *Proxy) close() {
	p.mu.Lock()
	p.closed = true
	p.ln.Close()
	for c := range p.conns {
		c.abort()
	}
	p.cond.Broadcast()
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		cc, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.mu.Lock()
		p.clients[procAddr(cc.RemoteAddr())] = struct{}{}
		refuse := p.closed || p.mode == proxyCut
		if !refuse {
			p.wg.Add(1)
		}
		p.mu.Unlock()
		if refuse {
			reset(cc)
			continue
		}
		go p.connect(cc.(*net.TCPConn))
	}
}

// connect dials the target for a new client connection and starts
// forwarding.
func (p *Proxy) connect(client *net.TCPConn) {
	defer p.wg.Done()
	sc, err := net.DialTimeout("tcp", p.Target(), 5*time.Second)
	if err != nil {
		reset(client)
		return
	}
	server := sc.(*net.TCPConn)
	p.mu.Lock()
	if p.closed || p.mode == proxyCut {
		p.mu.Unlock()
		reset(client)
		reset(server)
		return
	}
	c := &proxyConn{p: p, client: client, server: server, dead: make(chan struct{})}
	c.held.Store(p.mode == proxyStalled)
	p.conns[c] = struct{}{}
	p.wg.Add(2)
	p.mu.Unlock()
	go c.pipe(client, server)
	go c.pipe(server, client)
}

// reset closes c with an RST instead of a FIN.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// proxyConn is one client connection and its connection to the server.
type proxyConn struct {
	p              *Proxy
	client, server *net.TCPConn
	held           atomic.Bool // stalled: forward nothing
	clientGone     atomic.Bool // the client closed or reset its side
	dead           chan struct{}
	deadOnce       sync.Once
	isDead         atomic.Bool
	finished       atomic.Int32 // directions done
}

// abort resets both sides. Callers hold p.mu.
func (c *proxyConn) abort() {
	c.deadOnce.Do(func() {
		c.isDead.Store(true)
		close(c.dead)
		reset(c.client)
		reset(c.server)
		delete(c.p.conns, c)
		c.p.cond.Broadcast()
	})
}

func (c *proxyConn) fail() {
	c.p.mu.Lock()
	c.abort()
	c.p.mu.Unlock()
}

// done is called by each direction when it ends; the second one closes
// the connection.
func (c *proxyConn) done() {
	if c.finished.Add(1) < 2 {
		return
	}
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	if c.isDead.Load() {
		return
	}
	c.deadOnce.Do(func() {
		c.isDead.Store(true)
		close(c.dead)
		c.client.Close()
		c.server.Close()
		delete(c.p.conns, c)
		c.p.cond.Broadcast()
	})
}

// ready waits while the connection is held and reports whether it is
// still alive.
func (c *proxyConn) ready() bool {
	if !c.held.Load() {
		return !c.isDead.Load()
	}
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	for c.held.Load() && !c.isDead.Load() {
		c.p.cond.Wait()
	}
	return !c.isDead.Load()
}

const chunkSize = 32 << 10

var chunkPool = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

type chunk struct {
	buf *[]byte
	n   int
	at  time.Time // when to deliver
	eof bool
}

// pipe forwards src to dst. With no delay, it writes each chunk itself
// as soon as it is read (one goroutine per direction, no copy); with a
// delay, or while the connection is held, chunks go through a queue to a
// writer goroutine that delivers each one at its time, in order, so that
// the pipe goes on reading and sees the sender close its side.
func (c *proxyConn) pipe(src, dst *net.TCPConn) {
	defer c.p.wg.Done()
	defer c.done()
	d := &direction{c: c, dst: dst}
	defer d.stop()
	buf := chunkPool.Get().(*[]byte)
	defer func() {
		if buf != nil {
			chunkPool.Put(buf)
		}
	}()
	for {
		n, err := src.Read(*buf)
		if n > 0 {
			delay := time.Duration(c.p.delay.Load())
			if delay == 0 && d.pending.Load() == 0 && !c.held.Load() {
				if !d.write((*buf)[:n]) {
					return
				}
			} else {
				if !d.enqueue(chunk{buf: buf, n: n, at: time.Now().Add(delay)}) {
					buf = nil
					return
				}
				buf = chunkPool.Get().(*[]byte)
			}
		}
		if err != nil {
			if src == c.client {
				c.clientGone.Store(true)
			}
			if !errors.Is(err, io.EOF) {
				c.fail()
				return
			}
			// The sender closed its side: pass the FIN on after the data.
			if d.pending.Load() > 0 {
				d.enqueue(chunk{eof: true})
			} else if c.ready() {
				dst.CloseWrite()
			}
			return
		}
	}
}

// direction is the delivery side of a pipe.
type direction struct {
	c       *proxyConn
	dst     *net.TCPConn
	pending atomic.Int64 // chunks queued and not yet written
	queue   chan chunk
	wg      sync.WaitGroup
}

func (d *direction) write(b []byte) bool {
	if !d.c.ready() {
		return false
	}
	if _, err := d.dst.Write(b); err != nil {
		d.c.fail()
		return false
	}
	return true
}

// enqueue hands a chunk to the writer goroutine, starting it on first
// use. It reports false when the connection died.
func (d *direction) enqueue(ch chunk) bool {
	if d.queue == nil {
		d.queue = make(chan chunk, 64)
		d.wg.Add(1)
		go d.writer()
	}
	d.pending.Add(1)
	select {
	case d.queue <- ch:
		return true
	case <-d.c.dead:
		d.pending.Add(-1)
		if ch.buf != nil {
			chunkPool.Put(ch.buf)
		}
		return false
	}
}

func (d *direction) writer() {
	defer d.wg.Done()
	var t *time.Timer
	for ch := range d.queue {
		for !d.c.isDead.Load() {
			wait := time.Until(ch.at)
			if wait <= 0 {
				break
			}
			if wait <= 2*time.Millisecond {
				// Go's timers round a short sleep up to about a
				// millisecond when the process is idle; nanosleep keeps
				// sub-millisecond delays close to what was asked.
				ts := syscall.NsecToTimespec(int64(wait))
				syscall.Nanosleep(&ts, nil)
				break
			}
			wait -= time.Millisecond
			if t == nil {
				t = time.NewTimer(wait)
			} else {
				t.Reset(wait)
			}
			select {
			case <-t.C:
			case <-d.c.dead:
			}
		}
		switch {
		case ch.eof:
			if d.c.ready() {
				d.dst.CloseWrite()
			}
		case !d.c.isDead.Load():
			d.write((*ch.buf)[:ch.n])
		}
		if ch.buf != nil {
			chunkPool.Put(ch.buf)
		}
		d.pending.Add(-1)
	}
}

// stop ends the writer goroutine once the queue is drained.
func (d *direction) stop() {
	if d.queue != nil {
		close(d.queue)
		d.wg.Wait()
	}
}
