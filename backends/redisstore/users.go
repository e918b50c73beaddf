package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessionkit/sessions"
)

// The user index (sessions.UserIndexer) is one sorted set per user,
// "<key_prefix>:<version>:sessionkit.users.<logical_prefix>.<sha256 of the
// user ID>", holding the user's session keys scored by their expiry in
// Unix milliseconds. Each write drops the expired members and sets the
// set's own TTL to its latest expiry, so Redis removes the index of a
// user whose sessions have all expired.

var addUserScript = redis.NewScript(`
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if top[2] then
	redis.call('PEXPIREAT', KEYS[1], top[2])
end
return 1
`)

func (s *Store) userKey(userID string) string {
	h := sha256.Sum256([]byte(userID))
	return s.users + hex.EncodeToString(h[:])
}

func ms(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// AddUserSession implements sessions.UserIndexer.
func (s *Store) AddUserSession(ctx context.Context, userID, key string, expiry time.Time) error {
	uk := s.userKey(userID)
	err := callErr(ctx, func(ctx context.Context) error {
		return addUserScript.Run(ctx, s.c, []string{uk}, ms(expiry), key, ms(time.Now())).Err()
	})
	if err != nil {
		return s.fail(ctx, err)
	}
	return nil
}

// UserSessions implements sessions.UserIndexer.
func (s *Store) UserSessions(ctx context.Context, userID string) ([]string, error) {
	uk := s.userKey(userID)
	keys, err := call(ctx, func(ctx context.Context) ([]string, error) {
		return s.c.ZRangeByScore(ctx, uk, &redis.ZRangeBy{Min: "(" + ms(time.Now()), Max: "+inf"}).Result()
	})
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out := keys[:0]
	for _, k := range keys {
		if sessions.ValidKey(k) {
			out = append(out, k)
		}
	}
	return out, nil
}

// removeBatch is the most keys one ZREM names.
const removeBatch = 1000

// RemoveUserSessions implements sessions.UserIndexer: ZREM of the given
// keys from the user's sorted set (one Redis key, so one Cluster slot),
// up to 1000 keys a command. A member added meanwhile stays; Redis drops
// the set once it is empty.
func (s *Store) RemoveUserSessions(ctx context.Context, userID string, keys []string) error {
	uk := s.userKey(userID)
	members := make([]any, 0, min(len(keys), removeBatch))
	for rest := keys; len(rest) > 0; {
		n := min(len(rest), removeBatch)
		members = members[:0]
		for _, k := range rest[:n] {
			members = append(members, k)
		}
		if err := callErr(ctx, func(ctx context.Context) error { return s.c.ZRem(ctx, uk, members...).Err() }); err != nil {
			return s.fail(ctx, err)
		}
		rest = rest[n:]
	}
	return nil
}
