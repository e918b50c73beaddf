package redisstore

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// TestLogRouter: a line about a failed dial goes to its Store's logger
// only; any other line to each open Store's logger once; with none open,
// to the last one closed; passwords never show.
func TestLogRouter(t *testing.T) {
	// The router is global: Stores other tests left open (a shared one,
	// or one still closing) would take the lines. Route around them for
	// the test, and put them back after.
	logRouter.mu.Lock()
	saved, savedLast := logRouter.routes, logRouter.last
	logRouter.routes, logRouter.last = nil, nil
	logRouter.mu.Unlock()
	defer func() {
		logRouter.mu.Lock()
		logRouter.routes, logRouter.last = append(logRouter.routes, saved...), savedLast
		logRouter.mu.Unlock()
	}()
	var a, b bytes.Buffer
	la := slog.New(slog.NewTextHandler(&a, nil))
	ra := &logRoute{log: la, where: "A", secrets: []string{"pw-of-a"}}
	rb := &logRoute{log: slog.New(slog.NewTextHandler(&b, nil)), where: "B", secrets: []string{"pw-of-b", ""}}
	rc := &logRoute{log: la, where: "C"} // a second Store with A's logger
	for _, r := range []*logRoute{ra, rb, rc} {
		register(r)
		defer unregister(r)
	}
	l := goRedisLogger{}
	ctx := context.Background()
	reset := func() { a.Reset(); b.Reset() }

	l.Printf(ctx, "redis: connection pool: failed to dial after %d attempts: %v", 1, &dialError{err: errors.New("dial tcp B: refused"), route: rb})
	if a.Len() != 0 || !strings.Contains(b.String(), "dial tcp B: refused") || !strings.Contains(b.String(), "server=B") {
		t.Errorf("a failed dial of B: A got %q, B got %q", a.String(), b.String())
	}
	reset()
	l.Printf(ctx, "sentinel: something about %s and %s", "pw-of-a", "pw-of-b")
	if strings.Count(a.String(), "sentinel: something") != 1 || strings.Count(b.String(), "sentinel: something") != 1 {
		t.Errorf("an untagged line: A got %q, B got %q; want it once each", a.String(), b.String())
	}
	if s := a.String() + b.String(); strings.Contains(s, "pw-of") || !strings.Contains(s, "xxxxx and xxxxx") {
		t.Errorf("passwords not redacted: %q", s)
	}
	reset()
	unregister(ra)
	unregister(rc)
	unregister(rb)
	//lint:ignore SA1012 go-redis may call its logger with a nil context: the test pins that it is accepted
	l.Printf(nil, "redis: after the last Close")
	if a.Len() != 0 || !strings.Contains(b.String(), "after the last Close") {
		t.Errorf("with no Store open: A got %q, B got %q; want B, closed last", a.String(), b.String())
	}
}
