package redisstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/redisstore"
)

// TestClusterRefusesSplitSlots: on a Cluster, a key prefix holding a '}'
// outside a hash tag would put a user's index set and its metadata hash in
// different slots, so every BindUser would fail with CROSSSLOT. Such a
// prefix is refused when the store opens (by URL or by New), with the
// reason; a single server takes it, and a prefix with a hash tag is fine.
func TestClusterRefusesSplitSlots(t *testing.T) {
	ctx := context.Background()
	s := sessions.DefaultSettings()
	s.SecretKey = "k"
	for _, c := range []struct {
		prefix string
		bad    bool
	}{
		{"a}b", true},
		{"}", true},
		{"{}x}", true}, // an empty tag is no tag
		{"sessions", false},
		{"{sessions}", false},
		{"{app}}x", false}, // the tag {app} keeps everything in one slot
	} {
		client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})
		_, err := redisstore.New(client, &redisstore.Options{KeyPrefix: c.prefix})
		client.Close()
		if c.bad != (err != nil) {
			t.Errorf("New over a Cluster, key prefix %q: %v; want refused: %v", c.prefix, err, c.bad)
		}
		if c.bad && (!errors.Is(err, sessions.ErrBadConfig) || !strings.Contains(err.Error(), "slot")) {
			t.Errorf("key prefix %q: %v; want ErrBadConfig saying why (slots)", c.prefix, err)
		}
		_, err = sessions.OpenEngine(ctx, "redis+cluster://127.0.0.1:1?key_prefix="+strings.NewReplacer("{", "%7B", "}", "%7D").Replace(c.prefix), s)
		if c.bad && (!errors.Is(err, sessions.ErrBadConfig) || !strings.Contains(err.Error(), "slot")) {
			t.Errorf("redis+cluster URL, key prefix %q: %v; want ErrBadConfig saying why (slots)", c.prefix, err)
		}
		single := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
		if _, err := redisstore.New(single, &redisstore.Options{KeyPrefix: c.prefix}); err != nil {
			t.Errorf("New over a single server, key prefix %q: %v", c.prefix, err)
		}
		single.Close()
	}
}
