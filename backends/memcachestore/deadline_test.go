package memcachestore_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

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
// when the context ended (the Store's call method).
var abandoned = deadlinetest.Abandoned("backends/memcachestore.(*Store).call.func")

// settleAll checks that the abandoned calls end by themselves within the
// client's timeout (for the dial and for the command), and once s is
// closed that no goroutine is left.
func settleAll(t *testing.T, s *memcachestore.Store, base int) {
	t.Helper()
	deadlinetest.SettleAll(t, s, abandoned, base, 2*time.Second, 5*time.Second)
}

// TestDeadlineSilentServer: a server that accepts and never answers, with
// gomemcache's default timeout (500 ms), which the calls must not wait for.
func TestDeadlineSilentServer(t *testing.T) {
	a, b := testservers.Silent(t), testservers.Silent(t)
	base := deadlinetest.Goroutines()
	s := open(t, "memcached://"+a+","+b+"?key_prefix="+testutil.Prefix(t))
	deadlinetest.Check(t, memcacheCalls(s, ""), deadlinetest.Nothing, deadlinetest.Nothing)
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

// TestCloseWithAbandonedCalls: calls abandoned on a frozen server, then
// Close, then the server comes back and answers them: the connections
// those calls hand back to the client must be closed, not kept idle in a
// closed Store.
func TestCloseWithAbandonedCalls(t *testing.T) {
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
	if abandoned() == 0 {
		t.Fatal("no abandoned call")
	}
	s.Close()
	srv.Resume() // the abandoned gets complete and hand their connections back
	deadlinetest.Settle(t, "abandoned calls", abandoned, 0, 5*time.Second)
	deadlinetest.Settle(t, "connections to the server after Close", func() int { return serverConns(t, srv.Addr) }, conns, 5*time.Second)
}

// BenchmarkLoadContext compares a Load with a context that never ends
// (run inline) and one that can (run in a goroutine of its own, see the
// package documentation, Contexts), as an HTTP request's context can.
func BenchmarkLoadContext(b *testing.B) {
	deadlinetest.BenchmarkLoad(b, open(b, "memcached://"+testservers.SharedMemcached(b).Addr+"?key_prefix="+testutil.Prefix(b)))
}
