package redisstore

import (
	"context"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
	"github.com/sessionkit/sessions"
)

// listBatch is the COUNT of each SCAN: about how many keys one round trip
// looks at.
const listBatch = 1000

// List implements sessions.Lister with SCAN MATCH on the key prefix, on
// every master of a cluster in turn. fn is called from the caller's
// goroutine, never concurrently, and never after List returns.
func (s *Store) List(ctx context.Context, fn func(key string) bool) error {
	nodes := []redis.UniversalClient{s.c}
	if cc, ok := s.c.(*redis.ClusterClient); ok {
		masters, err := watched(ctx, s, func(ctx context.Context) ([]redis.UniversalClient, error) {
			var (
				mu  sync.Mutex
				out []redis.UniversalClient
			)
			err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
				mu.Lock()
				out = append(out, c)
				mu.Unlock()
				return nil
			})
			return out, err
		})
		if err != nil {
			return s.fail(ctx, err)
		}
		nodes = masters
	}
	pattern := globEscape(s.prefix) + "*"
	seen := map[string]bool{} // SCAN may return a key twice
	type page struct {
		keys []string
		next uint64
	}
	for _, c := range nodes {
		var cursor uint64
		for {
			from := cursor
			p, err := watched(ctx, s, func(ctx context.Context) (page, error) {
				keys, next, err := c.Scan(ctx, from, pattern, listBatch).Result()
				return page{keys, next}, err
			})
			if err != nil {
				return s.fail(ctx, err)
			}
			for _, full := range p.keys {
				k, ok := strings.CutPrefix(full, s.prefix)
				if !ok || !sessions.ValidKey(k) || seen[k] {
					continue // another logical prefix that starts like ours, or seen
				}
				seen[k] = true
				if !fn(k) {
					return nil
				}
			}
			if p.next == 0 {
				break
			}
			cursor = p.next
		}
	}
	return nil
}

// globEscape escapes the glob metacharacters of a SCAN MATCH pattern.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\', '^', '-':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
