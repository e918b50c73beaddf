package sessions_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/cookiestore"
	"github.com/sessionkit/sessions/backends/memstore"
)

func statsSettings() sessions.Settings {
	s := sessions.DefaultSettings()
	s.SecretKey = "stats-test-secret-key-0123456789"
	return s
}

// listOnly is an engine that can list its keys but not count them.
type listOnly struct {
	baseOnly
	l sessions.Lister
}

func (l listOnly) List(ctx context.Context, fn func(string) bool) error { return l.l.List(ctx, fn) }

// baseOnly has no optional interface at all.
type baseOnly struct{ e sessions.Engine }

func (b baseOnly) Load(ctx context.Context, k string) ([]byte, error) { return b.e.Load(ctx, k) }
func (b baseOnly) Create(ctx context.Context, k string, d []byte, t time.Time) error {
	return b.e.Create(ctx, k, d, t)
}
func (b baseOnly) Update(ctx context.Context, k string, d []byte, t time.Time) error {
	return b.e.Update(ctx, k, d, t)
}
func (b baseOnly) Delete(ctx context.Context, k string) error { return b.e.Delete(ctx, k) }
func (b baseOnly) Close() error                               { return b.e.Close() }

// failingCounter counts with an error, and records whether it was called.
type failingCounter struct {
	baseOnly
	called *bool
}

var errCountFailed = errors.New("count failed")

func (f failingCounter) Count(context.Context, func(int64, int64)) (sessions.Counts, error) {
	*f.called = true
	return sessions.Counts{}, errCountFailed
}

func saveN(t *testing.T, m *sessions.Manager, n int) {
	t.Helper()
	ctx := context.Background()
	for range n {
		s := m.NewSession(ctx)
		s.Set("n", 1)
		if err := s.Save(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

var unknown = sessions.Counts{Sessions: -1, Expired: -1, Users: -1, UserEntries: -1}

func TestStatsUsesTheCounter(t *testing.T) {
	ctx := context.Background()
	mem := memstore.New(nil)
	m, err := sessions.New(mem, statsSettings())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	saveN(t, m, 4)
	mem.Create(ctx, sessions.NewKey(), []byte("x"), time.Now().Add(-time.Minute))
	if !m.Describe().Counts {
		t.Error("Describe().Counts is false for the memory engine")
	}
	n, err := m.Stats(ctx, nil)
	if err != nil || n != (sessions.Counts{Sessions: 4, Expired: 1}) {
		t.Fatalf("Stats = %+v, %v", n, err)
	}
}

func TestStatsListsWithoutACounter(t *testing.T) {
	ctx := context.Background()
	mem := memstore.New(nil)
	m, err := sessions.New(listOnly{baseOnly{mem}, mem}, statsSettings())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	saveN(t, m, 3)
	if d := m.Describe(); d.Counts || !d.Lists {
		t.Fatalf("Describe: %+v", d)
	}
	var seen []int64
	n, err := m.Stats(ctx, func(done, total int64) {
		if total != -1 {
			t.Errorf("total %d while listing", total)
		}
		seen = append(seen, done)
	})
	want := unknown
	want.Sessions = 3
	if err != nil || n != want {
		t.Fatalf("Stats = %+v, %v; want %+v", n, err, want)
	}
	if len(seen) != 3 || seen[2] != 3 {
		t.Errorf("progress %v", seen)
	}
}

func TestStatsErrors(t *testing.T) {
	ctx := context.Background()
	// Neither Counter nor Lister.
	m, err := sessions.New(baseOnly{memstore.New(nil)}, statsSettings())
	if err != nil {
		t.Fatal(err)
	}
	if n, err := m.Stats(ctx, nil); !errors.Is(err, sessions.ErrUnsupported) || n != unknown {
		t.Errorf("an engine that can neither count nor list: %+v, %v", n, err)
	}
	m.Close()

	// A client-side engine stores nothing.
	c, err := sessions.New(cookiestore.New(nil), statsSettings())
	if err != nil {
		t.Fatal(err)
	}
	if n, err := c.Stats(ctx, nil); !errors.Is(err, sessions.ErrUnsupported) || n != unknown {
		t.Errorf("signed cookies: %+v, %v", n, err)
	}
	c.Close()

	// The Counter's error is wrapped once, naming the operation; a done
	// context and a closed Manager never reach the engine.
	called := false
	f, err := sessions.New(failingCounter{baseOnly{memstore.New(nil)}, &called}, statsSettings())
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Stats(ctx, nil)
	var se *sessions.Error
	if !errors.Is(err, errCountFailed) || !errors.As(err, &se) || se.Op != "count" || !called {
		t.Errorf("failing count: %v (called %v)", err, called)
	}
	called = false
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := f.Stats(cctx, nil); !errors.Is(err, context.Canceled) || called {
		t.Errorf("cancelled: %v (called %v)", err, called)
	}
	f.Close()
	if _, err := f.Stats(ctx, nil); !errors.Is(err, sessions.ErrClosed) || called {
		t.Errorf("closed: %v (called %v)", err, called)
	}
}
