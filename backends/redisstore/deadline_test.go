package redisstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/redisstore"
	"github.com/sessionkit/sessions/internal/testservers"
	"github.com/sessionkit/sessions/internal/testutil"
)

// The deadline tests check issue 12.3: every method returns within a few
// milliseconds of its context's deadline or cancellation, with the
// context's error, against a store that accepts connections and never
// answers (a silent loopback listener, or a real server frozen with
// SIGSTOP), without leaking goroutines and without handing a later call
// the reply meant for an abandoned one.

const (
	ctxEnds = 200 * time.Millisecond // when the test's contexts end
	mustEnd = 250 * time.Millisecond // by when every call must have returned
)

// engineCall is one engine method called with a context.
type engineCall struct {
	name string
	fn   func(ctx context.Context) error
}

// redisCalls returns every method of the Store, each branch that talks to
// the server: the SET NX/XX, EXISTS, DEL, PEXPIRE and GET commands, the
// Lua scripts (Swap, AddUserSession), SCAN (List) and the sorted-set
// commands of the user index.
func redisCalls(s *redisstore.Store) []engineCall {
	key := sessions.NewKey()
	exp, past := time.Now().Add(time.Hour), time.Now().Add(-time.Hour)
	return []engineCall{
		{name: "Load", fn: func(ctx context.Context) error { _, err := s.Load(ctx, key); return err }},
		{name: "Create", fn: func(ctx context.Context) error { return s.Create(ctx, key, []byte("x"), exp) }},
		{name: "CreateExpired", fn: func(ctx context.Context) error { return s.Create(ctx, key, []byte("x"), past) }},
		{name: "Update", fn: func(ctx context.Context) error { return s.Update(ctx, key, []byte("x"), exp) }},
		{name: "UpdateExpired", fn: func(ctx context.Context) error { return s.Update(ctx, key, []byte("x"), past) }},
		{name: "Delete", fn: func(ctx context.Context) error { return s.Delete(ctx, key) }},
		{name: "Touch", fn: func(ctx context.Context) error { return s.Touch(ctx, key, exp) }},
		{name: "TouchExpired", fn: func(ctx context.Context) error { return s.Touch(ctx, key, past) }},
		{name: "Swap", fn: func(ctx context.Context) error { return s.Swap(ctx, key, []byte("x"), []byte("y"), exp) }},
		{name: "List", fn: func(ctx context.Context) error { return s.List(ctx, func(string) bool { return true }) }},
		{name: "AddUserSession", fn: func(ctx context.Context) error { return s.AddUserSession(ctx, "user-1", key, []byte(`{"c":1}`), exp) }},
		{name: "UserSessions", fn: func(ctx context.Context) error { _, err := s.UserSessions(ctx, "user-1"); return err }},
		{name: "RemoveUserSessions", fn: func(ctx context.Context) error { return s.RemoveUserSessions(ctx, "user-1", []string{key}) }},
	}
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
func loadAll(s *redisstore.Store, values map[string][]byte) engineCall {
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
// when the context ended (the Store's call helper).
func abandoned() int {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "backends/redisstore.call[")
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

// settleAll checks that the abandoned calls end by themselves within
// the read timeout, and once s is closed every goroutine it started.
func settleAll(t *testing.T, s *redisstore.Store, base int) {
	t.Helper()
	settle(t, "abandoned calls", abandoned, 0, 5*time.Second+2*time.Second)
	s.Close()
	settle(t, "goroutines after Close", goroutines, base, 10*time.Second)
}

// TestDeadlineSilentServer: a server that accepts and never answers. The
// read timeout is go-redis's default (5 s), which the calls must not wait
// for.
func TestDeadlineSilentServer(t *testing.T) {
	for _, tc := range []struct{ name, url string }{
		{"Single", "redis://%s/0"},
		{"Cluster", "redis+cluster://%s"},
		{"Sentinel", "redis+sentinel://mymaster@%s/0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := testservers.Silent(t)
			base := goroutines()
			s := open(t, fmt.Sprintf(tc.url, addr))
			checkCalls(t, redisCalls(s), nothing, nothing)
			if tc.name == "Single" && abandoned() == 0 { // the cancelled calls' reads wait for the read timeout
				t.Error("no abandoned call seen: the leak check below could not see one either")
			}
			// An abandoned call ends by the client's read timeout at the
			// latest, and its connection is closed.
			settleAll(t, s, base)
		})
	}
}

// TestDeadlinePausedServer: a real redis-server frozen with SIGSTOP.
// Afterwards the server answers the commands the abandoned calls left on
// their connections; those connections must not go back to the pool, or
// later calls would read replies meant for others.
func TestDeadlinePausedServer(t *testing.T) {
	srv := testservers.StartRedis(t)
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 1})
	defer raw.Close()
	conns := serverConns(t, raw)
	base := goroutines()
	s := open(t, withParams(srv.URL(), "key_prefix", testutil.Prefix(t)))
	values := seed(t, s, 10)
	checkCalls(t, append(redisCalls(s), loadAll(s, values)), srv.Pause, srv.Resume)
	checkValues(t, s, values)
	settleAll(t, s, base)
	settle(t, "connections to the server after Close", func() int { return serverConns(t, raw) }, conns, 5*time.Second)
}

// serverConns returns the server's count of connected clients (raw's
// included).
func serverConns(t *testing.T, raw *redis.Client) int {
	t.Helper()
	info, err := raw.Info(context.Background(), "clients").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "connected_clients:"); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no connected_clients in INFO clients:\n%s", info)
	return 0
}

// TestDeadlinePausedCluster: every node of a Redis Cluster frozen, for
// each call well under the cluster-node-timeout, so that no node is marked
// failed.
func TestDeadlinePausedCluster(t *testing.T) {
	c := testservers.StartRedisCluster(t, 3)
	base := goroutines()
	s := open(t, withParams(c.URL(), "key_prefix", testutil.Prefix(t)))
	values := seed(t, s, 10)
	pause := func() {
		for i := range c.Addrs {
			c.PauseNode(i)
		}
	}
	resume := func() {
		for i := range c.Addrs {
			c.ResumeNode(i)
		}
	}
	checkCalls(t, append(redisCalls(s), loadAll(s, values)), pause, resume)
	checkValues(t, s, values)
	settleAll(t, s, base)
}

// TestCloseWithAbandonedCalls: calls abandoned on a frozen server, then
// Close, then the server comes back and answers them: no connection of
// the closed Store may stay open.
func TestCloseWithAbandonedCalls(t *testing.T) {
	srv := testservers.StartRedis(t)
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 1})
	defer raw.Close()
	conns := serverConns(t, raw)
	s := open(t, withParams(srv.URL(), "key_prefix", testutil.Prefix(t)))
	values := seed(t, s, 8)
	srv.Pause()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	if err := loadAll(s, values).fn(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Loads on a frozen server: %v", err)
	}
	if abandoned() == 0 {
		t.Fatal("no abandoned call")
	}
	s.Close()
	srv.Resume()
	settle(t, "abandoned calls", abandoned, 0, 5*time.Second)
	settle(t, "connections to the server after Close", func() int { return serverConns(t, raw) }, conns, 5*time.Second)
}

// seed stores n sessions with distinct data and returns them.
func seed(t *testing.T, s *redisstore.Store, n int) map[string][]byte {
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
func checkValues(t *testing.T, s *redisstore.Store, values map[string][]byte) {
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
	s := open(b, withParams(testservers.SharedRedis(b).URL(), "key_prefix", testutil.Prefix(b)))
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
