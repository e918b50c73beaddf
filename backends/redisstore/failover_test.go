package redisstore_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessionkit/sessions/internal/testservers"
	"github.com/sessionkit/sessions/internal/testutil"
)

// TestClusterMasterDeath kills the master holding a session in a Cluster
// with replicas: the Store serves the session again once the cluster has
// promoted the replica, not when go-redis next reloads its slot map on
// its own (every 60 s: a dead master answers no MOVED). No acknowledged
// write is lost on the way (the test writes nothing during the fault
// that replication could drop).
func TestClusterMasterDeath(t *testing.T) {
	c := testservers.StartRedisClusterReplicas(t, 3)
	m := testutil.Open(t, c.URL()+"?read_timeout=500ms&write_timeout=500ms&dial_timeout=500ms", testutil.Quiet)
	ctx := context.Background()
	s := m.NewSession(ctx)
	s.Set("n", 1)
	if err := s.Save(ctx); err != nil {
		t.Fatal(err)
	}
	key := s.Key()
	probe := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	defer probe.Close()
	// The master serving the session's record.
	var stored string
	for _, a := range c.Addrs {
		cl := redis.NewClient(&redis.Options{Addr: a})
		keys, _ := cl.Keys(ctx, "*"+key).Result()
		cl.Close()
		if len(keys) > 0 {
			stored = keys[0]
		}
	}
	if stored == "" {
		t.Fatal("the session's record is on no node")
	}
	master, err := probe.MasterForKey(ctx, stored)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.Index(c.Addrs, master.Options().Addr)
	if i < 0 {
		t.Fatalf("master %s is not a node of the cluster %v", master.Options().Addr, c.Addrs)
	}
	// Warm the Store's slot map and connections, then kill the master.
	for range 20 {
		if m.Load(ctx, key).Get("n") == nil {
			t.Fatal("the session does not load before the fault")
		}
	}
	c.StopNode(i)
	t0 := time.Now()
	var promoted time.Duration
	for time.Since(t0) < 40*time.Second {
		if promoted == 0 {
			for j, a := range c.Addrs {
				if j == i {
					continue
				}
				cl := redis.NewClient(&redis.Options{Addr: a})
				k, _ := cl.Exists(ctx, stored).Result()
				info, _ := cl.Info(ctx, "replication").Result()
				cl.Close()
				if k == 1 && strings.Contains(info, "role:master") {
					promoted = time.Since(t0)
				}
			}
		}
		if m.Load(ctx, key).Get("n") != nil {
			took := time.Since(t0)
			t.Logf("replica promoted after %v; the Store served the session again after %v", promoted, took)
			if promoted > 0 && took > promoted+5*time.Second {
				t.Errorf("the Store served the session %v after the replica's promotion (at %v): it kept sending to the dead master", took-promoted, promoted)
			}
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the session did not load again within 40 s of its master's death (replica promoted after %v)", promoted)
}
