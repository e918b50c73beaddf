package memcachestore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/internal/testservers"
)

// Memcached can neither count nor list its keys: Manager.Stats says so
// with ErrUnsupported, and every count is unknown.
func TestStatsUnsupported(t *testing.T) {
	ctx := context.Background()
	srv := testservers.StartMemcached(t)
	s := sessions.DefaultSettings()
	s.SecretKey = "memcached-stats-test-secret-0123456789"
	m, err := sessions.Open(ctx, "memcached://"+srv.Addr, s)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if d := m.Describe(); d.Counts || d.Lists {
		t.Fatalf("Describe: Counts %v, Lists %v", d.Counts, d.Lists)
	}
	n, err := m.Stats(ctx, func(int64, int64) { t.Error("progress without a count") })
	if !errors.Is(err, sessions.ErrUnsupported) {
		t.Fatalf("Stats: %v, want ErrUnsupported", err)
	}
	if want := (sessions.Counts{Sessions: -1, Expired: -1, Users: -1, UserEntries: -1}); n != want {
		t.Fatalf("Stats = %+v, want %+v", n, want)
	}
}
