package memcachestore_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/memcachestore"
	"github.com/sessionkit/sessions/internal/deadlinetest"
	"github.com/sessionkit/sessions/internal/testservers"
	"github.com/sessionkit/sessions/internal/testutil"
)

// The deadline tests check issue 12.3 for memcached (package
// internal/deadlinetest): gomemcache takes no context and waits for its
// own timeout (500 ms by default); every method must still return within
// a few milliseconds of its context's deadline or cancellation, with the
// context's error, against a server that accepts connections and never
// answers (a silent loopback listener, or a real memcached frozen with
// SIGSTOP), without leaking goroutines or connections and without
// handing a later call another call's reply.

// memcacheCalls returns every method of the Store, each branch that talks
// to the server (add, replace, delete, touch, gets and cas). loaded, when
// not empty, is a session the Store loaded with the value "v0": its Swap
// takes the one-round-trip path with the remembered CAS id.
func memcacheCalls(s *memcachestore.Store, loaded string) []deadlinetest.Call {
	calls := deadlinetest.Calls(s, sessions.NewKey())
	if loaded != "" {
		exp := time.Now().Add(time.Hour)
		calls = append(calls, deadlinetest.Call{Name: "Swap(loaded)", Fn: func(ctx context.Context) error {
			return s.Swap(ctx, loaded, []byte("v0"), []byte("v1"), exp)
		}})
	}
	return calls
}

// abandoned counts the goroutines running a call that its caller left
// when the context ended: a Store over a caller's client (New) leaves
// them (the Store's call method, through ctxcall); a Store opened from a
// URL stops its calls instead, and must leave none.
var abandoned = deadlinetest.Abandoned("backends/memcachestore.(*Store).call.func")

// settleAll checks that the abandoned calls end by themselves within the
// client's timeout (for the dial and for the command), and once s is
// closed that no goroutine is left.
func settleAll(t *testing.T, s *memcachestore.Store, base int) {
	t.Helper()
	deadlinetest.SettleAll(t, s, abandoned, base, 2*time.Second, 5*time.Second)
}

// TestDeadlineSilentServer: a server that accepts and never answers, with
// gomemcache's default timeout (500 ms), which the calls must not wait
// for; the calls of a Store opened from a URL stop, and leave nothing
// running.
func TestDeadlineSilentServer(t *testing.T) {
	a, b := testservers.Silent(t), testservers.Silent(t)
	base := deadlinetest.Goroutines()
	s := open(t, "memcached://"+a+","+b+"?key_prefix="+testutil.Prefix(t))
	deadlinetest.Check(t, memcacheCalls(s, ""), deadlinetest.Nothing, deadlinetest.Nothing)
	if n := abandoned(); n != 0 {
		t.Errorf("%d calls still running after their contexts ended", n)
	}
	settleAll(t, s, base)
}

// TestDeadlineSilentServerNew: the same with a Store over a caller's
// client (New), whose calls run in goroutines of their own that end by
// the client's timeout.
func TestDeadlineSilentServerNew(t *testing.T) {
	a, b := testservers.Silent(t), testservers.Silent(t)
	base := deadlinetest.Goroutines()
	c := memcache.New(a, b)
	s, err := memcachestore.New(c, &memcachestore.Options{KeyPrefix: testutil.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	deadlinetest.Check(t, memcacheCalls(s, ""), deadlinetest.Nothing, deadlinetest.Nothing)
	if abandoned() == 0 { // the cancelled calls wait for the timeout
		t.Error("no abandoned call seen: the leak check below could not see one either")
	}
	deadlinetest.Settle(t, "abandoned calls", abandoned, 0, 2*time.Second)
	c.Close()
	settleAll(t, s, base)
}

// TestDeadlinePausedServer: a real memcached frozen with SIGSTOP.
// Afterwards the server answers the commands the abandoned calls left on
// their connections; those connections must not go back to the pool, or
// later calls would read replies meant for others.
func TestDeadlinePausedServer(t *testing.T) {
	srv := testservers.StartMemcached(t)
	base, conns := deadlinetest.Goroutines(), serverConns(t, srv.Addr)
	s := open(t, "memcached://"+srv.Addr+"?key_prefix="+testutil.Prefix(t))
	values := deadlinetest.Seed(t, s, 10)
	loaded := sessions.NewKey()
	if err := s.Create(context.Background(), loaded, []byte("v0"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(context.Background(), loaded); err != nil {
		t.Fatal(err)
	}
	deadlinetest.Check(t, append(memcacheCalls(s, loaded), deadlinetest.LoadAll(s, values)), srv.Pause, srv.Resume)
	deadlinetest.CheckValues(t, s, values)
	settleAll(t, s, base)
	deadlinetest.Settle(t, "connections to the server after Close", func() int { return serverConns(t, srv.Addr) }, conns, 5*time.Second)
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

// TestCloseAfterCancelledCalls: calls cut short on a frozen server, then
// Close, then the server comes back and answers them: no call is left
// running, and every connection is closed, none kept idle in a closed
// Store.
func TestCloseAfterCancelledCalls(t *testing.T) {
	srv := testservers.StartMemcached(t)
	conns := serverConns(t, srv.Addr)
	s := open(t, "memcached://"+srv.Addr+"?key_prefix="+testutil.Prefix(t)+"&timeout=5s")
	values := deadlinetest.Seed(t, s, 8)
	srv.Pause()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	if err := deadlinetest.LoadAll(s, values).Fn(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Loads on a frozen server: %v", err)
	}
	cancel()
	if n := abandoned(); n != 0 {
		t.Errorf("%d calls still running after their contexts ended", n)
	}
	s.Close()
	srv.Resume()
	deadlinetest.Settle(t, "connections to the server after Close", func() int { return serverConns(t, srv.Addr) }, conns, 5*time.Second)
}

// BenchmarkLoadContext compares a Load with a context that never ends
// and one that can end, as an HTTP request's context can (which a
// context.AfterFunc watches, see the package documentation, Contexts).
func BenchmarkLoadContext(b *testing.B) {
	deadlinetest.BenchmarkLoad(b, open(b, "memcached://"+testservers.SharedMemcached(b).Addr+"?key_prefix="+testutil.Prefix(b)))
}

// TestCancelledThenOwnReply: a call cancelled while memcached is frozen
// returns at once although the client's timeout is long (10 s), and
// leaves a command on its connection whose reply comes when the server
// is thawed. Calls one after another on a Store that keeps one idle
// connection reuse what the cancelled call used (its lane, for a Store
// opened from a URL; the client's pool, for New): each must get its own
// reply, never the one the cancelled call left on its way.
func TestCancelledThenOwnReply(t *testing.T) {
	srv := testservers.StartMemcached(t)
	prefix := testutil.Prefix(t)
	for _, tc := range []struct {
		name string
		open func(t *testing.T) *memcachestore.Store
	}{
		{"url", func(t *testing.T) *memcachestore.Store {
			return open(t, "memcached://"+srv.Addr+"?key_prefix="+prefix+"&timeout=10s&max_idle_conns=1")
		}},
		{"New", func(t *testing.T) *memcachestore.Store {
			c := memcache.New(srv.Addr)
			c.Timeout, c.MaxIdleConns = 10*time.Second, 1
			t.Cleanup(func() { c.Close() })
			s, err := memcachestore.New(c, &memcachestore.Options{KeyPrefix: prefix})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.open(t)
			values := deadlinetest.Seed(t, s, 2)
			var a, b string
			for k := range values {
				if a == "" {
					a = k
				} else {
					b = k
				}
			}
			exp := time.Now().Add(time.Hour)
			for _, c := range []deadlinetest.Call{
				{Name: "Load", Fn: func(ctx context.Context) error { _, err := s.Load(ctx, a); return err }},
				{Name: "Update", Fn: func(ctx context.Context) error { return s.Update(ctx, a, values[a], exp) }},
				{Name: "Swap", Fn: func(ctx context.Context) error { return s.Swap(ctx, a, values[a], values[a], exp) }},
			} {
				if _, err := s.Load(context.Background(), a); err != nil { // a CAS id for Swap's one round trip
					t.Fatal(err)
				}
				srv.Pause()
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(100*time.Millisecond, cancel)
				start := time.Now()
				err := c.Fn(ctx)
				took := time.Since(start)
				srv.Resume()
				if !errors.Is(err, context.Canceled) || took > 2*time.Second {
					t.Errorf("%s cancelled on a frozen server: %v after %v; want context.Canceled at once", c.Name, err, took.Round(time.Millisecond))
				}
				for _, k := range []string{b, a, b} {
					got, err := s.Load(context.Background(), k)
					if err != nil || string(got) != string(values[k]) {
						t.Fatalf("after the cancelled %s, Load: %q, %v; want %q", c.Name, got, err, values[k])
					}
				}
			}
		})
	}
}

// TestIdleConnsBounded: max_idle_conns bounds the connections a Store
// keeps open per server once a burst of concurrent calls is over (one per
// idle lane).
func TestIdleConnsBounded(t *testing.T) {
	srv := testservers.StartMemcached(t)
	conns := serverConns(t, srv.Addr)
	s := open(t, "memcached://"+srv.Addr+"?key_prefix="+testutil.Prefix(t)+"&max_idle_conns=2")
	values := deadlinetest.Seed(t, s, 4)
	var wg sync.WaitGroup
	for range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k, v := range values {
				if got, err := s.Load(context.Background(), k); err != nil || string(got) != string(v) {
					t.Errorf("Load: %q, %v; want %q", got, err, v)
				}
			}
		}()
	}
	wg.Wait()
	deadlinetest.Settle(t, "connections kept after the burst", func() int { return serverConns(t, srv.Addr) }, conns+2, 5*time.Second)
	s.Close()
	deadlinetest.Settle(t, "connections after Close", func() int { return serverConns(t, srv.Addr) }, conns, 5*time.Second)
}
