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
// connection recognises it and learns which call it serves, and the
// call's end (its context's cancellation, or its tag passing) sets an
// expired deadline on it. The blocked read or write then returns at once,
// go-redis closes the connection instead of pooling it (a timeout is not
// a reply), and the call returns the error. The tag is never later than
// what go-redis would have set by itself (the earlier of the context's
// deadline and the start of the call plus the shorter of the read and
// write timeouts), so go-redis always takes it.
//
// The call's context also ends (Done, Err) at its tag, not only when the
// caller's does: go-redis waits on it, not on a socket, for a connection
// of a full pool and between retries, and would otherwise wait there
// (pool_timeout, then again for each retry) past the bound while a
// stalled server holds every connection. One timer per Store ends the
// calls whose tag has passed.

import (
	"context"
	"fmt"
	"math"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
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
	timer *time.Timer            // runs sweep at the earliest tag, while armed
	armed bool
}

func newWatcher(read, write time.Duration) *watcher {
	// go-redis's defaults: 5 s to read, and to write what reading takes.
	if read <= 0 {
		read = 5 * time.Second
	}
	if write <= 0 {
		write = read
	}
	w := &watcher{budget: min(read, write), calls: make(map[int64]*watchedCall)}
	w.timer = time.AfterFunc(time.Hour, w.sweep)
	w.timer.Stop()
	return w
}

// watchedCall is one call of a Store, between begin and end. It is the
// context handed to go-redis: the caller's values, the call's tag as its
// deadline, and an end of its own (done), at the caller's cancellation or
// at the tag, whichever comes first.
type watchedCall struct {
	context.Context           // the caller's
	deadline        time.Time // the tag
	tag             int64     // deadline in Unix nanoseconds
	done            chan struct{}
	err             atomic.Pointer[error] // set before done is closed
	stop            func() bool           // unregisters finish from the caller's context
	// The connections that served it, under watcher.mu: nearly always one.
	conn *watchedConn
	more []*watchedConn
}

func (c *watchedCall) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *watchedCall) Done() <-chan struct{} { return c.done }

func (c *watchedCall) Err() error {
	if e := c.err.Load(); e != nil {
		return *e
	}
	return nil
}

// timedOut reports whether the call ended at its own tag, not by its
// caller's context.
func (c *watchedCall) timedOut() bool {
	return c.Err() == context.DeadlineExceeded && c.Context.Err() == nil
}

// begin registers a call with ctx and returns the context to hand to
// go-redis.
func (w *watcher) begin(ctx context.Context) *watchedCall {
	d := time.Now().Add(w.budget)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		d = cd
	}
	call := &watchedCall{Context: ctx, done: make(chan struct{})}
	w.mu.Lock()
	n := d.UnixNano()
	for w.calls[n] != nil { // taken by a call that began in the same nanosecond
		n--
	}
	w.calls[n] = call
	call.tag, call.deadline = n, d.Add(time.Duration(n-d.UnixNano()))
	if !w.armed {
		w.armed = true
		w.timer.Reset(time.Until(call.deadline))
	}
	w.mu.Unlock()
	if ctx.Done() != nil {
		// A caller's deadline earlier than the tag ends the call this way
		// too (the sweep runs at the budget's tags).
		call.stop = context.AfterFunc(ctx, func() { w.finish(call, ctx.Err()) })
	}
	return call
}

// finish ends call with err: its context is done, and the connections
// serving it are interrupted.
func (w *watcher) finish(call *watchedCall, err error) {
	w.mu.Lock()
	if call.err.Load() != nil {
		w.mu.Unlock()
		return
	}
	call.err.Store(&err)
	close(call.done)
	first, more := call.conn, slices.Clone(call.more)
	w.mu.Unlock()
	if first != nil {
		first.interrupt(call)
	}
	for _, c := range more {
		c.interrupt(call)
	}
}

// sweep ends the calls whose tag has passed, and arms the timer for the
// earliest tag still to come.
func (w *watcher) sweep() {
	now := time.Now().UnixNano()
	var due []*watchedCall
	next := int64(math.MaxInt64)
	w.mu.Lock()
	for tag, call := range w.calls {
		switch {
		case tag <= now:
			if call.err.Load() == nil {
				due = append(due, call)
			}
		case tag < next:
			next = tag
		}
	}
	if next == math.MaxInt64 {
		w.armed = false
	} else {
		w.timer.Reset(time.Duration(next - now))
	}
	w.mu.Unlock()
	for _, call := range due {
		w.finish(call, context.DeadlineExceeded)
	}
}

// end forgets call: a later cancellation of its context touches none of
// the connections that served it.
func (w *watcher) end(call *watchedCall) {
	if call.stop != nil {
		call.stop()
	}
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
}

// NetConn returns the connection it wraps, as crypto/tls.Conn does.
func (c *watchedConn) NetConn() net.Conn { return c.Conn }

func (c *watchedConn) SetDeadline(t time.Time) error { return c.set(t, c.Conn.SetDeadline) }

func (c *watchedConn) SetReadDeadline(t time.Time) error { return c.set(t, c.Conn.SetReadDeadline) }

func (c *watchedConn) SetWriteDeadline(t time.Time) error { return c.set(t, c.Conn.SetWriteDeadline) }

// set applies the deadline t, and when t is a call's tag, notes that the
// connection serves that call, whose end interrupts it (finish). A call
// ended already gets an expired deadline instead: its end may have come
// between two of go-redis's steps (after the write, before the read), or
// before attach listed the connection.
func (c *watchedConn) set(t time.Time, apply func(time.Time) error) error {
	call := c.w.attach(t, c)
	c.mu.Lock()
	defer c.mu.Unlock()
	if call != c.call {
		c.call = call
	}
	if call != nil && call.Err() != nil {
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
		c.call = nil
	}
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
	if s.watch == nil {
		return ctxcall.Call(ctx, f)
	}
	if err := ctx.Err(); err != nil {
		var zero T
		return zero, err
	}
	call := s.watch.begin(ctx)
	defer s.watch.end(call)
	v, err := f(call)
	if err != nil && call.timedOut() {
		// The call's own bound, not the caller's context: say so, as a
		// timeout of the store (never the caller's context error).
		err = fmt.Errorf("no answer within %v (the shorter of read_timeout and write_timeout), retries included: %w (%v)", s.watch.budget, os.ErrDeadlineExceeded, err)
	}
	return v, err
}

// watchedErr is watched for an f that returns only an error.
func watchedErr(ctx context.Context, s *Store, f func(context.Context) error) error {
	_, err := watched(ctx, s, func(ctx context.Context) (struct{}, error) { return struct{}{}, f(ctx) })
	return err
}
