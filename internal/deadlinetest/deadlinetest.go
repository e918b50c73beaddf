// Package deadlinetest holds the deadline checks (issue 12.3) that the
// engines over a client library which takes no context, or waits for its
// own timeouts, run beside the suite's Deadline case (conformance.RunFaults):
// every method returns within a few milliseconds of its context's deadline
// or cancellation, with the context's error, against a store that accepts
// connections and never answers (a silent loopback listener, or a real
// server frozen with SIGSTOP), without leaking goroutines or connections
// and without handing a later call the reply meant for an abandoned one.
package deadlinetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
)

const (
	// CtxEnds is when the checks' contexts end.
	CtxEnds = 200 * time.Millisecond
	// MustEnd is by when every call must have returned.
	MustEnd = 250 * time.Millisecond
)

// Store is the engine under test: the base methods, Touch and Swap.
type Store interface {
	sessions.Engine
	sessions.Toucher
	sessions.Swapper
}

// Call is one engine method called with a context.
type Call struct {
	Name string
	Fn   func(ctx context.Context) error
}

// Calls returns the methods every Store has, on key: each of Load,
// Create, Update, Delete, Touch and Swap, and Create, Update and Touch
// with an expiry in the past (a branch of its own in some engines).
func Calls(s Store, key string) []Call {
	exp, past := time.Now().Add(time.Hour), time.Now().Add(-time.Hour)
	return []Call{
		{Name: "Load", Fn: func(ctx context.Context) error { _, err := s.Load(ctx, key); return err }},
		{Name: "Create", Fn: func(ctx context.Context) error { return s.Create(ctx, key, []byte("x"), exp) }},
		{Name: "CreateExpired", Fn: func(ctx context.Context) error { return s.Create(ctx, key, []byte("x"), past) }},
		{Name: "Update", Fn: func(ctx context.Context) error { return s.Update(ctx, key, []byte("x"), exp) }},
		{Name: "UpdateExpired", Fn: func(ctx context.Context) error { return s.Update(ctx, key, []byte("x"), past) }},
		{Name: "Delete", Fn: func(ctx context.Context) error { return s.Delete(ctx, key) }},
		{Name: "Touch", Fn: func(ctx context.Context) error { return s.Touch(ctx, key, exp) }},
		{Name: "TouchExpired", Fn: func(ctx context.Context) error { return s.Touch(ctx, key, past) }},
		{Name: "Swap", Fn: func(ctx context.Context) error { return s.Swap(ctx, key, []byte("x"), []byte("y"), exp) }},
	}
}

// Check runs each call twice at once, once with a context whose deadline
// passes after CtxEnds and once with a context cancelled after CtxEnds,
// between pause and resume (which freeze and thaw a real server; Nothing
// where there is none), and checks that each returns by MustEnd with the
// context's error.
func Check(t *testing.T, calls []Call, pause, resume func()) {
	t.Helper()
	for _, c := range calls {
		pause()
		checkCall(t, c)
		resume()
	}
}

func checkCall(t *testing.T, c Call) {
	t.Helper()
	var wg sync.WaitGroup
	for _, mode := range []string{"deadline", "cancel"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var (
				ctx    context.Context
				cancel context.CancelFunc
				want   error
			)
			if mode == "deadline" {
				ctx, cancel = context.WithTimeout(context.Background(), CtxEnds)
				want = context.DeadlineExceeded
			} else {
				ctx, cancel = context.WithCancel(context.Background())
				time.AfterFunc(CtxEnds, cancel)
				want = context.Canceled
			}
			defer cancel()
			// A bare goroutine notes when the context's end could be seen:
			// on a loaded machine that may be well after CtxEnds, and the
			// call cannot be asked to return before it.
			ended := make(chan time.Duration, 1)
			start := time.Now()
			go func() {
				<-ctx.Done()
				ended <- time.Since(start)
			}()
			err := c.Fn(ctx)
			took := time.Since(start)
			seen := <-ended
			limit := max(MustEnd, seen+MustEnd-CtxEnds)
			if took > limit || !errors.Is(err, want) {
				t.Errorf("%s (%s): returned after %v with %v; want %v within %v (the context's end was seen after %v)",
					c.Name, mode, took.Round(time.Millisecond), err, want, limit.Round(time.Millisecond), seen.Round(time.Millisecond))
			}
		}()
	}
	wg.Wait()
}

// Nothing is the pause and resume of a server that cannot be frozen.
func Nothing() {}

// LoadAll is a call that loads the seeded sessions at once: with a frozen
// server each connection is left with a reply on its way when the server
// comes back. It returns an error that is not the context's, if any.
func LoadAll(s Store, values map[string][]byte) Call {
	return Call{Name: "Load(seeded)", Fn: func(ctx context.Context) error {
		errs := make(chan error, len(values))
		for k := range values {
			go func() {
				_, err := s.Load(ctx, k)
				errs <- err
			}()
		}
		var first error
		for range values {
			err := <-errs
			if first == nil || errors.Is(first, ctx.Err()) && !errors.Is(err, ctx.Err()) {
				first = err
			}
		}
		return first
	}}
}

// Goroutines counts the goroutines now.
func Goroutines() int { return runtime.NumGoroutine() }

// Abandoned returns a count of the goroutines running a call that its
// caller left when the context ended: those whose stack names marker (the
// engine's function that runs a call in a goroutine of its own).
func Abandoned(marker string) func() int {
	return func() int {
		buf := make([]byte, 4<<20)
		buf = buf[:runtime.Stack(buf, true)]
		return strings.Count(string(buf), marker)
	}
}

// Settle waits up to within for count() to fall to at most base, and
// fails t with the stacks of all goroutines otherwise.
func Settle(t *testing.T, what string, count func() int, base int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		n := count()
		if n <= base {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 4<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%s: %d %v later, %d before: leaked\n%s", what, n, within, base, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// SettleAll checks that the abandoned calls end by themselves within
// callsWithin (the client's own timeouts), and once s is closed that the
// goroutines fall back to base within closeWithin.
func SettleAll(t *testing.T, s Store, abandoned func() int, base int, callsWithin, closeWithin time.Duration) {
	t.Helper()
	Settle(t, "abandoned calls", abandoned, 0, callsWithin)
	s.Close()
	Settle(t, "goroutines after Close", Goroutines, base, closeWithin)
}

// Seed stores n sessions with distinct data and returns them.
func Seed(t *testing.T, s Store, n int) map[string][]byte {
	t.Helper()
	values := map[string][]byte{}
	for i := range n {
		k := sessions.NewKey()
		v := []byte(fmt.Sprintf("value %d of %s", i, k))
		if err := s.Create(context.Background(), k, v, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		values[k] = v
	}
	return values
}

// CheckValues loads every session many times at once, and swaps and
// reloads each: every reply must be the one for its own key.
func CheckValues(t *testing.T, s Store, values map[string][]byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for k, v := range values {
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := s.Load(ctx, k)
				if err != nil || !bytes.Equal(got, v) {
					t.Errorf("Load after the server came back: %q, %v; want %q", got, err, v)
				}
			}()
		}
	}
	wg.Wait()
	for k, v := range values {
		nv := append([]byte("new "), v...)
		if err := s.Swap(ctx, k, v, nv, time.Now().Add(time.Hour)); err != nil {
			t.Errorf("Swap after the server came back: %v", err)
		}
		if got, err := s.Load(ctx, k); err != nil || !bytes.Equal(got, nv) {
			t.Errorf("Load after Swap: %q, %v; want %q", got, err, nv)
		}
	}
}

// BenchmarkLoad compares a Load with a context that never ends (run
// inline) and one that can (run in a goroutine of its own), as an HTTP
// request's context can.
func BenchmarkLoad(b *testing.B, s Store) {
	k := sessions.NewKey()
	if err := s.Create(context.Background(), k, []byte("data"), time.Now().Add(time.Hour)); err != nil {
		b.Fatal(err)
	}
	cancellable, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, bc := range []struct {
		name string
		ctx  context.Context
	}{{"background", context.Background()}, {"cancellable", cancellable}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Load(bc.ctx, k); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
