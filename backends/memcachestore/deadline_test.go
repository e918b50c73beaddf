package memcachestore_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/memcachestore"
	"github.com/sessionkit/sessions/internal/testservers"
	"github.com/sessionkit/sessions/internal/testutil"
)

// The deadline tests check issue 12.3 for memcached: gomemcache takes no
// context and waits for its own timeout (500 ms by default); every method
// must still return within a few milliseconds of its context's deadline
// or cancellation, with the context's error, against a server that
// accepts connections and never answers (a silent loopback listener, or
// a real memcached frozen with SIGSTOP), without leaking goroutines or
// connections and without handing a later call another call's reply.

const (
	ctxEnds = 200 * time.Millisecond // when the test's contexts end
	mustEnd = 250 * time.Millisecond // by when every call must have returned
)

// engineCall is one engine method called with a context.
type engineCall struct {
	name string
	fn   func(ctx context.Context) error
}

// memcacheCalls returns every method of the Store, each branch that talks
// to the server (add, replace, delete, touch, gets and cas). loaded, when
// not empty, is a session the Store loaded with the value "v0": its Swap
// takes the one-round-trip path with the remembered CAS id.
func memcacheCalls(s *memcachestore.Store, loaded string) []engineCall {
	key := sessions.NewKey()
	exp, past := time.Now().Add(time.Hour), time.Now().Add(-time.Hour)
	calls := []engineCall{
		{name: "Load", fn: func(ctx context.Context) error { _, err := s.Load(ctx, key); return err }},
		{name: "Create", fn: func(ctx context.Context) error { return s.Create(ctx, key, []byte("x"), exp) }},
		{name: "CreateExpired", fn: func(ctx context.Context) error { return s.Create(ctx, key, []byte("x"), past) }},
		{name: "Update", fn: func(ctx context.Context) error { return s.Update(ctx, key, []byte("x"), exp) }},
		{name: "UpdateExpired", fn: func(ctx context.Context) error { return s.Update(ctx, key, []byte("x"), past) }},
		{name: "Delete", fn: func(ctx context.Context) error { return s.Delete(ctx, key) }},
		{name: "Touch", fn: func(ctx context.Context) error { return s.Touch(ctx, key, exp) }},
		{name: "TouchExpired", fn: func(ctx context.Context) error { return s.Touch(ctx, key, past) }},
		{name: "Swap", fn: func(ctx context.Context) error { return s.Swap(ctx, key, []byte("x"), []byte("y"), exp) }},
	}
	if loaded != "" {
		calls = append(calls, engineCall{name: "Swap(loaded)", fn: func(ctx context.Context) error {
			return s.Swap(ctx, loaded, []byte("v0"), []byte("v1"), exp)
		}})
	}
	return calls
}

// checkCalls runs each call twice at once, once with a context whose
// deadline passes after ctxEnds and once with a context cancelled after
// ctxEnds, between pause and resume (which freeze and thaw a real server),
// and checks that each returns by mustEnd with the context's error.
func checkCalls(t *testing.T, calls []engineCall, pause, resume func()) {
	t.Helper()
	for _, c := range calls {
		pause()
		checkCall(t, c)
		resume()
	}
}

func checkCall(t *testing.T, c engineCall) {
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
				ctx, cancel = context.WithTimeout(context.Background(), ctxEnds)
				want = context.DeadlineExceeded
			} else {
				ctx, cancel = context.WithCancel(context.Background())
				time.AfterFunc(ctxEnds, cancel)
				want = context.Canceled
			}
			defer cancel()
			// A bare goroutine notes when the context's end could be seen:
			// on a loaded machine that may be well after ctxEnds, and the
			// call cannot be asked to return before it.
			ended := make(chan time.Duration, 1)
			start := time.Now()
			go func() {
				<-ctx.Done()
				ended <- time.Since(start)
			}()
			err := c.fn(ctx)
			took := time.Since(start)
			seen := <-ended
			limit := max(mustEnd, seen+mustEnd-ctxEnds)
			if took > limit || !errors.Is(err, want) {
				t.Errorf("%s (%s): returned after %v with %v; want %v within %v (the context's end was seen after %v)",
					c.name, mode, took.Round(time.Millisecond), err, want, limit.Round(time.Millisecond), seen.Round(time.Millisecond))
			}
		}()
	}
	wg.Wait()
}

// loadAll is a call that loads the seeded sessions at once: with a frozen
// server each connection is left with a reply on its way when the server
// comes back. It returns an error that is not the context's, if any.
func loadAll(s *memcachestore.Store, values map[string][]byte) engineCall {
	return engineCall{name: "Load(seeded)", fn: func(ctx context.Context) error {
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

func nothing() {}

// goroutines counts the goroutines now.
func goroutines() int { return runtime.NumGoroutine() }

// abandoned counts the goroutines running a call that its caller left
// when the context ended (the Store's call method).
func abandoned() int {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "backends/memcachestore.(*Store).call.func")
}

// settle waits up to within for count() to fall to at most base, and
// fails t with the stacks of all goroutines otherwise.
func settle(t *testing.T, what string, count func() int, base int, within time.Duration) {
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

// settleAll checks that the abandoned calls end by themselves within the
// client's timeout (for the dial and for the command), and once s is
// closed that no goroutine is left.
func settleAll(t *testing.T, s *memcachestore.Store, base int) {
	t.Helper()
	settle(t, "abandoned calls", abandoned, 0, 2*time.Second)
	s.Close()
	settle(t, "goroutines after Close", goroutines, base, 5*time.Second)
}

// TestDeadlineSilentServer: a server that accepts and never answers, with
// gomemcache's default timeout (500 ms), which the calls must not wait for.
func TestDeadlineSilentServer(t *testing.T) {
	a, b := testservers.Silent(t), testservers.Silent(t)
	base := goroutines()
	s := open(t, "memcached://"+a+","+b+"?key_prefix="+testutil.Prefix(t))
	checkCalls(t, memcacheCalls(s, ""), nothing, nothing)
	if abandoned() == 0 { // the cancelled calls wait for the timeout
		t.Error("no abandoned call seen: the leak check below could not see one either")
	}
	settleAll(t, s, base)
}

// TestDeadlinePausedServer: a real memcached frozen with SIGSTOP.
// Afterwards the server answers the commands the abandoned calls left on
// their connections; those connections must not go back to the pool, or
// later calls would read replies meant for others.
func TestDeadlinePausedServer(t *testing.T) {
	srv := testservers.StartMemcached(t)
	base, conns := goroutines(), serverConns(t, srv.Addr)
	s := open(t, "memcached://"+srv.Addr+"?key_prefix="+testutil.Prefix(t))
	values := seed(t, s, 10)
	loaded := sessions.NewKey()
	if err := s.Create(context.Background(), loaded, []byte("v0"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(context.Background(), loaded); err != nil {
		t.Fatal(err)
	}
	checkCalls(t, append(memcacheCalls(s, loaded), loadAll(s, values)), srv.Pause, srv.Resume)
	checkValues(t, s, values)
	settleAll(t, s, base)
	settle(t, "connections to the server after Close", func() int { return serverConns(t, srv.Addr) }, conns, 5*time.Second)
}

// serverConns returns memcached's count of open connections (its
// curr_connections, which counts the one asking).
func serverConns(t *testing.T, addr string) int {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "stats\r\n"); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(c)
	n := -1
	for sc.Scan() && sc.Text() != "END" {
		if v, ok := strings.CutPrefix(sc.Text(), "STAT curr_connections "); ok {
			n, _ = strconv.Atoi(v)
		}
	}
	if n < 0 {
		t.Fatalf("no curr_connections in memcached's stats: %v", sc.Err())
	}
	return n
}

// TestCloseWithAbandonedCalls: calls abandoned on a frozen server, then
// Close, then the server comes back and answers them: the connections
// those calls hand back to the client must be closed, not kept idle in a
// closed Store.
func TestCloseWithAbandonedCalls(t *testing.T) {
	srv := testservers.StartMemcached(t)
	conns := serverConns(t, srv.Addr)
	s := open(t, "memcached://"+srv.Addr+"?key_prefix="+testutil.Prefix(t)+"&timeout=5s")
	values := seed(t, s, 8)
	srv.Pause()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	if err := loadAll(s, values).fn(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Loads on a frozen server: %v", err)
	}
	cancel()
	if abandoned() == 0 {
		t.Fatal("no abandoned call")
	}
	s.Close()
	srv.Resume() // the abandoned gets complete and hand their connections back
	settle(t, "abandoned calls", abandoned, 0, 5*time.Second)
	settle(t, "connections to the server after Close", func() int { return serverConns(t, srv.Addr) }, conns, 5*time.Second)
}

// seed stores n sessions with distinct data and returns them.
func seed(t *testing.T, s *memcachestore.Store, n int) map[string][]byte {
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

// checkValues loads every session many times at once, and swaps and
// reloads each: every reply must be the one for its own key.
func checkValues(t *testing.T, s *memcachestore.Store, values map[string][]byte) {
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

// BenchmarkLoadContext compares a Load with a context that never ends
// (run inline) and one that can (run in a goroutine of its own, see the
// package documentation, Contexts), as an HTTP request's context can.
func BenchmarkLoadContext(b *testing.B) {
	s := open(b, "memcached://"+testservers.SharedMemcached(b).Addr+"?key_prefix="+testutil.Prefix(b))
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
