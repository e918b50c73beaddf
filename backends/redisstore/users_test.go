package redisstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/internal/testservers"
	"github.com/sessionkit/sessions/internal/testutil"
)

// TestRemoveUserSessionsBatches removes more keys than one ZREM names:
// every batch goes, only the given user's given keys, and the user's set
// and metadata hash are gone once empty.
func TestRemoveUserSessionsBatches(t *testing.T) {
	ctx := context.Background()
	s := open(t, testutil.WithParams(testservers.SharedRedis(t).URL(), "key_prefix", testutil.Prefix(t)))
	exp := time.Now().Add(time.Hour)
	ann, bob := "ann-"+sessions.NewKey()[:8], "bob-"+sessions.NewKey()[:8]
	keys := make([]string, 2345)
	for i := range keys {
		keys[i] = sessions.NewKey()
		if err := s.AddUserSession(ctx, ann, keys[i], []byte(`{"c":1}`), exp); err != nil {
			t.Fatal(err)
		}
	}
	kept := sessions.NewKey()
	for _, u := range []string{ann, bob} {
		if err := s.AddUserSession(ctx, u, kept, []byte(`{"c":2}`), exp); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RemoveUserSessions(ctx, ann, keys); err != nil {
		t.Fatal(err)
	}
	if got, err := s.UserSessions(ctx, ann); err != nil || len(got) != 1 || got[0].Key != kept || string(got[0].Meta) != `{"c":2}` {
		t.Errorf("ann after removal: %d keys, %v; want only the kept one", len(got), err)
	}
	if err := s.RemoveUserSessions(ctx, bob, keys); err != nil {
		t.Fatal(err)
	}
	if got, err := s.UserSessions(ctx, bob); err != nil || len(got) != 1 {
		t.Errorf("bob after removals of keys he never had: %d keys, %v; want 1", len(got), err)
	}
	h := sha256.Sum256([]byte(ann))
	stored := func() int {
		t.Helper()
		left, err := s.Client().Keys(ctx, "*"+hex.EncodeToString(h[:])+"*").Result()
		if err != nil {
			t.Fatal(err)
		}
		return len(left)
	}
	if n := stored(); n != 2 {
		t.Fatalf("ann's index: %d Redis keys, want 1 sorted set and 1 hash", n)
	}
	if err := s.RemoveUserSessions(ctx, ann, []string{kept}); err != nil {
		t.Fatal(err)
	}
	if n := stored(); n != 0 {
		t.Errorf("ann's emptied index set is still stored: %d keys", n)
	}
}

// TestUserIndexWithoutMeta: a user's set written before metadata existed
// (members only, no hash) reads as entries without metadata, and takes
// metadata from then on.
func TestUserIndexWithoutMeta(t *testing.T) {
	ctx := context.Background()
	s := open(t, testutil.WithParams(testservers.SharedRedis(t).URL(), "key_prefix", testutil.Prefix(t)))
	ann := "ann-" + sessions.NewKey()[:8]
	old := sessions.NewKey()
	exp := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	// Find the set's name: index a throwaway key, then remove it.
	tmp := sessions.NewKey()
	if err := s.AddUserSession(ctx, ann, tmp, nil, exp); err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte(ann))
	names, err := s.Client().Keys(ctx, "*"+hex.EncodeToString(h[:])+"*").Result()
	if err != nil || len(names) != 1 {
		t.Fatalf("the user's keys: %v, %v; want the set only", names, err)
	}
	// As the script of earlier versions wrote it.
	if err := s.Client().ZAdd(ctx, names[0], redis.Z{Score: float64(exp.UnixMilli()), Member: old}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveUserSessions(ctx, ann, []string{tmp}); err != nil {
		t.Fatal(err)
	}
	got, err := s.UserSessions(ctx, ann)
	if err != nil || len(got) != 1 || got[0].Key != old || got[0].Meta != nil || !got[0].Expiry.Equal(exp) {
		t.Fatalf("an entry written before metadata: %+v, %v", got, err)
	}
	if err := s.AddUserSession(ctx, ann, old, []byte(`{"c":3}`), exp); err != nil {
		t.Fatal(err)
	}
	if got, err := s.UserSessions(ctx, ann); err != nil || len(got) != 1 || string(got[0].Meta) != `{"c":3}` {
		t.Fatalf("the old entry given metadata: %+v, %v", got, err)
	}
}
