package redisstore

// Cancellation without a goroutine per command (see Contexts in the
// package documentation).
//
// go-redis ends a socket read or write at the context's deadline (with
// ContextTimeoutEnabled) but does not watch for cancellation. A Store that
// opens its own client therefore dials through a watcher: every call runs
// inline with a context whose deadline is a tag, an instant the watcher
// has handed out to that call alone; go-redis passes that instant to the
// connection's SetReadDeadline and SetWriteDeadline, where the watcher's
// connection recognises it, learns which call it serves, and arranges
// (context.AfterFunc) that the call's cancellation sets an expired
// deadline on it. The blocked read or write then returns at once, go-redis
// closes the connection instead of pooling it (a timeout is not a reply),
// and the call returns the context's error. The tag is never later than
// what go-redis would have set by itself (the earlier of the context's
// deadline and the start of the call plus the shorter of the read and
// write timeouts), so go-redis always takes it.

import (
	"context"
	"net"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/sessionkit/sessions/internal/ctxcall"
)

// expired is a deadline that has passed: it interrupts a blocked read or
// write.
var expired = time.Unix(1, 0)

// watcher hands out the tags of one Store's calls.
type watcher struct {
	budget time.Duration // the shorter of the client's read and write timeouts

	mu    sync.Mutex
	calls map[int64]*watchedCall // by tag, in Unix nanoseconds
}

func newWatcher(read, write time.Duration) *watcher {
	// go-redis's defaults: 5 s to read, and to write what reading takes.
	if read <= 0 {
		read = 5 * time.Second
	}
	if write <= 0 {
		write = read
	}
	return &watcher{budget: min(read, write), calls: make(map[int64]*watchedCall)}
}

// watchedCall is one call of a Store, between begin and end. It is the
// context handed to go-redis: the caller's, with the call's tag as its
// deadline.
type watchedCall struct {
	context.Context           // the caller's
	deadline        time.Time // the tag
	tag             int64     // deadline in Unix nanoseconds
	// The connections that served it, under watcher.mu: nearly always one.
	conn *watchedConn
	more []*watchedConn
}

func (c *watchedCall) Deadline() (time.Time, bool) { return c.deadline, true }

// begin registers a call with ctx, which must be able to end, and returns
// the context to hand to go-redis.
func (w *watcher) begin(ctx context.Context) *watchedCall {
	d := time.Now().Add(w.budget)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		d = cd
	}
	call := &watchedCall{Context: ctx}
	w.mu.Lock()
	n := d.UnixNano()
	for w.calls[n] != nil { // taken by a call that began in the same nanosecond
		n--
	}
	w.calls[n] = call
	w.mu.Unlock()
	call.tag, call.deadline = n, d.Add(time.Duration(n-d.UnixNano()))
	return call
}

// end forgets call: a later cancellation of its context touches none of
// the connections that served it.
func (w *watcher) end(call *watchedCall) {
	w.mu.Lock()
	delete(w.calls, call.tag)
	first, more := call.conn, call.more
	call.conn, call.more = nil, nil
	w.mu.Unlock()
	if first != nil {
		first.release(call)
	}
	for _, c := range more {
		c.release(call)
	}
}

// attach returns the call whose tag t is, or nil, and notes that c serves
// it.
func (w *watcher) attach(t time.Time, c *watchedConn) *watchedCall {
	if t.IsZero() {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	call := w.calls[t.UnixNano()]
	switch {
	case call == nil || call.conn == c || slices.Contains(call.more, c):
	case call.conn == nil:
		call.conn = c
	default:
		call.more = append(call.more, c)
	}
	return call
}

// wrap wraps a connection dialled for the client so that it learns which
// call it serves.
func (w *watcher) wrap(nc net.Conn) net.Conn {
	c := &watchedConn{Conn: nc, w: w}
	if sc, ok := nc.(syscall.Conn); ok {
		// go-redis checks the health of a pooled connection through its
		// file descriptor, when the connection it dialled exposes one.
		return &watchedSysConn{watchedConn: c, sc: sc}
	}
	return c
}

// watchedConn is a connection of a Store's client.
type watchedConn struct {
	net.Conn
	w *watcher

	mu   sync.Mutex
	call *watchedCall // the call it serves, or nil
	stop func() bool  // unregisters the interruption on call's cancellation
}

// NetConn returns the connection it wraps, as crypto/tls.Conn does.
func (c *watchedConn) NetConn() net.Conn { return c.Conn }

func (c *watchedConn) SetDeadline(t time.Time) error { return c.set(t, c.Conn.SetDeadline) }

func (c *watchedConn) SetReadDeadline(t time.Time) error { return c.set(t, c.Conn.SetReadDeadline) }

func (c *watchedConn) SetWriteDeadline(t time.Time) error { return c.set(t, c.Conn.SetWriteDeadline) }

// set applies the deadline t, and when t is a call's tag, makes that
// call's cancellation interrupt the connection. A call cancelled already
// gets an expired deadline instead: its cancellation may have come
// between two of go-redis's steps (after the write, before the read).
func (c *watchedConn) set(t time.Time, apply func(time.Time) error) error {
	call := c.w.attach(t, c)
	c.mu.Lock()
	defer c.mu.Unlock()
	if call != c.call {
		c.detach()
		if call != nil {
			c.call = call
			c.stop = context.AfterFunc(call.Context, func() { c.interrupt(call) })
		}
	}
	if call != nil && call.Context.Err() != nil {
		t = expired
	}
	return apply(t)
}

// interrupt ends the read or write that call is blocked in, if the
// connection still serves it.
func (c *watchedConn) interrupt(call *watchedCall) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.call == call {
		c.Conn.SetDeadline(expired)
	}
}

// release ends the connection's service to call.
func (c *watchedConn) release(call *watchedCall) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.call == call {
		c.detach()
	}
}

func (c *watchedConn) detach() {
	if c.stop != nil {
		c.stop()
	}
	c.call, c.stop = nil, nil
}

// watchedSysConn is a watchedConn over a connection with a file
// descriptor.
type watchedSysConn struct {
	*watchedConn
	sc syscall.Conn
}

// SyscallConn returns the raw connection of the connection it wraps.
func (c *watchedSysConn) SyscallConn() (syscall.RawConn, error) { return c.sc.SyscallConn() }

// watched runs f with ctx. With a Store that dials its own
// connections and a context that can end, f runs inline and ctx's
// cancellation interrupts the connection it uses; otherwise ctxcall's
// rules apply (see Contexts in the package documentation).
func watched[T any](ctx context.Context, s *Store, f func(context.Context) (T, error)) (T, error) {
	if s.watch == nil || ctx.Done() == nil {
		return ctxcall.Call(ctx, f)
	}
	if err := ctx.Err(); err != nil {
		var zero T
		return zero, err
	}
	call := s.watch.begin(ctx)
	defer s.watch.end(call)
	return f(call)
}

// watchedErr is watched for an f that returns only an error.
func watchedErr(ctx context.Context, s *Store, f func(context.Context) error) error {
	_, err := watched(ctx, s, func(ctx context.Context) (struct{}, error) { return struct{}{}, f(ctx) })
	return err
}
