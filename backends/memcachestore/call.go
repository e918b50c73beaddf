package memcachestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/sessionkit/sessions"
)

// fail turns a gomemcache error into the engine's: the context's error
// when the context ended, which is then the cause.
func (s *Store) fail(ctx context.Context, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	if isTooLarge(err) {
		return fmt.Errorf("%w: memcached (%s) refused the value: %w", sessions.ErrTooLarge, s.where, err)
	}
	var ne net.Error
	var cte *memcache.ConnectTimeoutError
	if errors.As(err, &ne) || errors.As(err, &cte) || errors.Is(err, memcache.ErrNoServers) || staleConn(err) {
		return fmt.Errorf("memcached unreachable (%s): %w", s.where, err)
	}
	return fmt.Errorf("memcached (%s): %w", s.where, err)
}

// call runs op, one gomemcache call, and returns its error, or the
// context's error as soon as ctx ends, whichever comes first.
//
// gomemcache takes no context: each call is bounded only by the client's
// timeout (timeout=, 500 ms by default), for the dial and again for the
// command. So, with a context that can end, op runs in a goroutine of its
// own, which call leaves behind when the context ends. That goroutine ends
// within twice the client's timeout (dial, then command) at the latest,
// and gomemcache closes a connection whose command failed (a timeout is
// not a protocol-level reply) instead of returning it to the pool, so a
// later call never reads the reply meant for an abandoned one; a command
// that completes returns its connection clean. A command already sent
// may still take effect on the server, as with any request that times
// out. A context that ended before the call (between two steps of one
// method, such as Swap's gets and cas) sends nothing.
func (s *Store) call(ctx context.Context, op func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if ctx.Done() == nil { // context.Background and the like never end
		return s.do(ctx, op)
	}
	type result struct {
		err    error
		panicv any // a panic in op goes on in the caller
	}
	done := make(chan result, 1) // buffered: an abandoned op does not block
	go func() {
		var r result
		defer func() {
			if p := recover(); p != nil {
				r.panicv = p
			}
			done <- r
		}()
		r.err = s.do(ctx, op)
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		select {
		case r = <-done: // finished at the same moment: keep its answer
		default:
			return ctx.Err()
		}
	}
	if r.panicv != nil {
		panic(r.panicv)
	}
	return r.err
}

// do runs op, and once more if it failed on a connection that had gone
// stale (the server restarted, or something dropped the idle
// connection) and ctx has not ended: it first drops the client's idle
// connections, so the retry dials afresh. A retried write is safe: add
// and cas report that the first attempt took effect (ErrExists,
// ErrConflict), which the Manager handles, and replace, touch and delete
// are idempotent. A connection that an op abandoned by call returns to
// the pool after Close is closed here.
func (s *Store) do(ctx context.Context, op func() error) error {
	err := op()
	if err != nil && staleConn(err) && ctx.Err() == nil {
		s.c.Close() // idle connections only; the client stays usable
		err = op()
	}
	if s.own && s.closed.Load() {
		s.c.Close()
	}
	return err
}

func staleConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}

func isTooLarge(err error) bool {
	return err != nil && strings.Contains(err.Error(), "object too large")
}
