// Package conformance is the shared test suite every session engine must
// pass: the storage contract of sessions.Engine and its optional
// interfaces ([Run]), and the behaviour of a sessions.Manager over the
// engine, Django's SessionTestsMixin and SessionMiddlewareTests included
// ([RunManager]). [Check] runs the storage checks without package testing,
// for a start-up self-test or the CLI's "sessions check".
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
// Every case is a named subtest with a one-line reason. Capabilities are
// declared, never guessed from names; a case that needs a capability the
// engine lacks is skipped with the reason.
package conformance

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
)

// Harness tells the suite how to get engines.
type Harness struct {
	// New returns a fresh engine over an empty, isolated store (its own
	// table, key prefix, directory or database). It registers its own
	// cleanup with t.Cleanup. The suite may call Close on it; a second
	// Close from the cleanup must be harmless, as the contract requires.
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
	// NoCancel marks engines whose operations cannot observe a cancelled
	// context (pure in-process code may still check it; most should).
	NoCancel bool
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

// env is what a case gets.
type env struct {
	ctx  context.Context
	e    sessions.Engine     // nil for a client-side engine
	c    sessions.ClientSide // nil for a server-side engine
	caps Capabilities
	// newEngine returns another fresh engine (for cases that need a
	// second isolated store); nil outside testing.
	newEngine func() sessions.Engine
	pair      func() (sessions.Engine, sessions.Engine)
	logf      func(format string, args ...any)
}

// skipError marks a case that does not apply.
type skipError struct{ reason string }

func (s skipError) Error() string { return "skipped: " + s.reason }

func skip(format string, args ...any) error { return skipError{fmt.Sprintf(format, args...)} }

// engineCase is one storage rule.
type engineCase struct {
	name   string
	reason string
	run    func(env *env) error
	// quick cases also run in Check.
	quick bool
}

// Run runs every storage case against engines from h, each as a subtest
// with a fresh engine. It reports the number of cases run with t.Logf.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil {
		t.Fatal("conformance: Harness.New is nil")
	}
	cases := engineCases()
	if h.Caps.ClientSide {
		cases = clientSideCases()
	}
	ran := 0
	for _, c := range cases {
		ok := t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			ev := newEnv(ctx, h.New(t))
			ev.caps, ev.logf = h.Caps, t.Logf
			ev.newEngine = func() sessions.Engine { return asEngine(t, h.New(t)) }
			if h.NewPair != nil {
				ev.pair = func() (sessions.Engine, sessions.Engine) {
					a, b := h.NewPair(t)
					return asEngine(t, a), asEngine(t, b)
				}
			}
			err := c.run(ev)
			var se skipError
			switch {
			case errors.As(err, &se):
				t.Skipf("%s: %s", c.reason, se.reason)
			case err != nil:
				t.Fatalf("%s\nrule: %s", err, c.reason)
			}
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

// CheckResults runs the quick cases against a live engine, creating and
// deleting a few sessions of its own (never touching others), and returns
// the outcome of each. For a client-side engine it runs the seal/open
// cases instead of the storage ones.
func CheckResults(ctx context.Context, e sessions.Backend) []Result {
	cases := engineCases()
	if _, ok := e.(sessions.ClientSide); ok {
		cases = clientSideCases()
	}
	var out []Result
	for _, c := range cases {
		if !c.quick {
			continue
		}
		ev := newEnv(ctx, e)
		ev.logf = func(string, ...any) {}
		err := c.run(ev)
		r := Result{Name: c.name, Reason: c.reason}
		var se skipError
		if errors.As(err, &se) {
			r.Skipped, r.Why = true, se.reason
		} else {
			r.Err = err
		}
		out = append(out, r)
	}
	return out
}

// Check runs CheckResults and returns every failure joined, or nil. Use
// it to verify a deployment's configuration (the CLI's "sessions check").
func Check(ctx context.Context, e sessions.Backend) error {
	var errs []error
	for _, r := range CheckResults(ctx, e) {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w (rule: %s)", r.Name, r.Err, r.Reason))
		}
	}
	return errors.Join(errs...)
}

// CheckNames returns the names of the cases Check runs, for reports.
func CheckNames() []string {
	var out []string
	for _, c := range engineCases() {
		if c.quick {
			out = append(out, c.name)
		}
	}
	return out
}

// newEnv returns the env of a case over b.
func newEnv(ctx context.Context, b sessions.Backend) *env {
	ev := &env{ctx: ctx}
	ev.e, _ = b.(sessions.Engine)
	ev.c, _ = b.(sessions.ClientSide)
	return ev
}

// asEngine returns b as a server-side engine, failing the test otherwise.
func asEngine(t *testing.T, b sessions.Backend) sessions.Engine {
	t.Helper()
	e, ok := b.(sessions.Engine)
	if !ok {
		t.Fatalf("conformance: %T is not a sessions.Engine (set Capabilities.ClientSide for a client-side engine)", b)
	}
	return e
}

func expectErr(op string, err, want error) error {
	if !errors.Is(err, want) {
		return fmt.Errorf("%s: got error %v, want one matching %v", op, err, want)
	}
	return nil
}

func expectNil(op string, err error) error {
	if err != nil {
		return fmt.Errorf("%s: unexpected error: %w", op, err)
	}
	return nil
}

func expectData(op string, got, want []byte) error {
	if string(got) != string(want) {
		return fmt.Errorf("%s: got %s, want %s", op, short(got), short(want))
	}
	return nil
}

func short(b []byte) string {
	if len(b) > 40 {
		return fmt.Sprintf("%q… (%d bytes)", b[:40], len(b))
	}
	return fmt.Sprintf("%q", b)
}

// hostileKeys are keys an engine must refuse before touching storage.
var hostileKeys = []string{
	"", "short", "../../etc/passwd", "a/b/c/d/e/f/g/h", `a\b\c\d\e\f\g`, "abcdefgh\x00ijkl",
	"ABCDEFGHIJKLMNOP", "abcdefgh ijklmno", "abcdefgh\nijklmno", "abcdefgh:ijklmnop", "abcdefgh*",
	"abcdefgh'; DROP TABLE django_session; --", strings.Repeat("a", 300), "..........", "abcdefgh%2f..",
	"abcdéfghijkl", "abcdefgh\r\nset x 0 0 1",
}
