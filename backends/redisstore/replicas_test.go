package redisstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/redisstore"
	"github.com/sessionkit/sessions/conformance"
	"github.com/sessionkit/sessions/internal/testservers"
	"github.com/sessionkit/sessions/internal/testutil"
)

// TestWaitReplicas: with wait_replicas, every write the Store acknowledges
// is on the replica when the call returns (a failover then cannot lose
// it), and a write the replica does not acknowledge in time fails with
// ErrNotReplicated, while a call that wrote nothing keeps its own result.
func TestWaitReplicas(t *testing.T) {
	master := testservers.StartRedis(t)
	replica := testservers.StartRedisReplica(t, master.Addr)
	t.Run("Conformance", func(t *testing.T) {
		h := harness(master.URL(), "wait_replicas", "1")
		conformance.Run(t, h)
		conformance.RunManager(t, h)
	})

	prefix := testutil.Prefix(t)
	s := open(t, testutil.WithParams(master.URL(), "key_prefix", prefix, "wait_replicas", "1", "wait_timeout", "300ms"))
	if d := s.Describe(); !strings.HasSuffix(d, ", writes wait for 1 replica (300ms)") {
		t.Errorf("Describe = %q, want it to say the writes wait for 1 replica", d)
	}
	rc := redis.NewClient(&redis.Options{Addr: replica.Addr})
	defer rc.Close()
	ctx := context.Background()
	onReplica := func(key string) string {
		t.Helper()
		v, err := rc.Get(ctx, s.Key(key)).Result()
		if err == redis.Nil {
			return "<none>"
		}
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	exp := time.Now().Add(time.Hour)
	key := sessions.NewKey()
	steps := []struct {
		name string
		do   func() error
		want string
	}{
		{"Create", func() error { return s.Create(ctx, key, []byte("v1"), exp) }, "v1"},
		{"Update", func() error { return s.Update(ctx, key, []byte("v2"), exp) }, "v2"},
		{"Swap", func() error { return s.Swap(ctx, key, []byte("v2"), []byte("v3"), exp) }, "v3"},
		{"Touch", func() error { return s.Touch(ctx, key, exp.Add(time.Hour)) }, "v3"},
		{"Delete", func() error { return s.Delete(ctx, key) }, "<none>"},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		// No wait: WAIT returned once the replica had it.
		if got := onReplica(key); got != st.want {
			t.Errorf("after %s the replica holds %q, want %q", st.name, got, st.want)
		}
	}
	if ttl := rc.PTTL(ctx, s.Key(key)).Val(); ttl > 0 {
		t.Errorf("the replica still has a TTL %v for the deleted key", ttl)
	}
	if err := s.AddUserSession(ctx, "ann", key, nil, exp); err != nil {
		t.Fatal(err)
	}
	if keys := rc.Keys(ctx, prefix+":*sessionkit.users*").Val(); len(keys) == 0 {
		t.Errorf("the replica has no user index after AddUserSession")
	}
	if err := s.RemoveUserSessions(ctx, "ann", []string{key}); err != nil {
		t.Fatal(err)
	}
	if keys := rc.Keys(ctx, prefix+":*sessionkit.users*").Val(); len(keys) != 0 {
		t.Errorf("the replica still has the user index %q after RemoveUserSessions", keys)
	}

	// The replica stops answering: a write the master applies fails.
	replica.Pause()
	paused := true
	defer func() {
		if paused {
			replica.Resume()
		}
	}()
	live := sessions.NewKey()
	start := time.Now()
	err := s.Create(ctx, live, []byte("x"), exp)
	if !errors.Is(err, redisstore.ErrNotReplicated) || !strings.Contains(err.Error(), "0 of 1 replicas acknowledged it within 300ms") {
		t.Errorf("Create with the replica paused: %v; want ErrNotReplicated saying 0 of 1 within 300ms", err)
	}
	if took := time.Since(start); took < 300*time.Millisecond || took > 2*time.Second {
		t.Errorf("it failed after %v; want wait_timeout, 300ms", took)
	}
	if err := s.Delete(ctx, live); !errors.Is(err, redisstore.ErrNotReplicated) {
		t.Errorf("Delete (a logout) with the replica paused: %v; want ErrNotReplicated: the logout is not acknowledged", err)
	}
	// Calls that write nothing report their own outcome.
	if err := s.Update(ctx, sessions.NewKey(), []byte("x"), exp); !errors.Is(err, sessions.ErrNotFound) {
		t.Errorf("Update of a missing key: %v, want ErrNotFound", err)
	}
	if err := s.Create(ctx, key, []byte("x"), exp); err != nil && !errors.Is(err, redisstore.ErrNotReplicated) {
		t.Fatal(err)
	}
	if err := s.Swap(ctx, key, []byte("not it"), []byte("y"), exp); !errors.Is(err, sessions.ErrConflict) {
		t.Errorf("Swap of changed data: %v, want ErrConflict", err)
	}
	if _, err := s.Load(ctx, key); err != nil {
		t.Errorf("Load with the replica paused: %v (reads do not wait)", err)
	}
	replica.Resume()
	paused = false
	if err := s.Update(ctx, key, []byte("z"), exp); err != nil {
		t.Errorf("Update once the replica is back: %v", err)
	}
}

// TestWaitReplicasWithoutReplica: a master without replicas acknowledges
// no write with wait_replicas.
func TestWaitReplicasWithoutReplica(t *testing.T) {
	s := open(t, testutil.WithParams(testservers.SharedRedis(t).URL(), "key_prefix", testutil.Prefix(t), "wait_replicas", "1", "wait_timeout", "50ms"))
	err := s.Create(context.Background(), sessions.NewKey(), []byte("x"), time.Now().Add(time.Hour))
	if !errors.Is(err, redisstore.ErrNotReplicated) {
		t.Errorf("Create: %v, want ErrNotReplicated", err)
	}
}

// TestWaitReplicasCluster: on a Cluster, WAIT goes to the master of the
// key written (a keyless command in a cluster pipeline would go to any
// node).
func TestWaitReplicasCluster(t *testing.T) {
	c := testservers.StartRedisClusterReplicas(t, 3)
	conformance.Run(t, harness(c.URL(), "wait_replicas", "1"))
}

func TestWaitReplicasConfig(t *testing.T) {
	base := "redis://127.0.0.1:1/0?"
	for raw, want := range map[string]string{
		base + "wait_replicas=101":                               "wait_replicas must be an integer between 0 and 100",
		base + "wait_replicas=-1":                                "wait_replicas must be an integer between 0 and 100",
		base + "wait_replicas=1&wait_timeout=0":                  "wait_timeout must be between",
		base + "wait_replicas=1&wait_timeout=5s":                 "wait_timeout (5s) must be shorter than the shorter of read_timeout and write_timeout (5s)",
		base + "wait_replicas=1&read_timeout=1s&wait_timeout=2s": "must be shorter than the shorter of read_timeout and write_timeout (1s)",
		base + "wait_replicas=1&write_timeout=200ms":             "wait_timeout (500ms) must be shorter than the shorter of read_timeout and write_timeout (200ms)",
	} {
		_, err := sessions.OpenEngine(context.Background(), raw, testutil.QuietSettings())
		if !errors.Is(err, sessions.ErrBadConfig) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want ErrBadConfig mentioning %q", raw, err, want)
		}
	}
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ReadTimeout: 100 * time.Millisecond})
	defer c.Close()
	if _, err := redisstore.New(c, &redisstore.Options{WaitReplicas: 1}); !errors.Is(err, sessions.ErrBadConfig) {
		t.Errorf("New with WaitReplicas and a read timeout under WaitTimeout: %v, want ErrBadConfig", err)
	} else if !strings.Contains(err.Error(), "wait_timeout (500ms) must be shorter than read_timeout (100ms)") {
		t.Errorf("New with a read timeout under WaitTimeout: %v", err)
	}
	r := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}})
	defer r.Close()
	if _, err := redisstore.New(r, &redisstore.Options{WaitReplicas: 1}); !errors.Is(err, sessions.ErrBadConfig) {
		t.Errorf("New with WaitReplicas over a Ring: %v, want ErrBadConfig", err)
	}
	if _, err := redisstore.New(r, nil); err != nil {
		t.Errorf("New over a Ring without WaitReplicas: %v", err)
	}
}

// replicatedFaults is a harness for conformance.RunFaults over a master
// with one replica (testservers.ReplicatedRedis), the engine opened with
// params.
func replicatedFaults(params ...string) conformance.Harness {
	h := harness("redis://unused/0")
	h.NewPair = nil
	h.NewFaulty = func(t *testing.T) (sessions.Backend, []conformance.Fault) {
		u, f := testservers.ReplicatedRedis(t, "redis", false)
		e := open(t, testutil.WithParams(u, append([]string{"key_prefix", testutil.Prefix(t), "read_timeout", "1s", "write_timeout", "1s"}, params...)...))
		f.Timeout = time.Second
		// The writes use go-redis's pipeline pool with wait_replicas.
		f.MaxConns = testservers.GoRedisStallConns(true)
		return e, []conformance.Fault{f}
	}
	h.New = func(t *testing.T) sessions.Backend { e, _ := h.NewFaulty(t); return e }
	return h
}

// TestFaultsReplicated: with wait_replicas=1 every promise of the outage
// cases holds across a failover to a replica that missed the latest
// writes (conformance's Failover mode), as across a cut or a stall.
func TestFaultsReplicated(t *testing.T) {
	conformance.RunFaults(t, replicatedFaults("wait_replicas", "1", "wait_timeout", "300ms"))
}
