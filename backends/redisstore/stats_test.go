package redisstore_test

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/internal/testservers"
)

// Redis has no sessions.Counter: DBSIZE counts every key of the database
// (other applications', the user index), and counting sessions means
// walking the key space. Manager.Stats does that walk through List (SCAN
// by the engine's prefix), counting live sessions only and reporting
// progress as it goes.
func TestStatsListsTheKeys(t *testing.T) {
	ctx := context.Background()
	srv := testservers.StartRedis(t)
	cfg := srv.URL() + "?" + url.Values{"key_prefix": {"statstest"}}.Encode()
	s := sessions.DefaultSettings()
	s.SecretKey = "redis-stats-test-secret-0123456789"
	m, err := sessions.Open(ctx, cfg, s)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if d := m.Describe(); d.Counts || !d.Lists {
		t.Fatalf("Describe: Counts %v, Lists %v; want a Lister without a Counter", d.Counts, d.Lists)
	}
	// Another application's keys, and sessions under another prefix,
	// are not counted.
	other, err := sessions.Open(ctx, srv.URL()+"?key_prefix=otherapp", s)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	for range 3 {
		o := other.NewSession(ctx)
		o.Set("x", 1)
		if err := o.Save(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for range 7 {
		sess := m.NewSession(ctx)
		sess.Set("x", 1)
		if err := sess.Save(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var calls, last int64
	n, err := m.Stats(ctx, func(done, total int64) {
		calls++
		if total != -1 || done != last+1 {
			t.Errorf("progress(%d, %d) after %d", done, total, last)
		}
		last = done
	})
	if err != nil {
		t.Fatal(err)
	}
	want := sessions.Counts{Sessions: 7, Expired: -1, Users: -1, UserEntries: -1}
	if n != want || calls != 7 {
		t.Fatalf("Stats = %+v after %d progress calls, want %+v after 7", n, calls, want)
	}
	// A cancelled context stops the walk before it starts.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.Stats(cctx, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Stats with a cancelled context: %v", err)
	}
}
