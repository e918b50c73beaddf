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
	"github.com/sessionkit/sessions/internal/ctxcall"
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

// call runs op, one gomemcache call on the client it is given, and
// returns its error; when ctx ends first, op is stopped and the caller
// gets the context's error from fail.
//
// gomemcache takes no context: each call is bounded only by the client's
// timeout (timeout=, 500 ms by default), for the dial and again for the
// command. A Store opened from a URL runs op inline on a lane of its own
// (see lane), which ctx's end interrupts. A Store over a caller's client
// (New) cannot reach that client's connections: with a context that can
// end, op runs in a goroutine of its own, which call leaves behind when
// the context ends (ctxcall.Err); that goroutine ends within twice the
// client's timeout (dial, then command) at the latest, and gomemcache
// closes a connection whose command failed (a timeout is not a
// protocol-level reply) instead of returning it to the pool, so a later
// call never reads the reply meant for an abandoned one. Either way a
// command already sent may still take effect on the server, as with any
// request that times out, and a context that ended before the call
// (between two steps of one method, such as Swap's gets and cas) sends
// nothing.
func (s *Store) call(ctx context.Context, op func(*memcache.Client) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.lanes == nil {
		return ctxcall.Err(ctx, func(ctx context.Context) error { return s.do(ctx, s.c, op) })
	}
	l, err := s.lanes.get(ctx)
	if err != nil {
		return err
	}
	err = l.run(ctx, func() error { return s.do(ctx, l.c, op) })
	s.lanes.put(l)
	return err
}

// do runs op on c, and once more if it failed on a connection that had
// gone stale (the server restarted, or something dropped the idle
// connection) and ctx has not ended: it first drops c's idle
// connections, so the retry dials afresh. A retried write is safe: add
// and cas report that the first attempt took effect (ErrExists,
// ErrConflict), which the Manager handles, and replace, touch and delete
// are idempotent.
func (s *Store) do(ctx context.Context, c *memcache.Client, op func(*memcache.Client) error) error {
	err := op(c)
	if err != nil && staleConn(err) && ctx.Err() == nil {
		c.Close() // idle connections only; the client stays usable
		err = op(c)
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
