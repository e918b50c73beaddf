package redisstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// The router of go-redis's own log lines (see the package documentation,
// Logging). A failed dial is tied to its Store by the Store's dialer,
// which marks its errors (dialError); go-redis logs that error as an
// argument of its "failed to dial" line.

// logRoute is where one Store's go-redis lines go.
type logRoute struct {
	log     *slog.Logger // nil: slog.Default() when the line comes
	where   string       // the Store's servers, without credentials
	secrets []string     // redacted from every line
}

var logRouter struct {
	once   sync.Once
	mu     sync.RWMutex
	routes []*logRoute // the open Stores', in opening order
	last   *logRoute   // the last one closed
}

// register makes r receive go-redis's lines until unregister.
func register(r *logRoute) {
	logRouter.once.Do(func() { redis.SetLogger(goRedisLogger{}) })
	logRouter.mu.Lock()
	logRouter.routes = append(logRouter.routes, r)
	logRouter.mu.Unlock()
}

func unregister(r *logRoute) {
	logRouter.mu.Lock()
	logRouter.routes = slices.DeleteFunc(logRouter.routes, func(x *logRoute) bool { return x == r })
	logRouter.last = r
	logRouter.mu.Unlock()
}

// goRedisLogger is the router installed with redis.SetLogger.
type goRedisLogger struct{}

// Printf implements go-redis's logging interface.
func (goRedisLogger) Printf(ctx context.Context, format string, args ...any) {
	if ctx == nil {
		ctx = context.Background()
	}
	msg := fmt.Sprintf(format, args...)
	var from *logRoute
	for _, a := range args {
		var de *dialError
		if err, ok := a.(error); ok && errors.As(err, &de) {
			from = de.route
			break
		}
	}
	logRouter.mu.RLock()
	routes := slices.Clone(logRouter.routes)
	last := logRouter.last
	logRouter.mu.RUnlock()
	msg = redact(msg, routes, from, last)
	if from != nil {
		from.logger().LogAttrs(ctx, slog.LevelWarn, msg, slog.String("engine", Scheme), slog.String("server", from.where))
		return
	}
	if len(routes) == 0 && last != nil {
		routes = []*logRoute{last}
	}
	var done []*slog.Logger
	for _, r := range routes {
		l := r.logger()
		if slices.Contains(done, l) {
			continue
		}
		done = append(done, l)
		l.LogAttrs(ctx, slog.LevelWarn, msg, slog.String("engine", Scheme))
	}
}

func (r *logRoute) logger() *slog.Logger {
	if r.log != nil {
		return r.log
	}
	return slog.Default()
}

// redact replaces the passwords of the routes in msg (of the open
// Stores', and of those given, which may have been closed meanwhile).
func redact(msg string, routes []*logRoute, more ...*logRoute) string {
	for _, r := range append(routes, more...) {
		if r == nil {
			continue
		}
		for _, sec := range r.secrets {
			if sec != "" {
				msg = strings.ReplaceAll(msg, sec, "xxxxx")
			}
		}
	}
	return msg
}

// dialError marks a failed dial of a Store's client, so that the router
// knows whose line "failed to dial" is. It reads and unwraps as the error
// it carries.
type dialError struct {
	err   error
	route *logRoute
}

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// dialer returns go-redis's default dialer (TCP keep-alive, TLS when
// tlsConf is set), whose errors are marked as r's and whose connections w
// watches.
func (r *logRoute) dialer(timeout time.Duration, tlsConf *tls.Config, w *watcher) func(context.Context, string, string) (net.Conn, error) {
	if timeout == 0 {
		timeout = 5 * time.Second // go-redis's default
	}
	base := redis.NewDialer(&redis.Options{DialTimeout: timeout, TLSConfig: tlsConf})
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := base(ctx, network, addr)
		if err != nil {
			return nil, &dialError{err: err, route: r}
		}
		return w.wrap(c), nil
	}
}
