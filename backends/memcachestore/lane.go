package memcachestore

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/sessionkit/sessions"
)

// A lane is a gomemcache client that serves one call at a time, so that
// the call, run inline on its caller's goroutine, can be stopped when its
// context ends: gomemcache takes no context and sets its connections'
// deadlines itself (now plus its timeout, before each command and each
// line of a reply), and a connection cannot tell which call it serves,
// but every connection of a lane serves that lane's current call. The
// lane's client dials through the lane, which wraps each connection:
// while a call runs, a context.AfterFunc on its context interrupts it
// (sets every connection of the lane to an expired deadline, and keeps
// the deadlines gomemcache sets afterwards expired until the call ends),
// so the blocked read or write returns at once with a timeout, and
// gomemcache closes that connection rather than pool it (a timeout is not
// a protocol-level reply): a later call never reads the reply meant for
// the interrupted one. A dial runs under the call's context, so it stops
// too.
//
// gen tells the calls of a lane apart: an interruption scheduled for one
// call that comes late (its context ended as the call returned) finds a
// newer generation and does nothing.
type lane struct {
	c *memcache.Client
	// ctx is the context of the call running now, for dials; it is set
	// and read only by the goroutine that holds the lane.
	ctx context.Context

	mu          sync.Mutex
	gen         uint64
	interrupted bool // the call of generation gen was interrupted
	conns       []*laneConn
}

// expired is a deadline in the past: I/O on a connection with it fails at
// once with os.ErrDeadlineExceeded.
var expired = time.Unix(1, 0)

// run calls f, which uses l.c, with ctx: inline, interrupted if ctx ends.
func (l *lane) run(ctx context.Context, f func() error) error {
	if ctx.Done() == nil { // context.Background and the like never end
		return f()
	}
	l.ctx = ctx
	gen := l.gen // only the holder changes gen
	stop := context.AfterFunc(ctx, func() { l.interrupt(gen) })
	err := f()
	if !stop() { // the interruption ran or is on its way: make it stale
		l.mu.Lock()
		l.gen++
		l.interrupted = false
		l.mu.Unlock()
	}
	l.ctx = nil
	return err
}

// interrupt expires the deadlines of every connection of l, if the call
// of generation gen is still running.
func (l *lane) interrupt(gen uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.gen != gen {
		return
	}
	l.interrupted = true
	for _, c := range l.conns {
		c.Conn.SetDeadline(expired)
	}
}

// dial is the lane client's DialContext. ctx is gomemcache's, bounded by
// the client's timeout; the dial also stops when the call's context ends.
func (l *lane) dial(ctx context.Context, network, address string) (net.Conn, error) {
	if call := l.ctx; call != nil {
		if d, ok := ctx.Deadline(); ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(call, d)
			defer cancel()
		}
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	c := &laneConn{Conn: nc, l: l}
	l.mu.Lock()
	l.conns = append(l.conns, c)
	if l.interrupted {
		nc.SetDeadline(expired)
	}
	l.mu.Unlock()
	return c, nil
}

// laneConn is a connection of a lane. Once the lane's call is
// interrupted, the deadlines gomemcache sets stay expired.
type laneConn struct {
	net.Conn
	l *lane
}

func (c *laneConn) SetDeadline(t time.Time) error { return c.set(t, c.Conn.SetDeadline) }

func (c *laneConn) SetReadDeadline(t time.Time) error { return c.set(t, c.Conn.SetReadDeadline) }

func (c *laneConn) SetWriteDeadline(t time.Time) error { return c.set(t, c.Conn.SetWriteDeadline) }

// set applies the deadline t, or an expired one once the lane's call is
// interrupted.
func (c *laneConn) set(t time.Time, apply func(time.Time) error) error {
	c.l.mu.Lock()
	defer c.l.mu.Unlock()
	if c.l.interrupted {
		t = expired
	}
	return apply(t)
}

func (c *laneConn) Close() error {
	c.l.mu.Lock()
	if i := slices.Index(c.l.conns, c); i >= 0 {
		c.l.conns = slices.Delete(c.l.conns, i, i+1)
	}
	c.l.mu.Unlock()
	return c.Conn.Close()
}

// lanes is a Store's pool of lanes. A call takes the lane used last (its
// connections are the likeliest to be open), or a new one while fewer
// than maxConns exist; with maxConns lanes busy it waits, first come
// first served, for one to be given back, at most wait (and no longer
// than its context), and then fails with a busyError. Since a lane holds
// at most one connection per server, no more than maxConns connections to
// any one server are open at a time, however many requests pile up on a
// stalled server. At most maxIdle lanes are kept idle; a lane given back
// beyond that, or after close, is closed (its idle connections).
type lanes struct {
	sel      memcache.ServerSelector
	timeout  time.Duration
	maxIdle  int
	maxConns int
	wait     time.Duration

	mu      sync.Mutex
	free    []*lane
	made    int          // lanes that exist, free or busy
	waiters []chan *lane // calls waiting for a lane, oldest first
	closed  bool
}

// busyError is the error of a call that found every lane busy for the
// pool's wait: a timeout (net.Error), matching os.ErrDeadlineExceeded.
type busyError struct {
	maxConns int
	waited   time.Duration
}

func (e *busyError) Error() string {
	return fmt.Sprintf("all %d connections (max_conns) busy for %v (pool_timeout)", e.maxConns, e.waited.Round(time.Millisecond))
}

func (e *busyError) Timeout() bool   { return true }
func (e *busyError) Temporary() bool { return true }
func (e *busyError) Unwrap() error   { return os.ErrDeadlineExceeded }

// get returns a lane for one call: a free one, a new one, or the first
// one given back within p.wait. It fails with ctx's error when ctx ends
// first, and with sessions.ErrClosed after close.
func (p *lanes) get(ctx context.Context) (*lane, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, sessions.ErrClosed
	}
	if n := len(p.free); n > 0 {
		l := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		p.mu.Unlock()
		return l, nil
	}
	if p.made < p.maxConns {
		p.made++
		p.mu.Unlock()
		return p.newLane(), nil
	}
	ch := make(chan *lane, 1)
	p.waiters = append(p.waiters, ch)
	p.mu.Unlock()
	t := time.NewTimer(p.wait)
	defer t.Stop()
	var err error
	select {
	case l, ok := <-ch:
		if ok {
			return l, nil
		}
		return nil, sessions.ErrClosed
	case <-ctx.Done():
		err = ctx.Err()
	case <-t.C:
		err = &busyError{maxConns: p.maxConns, waited: p.wait}
	}
	p.mu.Lock()
	if i := slices.Index(p.waiters, ch); i >= 0 {
		p.waiters = slices.Delete(p.waiters, i, i+1)
	}
	p.mu.Unlock()
	select {
	case l, ok := <-ch: // handed over as we gave up: pass it on
		if ok {
			p.put(l)
		}
	default:
	}
	return nil, err
}

func (p *lanes) newLane() *lane {
	l := &lane{}
	l.c = memcache.NewFromSelector(p.sel)
	l.c.Timeout = p.timeout
	l.c.MaxIdleConns = 1 // one call at a time uses one connection at a time
	l.c.DialContext = l.dial
	return l
}

// put gives l back: to the oldest waiting call, else to the free list, or
// closes it.
func (p *lanes) put(l *lane) {
	p.mu.Lock()
	if p.handOver(l) {
		p.mu.Unlock()
		return
	}
	if !p.closed && len(p.free) < p.maxIdle {
		p.free = append(p.free, l)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	// The lane counts until its connections are closed: a lane made in
	// its place before that would hold a connection to a server beside
	// this one's, more than maxConns at once.
	l.c.Close()
	p.mu.Lock()
	p.made--
	if !p.closed && len(p.waiters) > 0 {
		// A call began to wait while the lane closed: the place is its.
		p.made++
		p.handOver(p.newLane())
	}
	p.mu.Unlock()
}

// handOver gives l to the oldest waiting call, if there is one and the
// pool is open. Callers hold p.mu: the lane must be in the waiter's
// channel before the lock goes, or a waiter that gives up in between
// would find its channel empty, return, and leave the lane there for
// good (still counted against maxConns, never used again).
func (p *lanes) handOver(l *lane) bool {
	if p.closed || len(p.waiters) == 0 {
		return false
	}
	ch := p.waiters[0]
	p.waiters[0] = nil
	p.waiters = p.waiters[1:]
	ch <- l // buffered, and only ever sent one lane: never blocks
	return true
}

// close closes the idle lanes, fails the waiting calls with
// sessions.ErrClosed, and makes put close the busy lanes as their calls
// end.
func (p *lanes) close() error {
	p.mu.Lock()
	free, waiters := p.free, p.waiters
	p.free, p.waiters, p.closed = nil, nil, true
	p.made -= len(free)
	p.mu.Unlock()
	for _, ch := range waiters {
		close(ch)
	}
	var first error
	for _, l := range free {
		if err := l.c.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
