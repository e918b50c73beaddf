package sessions_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/sessionkit/sessions/backends/memstore"
	"github.com/sessionkit/sessions/internal/testutil"
)

// sumMerge merges integer counters: theirs plus what this request added.
func sumMerge(calls *[]string) func(base, theirs, ours any) (any, bool) {
	return func(base, theirs, ours any) (any, bool) {
		*calls = append(*calls, fmt.Sprintf("%v/%v/%v", base, theirs, ours))
		n := func(v any) int64 { i, _ := v.(int64); return i }
		if ours == nil {
			return nil, false
		}
		return n(theirs) + n(ours) - n(base), true
	}
}

func TestSetMergeResolvesAConflict(t *testing.T) {
	ctx := context.Background()
	m := testutil.Manager(t, memstore.New(nil))
	s := m.NewSession(ctx)
	s.Set("n", int64(10))
	s.Set("plain", "base")
	if err := s.Save(ctx); err != nil {
		t.Fatal(err)
	}
	key := s.Key()

	mine, theirs := m.Load(ctx, key), m.Load(ctx, key)
	mine.Len()                 // loaded before the other request saves
	theirs.Set("n", int64(13)) // +3
	theirs.Set("plain", "theirs")
	if err := theirs.Save(ctx); err != nil {
		t.Fatal(err)
	}
	var calls []string
	mine.SetMerge("n", sumMerge(&calls))
	mine.Set("n", int64(15)) // +5
	mine.Set("plain", "mine")
	if err := mine.Save(ctx); err != nil {
		t.Fatal(err)
	}
	got := m.Load(ctx, key)
	if n := got.Get("n"); n != int64(18) {
		t.Errorf("merged counter = %v, want 18 (10 +3 +5); merge calls %q", n, calls)
	}
	if got.Get("plain") != "mine" {
		t.Errorf("a key without a MergeFunc: %v, want this request's value", got.Get("plain"))
	}
	if len(calls) != 1 || calls[0] != "10/13/15" {
		t.Errorf("merge calls %q, want [10/13/15]", calls)
	}
}

func TestSetMergeDeleteAndReset(t *testing.T) {
	ctx := context.Background()
	m := testutil.Manager(t, memstore.New(nil))
	s := m.NewSession(ctx)
	s.Set("n", int64(1))
	s.Save(ctx)
	key := s.Key()

	// A deletion reaches the MergeFunc as ours == nil; keep false removes.
	mine, theirs := m.Load(ctx, key), m.Load(ctx, key)
	mine.Len()
	theirs.Set("n", int64(2))
	theirs.Save(ctx)
	var calls []string
	mine.SetMerge("n", sumMerge(&calls))
	mine.Delete("n")
	if err := mine.Save(ctx); err != nil {
		t.Fatal(err)
	}
	if got := m.Load(ctx, key); got.Has("n") || len(calls) != 1 || calls[0] != "1/2/<nil>" {
		t.Errorf("after a merged delete: has n %v, calls %q", got.Has("n"), calls)
	}

	// SetMerge(key, nil) goes back to the default (this request wins).
	mine, theirs = m.Load(ctx, key), m.Load(ctx, key)
	mine.Len()
	theirs.Set("n", int64(7))
	theirs.Save(ctx)
	calls = nil
	mine.SetMerge("n", sumMerge(&calls))
	mine.SetMerge("n", nil)
	mine.Set("n", int64(3))
	if err := mine.Save(ctx); err != nil {
		t.Fatal(err)
	}
	if got := m.Load(ctx, key).Get("n"); got != int64(3) || len(calls) != 0 {
		t.Errorf("after SetMerge(nil): n = %v, calls %q", got, calls)
	}

	// Without a conflict the MergeFunc is never called.
	mine = m.Load(ctx, key)
	mine.SetMerge("n", sumMerge(&calls))
	mine.Set("n", int64(4))
	mine.Save(ctx)
	if len(calls) != 0 {
		t.Errorf("merge called without a conflict: %q", calls)
	}
}
