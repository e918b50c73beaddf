package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessionkit/sessions"
)

// ErrNotReplicated matches the error of a write that the master applied
// but that fewer replicas than Options.WaitReplicas acknowledged within
// Options.WaitTimeout. The write stands on the master; if the master fails
// over before its replicas catch up, the write may be lost, which for a
// logout (a Delete) means the session comes back. The Manager reports the
// error as it reports any failed save (Settings.ErrorHandler, 500 by
// default), so the application does not acknowledge, for example, a logout
// that a failover could undo.
var ErrNotReplicated = errors.New("write not acknowledged by enough replicas")

// defaultWaitTimeout is how long a write waits for its replicas by default
// (wait_timeout, Options.WaitTimeout).
const defaultWaitTimeout = 500 * time.Millisecond

// write runs the write cmd makes on key k. With Options.WaitReplicas it
// runs it in one round trip with WAIT, on a connection to k's master
// (WAIT counts the replicas that acknowledged that connection's writes),
// and when wrote (nil: always) says the command changed something, fails
// with an error matching ErrNotReplicated unless enough replicas
// acknowledged it. Scripts must go through s.script, which queues EVAL in
// a pipeline (EVALSHA cannot fall back to EVAL there).
func (s *Store) write(ctx context.Context, k string, cmd func(c redis.Cmdable) redis.Cmder, wrote func() bool) error {
	if s.waitReplicas == 0 {
		return cmd(s.c).Err()
	}
	var p redis.Pipeliner
	switch c := s.c.(type) {
	case *redis.ClusterClient:
		// A cluster pipeline sends a command without a key (WAIT) to any
		// node: go to the key's master.
		node, err := c.MasterForKey(ctx, k)
		if err != nil {
			return err
		}
		p = node.Pipeline()
	default: // *redis.Client (checked when the Store is made)
		p = s.c.Pipeline()
	}
	c := cmd(p)
	w := p.Do(ctx, "wait", s.waitReplicas, s.waitTimeout.Milliseconds())
	_, execErr := p.Exec(ctx)
	if err := c.Err(); err != nil {
		return err
	}
	if err := w.Err(); err != nil {
		return err
	}
	if execErr != nil {
		return execErr
	}
	if wrote != nil && !wrote() {
		return nil
	}
	n, err := w.Int64()
	if err != nil {
		return fmt.Errorf("redis: unexpected reply to WAIT: %w", err)
	}
	if n < int64(s.waitReplicas) {
		return fmt.Errorf("%w: the master applied the write, %d of %d replicas acknowledged it within %v (wait_replicas, wait_timeout); a failover now could lose it", ErrNotReplicated, n, s.waitReplicas, s.waitTimeout)
	}
	return nil
}

// script runs sc on c: EVALSHA (EVAL once after a server restart) on a
// client, EVAL in a pipeline (see write).
func script(ctx context.Context, c redis.Cmdable, sc *redis.Script, keys []string, args ...any) *redis.Cmd {
	if _, ok := c.(redis.Pipeliner); ok {
		return sc.Eval(ctx, c, keys, args...)
	}
	return sc.Run(ctx, c, keys, args...)
}

// checkWait checks Options.WaitReplicas and WaitTimeout for client c,
// whose calls end after budget (zero: no bound of the Store's; then the
// client's read and write timeouts bound each command, WAIT included).
func checkWait(c redis.UniversalClient, replicas int, timeout, budget time.Duration) error {
	if replicas == 0 {
		return nil
	}
	if replicas < 0 || replicas > 100 {
		return fmt.Errorf("%w: redis: wait_replicas must be between 0 and 100, got %d", sessions.ErrBadConfig, replicas)
	}
	if timeout <= 0 {
		return fmt.Errorf("%w: redis: wait_timeout must be positive (WAIT 0 would block until the replicas answer, however long)", sessions.ErrBadConfig)
	}
	var o *redis.Options
	switch x := c.(type) {
	case *redis.Client:
		o = x.Options()
	case *redis.ClusterClient:
		co := x.Options()
		o = &redis.Options{ReadTimeout: co.ReadTimeout, WriteTimeout: co.WriteTimeout}
	default:
		return fmt.Errorf("%w: redis: wait_replicas needs a *redis.Client (one server or Sentinel) or a *redis.ClusterClient, not %T: WAIT must reach the master of the key written", sessions.ErrBadConfig, c)
	}
	bound, what := budget, "the shorter of read_timeout and write_timeout"
	if bound <= 0 {
		for _, t := range []struct {
			name string
			d    time.Duration
		}{{"read_timeout", o.ReadTimeout}, {"write_timeout", o.WriteTimeout}} {
			if t.d > 0 && (bound <= 0 || t.d < bound) {
				bound, what = t.d, t.name
			}
		}
	}
	if bound > 0 && timeout >= bound {
		return fmt.Errorf("%w: redis: wait_timeout (%v) must be shorter than %s (%v): a write waits for its replicas within the call", sessions.ErrBadConfig, timeout, what, bound)
	}
	return nil
}
