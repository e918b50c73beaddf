package redisstore

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestCall(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if v, err := call(ctx, func(context.Context) (int, error) { return 7, nil }); v != 7 || err != nil {
		t.Errorf("call = %d, %v", v, err)
	}
	boom := errors.New("boom")
	if err := callErr(context.Background(), func(context.Context) error { return boom }); err != boom {
		t.Errorf("callErr inline = %v", err)
	}
	// A panic in f is the caller's, not the process's.
	func() {
		defer func() {
			if p := recover(); p != "hook" {
				t.Errorf("recovered %v, want the panic of f", p)
			}
		}()
		call(ctx, func(context.Context) (int, error) { panic("hook") })
	}()
	// The context ends first: its error, at once.
	release := make(chan struct{})
	defer close(release)
	short, stop := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer stop()
	start := time.Now()
	_, err := call(short, func(context.Context) (int, error) { <-release; return 1, nil })
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Errorf("call with a context that ends first: %v after %v", err, time.Since(start))
	}
}
