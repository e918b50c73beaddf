package conformance

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/internal/syncbuf"
)

// Fault makes one store an engine depends on unreachable while the store
// keeps its data: a network partition, a restarted proxy, a paused
// server. A harness builds it, for example, from a TCP proxy between the
// engine and its server.
type Fault struct {
	// Name names the store, for example "redis", "cache" or "database".
	Name string
	// Cut resets the store's connections and refuses new ones.
	Cut func()
	// Stall keeps connections open but lets nothing through, as a
	// paused server or a black-holed network does.
	Stall func()
	// Restore ends a Cut or a Stall.
	Restore func()
	// ReadsSurvive declares that loads keep working while this store is
	// unreachable (for example a cache in front of a database).
	ReadsSurvive bool
	// Timeout is the longest a call of the engine waits for this store
	// once it has stopped answering (Stall), when the call's context has
	// no deadline: the engine's own timeout for the store, as the harness
	// configured it. A request's context has no deadline (net/http ends
	// it only when the client goes away), so an engine without a timeout
	// of its own would hold every request, and a connection of its pool,
	// for as long as the store is paused or the network drops its
	// packets. Zero fails the StallWithoutDeadline case.
	Timeout time.Duration
	// Conns, when set, reports how many connections are open now to the
	// store's server with the most of them ([testservers.Fault] counts
	// them at its proxies). The StallWithoutDeadline case then checks
	// that the engine never holds more than MaxConns while the stalled
	// calls pile up.
	Conns func() int
	// MaxConns is the most connections the engine opens to one server of
	// this store, as the harness configured it (a pool size). A stalled
	// store makes a busy server's requests pile up; an engine without a
	// bound opens a connection for each of them, until the process runs
	// out of file descriptors and fails everything else it serves too
	// (its listener's accepts among them). Zero, with Conns set, fails the
	// StallWithoutDeadline case.
	MaxConns int
	// Lag and Promote, when set, are a failover that loses writes, the
	// Failover mode of the outage cases. Lag stops the store's replicas
	// from receiving its writes (its replication link stalls) while the
	// store keeps serving; Promote then makes a replica the store the
	// engine talks to, as Sentinel or a Redis Cluster do when a master
	// dies, and whatever the replicas had not received is lost. The
	// cases' promises hold across it: a logout, a save, a CycleKey or a
	// DeleteUser the engine acknowledged while the replicas lagged is
	// still in force after the failover. An engine that acknowledges a
	// write before its replicas have it (asynchronous replication, Redis's
	// default) fails them; one that waits for them passes.
	Lag, Promote func()
}

// DeadlineSlack is how long after its context ends (as the process sees
// it: on a busy machine the deadline's timer itself fires late) an engine call
// may still be running in the deadline cases.
const DeadlineSlack = 50 * time.Millisecond

// RunFaults runs the outage and deadline cases over engines from
// h.NewFaulty: each store of the engine is cut (connections reset) and
// stalled (nothing answered) in the middle of a request, and the suite
// checks the promises that must hold whatever the store does:
//
//   - no acknowledged delete (a logout, DeleteUser, the old key of
//     CycleKey) is undone when the store comes back;
//   - no acknowledged write is lost or read back older;
//   - during the outage a load fails with an error (or, where the store
//     declares ReadsSurvive, succeeds): it never looks like "no session",
//     which would log the user out;
//   - every engine call returns within [DeadlineSlack] of its context's
//     deadline, with the context's error;
//   - with a context that has no deadline (a request's), every call a
//     request makes returns within the store's [Fault.Timeout], and the
//     engine holds no more connections to the stalled store than
//     [Fault.MaxConns], however many calls pile up;
//   - the engine recovers once the store is back.
//
// Where the harness gives [Fault.Lag] and [Fault.Promote], the promises
// about acknowledged deletes and writes are also checked across a
// failover to a replica that missed the latest writes.
//
// Without h.NewFaulty (in-process engines) it skips with the reason.
func RunFaults(t *testing.T, h Harness) {
	t.Helper()
	if h.NewFaulty == nil {
		t.Skip("the harness has no NewFaulty: the engine's store is not reachable over a network the suite can cut")
	}
	probe, faults := h.NewFaulty(t)
	probe.Close()
	for i, f := range faults {
		modes := []struct {
			name string
			down func(Fault)
			up   func(Fault)
		}{
			{"Cut", func(f Fault) { f.Cut() }, func(f Fault) { f.Restore() }},
			{"Stall", func(f Fault) { f.Stall() }, func(f Fault) { f.Restore() }},
		}
		if f.Lag != nil && f.Promote != nil {
			modes = append(modes, struct {
				name string
				down func(Fault)
				up   func(Fault)
			}{"Failover", func(f Fault) { f.Lag() }, func(f Fault) { f.Promote() }})
		}
		for _, mode := range modes {
			for _, fc := range faultCases() {
				t.Run(fmt.Sprintf("%s/%s/%s", f.Name, mode.name, fc.name), func(t *testing.T) {
					e, fs := h.NewFaulty(t)
					f := fs[i]
					if mode.name == "Failover" {
						// While the replicas lag, the store itself answers.
						f.ReadsSurvive = true
					}
					fe := &faultEnv{t: t, e: e, f: f, down: func() { mode.down(f) }, up: func() { mode.up(f) }, caps: h.Caps, logs: &syncbuf.Buffer{}, configure: h.Configure}
					defer f.Restore()
					fc.run(fe)
					if t.Failed() {
						t.Logf("rule: %s", fc.reason)
					}
				})
			}
		}
		t.Run(f.Name+"/Deadline", func(t *testing.T) {
			e, fs := h.NewFaulty(t)
			runDeadline(t, e, fs[i], h.Caps)
		})
		t.Run(f.Name+"/StallWithoutDeadline", func(t *testing.T) {
			e, fs := h.NewFaulty(t)
			runStallTimeout(t, e, fs[i], h.Caps)
		})
	}
}

// faultEnv is what a fault case gets.
type faultEnv struct {
	t    *testing.T
	e    sessions.Backend
	f    Fault
	down func()
	up   func() // ends down: Restore, or Promote in the Failover mode
	caps Capabilities
	logs *syncbuf.Buffer
	// configure is the harness's Configure hook.
	configure func(*sessions.Settings)
}

func (fe *faultEnv) manager() *sessions.Manager {
	fe.t.Helper()
	s := sessions.DefaultSettings()
	s.SecretKey = SecretKey
	s.Logger = newLogger(fe.logs)
	if fe.configure != nil {
		fe.configure(&s)
	}
	m, err := sessions.New(fe.e, s)
	if err != nil {
		fe.t.Fatal(err)
	}
	return m
}

// ctx is the context of a request made while the store is down: short,
// so a stalled store ends the call.
func (fe *faultEnv) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 500*time.Millisecond)
}

// healthy waits until the engine answers again after Restore and returns
// a context for the checks.
func (fe *faultEnv) healthy(m *sessions.Manager) context.Context {
	fe.t.Helper()
	fe.up()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	fe.t.Cleanup(cancel)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := m.Exists(ctx, sessions.NewKey())
		if err == nil {
			return ctx
		}
		if time.Now().After(deadline) {
			fe.t.Fatalf("the engine did not recover within 30 s of the store's return: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// saved stores a session holding values and returns it loaded.
func (fe *faultEnv) saved(m *sessions.Manager, values map[string]any) *sessions.Session {
	fe.t.Helper()
	ctx := context.Background()
	s := m.NewSession(ctx)
	s.Update(values)
	if err := s.Save(ctx); err != nil {
		fe.t.Fatalf("Save: %v", err)
	}
	l := m.Load(ctx, s.Key())
	if l.Get("v") == nil && values["v"] != nil {
		fe.t.Fatalf("the saved session did not load back")
	}
	return l
}

type faultCase struct {
	name   string
	reason string
	run    func(fe *faultEnv)
}

func faultCases() []faultCase {
	return []faultCase{
		{"LogoutNotUndone", "a Flush acknowledged during an outage stays done when the store returns", caseFaultLogout},
		{"WriteNotStale", "a save acknowledged during an outage reads back, never older data, when the store returns", caseFaultWrite},
		{"CycleKeyOldGone", "a CycleKey acknowledged during an outage leaves the old key dead when the store returns", caseFaultCycle},
		{"DeleteUserNotUndone", "a DeleteUser acknowledged during an outage leaves every session of the user dead when the store returns", caseFaultDeleteUser},
		{"LoadDuringOutage", "a load during an outage fails with an error (or succeeds where reads survive): never an empty session, never a deleted cookie", caseFaultLoad},
	}
}

func caseFaultLogout(fe *faultEnv) {
	m := fe.manager()
	s := fe.saved(m, map[string]any{"v": "1", "user": "alice"})
	key := s.Key()
	fe.down()
	ctx, cancel := fe.ctx()
	err := s.Flush(ctx)
	cancel()
	hctx := fe.healthy(m)
	if err != nil {
		fe.t.Logf("Flush during the outage: %v", err)
		return
	}
	for range 3 {
		if ok, err := m.Exists(hctx, key); ok || err != nil {
			fe.t.Fatalf("Flush was acknowledged during the outage, but afterwards Exists = %v, %v: the logout was undone", ok, err)
		}
		if v := m.Load(hctx, key).Get("user"); v != nil {
			fe.t.Fatalf("Flush was acknowledged, but the old key loads user %v", v)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func caseFaultWrite(fe *faultEnv) {
	m := fe.manager()
	s := fe.saved(m, map[string]any{"v": "1"})
	key := s.Key()
	fe.down()
	ctx, cancel := fe.ctx()
	s.Set("v", "2")
	err := s.Save(ctx)
	cancel()
	hctx := fe.healthy(m)
	got := m.Load(hctx, key).Get("v")
	if err == nil && got != "2" {
		fe.t.Fatalf("the save of v=2 was acknowledged during the outage, but afterwards v = %v", got)
	}
	if err != nil {
		fe.t.Logf("Save during the outage: %v (afterwards v = %v)", err, got)
		if got != "1" && got != "2" {
			fe.t.Fatalf("after a failed save, v = %v", got)
		}
	}
	// Recovery: a new write lands and reads back, twice in a row.
	s2 := m.Load(hctx, key)
	s2.Set("v", "3")
	if err := s2.Save(hctx); err != nil {
		fe.t.Fatalf("Save after the store returned: %v", err)
	}
	for range 3 {
		if v := m.Load(hctx, key).Get("v"); v != "3" {
			fe.t.Fatalf("after recovery, v = %v, want 3", v)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func caseFaultCycle(fe *faultEnv) {
	m := fe.manager()
	s := fe.saved(m, map[string]any{"v": "1"})
	old := s.Key()
	fe.down()
	ctx, cancel := fe.ctx()
	err := s.CycleKey(ctx)
	cancel()
	hctx := fe.healthy(m)
	if err != nil {
		fe.t.Logf("CycleKey during the outage: %v", err)
		return
	}
	for range 3 {
		if ok, err := m.Exists(hctx, old); ok || err != nil {
			fe.t.Fatalf("CycleKey was acknowledged, but afterwards the old key exists (%v, %v)", ok, err)
		}
		if v := m.Load(hctx, s.Key()).Get("v"); v != "1" {
			fe.t.Fatalf("CycleKey was acknowledged, but the new key holds v = %v", v)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func caseFaultDeleteUser(fe *faultEnv) {
	if _, ok := fe.e.(sessions.UserIndexer); !ok {
		fe.t.Skip("the engine keeps no user index")
	}
	m := fe.manager()
	var keys []string
	for range 2 {
		s := fe.saved(m, map[string]any{"v": "1"})
		if err := m.BindUser(context.Background(), s, "alice"); err != nil {
			fe.t.Fatal(err)
		}
		keys = append(keys, s.Key())
	}
	fe.down()
	ctx, cancel := fe.ctx()
	_, err := m.DeleteUser(ctx, "alice")
	cancel()
	hctx := fe.healthy(m)
	if err != nil {
		fe.t.Logf("DeleteUser during the outage: %v", err)
		return
	}
	for _, k := range keys {
		if ok, err := m.Exists(hctx, k); ok || err != nil {
			fe.t.Fatalf("DeleteUser was acknowledged, but afterwards a session of the user exists (%v, %v)", ok, err)
		}
	}
}

func caseFaultLoad(fe *faultEnv) {
	m := fe.manager()
	s := fe.saved(m, map[string]any{"v": "1"})
	key := s.Key()
	fe.down()
	ctx, cancel := fe.ctx()
	l := m.Load(ctx, key)
	v, err := l.Get("v"), l.Err()
	cancel()
	switch {
	case fe.f.ReadsSurvive && (err != nil || v != "1"):
		fe.t.Errorf("reads survive this outage, but the load gave v = %v, error %v", v, err)
	case !fe.f.ReadsSurvive && err == nil:
		fe.t.Errorf("the load during the outage succeeded with v = %v; want an error (an empty session would log the user out)", v)
	}
	// Through the middleware: an error response, and the cookie is kept.
	ctx, cancel = fe.ctx()
	defer cancel()
	req := httptest.NewRequest("GET", "http://example.com/", nil).WithContext(ctx)
	req.AddCookie(&http.Cookie{Name: "sessionid", Value: key})
	rec := httptest.NewRecorder()
	m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sessions.FromContext(r.Context()).Get("v")
	})).ServeHTTP(rec, req)
	res := rec.Result()
	if ck := sessionCookie(res, "sessionid"); ck != nil {
		fe.t.Errorf("a request during the outage changed the cookie: %q", rawSetCookie(res, "sessionid"))
	}
	if !fe.f.ReadsSurvive && res.StatusCode < 500 {
		fe.t.Errorf("a request during the outage answered %d, want a 5xx", res.StatusCode)
	}
	fe.healthy(m)
}

// runDeadline stalls the store and calls every method of the engine with
// a context that ends after 200 ms: each must return by the deadline plus
// DeadlineSlack, with the context's error (or, for a store whose reads
// survive, success).
func runDeadline(t *testing.T, b sessions.Backend, f Fault, caps Capabilities) {
	e := asEngine(t, b)
	ctx := context.Background()
	key := sessions.NewKey()
	data := []byte("deadline test data")
	if err := e.Create(ctx, key, data, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	f.Stall()
	defer f.Restore()
	calls := engineCalls(e, key, data, caps, true)
	for _, c := range calls {
		for _, cancelled := range []bool{false, true} {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			if cancelled {
				// A client that goes away: cancellation, not a deadline.
				ctx, cancel = context.WithCancel(context.Background())
				time.AfterFunc(200*time.Millisecond, cancel)
			}
			// When the context ended as this process saw it: on a busy
			// machine timers fire late, and the call cannot be expected
			// to end before its context does.
			ended := make(chan time.Time, 1)
			context.AfterFunc(ctx, func() { ended <- time.Now() })
			start := time.Now()
			err := c.call(ctx)
			end := time.Now()
			took := end.Sub(start)
			cancel()
			late := end.Sub(<-ended)
			want := context.DeadlineExceeded
			if cancelled {
				want = context.Canceled
			}
			switch {
			case took > 200*time.Millisecond+DeadlineSlack && late > DeadlineSlack:
				t.Errorf("%s (cancelled=%v) against a stalled %s took %v, ending %v after its context did; want at most %v after", c.name, cancelled, f.Name, took.Round(time.Millisecond), late.Round(time.Millisecond), DeadlineSlack)
			case err == nil && f.ReadsSurvive:
			case err != nil && took < 200*time.Millisecond:
				// Failed fast with the store's own error: as good.
			case !errors.Is(err, want):
				t.Errorf("%s (cancelled=%v) against a stalled %s: error %v, want one matching %v", c.name, cancelled, f.Name, err, want)
			}
		}
	}
}

// engineCall is one call of an engine, made with the context it is given.
type engineCall struct {
	name string
	call func(ctx context.Context) error
}

// engineCalls lists a call of each method of e on the live record key
// (and a fresh key where a call needs one): the methods a request calls,
// and with maintenance DeleteExpired and List too.
func engineCalls(e sessions.Engine, key string, data []byte, caps Capabilities, maintenance bool) []engineCall {
	exp := time.Now().Add(time.Hour)
	calls := []engineCall{
		{"Load", func(ctx context.Context) error { _, err := e.Load(ctx, key); return err }},
		{"Create", func(ctx context.Context) error { return e.Create(ctx, sessions.NewKey(), data, exp) }},
		{"Update", func(ctx context.Context) error { return e.Update(ctx, key, data, exp) }},
		{"Delete", func(ctx context.Context) error { return e.Delete(ctx, sessions.NewKey()) }},
	}
	if sw, ok := e.(sessions.Swapper); ok {
		calls = append(calls, engineCall{"Swap", func(ctx context.Context) error { return sw.Swap(ctx, key, data, data, exp) }})
	}
	if to, ok := e.(sessions.Toucher); ok {
		calls = append(calls, engineCall{"Touch", func(ctx context.Context) error { return to.Touch(ctx, key, exp) }})
	}
	if ix, ok := e.(sessions.UserIndexer); ok {
		calls = append(calls,
			engineCall{"AddUserSession", func(ctx context.Context) error { return ix.AddUserSession(ctx, "alice", key, []byte(`{"c":1}`), exp) }},
			engineCall{"UserSessions", func(ctx context.Context) error { _, err := ix.UserSessions(ctx, "alice"); return err }},
			engineCall{"RemoveUserSessions", func(ctx context.Context) error { return ix.RemoveUserSessions(ctx, "bob", []string{sessions.NewKey()}) }})
	}
	if !maintenance {
		return calls
	}
	if d, ok := e.(sessions.ExpiredDeleter); ok && !caps.NativeExpiry {
		calls = append(calls, engineCall{"DeleteExpired", func(ctx context.Context) error { _, err := d.DeleteExpired(ctx); return err }})
	}
	if l, ok := e.(sessions.Lister); ok {
		calls = append(calls, engineCall{"List", func(ctx context.Context) error { return l.List(ctx, func(string) bool { return true }) }})
	}
	return calls
}

// stallCalls is how many calls runStallTimeout makes at once: more than
// a client's pool holds by default (go-redis: ten per CPU).
const stallCalls = 96

// runStallTimeout stalls the store and makes every call a request makes,
// several times at once (more than a connection pool holds), each with a
// context that can be cancelled but has no deadline, as net/http gives a
// request, or with context.Background, as a job outside a request has:
// each must return by itself within the store's Fault.Timeout (and some
// slack: timers fire late on a busy machine, and a call may wait on a
// connection the store does not answer before it waits on its statement),
// with an error of the engine's own or success, never the context's.
func runStallTimeout(t *testing.T, b sessions.Backend, f Fault, caps Capabilities) {
	if f.Timeout <= 0 {
		t.Fatalf("the harness declares no Fault.Timeout for %s: a request's context has no deadline, so the engine must end a call the store does not answer on its own (a timeout of its client, or of the engine), and the harness must say how long it waits", f.Name)
	}
	e := asEngine(t, b)
	key := sessions.NewKey()
	data := []byte("stall test data")
	if err := e.Create(context.Background(), key, data, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// A busy server's pools are full when its store stalls: as many loads
	// at once as the stall will make, with the store up, leave the engine
	// the connections it keeps (a connection busy in a call when the store
	// stalls may cost more than its own descriptor while the client closes
	// it).
	var warm sync.WaitGroup
	for range stallCalls {
		warm.Go(func() { e.Load(context.Background(), key) })
	}
	warm.Wait()
	f.Stall()
	defer f.Restore()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	limit := f.Timeout + max(time.Second, f.Timeout/2)
	type result struct {
		name string
		took time.Duration
		err  error
	}
	// Each call several times at once, more than a client's connection
	// pool holds (a busy server's requests pile up during a stall): a
	// call waiting for a connection is a call waiting for the store, and
	// the bound holds for it too.
	calls := engineCalls(e, key, data, caps, false)
	copies := max(1, (stallCalls+len(calls)-1)/len(calls))
	results := make(chan result, len(calls)*copies)
	peak := watchConns(t, f)
	defer peak()
	start := time.Now()
	running := map[string]int{}
	for _, c := range calls {
		running[c.name] += copies
		for i := range copies {
			// Half of them under context.Background: a call outside a
			// request (a job, a command) has the same bound.
			cctx := ctx
			if i%2 == 1 {
				cctx = context.Background()
			}
			go func() {
				s := time.Now()
				err := c.call(cctx)
				results <- result{c.name, time.Since(s), err}
			}()
		}
	}
	giveUp := time.NewTimer(3*limit + 10*time.Second)
	defer giveUp.Stop()
	reported := map[string]bool{}
	for range len(calls) * copies {
		select {
		case r := <-results:
			if running[r.name]--; running[r.name] == 0 {
				delete(running, r.name)
			}
			if reported[r.name] {
				continue
			}
			switch {
			case r.took > limit:
				reported[r.name] = true
				t.Errorf("%s against a stalled %s (%d calls at once) returned after %v; want within its Timeout %v (+%v)", r.name, f.Name, len(calls)*copies, r.took.Round(time.Millisecond), f.Timeout, limit-f.Timeout)
			case errors.Is(r.err, context.Canceled):
				reported[r.name] = true
				t.Errorf("%s against a stalled %s: %v, but its context was not cancelled", r.name, f.Name, r.err)
			}
		case <-giveUp.C:
			t.Errorf("%v against a stalled %s still running after %v (context without deadline): they wait for the store as long as it is stalled", slices.Sorted(maps.Keys(running)), f.Name, time.Since(start).Round(time.Second))
			cancel() // let them go
			return
		}
	}
}

// watchConns samples f.Conns every millisecond until the returned func is
// called, which then checks the largest count against f.MaxConns. Without
// f.Conns it does nothing.
func watchConns(t *testing.T, f Fault) (check func()) {
	if f.Conns == nil {
		return func() {}
	}
	if f.MaxConns <= 0 {
		t.Errorf("the harness declares no Fault.MaxConns for %s: a stalled store makes requests pile up, and the suite checks that the engine bounds the connections it opens to the store meanwhile (its pool size)", f.Name)
		return func() {}
	}
	stop, done := make(chan struct{}), make(chan int)
	go func() {
		most := f.Conns()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				done <- max(most, f.Conns())
				return
			case <-tick.C:
				most = max(most, f.Conns())
			}
		}
	}()
	return func() {
		close(stop)
		most := <-done
		t.Logf("at most %d connections open to one %s server during the stall (MaxConns %d)", most, f.Name, f.MaxConns)
		if most > f.MaxConns {
			t.Errorf("%d calls at once against a stalled %s opened up to %d connections to one server; want at most MaxConns %d (the engine's pool size): a stalled store must not cost a file descriptor per waiting request", stallCalls, f.Name, most, f.MaxConns)
		}
	}
}
