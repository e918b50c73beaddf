package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/redisstore"
	"github.com/sessionkit/sessions/internal/deadlinetest"
	"github.com/sessionkit/sessions/internal/testservers"
	"github.com/sessionkit/sessions/internal/testutil"
)

// The deadline tests check issue 12.3 (package internal/deadlinetest):
// every method returns within a few milliseconds of its context's
// deadline or cancellation, with the context's error, against a store
// that accepts connections and never answers (a silent loopback listener,
// or a real server frozen with SIGSTOP), without leaking goroutines and
// without handing a later call the reply meant for an abandoned one.

// redisCalls returns every method of the Store, each branch that talks to
// the server: the SET NX/XX, EXISTS, DEL, PEXPIRE and GET commands, the
// Lua scripts (Swap, AddUserSession), SCAN (List) and the sorted-set
// commands of the user index.
func redisCalls(s *redisstore.Store) []deadlinetest.Call {
	key := sessions.NewKey()
	exp := time.Now().Add(time.Hour)
	return append(deadlinetest.Calls(s, key),
		deadlinetest.Call{Name: "List", Fn: func(ctx context.Context) error { return s.List(ctx, func(string) bool { return true }) }},
		deadlinetest.Call{Name: "AddUserSession", Fn: func(ctx context.Context) error { return s.AddUserSession(ctx, "user-1", key, []byte(`{"c":1}`), exp) }},
		deadlinetest.Call{Name: "UserSessions", Fn: func(ctx context.Context) error { _, err := s.UserSessions(ctx, "user-1"); return err }},
		deadlinetest.Call{Name: "RemoveUserSessions", Fn: func(ctx context.Context) error { return s.RemoveUserSessions(ctx, "user-1", []string{key}) }},
	)
}

// abandoned counts the goroutines running a call that its caller left
// when the context ended (the Store's call helper).
var abandoned = deadlinetest.Abandoned("internal/ctxcall.Call[")

// settleAll checks that the abandoned calls end by themselves within
// the read timeout, and once s is closed every goroutine it started.
func settleAll(t *testing.T, s *redisstore.Store, base int) {
	t.Helper()
	deadlinetest.SettleAll(t, s, abandoned, base, 5*time.Second+2*time.Second, 10*time.Second)
}

// TestDeadlineSilentServer: a server that accepts and never answers. The
// read timeout is go-redis's default (5 s), which the calls must not wait
// for. A Store that opens its own client interrupts the connection of a
// cancelled call, so no goroutine outlives a call; one over a client given
// to New leaves its command behind in a goroutine until the read timeout.
func TestDeadlineSilentServer(t *testing.T) {
	for _, tc := range []struct{ name, url string }{
		{"Single", "redis://%s/0"},
		{"Cluster", "redis+cluster://%s"},
		{"Sentinel", "redis+sentinel://mymaster@%s/0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := testservers.Silent(t)
			base := deadlinetest.Goroutines()
			s := open(t, fmt.Sprintf(tc.url, addr))
			deadlinetest.Check(t, redisCalls(s), deadlinetest.Nothing, deadlinetest.Nothing)
			if n := abandoned(); n != 0 {
				t.Errorf("%d calls left running in goroutines of their own; the Store's connections should have been interrupted", n)
			}
			settleAll(t, s, base)
		})
	}
	t.Run("GivenClient", func(t *testing.T) {
		addr := testservers.Silent(t)
		base := deadlinetest.Goroutines()
		c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
		s, err := redisstore.New(c, nil)
		if err != nil {
			t.Fatal(err)
		}
		deadlinetest.Check(t, redisCalls(s), deadlinetest.Nothing, deadlinetest.Nothing)
		if abandoned() == 0 { // the cancelled calls' reads wait for the read timeout
			t.Error("no abandoned call seen: the leak check below could not see one either")
		}
		// An abandoned call ends by the client's read timeout at the
		// latest; closing the client ends the rest.
		deadlinetest.Settle(t, "abandoned calls", abandoned, 0, 5*time.Second+2*time.Second)
		s.Close()
		c.Close()
		deadlinetest.Settle(t, "goroutines after Close", deadlinetest.Goroutines, base, 10*time.Second)
	})
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
	base := deadlinetest.Goroutines()
	s := open(t, testutil.WithParams(srv.URL(), "key_prefix", testutil.Prefix(t)))
	values := deadlinetest.Seed(t, s, 10)
	deadlinetest.Check(t, append(redisCalls(s), deadlinetest.LoadAll(s, values)), srv.Pause, srv.Resume)
	deadlinetest.CheckValues(t, s, values)
	settleAll(t, s, base)
	deadlinetest.Settle(t, "connections to the server after Close", func() int { return serverConns(t, raw) }, conns, 5*time.Second)
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
	base := deadlinetest.Goroutines()
	s := open(t, testutil.WithParams(c.URL(), "key_prefix", testutil.Prefix(t)))
	values := deadlinetest.Seed(t, s, 10)
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
	deadlinetest.Check(t, append(redisCalls(s), deadlinetest.LoadAll(s, values)), pause, resume)
	deadlinetest.CheckValues(t, s, values)
	settleAll(t, s, base)
}

// TestCloseWithAbandonedCalls: calls cancelled on a frozen server, then
// Close, then the server comes back and answers them: no connection of
// the closed Store may stay open. The Store's own client leaves nothing
// running once the calls returned; a client given to New leaves their
// commands running until it is closed.
func TestCloseWithAbandonedCalls(t *testing.T) {
	for _, given := range []bool{false, true} {
		t.Run(map[bool]string{false: "Opened", true: "GivenClient"}[given], func(t *testing.T) {
			srv := testservers.StartRedis(t)
			raw := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 1})
			defer raw.Close()
			conns := serverConns(t, raw)
			var s *redisstore.Store
			var c *redis.Client
			if given {
				c = redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
				var err error
				if s, err = redisstore.New(c, &redisstore.Options{KeyPrefix: testutil.Prefix(t)}); err != nil {
					t.Fatal(err)
				}
			} else {
				s = open(t, testutil.WithParams(srv.URL(), "key_prefix", testutil.Prefix(t)))
			}
			values := deadlinetest.Seed(t, s, 8)
			srv.Pause()
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(100*time.Millisecond, cancel)
			if err := deadlinetest.LoadAll(s, values).Fn(ctx); !errors.Is(err, context.Canceled) {
				t.Errorf("Loads on a frozen server: %v", err)
			}
			if n := abandoned(); given != (n > 0) {
				t.Errorf("%d abandoned calls (given client: %v)", n, given)
			}
			s.Close()
			if c != nil {
				c.Close()
			}
			srv.Resume()
			deadlinetest.Settle(t, "abandoned calls", abandoned, 0, 5*time.Second)
			deadlinetest.Settle(t, "connections to the server after Close", func() int { return serverConns(t, raw) }, conns, 5*time.Second)
		})
	}
}

// BenchmarkLoadContext compares a Load with a context that never ends
// (run inline) and one that can (run in a goroutine of its own, see the
// package documentation, Contexts), as an HTTP request's context can.
func BenchmarkLoadContext(b *testing.B) {
	deadlinetest.BenchmarkLoad(b, open(b, testutil.WithParams(testservers.SharedRedis(b).URL(), "key_prefix", testutil.Prefix(b))))
}
