// Package conformance is the shared test suite every session engine must
// pass, and the only home of the contract's tests:
//
//   - [Run]: the storage contract of sessions.Engine and its optional
//     interfaces, calling the engine directly as the Manager does (valid
//     keys, a live context, never after Close), including that every
//     optional interface agrees with the base methods (LoadExpiry, List,
//     Touch and Swap with Load), as package testing/fstest checks a file
//     system;
//   - [RunManager]: the behaviour of a sessions.Manager over the engine,
//     Django's SessionTestsMixin and SessionMiddlewareTests included, and
//     the Manager's guard: no hostile key, invalid user ID, cancelled
//     context or call after Close ever reaches the engine (every engine
//     call of every case is watched); run it over [BaseOnly] too to cover
//     the path of an engine without optional interfaces;
//   - [RunMiddleware]: RunManager's middleware cases through a web
//     framework's session middleware (a [Framework]: Gin, Echo, Fiber),
//     over the cookie and the token-header transports;
//   - [RunFaults]: outages and deadlines of engines over a network;
//   - [RunCrash]: a process killed in the middle of writes leaves every
//     record old or new, never torn;
//   - [Check]: the quick storage cases without package testing, for a
//     start-up self-test or the CLI's "sessions check".
//
// It uses only the standard library, so a third-party engine pays nothing
// to run it:
//
//	func TestConformance(t *testing.T) {
//		conformance.Run(t, conformance.Harness{
//			New: func(t *testing.T) sessions.Backend {
//				e := mystore.New(...) // a fresh, isolated store
//				t.Cleanup(func() { e.Close() })
//				return e
//			},
//			Caps: conformance.Capabilities{TTLResolution: time.Second},
//		})
//	}
//
// Every case is a named subtest with a one-line reason, written as a
// function of its own, so a failure is reported at the line of the
// assertion that failed. The engine's optional interfaces are found by
// type assertion, as the Manager finds them; what its methods cannot show
// (expiry resolution, expiry the store enforces itself, an unsigned
// format) is declared in [Capabilities], never guessed from names. A case
// that needs an interface or a capability the engine lacks is skipped
// with the reason.
package conformance

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
)

// Harness tells the suite how to get engines.
type Harness struct {
	// New returns a fresh engine over an empty, isolated store (its own
	// table, key prefix, directory or database). It registers its own
	// cleanup with t.Cleanup. A case may close it through a Manager
	// (UseAfterClose), so a Close from the cleanup comes second and must
	// be harmless.
	New func(t *testing.T) sessions.Backend
	// NewPair, when set, returns two separate engine instances over one
	// shared store (two clients, two processes' worth of state), so the
	// suite can check that a write through one is seen by the other.
	NewPair func(t *testing.T) (sessions.Backend, sessions.Backend)
	// NewFaulty, when set, returns a fresh engine (as New) together with
	// one Fault for each store the engine depends on, for [RunFaults].
	NewFaulty func(t *testing.T) (sessions.Backend, []Fault)
	// Caps declares what the engine can do.
	Caps Capabilities
	// Configure, when set, changes the settings of every Manager that
	// RunManager creates, after the suite's own (for example to turn on
	// encryption at rest with Settings.EncryptionKeys).
	Configure func(s *sessions.Settings)
}

// Capabilities declare the engine's properties to the suite.
type Capabilities struct {
	// TTLResolution is the granularity of the engine's expiry: zero for
	// exact (sub-millisecond), time.Second for stores that count whole
	// seconds (memcached). Expiry cases wait accordingly.
	TTLResolution time.Duration
	// MaxValueSize is the largest data the engine stores (0 = at least
	// 1 MiB is tested).
	MaxValueSize int
	// ClientSide marks engines that keep sessions in the cookie
	// (sessions.ClientSide): the storage cases are skipped and the
	// seal/open cases run instead.
	ClientSide bool
	// NativeExpiry marks engines whose store expires records by itself
	// (Redis, memcached): their DeleteExpired has nothing to do and may
	// report 0; the suite then checks only that it succeeds and that
	// expired records stay unreadable.
	NativeExpiry bool
	// Unsigned marks engines whose stored format carries no signature
	// (Django's cache engines store a bare pickle): what they hold is
	// trusted as is, so the secret-key rotation case does not apply.
	Unsigned bool
	// SlowExpiry skips the cases that must wait for records to expire (for
	// engines with a coarse TTL in quick runs). Prefer leaving it false.
	SlowExpiry bool
}

func (c Capabilities) res() time.Duration {
	if c.TTLResolution <= 0 {
		return 20 * time.Millisecond
	}
	return c.TTLResolution
}

func (c Capabilities) maxValue() int {
	if c.MaxValueSize <= 0 || c.MaxValueSize > 1<<20 {
		return 1 << 20
	}
	return c.MaxValueSize
}

// env is what a storage case gets besides its tb.
type env struct {
	ctx  context.Context
	e    sessions.Engine     // nil for a client-side engine
	c    sessions.ClientSide // nil for a server-side engine
	caps Capabilities
	// pair returns two engines over one shared store; nil when the
	// harness has no NewPair (and in Check).
	pair func() (sessions.Engine, sessions.Engine)
}

// tb is the part of *testing.T a storage case uses. Run passes the
// subtest's *testing.T, so a failure is reported at the line of the case
// that failed; Check passes a checkT, which records it.
type tb interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
	Logf(format string, args ...any)
}

// storeCase is one rule of the storage contract, checked by calling the
// engine directly (as the Manager's guard does: valid keys, a live
// context, never after Close).
type storeCase struct {
	name   string
	reason string
	run    func(t tb, ev *env)
	// quick cases also run in Check.
	quick bool
}

// storeCases returns the storage cases of a server-side engine.
func storeCases() []storeCase {
	return slices.Concat(storageCases(), expiryStoreCases(), optionalCases(), concurrencyStoreCases(), userStoreCases(), deviceStoreCases())
}

// Run runs every storage case against engines from h, each as a subtest
// with a fresh engine. It reports the number of cases run with t.Logf.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil {
		t.Fatal("conformance: Harness.New is nil")
	}
	cases := storeCases()
	if h.Caps.ClientSide {
		cases = clientSideCases()
	}
	ran := 0
	for _, c := range cases {
		ok := t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			defer func() {
				if t.Failed() {
					t.Logf("rule: %s", c.reason)
				}
			}()
			b := h.New(t)
			if !h.Caps.ClientSide {
				asEngine(t, b)
			}
			ev := newEnv(ctx, b)
			ev.caps = h.Caps
			if h.NewPair != nil {
				ev.pair = func() (sessions.Engine, sessions.Engine) {
					a, b := h.NewPair(t)
					return asEngine(t, a), asEngine(t, b)
				}
			}
			c.run(t, ev)
		})
		if ok {
			ran++
		}
	}
	t.Logf("conformance: %d storage cases, %d passed or skipped", len(cases), ran)
}

// Result is the outcome of one case of CheckResults.
type Result struct {
	Name    string // the case, for example "CreateExisting"
	Reason  string // the rule it checks, one line
	Err     error  // nil when the case passed or was skipped
	Skipped bool   // the engine lacks what the case needs (Err is nil)
	Why     string // why it was skipped
}

// CheckResults runs the quick storage cases against a live engine,
// creating and deleting a few sessions of its own (never touching
// others), and returns the outcome of each. For a client-side engine it
// runs the seal/open cases instead of the storage ones.
func CheckResults(ctx context.Context, b sessions.Backend) []Result {
	cases := storeCases()
	if _, ok := b.(sessions.ClientSide); ok {
		cases = clientSideCases()
	}
	var out []Result
	for _, c := range cases {
		if !c.quick {
			continue
		}
		ct := &checkT{}
		ct.run(func() { c.run(ct, newEnv(ctx, b)) })
		r := Result{Name: c.name, Reason: c.reason, Skipped: ct.skipped, Why: ct.why}
		if len(ct.errs) > 0 {
			r.Err = errors.New(strings.Join(ct.errs, "; "))
		}
		out = append(out, r)
	}
	return out
}

// Check runs CheckResults and returns every failure joined, or nil. Use
// it to verify a deployment's configuration (the CLI's "sessions check").
func Check(ctx context.Context, b sessions.Backend) error {
	var errs []error
	for _, r := range CheckResults(ctx, b) {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w (rule: %s)", r.Name, r.Err, r.Reason))
		}
	}
	return errors.Join(errs...)
}

// checkT is the tb of Check: it records failures and a skip, and ends
// the case (as testing does, with runtime.Goexit) on Fatalf and Skipf.
type checkT struct {
	mu      sync.Mutex
	errs    []string
	skipped bool
	why     string
}

// run runs a case on its own goroutine, so that Fatalf and Skipf can end
// it, and turns a panic into a failure.
func (c *checkT) run(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if p := recover(); p != nil {
				c.Errorf("panic: %v", p)
			}
		}()
		f()
	}()
	<-done
}

func (c *checkT) Helper() {}

func (c *checkT) Errorf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}

func (c *checkT) Fatalf(format string, args ...any) {
	c.Errorf(format, args...)
	runtime.Goexit()
}

func (c *checkT) Skipf(format string, args ...any) {
	c.mu.Lock()
	c.skipped, c.why = true, fmt.Sprintf(format, args...)
	c.mu.Unlock()
	runtime.Goexit()
}

func (c *checkT) Logf(string, ...any) {}

// newEnv returns the env of a case over b.
func newEnv(ctx context.Context, b sessions.Backend) *env {
	ev := &env{ctx: ctx}
	ev.e, _ = b.(sessions.Engine)
	ev.c, _ = b.(sessions.ClientSide)
	return ev
}

// asEngine returns b as a server-side engine, failing the test otherwise.
func asEngine(t testing.TB, b sessions.Backend) sessions.Engine {
	t.Helper()
	e, ok := b.(sessions.Engine)
	if !ok {
		t.Fatalf("conformance: %T is not a sessions.Engine (set Capabilities.ClientSide for a client-side engine)", b)
	}
	return e
}

// noErr ends the case when err is not nil.
func noErr(t tb, op string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: unexpected error: %v", op, err)
	}
}

// wantErr ends the case unless err matches want.
func wantErr(t tb, op string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want one matching %v", op, err, want)
	}
}

// wantData ends the case unless got equals want.
func wantData(t tb, op string, got, want []byte) {
	t.Helper()
	if string(got) != string(want) {
		t.Fatalf("%s: got %s, want %s", op, short(got), short(want))
	}
}

func short(b []byte) string {
	if len(b) > 40 {
		return fmt.Sprintf("%q… (%d bytes)", b[:40], len(b))
	}
	return fmt.Sprintf("%q", b)
}

func future(ev *env) time.Time { return time.Now().Add(time.Hour) }

func sleepUntil(t time.Time) {
	if d := time.Until(t); d > 0 {
		time.Sleep(d)
	}
}

func flip(c byte) string {
	if c == 'a' {
		return "b"
	}
	return "a"
}
