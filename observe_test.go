package sessions_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/cookiestore"
	"github.com/sessionkit/sessions/backends/memstore"
	"github.com/sessionkit/sessions/internal/testutil"
	"github.com/sessionkit/sessions/observe"
)

// recorder keeps the events it observes.
type recorder struct {
	mu     sync.Mutex
	events []observe.Event
}

func (r *recorder) Observe(_ context.Context, e observe.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// take returns the events since the last take.
func (r *recorder) take() []observe.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.events
	r.events = nil
	return out
}

func (r *recorder) find(t *testing.T, op observe.Op, outcome observe.Outcome) observe.Event {
	t.Helper()
	evs := r.take()
	for _, e := range evs {
		if e.Op == op && e.Outcome == outcome {
			return e
		}
	}
	t.Fatalf("no %s/%s event among %v", op, outcome, evs)
	return observe.Event{}
}

// failing is an engine whose store is down.
type failing struct{ sessions.Engine }

var errDown = errors.New("connection refused")

func (failing) Load(context.Context, string) ([]byte, error) { return nil, errDown }

func observed(t *testing.T, e sessions.Backend, change func(*sessions.Settings)) (*sessions.Manager, *recorder) {
	t.Helper()
	rec := &recorder{}
	st := testutil.Settings()
	st.Observer = rec
	if change != nil {
		change(&st)
	}
	m, err := sessions.New(e, st)
	if err != nil {
		t.Fatal(err)
	}
	return m, rec
}

// TestObserverEvents produces every kind of event and checks what each
// carries: the engine, the operation, the outcome, a duration for engine
// calls, an error class for failures, retries for a conflict, a count for
// clearsessions, and never a session key.
func TestObserverEvents(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	store := memstore.New(&memstore.Options{Now: func() time.Time { return now }})
	m, rec := observed(t, store, func(s *sessions.Settings) {
		s.IdleTimeout = time.Hour
		s.IdleRefresh = time.Nanosecond
		s.MaxDataSize = 2048
		s.Clock = func() time.Time { return now }
	})

	s := m.NewSession(ctx)
	s.Set("a", "1")
	if err := s.Save(ctx); err != nil {
		t.Fatal(err)
	}
	key := s.Key()
	if e := rec.find(t, observe.OpCreate, observe.OutcomeOK); e.Engine != "memory" || e.Duration <= 0 || e.Err != nil {
		t.Errorf("create event %+v", e)
	}

	m.Load(ctx, key).Get("a")
	rec.find(t, observe.OpLoad, observe.OutcomeHit)
	m.Load(ctx, sessions.NewKey()).Get("a")
	rec.find(t, observe.OpLoad, observe.OutcomeMiss)
	bad := sessions.NewKey()
	store.Create(ctx, bad, []byte("not:signed:data"), now.Add(time.Hour))
	m.Load(ctx, bad).Get("a")
	rec.find(t, observe.OpLoad, observe.OutcomeCorrupt)

	// Two requests change the session at once: one save merges.
	s1, s2 := m.Load(ctx, key), m.Load(ctx, key)
	s1.Get("a")
	s2.Get("a")
	s1.Set("b", "1")
	s2.Set("c", "1")
	s1.Save(ctx)
	rec.find(t, observe.OpUpdate, observe.OutcomeOK)
	if err := s2.Save(ctx); err != nil {
		t.Fatal(err)
	}
	if e := rec.find(t, observe.OpConflict, observe.OutcomeOK); e.Retries != 1 || !e.Merged {
		t.Errorf("conflict event %+v, want 1 retry, merged", e)
	}

	// Idle refresh through the middleware: a touch and the decision.
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { sessions.FromContext(r.Context()).Get("a") }))
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(&http.Cookie{Name: "sessionid", Value: key})
	now = now.Add(time.Minute)
	h.ServeHTTP(httptest.NewRecorder(), req)
	evs := rec.take()
	if !hasEvent(evs, observe.OpTouch, observe.OutcomeOK) || !hasEvent(evs, observe.OpIdleRefresh, observe.OutcomeOK) {
		t.Errorf("idle refresh events %v", evs)
	}

	// Bind, list, cycle, too large, interrupted, delete, clearsessions.
	s = m.Load(ctx, key)
	if err := m.BindUser(ctx, s, "ann"); err != nil {
		t.Fatal(err)
	}
	rec.find(t, observe.OpIndex, observe.OutcomeOK)
	m.Keys(ctx, func(string) bool { return true })
	rec.find(t, observe.OpList, observe.OutcomeOK)
	if err := s.CycleKey(ctx); err != nil {
		t.Fatal(err)
	}
	rec.find(t, observe.OpCycle, observe.OutcomeOK)
	big := m.Load(ctx, s.Key())
	big.Set("blob", strings.Repeat("x", 4096))
	if err := big.Save(ctx); !errors.Is(err, sessions.ErrTooLarge) {
		t.Fatalf("big save: %v", err)
	}
	if e := rec.find(t, observe.OpTooLarge, observe.OutcomeError); e.Err != sessions.ErrTooLarge {
		t.Errorf("too large event %+v", e)
	}
	gone := m.Load(ctx, s.Key())
	gone.Get("a")
	store.Delete(ctx, s.Key())
	gone.Set("x", "1")
	if err := gone.Save(ctx); !errors.Is(err, sessions.ErrInterrupted) {
		t.Fatalf("save of a deleted session: %v", err)
	}
	rec.find(t, observe.OpInterrupted, observe.OutcomeError)
	other := m.NewSession(ctx)
	other.Set("a", "1")
	other.Save(ctx)
	other.Flush(ctx)
	rec.find(t, observe.OpDelete, observe.OutcomeOK)
	expiring := m.NewSession(ctx)
	expiring.SetExpiry(time.Second)
	expiring.Save(ctx)
	now = now.Add(time.Hour)
	if _, err := m.ClearExpired(ctx); err != nil {
		t.Fatal(err)
	}
	if e := rec.find(t, observe.OpClearExpired, observe.OutcomeOK); e.Count < 1 || e.Duration <= 0 {
		t.Errorf("clear expired event %+v, want a count and a duration", e)
	}

	// No event names a session key.
	for _, e := range rec.take() {
		if strings.Contains(e.Engine, key[:8]) {
			t.Errorf("event %+v carries a key", e)
		}
	}
}

// A store failure is reported with its class, never the client's error.
func TestObserverStoreError(t *testing.T) {
	ctx := context.Background()
	m, rec := observed(t, failing{memstore.New(nil)}, nil)
	s := m.Load(ctx, sessions.NewKey())
	s.Get("a")
	e := rec.find(t, observe.OpLoad, observe.OutcomeError)
	if e.Err != observe.ErrStore {
		t.Errorf("load error class %v, want ErrStore", e.Err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	m.Load(cctx, sessions.NewKey()).Get("a")
	if e := rec.find(t, observe.OpLoad, observe.OutcomeError); e.Err != context.Canceled {
		t.Errorf("cancelled load class %v", e.Err)
	}
}

// A signed cookie past its age is "expired", not "corrupt".
func TestObserverExpiredCookie(t *testing.T) {
	ctx := context.Background()
	then := time.Now().Add(-3 * 365 * 24 * time.Hour)
	old, _ := observed(t, cookiestore.New(&cookiestore.Options{Now: func() time.Time { return then }}), nil)
	s := old.NewSession(ctx)
	s.Set("a", "1")
	s.Save(ctx)
	m, rec := observed(t, cookiestore.New(nil), nil)
	m.Load(ctx, s.Key()).Get("a")
	if e := rec.find(t, observe.OpLoad, observe.OutcomeExpired); e.Engine != "signed-cookies" {
		t.Errorf("expired event %+v", e)
	}
	tampered := s.Key()[:len(s.Key())-2] + "xx"
	m.Load(ctx, tampered).Get("a")
	rec.find(t, observe.OpLoad, observe.OutcomeCorrupt)
}

func hasEvent(evs []observe.Event, op observe.Op, out observe.Outcome) bool {
	return slices.ContainsFunc(evs, func(e observe.Event) bool { return e.Op == op && e.Outcome == out })
}

// BenchmarkObserver measures a read-write request through the
// middleware without an observer and with one that does nothing: the
// first must allocate nothing for observation (compare allocs/op with
// the second minus its events).
func BenchmarkObserver(b *testing.B) {
	for _, withObserver := range []bool{false, true} {
		name := "none"
		if withObserver {
			name = "noop"
		}
		b.Run(name, func(b *testing.B) {
			st := testutil.Settings()
			if withObserver {
				st.Observer = observe.ObserverFunc(func(context.Context, observe.Event) {})
			}
			m, err := sessions.New(memstore.New(nil), st)
			if err != nil {
				b.Fatal(err)
			}
			h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s := sessions.FromContext(r.Context())
				n, _ := sessions.Get[int](s, "n")
				s.Set("n", n+1)
			}))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			cookie := rec.Result().Cookies()[0]
			req := httptest.NewRequest("GET", "/", nil)
			req.AddCookie(cookie)
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}

// TestNoObserverNoAllocation: observing costs no allocation on the
// request path, with a no-op observer as without one.
func TestNoObserverNoAllocation(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("allocation counts: not under -short or the race detector (which allocates on its own)")
	}
	m, err := sessions.New(memstore.New(nil), testutil.Settings())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s := m.NewSession(ctx)
	s.Set("n", 1)
	s.Save(ctx)
	key := s.Key()
	load := func() { m.Load(ctx, key).Get("n") }
	base := testing.AllocsPerRun(200, load)
	// A load through a Manager with a no-op observer allocates nothing
	// more (the Event is passed by value and does not escape).
	st := testutil.Settings()
	st.Observer = observe.ObserverFunc(func(context.Context, observe.Event) {})
	mo, _ := sessions.New(memstore.New(nil), st)
	so := mo.NewSession(ctx)
	so.Set("n", 1)
	so.Save(ctx)
	withObs := testing.AllocsPerRun(200, func() { mo.Load(ctx, so.Key()).Get("n") })
	if withObs > base {
		t.Errorf("a load allocates %.0f with a no-op observer, %.0f without: the Event must not escape", withObs, base)
	}
}
