package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"time"

	"github.com/sessionkit/sessions"
)

// concurrencyStoreCases hold an engine to concurrent use.
func concurrencyStoreCases() []storeCase {
	return []storeCase{
		{name: "ConcurrentDistinctKeys", reason: "the engine is safe for concurrent use: goroutines on distinct keys never see each other's data", run: storeConcurrentDistinctKeys},
		{name: "ConcurrentSameKey", reason: "concurrent Updates of one key never fail or tear: the record ends as one of the values written", run: storeConcurrentSameKey},
		{name: "SwapContention", reason: "Swapper: of many concurrent swaps from the same old value exactly one wins, round after round", run: storeSwapContention},
		{name: "CancelledMidCall", reason: "calls whose contexts are cancelled at random moments while they run answer their own result or an error matching context.Canceled, never another call's reply or a store error; a cancelled write is applied whole or not at all, and the calls after them are unharmed", run: storeCancelledMidCall},
	}
}

// concurrencyCases send concurrent requests through a Manager.
func concurrencyCases() []managerCase {
	return []managerCase{
		{name: "ConcurrentRequests", reason: "many concurrent requests through the middleware on the same and different sessions: no error, no race", run: caseConcurrentRequests},
		{name: "NoLostUpdates", serverOnly: true, reason: "concurrent requests that each set a different key on one session all keep their change (Swapper engines)", run: caseNoLostUpdates},
		{name: "CycleKeyKeepsConcurrentWrite", serverOnly: true, reason: "a write to the old key acknowledged while CycleKey runs (after it read the old record, before it retired it) is in the new key's session, with CycleKey's own changes; a BindUser there binds the new key (Swapper engines)", run: caseCycleKeyKeepsConcurrentWrite},
		{name: "CycleKeyNoWriteAfterRetire", serverOnly: true, reason: "a request that loaded the session before CycleKey and saves while CycleKey deletes the old record (after retiring it) is refused (ErrInterrupted), or else its change is in the new key: never acknowledged and lost, also when the session has an absolute expiry, which some engines read from the data (Swapper engines)", run: caseCycleKeyNoWriteAfterRetire},
		{name: "CycleKeyLosesToConcurrentDelete", serverOnly: true, reason: "a Flush, or another CycleKey, of the old key acknowledged while CycleKey runs wins: this CycleKey fails with ErrInterrupted and leaves no new key, so a logout is not undone and a session is not forked in two (Swapper engines)", run: caseCycleKeyLosesToConcurrentDelete},
	}
}

// caseCycleKeyKeepsConcurrentWrite runs request B, a write to the session,
// inside request A's CycleKey: when A's Manager creates the new key
// (after it has read the old record again, before it deletes it). B's
// write is acknowledged, so it must survive: in the new key's session,
// beside A's own change, and with B's binding indexed under the new key.
func caseCycleKeyKeepsConcurrentWrite(c *mgr) {
	eng := c.eng()
	if _, ok := eng.(sessions.Swapper); !ok {
		c.t.Skip("the engine has no Swapper: the last writer wins")
	}
	_, indexed := eng.(sessions.UserIndexer)
	for _, bind := range []bool{false, true} {
		if bind && !indexed {
			continue
		}
		mb := c.manager(nil)
		key := c.saved(mb, map[string]any{"a": "1"})
		var errB error
		ma := c.managerOver(wrapEngine(eng, onFirst("Create", "", func() {
			s := mb.Load(c.ctx, key)
			if bind {
				errB = mb.BindUser(c.ctx, s, "alice")
				return
			}
			s.Set("b", "2")
			errB = s.Save(c.ctx)
		})), nil)
		s := ma.Load(c.ctx, key)
		s.Set("c", "3")
		if err := s.CycleKey(c.ctx); err != nil {
			c.t.Fatalf("CycleKey: %v", err)
		}
		if errB != nil {
			c.t.Fatalf("bind=%v: B's write during CycleKey: %v", bind, errB)
		}
		if s.Key() == key {
			c.t.Fatal("CycleKey kept the key")
		}
		got := mb.Load(c.ctx, s.Key())
		want := map[string]any{"a": "1", "b": "2", "c": "3"}
		if bind {
			delete(want, "b")
		}
		for k, v := range want {
			if got.Get(k) != v {
				c.t.Errorf("bind=%v: the new key's session has %s = %v, want %v (B's acknowledged write lost with the old key?)", bind, k, got.Get(k), v)
			}
		}
		if mb.Load(c.ctx, key).Has("a") {
			c.t.Errorf("bind=%v: the old key still loads", bind)
		}
		if !bind {
			continue
		}
		if u, _ := got.Get(sessions.BoundUserKey).(string); u != "alice" {
			c.t.Errorf("the new key's session is bound to %q, want alice (B's BindUser lost)", u)
		}
		n, err := mb.DeleteUser(c.ctx, "alice")
		if err != nil || n != 1 || mb.Load(c.ctx, s.Key()).Has("a") {
			c.t.Errorf("DeleteUser(alice) after the cycle: %d, %v; the new key still loads: %v", n, err, mb.Load(c.ctx, s.Key()).Has("a"))
		}
	}
}

func storeConcurrentDistinctKeys(t tb, ev *env) {
	const rounds = 10
	inParallel(t, 16, func(w int) error {
		k := sessions.NewKey()
		for r := range rounds {
			v := []byte(fmt.Sprintf("w%d-r%d", w, r))
			var err error
			if r == 0 {
				err = ev.e.Create(ev.ctx, k, v, future(ev))
			} else {
				err = ev.e.Update(ev.ctx, k, v, future(ev))
			}
			if err != nil {
				return fmt.Errorf("write: %w", err)
			}
			got, err := ev.e.Load(ev.ctx, k)
			if err != nil || !bytes.Equal(got, v) {
				return fmt.Errorf("Load after write: %s, %v; want %s", short(got), err, short(v))
			}
		}
		return ev.e.Delete(ev.ctx, k)
	})
}

// inParallel runs f for workers 0..n-1 at once and fails t with the
// first error any of them returns.
func inParallel(t tb, n int, f func(w int) error) {
	errc := make(chan error, n)
	var wg sync.WaitGroup
	for w := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- f(w)
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatalf("%v", err)
		}
	}
}

func storeConcurrentSameKey(t tb, ev *env) {
	k := sessions.NewKey()
	noErr(t, "Create", ev.e.Create(ev.ctx, k, []byte("start"), future(ev)))
	const workers = 12
	vals := make([][]byte, workers)
	var wg sync.WaitGroup
	errc := make(chan error, workers*2)
	for w := range workers {
		vals[w] = bytes.Repeat([]byte{byte('a' + w)}, 1000+w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				if err := ev.e.Update(ev.ctx, k, vals[w], future(ev)); err != nil {
					errc <- err
					return
				}
				got, err := ev.e.Load(ev.ctx, k)
				if err != nil {
					errc <- err
					return
				}
				if !slices.ContainsFunc(vals, func(v []byte) bool { return bytes.Equal(v, got) }) {
					errc <- fmt.Errorf("torn or foreign value %s", short(got))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatalf("%v", err)
	}
}

func storeSwapContention(t tb, ev *env) {
	s, ok := ev.e.(sessions.Swapper)
	if !ok {
		t.Skipf("the engine does not implement Swapper")
	}
	const rounds, n = 20, 12
	for round := range rounds {
		k := sessions.NewKey()
		noErr(t, "Create", ev.e.Create(ev.ctx, k, []byte("base"), future(ev)))
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, conflicts := 0, 0
		var other error
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				err := s.Swap(ev.ctx, k, []byte("base"), []byte(fmt.Sprint("winner-", i)), future(ev))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case errors.Is(err, sessions.ErrConflict):
					conflicts++
				default:
					other = err
				}
			}()
		}
		close(start)
		wg.Wait()
		ev.e.Delete(ev.ctx, k)
		if other != nil {
			t.Fatalf("Swap: %v", other)
		}
		if wins != 1 || conflicts != n-1 {
			t.Fatalf("round %d: %d swaps won and %d conflicted, want 1 and %d", round, wins, conflicts, n-1)
		}
	}
}

func caseConcurrentRequests(c *mgr) {
	m := c.manager(nil)
	shared := c.saved(m, map[string]any{"n": 0})
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessions.FromContext(r.Context())
		s.Set(r.URL.Query().Get("k"), r.URL.Query().Get("v"))
	}))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var bad []int
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := httptest.NewRequest("GET", fmt.Sprintf("/?k=k%d&v=%d", i%5, i), nil)
			if i%2 == 0 {
				req.AddCookie(&http.Cookie{Name: "sessionid", Value: shared})
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != 200 {
				mu.Lock()
				bad = append(bad, rec.Code)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(bad) > 0 {
		c.t.Errorf("statuses %v", bad)
	}
}

func caseNoLostUpdates(c *mgr) {
	if _, ok := c.engine.(sessions.Swapper); !ok {
		c.t.Skip("the engine does not implement Swapper: last writer wins, as in Django")
	}
	m := c.manager(nil)
	key := c.saved(m, map[string]any{"start": true})
	const n = 12
	var loaded, wg sync.WaitGroup
	loaded.Add(n)
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessions.FromContext(r.Context())
		s.Get("start")
		loaded.Done()
		loaded.Wait() // every request has loaded the same version
		s.Set("k"+r.URL.Query().Get("i"), true)
	}))
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := httptest.NewRequest("GET", fmt.Sprintf("/?i=%d", i), nil)
			req.AddCookie(&http.Cookie{Name: "sessionid", Value: key})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != 200 {
				c.t.Errorf("request %d: %d %s", i, rec.Code, rec.Body)
			}
		}()
	}
	wg.Wait()
	s := m.Load(c.ctx, key)
	for i := range n {
		if !s.Has(fmt.Sprintf("k%d", i)) {
			c.t.Errorf("change of request %d lost; session has %v", i, s.Keys())
		}
	}
}

// storeCancelledMidCall cancels the contexts of concurrent Loads and
// Updates at random moments, most of them while the call is on its way
// to the store or back (an HTTP client that goes away mid-request). A
// write whose context was cancelled may still land later (the store may
// have received it), so the values a key may hold are all those written
// to it; each worker alternates two keys, so a reply meant for the
// worker's previous call (on the other key) is seen as foreign.
func storeCancelledMidCall(t tb, ev *env) {
	inParallel(t, 4, func(w int) error { return cancelledMidCallWorker(ev, w, 40) })
}

// cancelledMidCallWorker runs one worker's rounds and returns its first
// finding.
func cancelledMidCallWorker(ev *env, w, rounds int) error {
	var keys [2]string
	var written [2][][]byte // what each key may hold
	value := func(i int, what string) []byte {
		// Large enough to tear, if a cancelled write could tear.
		return []byte(fmt.Sprintf("w%d-k%d-%s-%s", w, i, what, bytes.Repeat([]byte{'x'}, 2000)))
	}
	for i := range keys {
		keys[i] = sessions.NewKey()
		written[i] = [][]byte{value(i, "start")}
		if err := ev.e.Create(ev.ctx, keys[i], written[i][0], future(ev)); err != nil {
			return fmt.Errorf("Create: %w", err)
		}
		defer ev.e.Delete(ev.ctx, keys[i])
	}
	mayHold := func(i int, got []byte) bool {
		return slices.ContainsFunc(written[i], func(v []byte) bool { return bytes.Equal(v, got) })
	}
	for r := range rounds {
		i := r / 2 % 2
		ctx, cancel := context.WithCancel(ev.ctx)
		// From at once to a few hundred microseconds: a loopback round
		// trip, or a part of one.
		time.AfterFunc(time.Duration(mrand.IntN(400))*time.Microsecond, cancel)
		var err error
		if r%2 == 0 {
			var got []byte
			got, err = ev.e.Load(ctx, keys[i])
			if err == nil && !mayHold(i, got) {
				cancel()
				return fmt.Errorf("round %d: Load answered %s, a value never written to that key (another call's reply?)", r, short(got))
			}
		} else {
			v := value(i, fmt.Sprint("r", r))
			written[i] = append(written[i], v)
			err = ev.e.Update(ctx, keys[i], v, future(ev))
		}
		cancel()
		if err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("round %d: a call whose context was cancelled: %v, want context.Canceled", r, err)
		}
	}
	for i, k := range keys {
		got, err := ev.e.Load(ev.ctx, k)
		if err != nil || !mayHold(i, got) {
			return fmt.Errorf("Load after the cancelled calls: %s, %v; want one of the values written", short(got), err)
		}
	}
	return nil
}

// caseCycleKeyLosesToConcurrentDelete runs request B, a Flush or a
// CycleKey of the session, inside request A's CycleKey (when A creates
// the new key, after it read the old record). B is acknowledged, so it
// wins: A fails with ErrInterrupted and its new key is gone; what lives
// is B's outcome alone (nothing after a Flush, B's new key after a
// CycleKey).
func caseCycleKeyLosesToConcurrentDelete(c *mgr) {
	eng := c.eng()
	if _, ok := eng.(sessions.Swapper); !ok {
		c.t.Skip("the engine has no Swapper: the last writer wins")
	}
	for _, op := range []string{"Flush", "CycleKey"} {
		mb := c.manager(nil)
		key := c.saved(mb, map[string]any{"a": "1"})
		var errB error
		var keyB string
		ma := c.managerOver(wrapEngine(eng, onFirst("Create", "", func() {
			s := mb.Load(c.ctx, key)
			if op == "Flush" {
				errB = s.Flush(c.ctx)
				return
			}
			errB = s.CycleKey(c.ctx)
			keyB = s.Key()
		})), nil)
		s := ma.Load(c.ctx, key)
		s.Set("c", "3")
		errA := s.CycleKey(c.ctx)
		if errB != nil {
			c.t.Fatalf("%s during CycleKey: %v", op, errB)
		}
		if !errors.Is(errA, sessions.ErrInterrupted) {
			c.t.Errorf("%s during CycleKey: CycleKey returned %v, want ErrInterrupted", op, errA)
		}
		if k := s.Key(); k != "" && k != key && k != keyB && mb.Load(c.ctx, k).Has("a") {
			c.t.Errorf("%s during CycleKey: the interrupted CycleKey's new key still loads", op)
		}
		if mb.Load(c.ctx, key).Has("a") {
			c.t.Errorf("%s during CycleKey: the old key still loads", op)
		}
		if op == "CycleKey" && !mb.Load(c.ctx, keyB).Has("a") {
			c.t.Errorf("B's CycleKey: its new key does not load")
		}
	}
}

// caseCycleKeyNoWriteAfterRetire: request B loads the session before
// request A's CycleKey and saves a change when A's Manager deletes the old
// record (A has retired it by then). The session has an absolute expiry
// (SetExpiryAt), which an engine reading the expiry from the data (the
// file engine) must not let outrank the retirement.
func caseCycleKeyNoWriteAfterRetire(c *mgr) {
	eng := c.eng()
	if _, ok := eng.(sessions.Swapper); !ok {
		c.t.Skip("the engine has no Swapper: the last writer wins")
	}
	mb := c.manager(nil)
	s0 := mb.NewSession(c.ctx)
	s0.Set("a", "1")
	s0.SetExpiryAt(time.Now().Add(time.Hour).Truncate(time.Second))
	if err := s0.Save(c.ctx); err != nil {
		c.t.Fatal(err)
	}
	key := s0.Key()
	b := mb.Load(c.ctx, key)
	b.Get("a")
	var errB error
	ma := c.managerOver(wrapEngine(eng, onFirst("Delete", key, func() {
		b.Set("b", "2")
		errB = b.Save(c.ctx)
	})), nil)
	a := ma.Load(c.ctx, key)
	a.Set("c", "3")
	if err := a.CycleKey(c.ctx); err != nil {
		c.t.Fatalf("CycleKey: %v", err)
	}
	got := mb.Load(c.ctx, a.Key())
	switch {
	case errB == nil && got.Get("b") != "2":
		c.t.Errorf("B's save while CycleKey deleted the old record was acknowledged, but the new key's session lacks it (b = %v): lost", got.Get("b"))
	case errB != nil && !errors.Is(errB, sessions.ErrInterrupted):
		c.t.Errorf("B's save while CycleKey deleted the old record: %v, want success or ErrInterrupted", errB)
	}
	if got.Get("c") != "3" || got.Get("a") != "1" {
		c.t.Errorf("the new key's session: a = %v, c = %v", got.Get("a"), got.Get("c"))
	}
	if mb.Load(c.ctx, key).Has("a") {
		c.t.Error("the old key still loads")
	}
}

// onFirst is a wrapEngine hook that runs fn, once, when the first call op
// (naming key, if key is not empty) reaches the engine, before the
// engine runs it: another request acting in the middle of one.
func onFirst(op, key string, fn func()) func(call) error {
	var once sync.Once
	return func(cl call) error {
		if cl.op == op && (key == "" || slices.Contains(cl.keys, key)) {
			once.Do(fn)
		}
		return nil
	}
}
