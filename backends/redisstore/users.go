package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessionkit/sessions"
)

// The user index (sessions.UserIndexer) is one sorted set per user,
// "<key_prefix>:<version>:sessionkit.users.<logical_prefix>.<sha256 of the
// user ID>", holding the user's session keys scored by their expiry in
// Unix milliseconds, and beside it a hash of the entries' metadata
// (sessions.DeviceSettings), field session key, value the metadata, under
// a key in the same Cluster slot (see metaKey). An entry without a field
// (none given, or written before metadata existed) has no metadata. Each
// write drops the expired members with their fields and sets both keys'
// TTL to the latest expiry, so Redis removes the index of a user whose
// sessions have all expired. An entry's score only grows.

// addUserScript never moves an entry's expiry back (see
// sessions.UserIndexer): a stored later score stays. (ZADD GT would do
// it from Redis 6.2 on; the comparison keeps older servers working.)
var addUserScript = redis.NewScript(`
local cur = redis.call('ZSCORE', KEYS[1], ARGV[2])
if not cur or tonumber(cur) < tonumber(ARGV[1]) then
	redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
end
if ARGV[4] ~= '' then
	redis.call('HSET', KEYS[2], ARGV[2], ARGV[4])
end
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
if #dead > 0 then
	redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
	for i = 1, #dead, 1000 do
		redis.call('HDEL', KEYS[2], unpack(dead, i, math.min(i + 999, #dead)))
	end
end
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if top[2] then
	redis.call('PEXPIREAT', KEYS[1], top[2])
	redis.call('PEXPIREAT', KEYS[2], top[2])
end
return 1
`)

// listUserScript returns the live members of the set with their scores,
// and their metadata (false where none).
var listUserScript = redis.NewScript(`
local m = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf', 'WITHSCORES')
local meta = {}
local batch = {}
for i = 1, #m, 2 do
	batch[#batch + 1] = m[i]
	if #batch == 1000 or i + 1 >= #m then
		local got = redis.call('HMGET', KEYS[2], unpack(batch))
		for j = 1, #got do
			meta[#meta + 1] = got[j]
		end
		batch = {}
	end
end
return {m, meta}
`)

var removeUserScript = redis.NewScript(`
redis.call('ZREM', KEYS[1], unpack(ARGV))
redis.call('HDEL', KEYS[2], unpack(ARGV))
return 1
`)

func (s *Store) userKey(userID string) string {
	h := sha256.Sum256([]byte(userID))
	return s.users + hex.EncodeToString(h[:])
}

// metaKey returns the key of the metadata hash beside the user's set uk,
// in the same Cluster slot (scripts touch both): the slot of a key is
// that of its hash tag, the text between its first '{' and the first '}'
// after it when not empty, else of the whole key. A key with a tag keeps
// it when ".meta" is appended; one without is made the tag of
// "{<uk>}.meta", unless it holds a '}' (from a key prefix), which no tag
// can enclose: its hash then lives in another slot, which a single
// server or Sentinel does not mind and a Cluster refuses (CROSSSLOT), so
// a Cluster store refuses such a prefix when it opens (checkSlots).
func metaKey(uk string) string {
	if hashTag(uk) {
		return uk + ".meta"
	}
	if strings.IndexByte(uk, '}') >= 0 {
		return uk + ".meta"
	}
	return "{" + uk + "}.meta"
}

// hashTag reports whether key has a Cluster hash tag: a '{' followed,
// later, by a '}' with text between them.
func hashTag(key string) bool {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			return true
		}
	}
	return false
}

// checkSlots refuses, for a Cluster, a key prefix that would put a
// user's index set and its metadata hash in different slots (a '}'
// outside a hash tag: see metaKey), where every BindUser would fail with
// CROSSSLOT.
func (s *Store) checkSlots() error {
	uk := s.users + "0" // a user's set: the prefix and a hex digest
	if !hashTag(uk) && strings.IndexByte(uk, '}') >= 0 {
		return fmt.Errorf("%w: on a Redis Cluster the key prefix must not hold a '}' outside a hash tag: a user's index and its metadata would land in different slots (CROSSSLOT); drop the '}' or use a tag such as {sessions}", sessions.ErrBadConfig)
	}
	return nil
}

func ms(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// AddUserSession implements sessions.UserIndexer.
func (s *Store) AddUserSession(ctx context.Context, userID, key string, meta []byte, expiry time.Time) error {
	uk := s.userKey(userID)
	err := watchedErr(ctx, s, func(ctx context.Context) error {
		return s.write(ctx, uk, func(c redis.Cmdable) redis.Cmder {
			return script(ctx, c, addUserScript, []string{uk, metaKey(uk)}, ms(expiry), key, ms(time.Now()), string(meta))
		}, nil)
	})
	if err != nil {
		return s.fail(ctx, err)
	}
	return nil
}

// UserSessions implements sessions.UserIndexer.
func (s *Store) UserSessions(ctx context.Context, userID string) ([]sessions.UserEntry, error) {
	uk := s.userKey(userID)
	res, err := watched(ctx, s, func(ctx context.Context) ([]any, error) {
		return listUserScript.Run(ctx, s.c, []string{uk, metaKey(uk)}, ms(time.Now())).Slice()
	})
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	bad := fmt.Errorf("redis (%s): unexpected reply to the user index script", s.where)
	if len(res) != 2 {
		return nil, bad
	}
	members, _ := res[0].([]any)
	metas, _ := res[1].([]any)
	if len(members)%2 != 0 || len(metas) != len(members)/2 {
		return nil, bad
	}
	entries := make([]sessions.UserEntry, 0, len(metas))
	for i := 0; i < len(members); i += 2 {
		k, _ := members[i].(string)
		sc, _ := members[i+1].(string)
		score, err := strconv.ParseFloat(sc, 64)
		if !sessions.ValidKey(k) || err != nil || math.IsNaN(score) {
			continue
		}
		e := sessions.UserEntry{Key: k, Expiry: time.UnixMilli(int64(score))}
		if m, ok := metas[i/2].(string); ok && m != "" {
			e.Meta = []byte(m)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// removeBatch is the most keys one script call names.
const removeBatch = 1000

// RemoveUserSessions implements sessions.UserIndexer: ZREM of the given
// keys from the user's sorted set, and HDEL from the metadata hash (one
// Cluster slot), up to 1000 keys a call. A member added meanwhile stays;
// Redis drops the set and the hash once empty.
func (s *Store) RemoveUserSessions(ctx context.Context, userID string, keys []string) error {
	uk := s.userKey(userID)
	members := make([]any, 0, min(len(keys), removeBatch))
	for rest := keys; len(rest) > 0; {
		n := min(len(rest), removeBatch)
		members = members[:0]
		for _, k := range rest[:n] {
			members = append(members, k)
		}
		err := watchedErr(ctx, s, func(ctx context.Context) error {
			return s.write(ctx, uk, func(c redis.Cmdable) redis.Cmder {
				return script(ctx, c, removeUserScript, []string{uk, metaKey(uk)}, members...)
			}, nil)
		})
		if err != nil {
			return s.fail(ctx, err)
		}
		rest = rest[n:]
	}
	return nil
}
