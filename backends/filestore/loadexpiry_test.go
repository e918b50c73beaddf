package filestore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/codec"
)

// TestLoadExpiry checks sessions.ExpiryReader: the data Load returns and
// the expiry last written, whether given by the caller or carried by the
// data (an absolute _session_expiry), and ErrNotFound where Load gives it.
func TestLoadExpiry(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	var r sessions.ExpiryReader = s
	check := func(step, k string, data []byte, exp time.Time) {
		t.Helper()
		got, gotExp, err := r.LoadExpiry(ctx, k)
		if err != nil || string(got) != string(data) {
			t.Fatalf("%s: LoadExpiry = %q, %v; want %q", step, got, err, data)
		}
		if d := gotExp.Sub(exp).Abs(); d > time.Millisecond {
			t.Fatalf("%s: expiry %v, want %v (off by %v)", step, gotExp, exp, d)
		}
	}
	d := codec.NewDict(map[string]any{"a": 1})
	v1, err := testCodec.Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	k := sessions.NewKey()
	if _, _, err := r.LoadExpiry(ctx, k); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("missing key: %v", err)
	}
	exp := time.Now().Add(time.Hour)
	if err := s.Create(ctx, k, v1, exp); err != nil {
		t.Fatal(err)
	}
	check("after Create", k, v1, exp)
	exp = exp.Add(-30 * time.Minute)
	if err := s.Touch(ctx, k, exp); err != nil {
		t.Fatal(err)
	}
	check("after Touch", k, v1, exp)
	if err := s.Delete(ctx, k); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.LoadExpiry(ctx, k); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("deleted key: %v", err)
	}
	dead := sessions.NewKey()
	if err := s.Create(ctx, dead, v1, time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.LoadExpiry(ctx, dead); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("expired key: %v", err)
	}
}
