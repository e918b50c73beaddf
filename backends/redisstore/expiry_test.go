package redisstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/internal/testservers"
	"github.com/sessionkit/sessions/internal/testutil"
)

// TestLoadExpiry checks sessions.ExpiryReader against the server: the
// expiry last written (by Create, Update, Touch or Swap), to the
// millisecond Redis keeps and never later by more, ErrNotFound for missing, deleted and
// expired keys, and the zero time for a key written without a TTL.
func TestLoadExpiry(t *testing.T) {
	s := open(t, testutil.WithParams(testservers.SharedRedis(t).URL(), "key_prefix", testutil.Prefix(t)))
	ctx := context.Background()
	var r sessions.ExpiryReader = s
	// wrote is how long the last write took: its time to live is counted
	// from when the command left, so the server's expiry may be later by
	// the command's way there (a loaded machine takes milliseconds).
	var wrote time.Duration
	write := func(f func() error) {
		t.Helper()
		start := time.Now()
		if err := f(); err != nil {
			t.Fatal(err)
		}
		wrote = time.Since(start)
	}
	check := func(step, k string, data string, exp time.Time) {
		t.Helper()
		start := time.Now()
		got, gotExp, err := r.LoadExpiry(ctx, k)
		roundTrip := time.Since(start)
		if err != nil || string(got) != data {
			t.Fatalf("%s: LoadExpiry = %q, %v; want %q", step, got, err, data)
		}
		// Redis keeps whole milliseconds (a write rounds up), and the
		// reply's time to live is counted from when the command left,
		// so it may be early by this call's round trip (measured: a
		// loaded machine takes tens of milliseconds).
		if gotExp.After(exp.Add(wrote+2*time.Millisecond)) || exp.Sub(gotExp) > roundTrip+2*time.Millisecond {
			t.Fatalf("%s: expiry %v, want %v (off by %v; at most the millisecond Redis rounds to plus the write's %v later, at most the round trip of %v earlier)", step, gotExp, exp, gotExp.Sub(exp), wrote, roundTrip)
		}
	}
	k := sessions.NewKey()
	if _, _, err := r.LoadExpiry(ctx, k); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("missing key: %v", err)
	}
	exp := time.Now().Add(time.Hour)
	write(func() error { return s.Create(ctx, k, []byte("v1"), exp) })
	check("after Create", k, "v1", exp)
	exp = exp.Add(time.Hour)
	write(func() error { return s.Update(ctx, k, []byte("v2"), exp) })
	check("after Update", k, "v2", exp)
	exp = exp.Add(-90 * time.Minute)
	write(func() error { return s.Touch(ctx, k, exp) })
	check("after Touch", k, "v2", exp)
	exp = exp.Add(time.Minute)
	write(func() error { return s.Swap(ctx, k, []byte("v2"), []byte("v3"), exp) })
	check("after Swap", k, "v3", exp)
	if err := s.Delete(ctx, k); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.LoadExpiry(ctx, k); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("deleted key: %v", err)
	}
	short := sessions.NewKey()
	if err := s.Create(ctx, short, []byte("x"), time.Now().Add(30*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(60 * time.Millisecond)
	if _, _, err := r.LoadExpiry(ctx, short); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("expired key: %v", err)
	}
	forever := sessions.NewKey()
	if err := s.Client().Set(ctx, s.Key(forever), "kept", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got, exp, err := r.LoadExpiry(ctx, forever); err != nil || string(got) != "kept" || !exp.IsZero() {
		t.Fatalf("a key without TTL: %q %v %v; want its value and the zero time", got, exp, err)
	}
}
