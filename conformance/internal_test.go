package conformance

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/memstore"
)

// recorder is a tb that records what a case reports.
type recorder struct{ checkT }

func (r *recorder) failed() string { return strings.Join(r.errs, "; ") }

// mustFail runs one storage case against e and fails t unless the case
// fails: the case can catch the defect e has.
func mustFail(t *testing.T, name string, run func(tb, *env), e sessions.Engine) {
	t.Helper()
	r := &recorder{}
	ev := newEnv(context.Background(), e)
	r.run(func() { run(r, ev) })
	if r.skipped {
		t.Errorf("%s skipped a mutant: %s", name, r.why)
	}
	if r.failed() == "" {
		t.Errorf("%s passed an engine that breaks its rule", name)
	}
}

// staleExpiry reports an expiry other than the stored one.
type staleExpiry struct{ *memstore.Store }

func (s staleExpiry) LoadExpiry(ctx context.Context, key string) ([]byte, time.Time, error) {
	b, exp, err := s.Store.LoadExpiry(ctx, key)
	return b, exp.Add(time.Minute), err
}

// resurrectingTouch brings back a record it saw created that has since
// expired or been deleted.
type resurrectingTouch struct {
	*memstore.Store
	mu   sync.Mutex
	seen map[string]bool
}

func (r *resurrectingTouch) Create(ctx context.Context, key string, data []byte, exp time.Time) error {
	r.mu.Lock()
	r.seen[key] = true
	r.mu.Unlock()
	return r.Store.Create(ctx, key, data, exp)
}

func (r *resurrectingTouch) Touch(ctx context.Context, key string, exp time.Time) error {
	r.mu.Lock()
	seen := r.seen[key]
	r.mu.Unlock()
	if _, err := r.Store.Load(ctx, key); err != nil && seen {
		return r.Store.Create(ctx, key, []byte("back"), exp)
	}
	return r.Store.Touch(ctx, key, exp)
}

// prefixSwap compares only a prefix of the stored data.
type prefixSwap struct{ *memstore.Store }

func (p prefixSwap) Swap(ctx context.Context, key string, old, data []byte, exp time.Time) error {
	cur, err := p.Store.Load(ctx, key)
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(cur, old) {
		return sessions.ErrConflict
	}
	return p.Store.Update(ctx, key, data, exp)
}

// listsZombies also lists the keys it updated into the past.
type listsZombies struct {
	*memstore.Store
	mu      sync.Mutex
	zombies []string
}

func (l *listsZombies) Update(ctx context.Context, key string, data []byte, exp time.Time) error {
	if exp.Before(time.Now()) {
		l.mu.Lock()
		l.zombies = append(l.zombies, key)
		l.mu.Unlock()
	}
	return l.Store.Update(ctx, key, data, exp)
}

func (l *listsZombies) List(ctx context.Context, fn func(string) bool) error {
	l.mu.Lock()
	zombies := l.zombies
	l.mu.Unlock()
	for _, k := range zombies {
		if !fn(k) {
			return nil
		}
	}
	return l.Store.List(ctx, fn)
}

// mustPass runs one storage case against e and fails t unless it
// passes.
func mustPass(t *testing.T, name string, run func(tb, *env), e sessions.Engine) {
	t.Helper()
	r := &recorder{}
	ev := newEnv(context.Background(), e)
	r.run(func() { run(r, ev) })
	if r.failed() != "" || r.skipped {
		t.Errorf("%s on a mutant it cannot see: failed %q, skipped %q", name, r.failed(), r.why)
	}
}

// Each agreement case catches a defect that the case of the interface
// alone lets through.
func TestAgreementCasesCatchMutants(t *testing.T) {
	touch := &resurrectingTouch{Store: memstore.New(nil), seen: map[string]bool{}}
	mustPass(t, "Touch", storeTouch, touch)
	mustFail(t, "ToucherAgrees", storeToucherAgrees, &resurrectingTouch{Store: memstore.New(nil), seen: map[string]bool{}})

	mustPass(t, "Swap", storeSwap, prefixSwap{memstore.New(nil)})
	mustFail(t, "SwapperAgrees", storeSwapperAgrees, prefixSwap{memstore.New(nil)})

	mustPass(t, "List", storeList, &listsZombies{Store: memstore.New(nil)})
	mustFail(t, "ListerAgrees", storeListerAgrees, &listsZombies{Store: memstore.New(nil)})

	mustFail(t, "ExpiryReaderAgrees", storeExpiryReaderAgrees, staleExpiry{memstore.New(nil)})
}

// reports collects what spy.check reports.
type reports struct{ lines []string }

func (r *reports) Helper() {}

func (r *reports) Errorf(format string, args ...any) {
	r.lines = append(r.lines, fmt.Sprintf(format, args...))
}

func TestSpyCatchesWhatTheGuardMustStop(t *testing.T) {
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	exp := time.Now().Add(time.Hour)
	calls := []struct {
		name string
		call func(e sessions.Engine) error
	}{
		{"a hostile key", func(e sessions.Engine) error { _, err := e.Load(ctx, "../../etc/passwd"); return err }},
		{"a hostile key among several", func(e sessions.Engine) error {
			return e.(sessions.UserIndexer).RemoveUserSessions(ctx, "alice", []string{sessions.NewKey(), "short"})
		}},
		{"a cancelled context", func(e sessions.Engine) error { return e.Delete(cancelled, sessions.NewKey()) }},
		{"an empty user ID", func(e sessions.Engine) error { _, err := e.(sessions.UserIndexer).UserSessions(ctx, ""); return err }},
		{"a user ID too long", func(e sessions.Engine) error {
			return e.(sessions.UserIndexer).AddUserSession(ctx, strings.Repeat("u", sessions.MaxUserIDLength+1), sessions.NewKey(), nil, exp)
		}},
		{"a call after Close", func(e sessions.Engine) error {
			e.Close()
			return e.Create(ctx, sessions.NewKey(), []byte("x"), exp)
		}},
	}
	for _, c := range calls {
		sp := &spy{}
		e := wrapEngine(memstore.New(nil), sp.hook)
		if err := c.call(e); err != errGuardBypassed {
			t.Errorf("%s: the spy let the call reach the engine (%v)", c.name, err)
		}
		r := &reports{}
		sp.check(r)
		if len(r.lines) != 1 {
			t.Errorf("%s: the spy reported %q, want one line", c.name, r.lines)
		}
	}
	// Calls the guard lets through pass untouched.
	sp := &spy{}
	e := wrapEngine(memstore.New(nil), sp.hook)
	k := sessions.NewKey()
	if err := e.Create(ctx, k, []byte("x"), exp); err != nil {
		t.Fatal(err)
	}
	if err := e.(sessions.UserIndexer).AddUserSession(ctx, strings.Repeat("u", sessions.MaxUserIDLength), k, nil, exp); err != nil {
		t.Fatal(err)
	}
	r := &reports{}
	sp.check(r)
	if len(r.lines) != 0 {
		t.Errorf("the spy reported valid calls: %q", r.lines)
	}
}

func TestMirrorHasExactlyTheEnginesInterfaces(t *testing.T) {
	full := memstore.New(nil)
	for mask := range 1 << 6 {
		h := &hooked{e: full, hook: func(call) error { return nil }}
		if mask&hasSwap != 0 {
			h.swap = full
		}
		if mask&hasTouch != 0 {
			h.touch = full
		}
		if mask&hasExpiry != 0 {
			h.expiry = full
		}
		if mask&hasPurge != 0 {
			h.purge = full
		}
		if mask&hasList != 0 {
			h.list = full
		}
		if mask&hasUsers != 0 {
			h.users = full
		}
		e := mirror(h)
		got := 0
		if _, ok := e.(sessions.Swapper); ok {
			got |= hasSwap
		}
		if _, ok := e.(sessions.Toucher); ok {
			got |= hasTouch
		}
		if _, ok := e.(sessions.ExpiryReader); ok {
			got |= hasExpiry
		}
		if _, ok := e.(sessions.ExpiredDeleter); ok {
			got |= hasPurge
		}
		if _, ok := e.(sessions.Lister); ok {
			got |= hasList
		}
		if _, ok := e.(sessions.UserIndexer); ok {
			got |= hasUsers
		}
		if got != mask {
			t.Errorf("mirror of mask %06b implements %06b", mask, got)
		}
		if _, ok := e.(sessions.Codecer); !ok {
			t.Errorf("mirror of mask %06b hides Codecer", mask)
		}
	}
	b := BaseOnly(full)
	for name, ok := range map[string]bool{
		"Swapper": is[sessions.Swapper](b), "Toucher": is[sessions.Toucher](b), "ExpiryReader": is[sessions.ExpiryReader](b),
		"ExpiredDeleter": is[sessions.ExpiredDeleter](b), "Lister": is[sessions.Lister](b), "UserIndexer": is[sessions.UserIndexer](b),
		"Codecer": is[sessions.Codecer](b), "Describer": is[sessions.Describer](b),
	} {
		if ok {
			t.Errorf("BaseOnly leaves %s visible", name)
		}
	}
}

func is[I any](v any) bool { _, ok := v.(I); return ok }
