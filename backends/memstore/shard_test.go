package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/memstore"
)

// The sweep that a write starts once PurgeInterval has passed reaches
// every shard and the user index, and DeleteExpired counts what it
// removed across all of them.
func TestPurgeSweepsEveryShard(t *testing.T) {
	ctx := context.Background()
	var clock atomic.Int64
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return t0.Add(time.Duration(clock.Load())) }
	s := memstore.New(&memstore.Options{PurgeInterval: time.Minute, Now: now})
	const n = 1000
	for i := range n {
		exp := now().Add(time.Hour)
		if i%2 == 0 {
			exp = now().Add(time.Second)
		}
		key := fmt.Sprintf("k%031d", i)
		if err := s.Create(ctx, key, []byte("v"), exp); err != nil {
			t.Fatal(err)
		}
		if err := s.AddUserSession(ctx, "u"+strconv.Itoa(i%10), key, nil, exp); err != nil {
			t.Fatal(err)
		}
	}
	clock.Store(int64(2 * time.Second))
	if got := s.Len(); got != n {
		t.Fatalf("Len before the interval passed = %d, want %d (no sweep yet)", got, n)
	}
	clock.Store(int64(2 * time.Minute))
	if err := s.Create(ctx, "trigger00000000000000000000000000", []byte("v"), now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := s.Len(); got != n/2+1 {
		t.Fatalf("Len after the sweep = %d, want %d", got, n/2+1)
	}
	c, err := s.Count(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Sessions != n/2+1 || c.Expired != 0 || c.UserEntries != n/2 || c.Users != 5 {
		t.Fatalf("Count after the sweep = %+v", c)
	}

	// DeleteExpired sweeps at once and counts across the shards.
	clock.Store(int64(3 * time.Hour))
	got, err := s.DeleteExpired(ctx)
	if err != nil || got != n/2+1 {
		t.Fatalf("DeleteExpired = %d, %v; want %d", got, err, n/2+1)
	}
	if s.Len() != 0 {
		t.Fatalf("Len = %d after DeleteExpired", s.Len())
	}
	keys, _ := s.UserSessions(ctx, "u1") // u1 had only live entries
	if len(keys) != 0 {
		t.Fatalf("user index keeps %d expired entries", len(keys))
	}
}

// Concurrent compare-and-swap increments on a few sessions, beside
// creates, deletes, listings, counts and sweeps on others, lose no
// increment (run it with -race).
func TestConcurrentSwapsLoseNothing(t *testing.T) {
	ctx := context.Background()
	s := memstore.New(&memstore.Options{PurgeInterval: time.Millisecond})
	exp := time.Now().Add(time.Hour)
	hot := []string{"hot0000000000000000000000000000000", "hot1111111111111111111111111111111", "hot2222222222222222222222222222222"}
	for _, k := range hot {
		if err := s.Create(ctx, k, []byte("0"), exp); err != nil {
			t.Fatal(err)
		}
	}
	var wins [3]atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 300 {
				k := hot[i%3]
				for {
					old, err := s.Load(ctx, k)
					if err != nil {
						t.Error(err)
						return
					}
					v, _ := strconv.Atoi(string(old))
					err = s.Swap(ctx, k, old, []byte(strconv.Itoa(v+1)), exp)
					if err == nil {
						wins[i%3].Add(1)
						break
					}
					if !errors.Is(err, sessions.ErrConflict) {
						t.Error(err)
						return
					}
				}
				other := fmt.Sprintf("g%d-%030d", g, i)
				_ = s.Create(ctx, other, []byte("x"), exp)
				_ = s.Touch(ctx, other, exp)
				_ = s.Delete(ctx, other)
				if i%50 == 0 {
					_ = s.List(ctx, func(string) bool { return true })
					_, _ = s.Count(ctx, nil)
					_, _ = s.DeleteExpired(ctx)
				}
			}
		})
	}
	wg.Wait()
	for i, k := range hot {
		b, err := s.Load(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := string(b), strconv.FormatInt(wins[i].Load(), 10); got != want {
			t.Errorf("%s = %s after %s successful swaps", k[:4], got, want)
		}
	}
}
