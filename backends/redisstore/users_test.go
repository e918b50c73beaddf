package redisstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/internal/testservers"
	"github.com/sessionkit/sessions/internal/testutil"
)

// TestRemoveUserSessionsBatches removes more keys than one ZREM names:
// every batch goes, only the given user's given keys, and the user's set
// is gone once empty.
func TestRemoveUserSessionsBatches(t *testing.T) {
	ctx := context.Background()
	s := open(t, withParams(testservers.SharedRedis(t).URL(), "key_prefix", testutil.Prefix(t)))
	exp := time.Now().Add(time.Hour)
	ann, bob := "ann-"+sessions.NewKey()[:8], "bob-"+sessions.NewKey()[:8]
	keys := make([]string, 2345)
	for i := range keys {
		keys[i] = sessions.NewKey()
		if err := s.AddUserSession(ctx, ann, keys[i], exp); err != nil {
			t.Fatal(err)
		}
	}
	kept := sessions.NewKey()
	for _, u := range []string{ann, bob} {
		if err := s.AddUserSession(ctx, u, kept, exp); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RemoveUserSessions(ctx, ann, keys); err != nil {
		t.Fatal(err)
	}
	if got, err := s.UserSessions(ctx, ann); err != nil || len(got) != 1 || got[0] != kept {
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
		left, err := s.Client().Keys(ctx, "*"+hex.EncodeToString(h[:])).Result()
		if err != nil {
			t.Fatal(err)
		}
		return len(left)
	}
	if n := stored(); n != 1 {
		t.Fatalf("ann's index: %d Redis keys, want 1 sorted set", n)
	}
	if err := s.RemoveUserSessions(ctx, ann, []string{kept}); err != nil {
		t.Fatal(err)
	}
	if n := stored(); n != 0 {
		t.Errorf("ann's emptied index set is still stored: %d keys", n)
	}
}
