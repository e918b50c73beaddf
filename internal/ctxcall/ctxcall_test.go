package ctxcall

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestCall(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if v, err := Call(ctx, func(context.Context) (int, error) { return 7, nil }); v != 7 || err != nil {
		t.Errorf("Call = %d, %v", v, err)
	}
	boom := errors.New("boom")
	if err := Err(context.Background(), func(context.Context) error { return boom }); err != boom {
		t.Errorf("Err inline = %v", err)
	}
	// A panic in f is the caller's, not the process's.
	func() {
		defer func() {
			if p := recover(); p != "hook" {
				t.Errorf("recovered %v, want the panic of f", p)
			}
		}()
		Call(ctx, func(context.Context) (int, error) { panic("hook") })
	}()
	// The context ends first: its error, at once.
	release := make(chan struct{})
	defer close(release)
	short, stop := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer stop()
	start := time.Now()
	_, err := Call(short, func(context.Context) (int, error) { <-release; return 1, nil })
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Errorf("Call with a context that ends first: %v after %v", err, time.Since(start))
	}
}
