package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessionkit/sessions"
)

// loadExpiryScript returns the value of KEYS[1] and its time to live in
// milliseconds, read at one instant; nil for a missing key.
var loadExpiryScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then return false end
return {v, redis.call('PTTL', KEYS[1])}
`)

// LoadExpiry implements sessions.ExpiryReader in one round trip (a Lua
// script reading GET and PTTL together), so that a session moved to
// another engine (backends/migrate) keeps its lifetime. The expiry is
// counted from when the command left, so it errs early by the round
// trip, never late (Redis keeps whole milliseconds). A key without a TTL (written by another client)
// reports the zero time.
func (s *Store) LoadExpiry(ctx context.Context, key string) ([]byte, time.Time, error) {
	k := s.Key(key)
	start := time.Now()
	res, err := watched(ctx, s, func(ctx context.Context) ([]any, error) {
		return loadExpiryScript.Run(ctx, s.c, []string{k}).Slice()
	})
	if err == redis.Nil {
		return nil, time.Time{}, sessions.ErrNotFound
	}
	if err != nil {
		return nil, time.Time{}, s.fail(ctx, err)
	}
	var v string
	var ms int64
	ok := len(res) == 2
	if ok {
		v, ok = res[0].(string)
	}
	if ok {
		ms, ok = res[1].(int64)
	}
	switch {
	case !ok:
		return nil, time.Time{}, fmt.Errorf("redis (%s): unexpected reply to the expiry script", s.where)
	case ms == -1: // no TTL
		return []byte(v), time.Time{}, nil
	case ms <= 0: // expiring this very millisecond
		return nil, time.Time{}, sessions.ErrNotFound
	}
	return []byte(v), start.Add(time.Duration(ms) * time.Millisecond), nil
}
