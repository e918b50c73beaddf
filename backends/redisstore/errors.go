package redisstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// fail turns a go-redis error into the engine's: context errors pass
// through, connection errors name the server.
func (s *Store) fail(ctx context.Context, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr // the failure is the context's doing
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		// The socket's read deadline (the context's) fired a moment
		// before the context's own timer.
		return context.DeadlineExceeded
	}
	if isNetErr(err) {
		if cc, ok := s.c.(*redis.ClusterClient); ok {
			// A master that died answers no MOVED, after which go-redis
			// would reload the slot map: without this it keeps sending
			// its slots' commands to the dead address until its periodic
			// reload (every 60 s), long after a replica took over. The
			// reload runs in the background, coalesced, at most every
			// 200 ms.
			cc.ReloadState(ctx)
		}
		return fmt.Errorf("redis unreachable (%s): %w", s.where, err)
	}
	return fmt.Errorf("redis (%s): %w", s.where, err)
}

func isNetErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, redis.ErrPoolTimeout)
}
