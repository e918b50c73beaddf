package conformance

import (
	"errors"
	"fmt"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/internal/textutil"
)

// optionalCases check the optional interfaces of sessions.Engine.
func optionalCases() []storeCase {
	return []storeCase{
		{name: "Touch", quick: true, reason: "Toucher: Touch moves the expiry of a live record without changing its data; a missing key gives ErrNotFound", run: storeTouch},
		{name: "Swap", quick: true, reason: "Swapper: Swap replaces only when the stored bytes equal old; otherwise ErrConflict and nothing changes; a missing key gives ErrNotFound", run: storeSwap},
		{name: "List", reason: "Lister: lists every live key, and no deleted or expired one; returning false stops the walk", run: storeList},

		// Each optional interface agrees with the base methods, as
		// testing/fstest checks ReadFile against Open and Read.
		{name: "ExpiryReaderAgrees", quick: true, reason: "ExpiryReader: LoadExpiry returns what Load returns (the data, or ErrNotFound for missing, deleted and expired records) and the expiry last stored by Create, Update, Touch or Swap", run: storeExpiryReaderAgrees},
		{name: "ListerAgrees", reason: "Lister: List reports exactly the keys Load finds, whatever happened to them (updated, touched, swapped, deleted, expired, touched into the past, created again)", run: storeListerAgrees},
		{name: "ToucherAgrees", quick: true, reason: "Toucher: Touch succeeds exactly on the keys Load finds (ErrNotFound on missing, deleted and expired ones, which stay gone) and never changes what Load returns", run: storeToucherAgrees},
		{name: "SwapperAgrees", quick: true, reason: "Swapper: Swap with the bytes Load returned as old succeeds and Load then returns the new bytes; any other old (a prefix, a longer value, one byte off, another case, a trailing space, empty) conflicts and changes nothing; a key Load does not find gives ErrNotFound and stays gone", run: storeSwapperAgrees},
	}
}

func storeTouch(t tb, ev *env) {
	to, ok := ev.e.(sessions.Toucher)
	if !ok {
		t.Skipf("the engine does not implement Toucher")
	}
	k := sessions.NewKey()
	wantErr(t, "Touch missing", to.Touch(ev.ctx, k, future(ev)), sessions.ErrNotFound)
	noErr(t, "Create", ev.e.Create(ev.ctx, k, []byte("data"), future(ev)))
	defer ev.e.Delete(ev.ctx, k)
	noErr(t, "Touch", to.Touch(ev.ctx, k, time.Now().Add(2*time.Hour)))
	got, err := ev.e.Load(ev.ctx, k)
	noErr(t, "Load after Touch", err)
	wantData(t, "Load after Touch", got, []byte("data"))
	// Touching into the past expires the record.
	noErr(t, "Touch into the past", to.Touch(ev.ctx, k, time.Now().Add(-time.Hour)))
	_, err = ev.e.Load(ev.ctx, k)
	wantErr(t, "Load after Touch into the past", err, sessions.ErrNotFound)
}

func storeSwap(t tb, ev *env) {
	s, ok := ev.e.(sessions.Swapper)
	if !ok {
		t.Skipf("the engine does not implement Swapper")
	}
	k := sessions.NewKey()
	wantErr(t, "Swap missing", s.Swap(ev.ctx, k, []byte("a"), []byte("b"), future(ev)), sessions.ErrNotFound)
	if _, err := ev.e.Load(ev.ctx, k); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("Swap of a missing key stored something")
	}
	noErr(t, "Create", ev.e.Create(ev.ctx, k, []byte("v1"), future(ev)))
	defer ev.e.Delete(ev.ctx, k)
	noErr(t, "Swap with the right old value", s.Swap(ev.ctx, k, []byte("v1"), []byte("v2"), future(ev)))
	wantErr(t, "Swap with a stale old value", s.Swap(ev.ctx, k, []byte("v1"), []byte("v3"), future(ev)), sessions.ErrConflict)
	got, err := ev.e.Load(ev.ctx, k)
	noErr(t, "Load", err)
	wantData(t, "Load after swaps", got, []byte("v2"))
	// Identical bytes are allowed (only the expiry moves).
	noErr(t, "Swap to the same bytes", s.Swap(ev.ctx, k, []byte("v2"), []byte("v2"), future(ev)))
}

func storeList(t tb, ev *env) {
	l, ok := ev.e.(sessions.Lister)
	if !ok {
		t.Skipf("the engine does not implement Lister")
	}
	want := map[string]bool{}
	for range 6 {
		k := sessions.NewKey()
		noErr(t, "Create", ev.e.Create(ev.ctx, k, []byte("x"), future(ev)))
		want[k] = true
	}
	gone := sessions.NewKey()
	ev.e.Create(ev.ctx, gone, []byte("x"), future(ev))
	ev.e.Delete(ev.ctx, gone)
	expired := sessions.NewKey()
	ev.e.Create(ev.ctx, expired, []byte("x"), time.Now().Add(-time.Minute))
	seen := map[string]int{}
	noErr(t, "List", l.List(ev.ctx, func(k string) bool { seen[k]++; return true }))
	for k := range want {
		if seen[k] != 1 {
			t.Fatalf("List reported live key %s %d times, want once", textutil.RedactKey(k), seen[k])
		}
	}
	if seen[gone] > 0 || seen[expired] > 0 {
		t.Fatalf("List reported a deleted or expired key")
	}
	calls := 0
	noErr(t, "List with early stop", l.List(ev.ctx, func(string) bool { calls++; return false }))
	if calls != 1 {
		t.Fatalf("List called fn %d times after it returned false, want 1", calls)
	}
}

// loadState returns what Load finds under k: the data and true, or nil
// and false for ErrNotFound. Any other error ends the case.
func loadState(t tb, ev *env, k string) ([]byte, bool) {
	t.Helper()
	data, err := ev.e.Load(ev.ctx, k)
	if errors.Is(err, sessions.ErrNotFound) {
		return nil, false
	}
	noErr(t, "Load", err)
	return data, true
}

// expiryTolerance is how far a stored expiry may be from the one written.
func expiryTolerance(ev *env) time.Duration { return max(ev.caps.TTLResolution, time.Millisecond) }

// agreeExpiry checks that LoadExpiry of k agrees with Load and, unless
// exp is zero, reports exp. written is when the write that stored exp
// was issued: an engine that keeps a time to live rather than an instant
// (Redis, memcached) reports the expiry off by up to the round trips
// since then, which the tolerance allows on top of the engine's
// resolution.
func agreeExpiry(t tb, ev *env, r sessions.ExpiryReader, step, k string, exp, written time.Time) {
	t.Helper()
	data, live := loadState(t, ev, k)
	got, gotExp, err := r.LoadExpiry(ev.ctx, k)
	if !live {
		if !errors.Is(err, sessions.ErrNotFound) {
			t.Fatalf("%s: Load gives ErrNotFound but LoadExpiry gives %s, %v", step, short(got), err)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s: Load finds the record but LoadExpiry gives %v", step, err)
	}
	if string(got) != string(data) {
		t.Fatalf("%s: LoadExpiry returned %s, Load %s", step, short(got), short(data))
	}
	if d := gotExp.Sub(exp).Abs(); !exp.IsZero() && d > expiryTolerance(ev)+time.Since(written) {
		t.Fatalf("%s: LoadExpiry reports the expiry %v, want %v (off by %v)", step, gotExp, exp, d)
	}
}

func storeExpiryReaderAgrees(t tb, ev *env) {
	r, ok := ev.e.(sessions.ExpiryReader)
	if !ok {
		t.Skipf("the engine does not implement ExpiryReader")
	}
	k := sessions.NewKey()
	agreeExpiry(t, ev, r, "a key never stored", k, time.Time{}, time.Now())
	exp := time.Now().Add(time.Hour).Round(time.Millisecond)
	written := time.Now()
	noErr(t, "Create", ev.e.Create(ev.ctx, k, []byte("v1"), exp))
	defer ev.e.Delete(ev.ctx, k)
	agreeExpiry(t, ev, r, "after Create", k, exp, written)
	exp = exp.Add(time.Hour)
	written = time.Now()
	noErr(t, "Update", ev.e.Update(ev.ctx, k, []byte("v2"), exp))
	agreeExpiry(t, ev, r, "after Update", k, exp, written)
	if to, ok := ev.e.(sessions.Toucher); ok {
		exp = exp.Add(-30 * time.Minute)
		written = time.Now()
		noErr(t, "Touch", to.Touch(ev.ctx, k, exp))
		agreeExpiry(t, ev, r, "after Touch", k, exp, written)
	}
	if sw, ok := ev.e.(sessions.Swapper); ok {
		exp = exp.Add(time.Hour)
		written = time.Now()
		noErr(t, "Swap", sw.Swap(ev.ctx, k, []byte("v2"), []byte("v3"), exp))
		agreeExpiry(t, ev, r, "after Swap", k, exp, written)
	}
	empty := sessions.NewKey()
	written = time.Now()
	noErr(t, "Create with empty data", ev.e.Create(ev.ctx, empty, []byte{}, exp))
	defer ev.e.Delete(ev.ctx, empty)
	agreeExpiry(t, ev, r, "a record with empty data", empty, exp, written)
	noErr(t, "Delete", ev.e.Delete(ev.ctx, k))
	agreeExpiry(t, ev, r, "after Delete", k, time.Time{}, time.Now())
	dead := sessions.NewKey()
	noErr(t, "Create expired", ev.e.Create(ev.ctx, dead, []byte("dead"), time.Now().Add(-time.Minute)))
	agreeExpiry(t, ev, r, "an expired record", dead, time.Time{}, time.Now())
}

func storeListerAgrees(t tb, ev *env) {
	l, ok := ev.e.(sessions.Lister)
	if !ok {
		t.Skipf("the engine does not implement Lister")
	}
	to, _ := ev.e.(sessions.Toucher)
	sw, _ := ev.e.(sessions.Swapper)
	var keys []string
	key := func() string { k := sessions.NewKey(); keys = append(keys, k); return k }
	past := time.Now().Add(-time.Minute)
	for _, step := range []func(){
		func() { ev.e.Create(ev.ctx, key(), []byte("live"), future(ev)) },
		func() {
			k := key()
			ev.e.Create(ev.ctx, k, []byte("a"), future(ev))
			ev.e.Update(ev.ctx, k, []byte("b"), future(ev))
		},
		func() {
			k := key()
			ev.e.Create(ev.ctx, k, []byte("a"), future(ev))
			ev.e.Update(ev.ctx, k, []byte("b"), past)
		},
		func() { k := key(); ev.e.Create(ev.ctx, k, []byte("a"), future(ev)); ev.e.Delete(ev.ctx, k) },
		func() { ev.e.Create(ev.ctx, key(), []byte("dead"), past) },
		func() {
			k := key()
			ev.e.Create(ev.ctx, k, []byte("old"), past)
			ev.e.Create(ev.ctx, k, []byte("new"), future(ev))
		},
		func() { ev.e.Create(ev.ctx, key(), []byte{}, future(ev)) },
		func() {
			if to != nil {
				k := key()
				ev.e.Create(ev.ctx, k, []byte("a"), future(ev))
				to.Touch(ev.ctx, k, past)
			}
		},
		func() {
			if to != nil {
				k := key()
				ev.e.Create(ev.ctx, k, []byte("a"), time.Now().Add(time.Minute))
				to.Touch(ev.ctx, k, future(ev))
			}
		},
		func() {
			if sw != nil {
				k := key()
				ev.e.Create(ev.ctx, k, []byte("a"), future(ev))
				sw.Swap(ev.ctx, k, []byte("a"), []byte("b"), past)
			}
		},
	} {
		step()
	}
	listed := map[string]int{}
	noErr(t, "List", l.List(ev.ctx, func(k string) bool { listed[k]++; return true }))
	for i, k := range keys {
		_, live := loadState(t, ev, k)
		switch n := listed[k]; {
		case live && n != 1:
			t.Fatalf("key %d: Load finds the record, but List reported it %d times", i, n)
		case !live && n != 0:
			t.Fatalf("key %d: Load gives ErrNotFound, but List reported the key", i)
		}
	}
}

func storeToucherAgrees(t tb, ev *env) {
	to, ok := ev.e.(sessions.Toucher)
	if !ok {
		t.Skipf("the engine does not implement Toucher")
	}
	r, _ := ev.e.(sessions.ExpiryReader)
	live, gone, dead, empty := sessions.NewKey(), sessions.NewKey(), sessions.NewKey(), sessions.NewKey()
	noErr(t, "Create", ev.e.Create(ev.ctx, live, []byte("data"), future(ev)))
	defer ev.e.Delete(ev.ctx, live)
	noErr(t, "Create", ev.e.Create(ev.ctx, gone, []byte("data"), future(ev)))
	noErr(t, "Delete", ev.e.Delete(ev.ctx, gone))
	noErr(t, "Create expired", ev.e.Create(ev.ctx, dead, []byte("data"), time.Now().Add(-time.Minute)))
	noErr(t, "Create with empty data", ev.e.Create(ev.ctx, empty, []byte{}, future(ev)))
	defer ev.e.Delete(ev.ctx, empty)
	for _, c := range []struct{ name, key string }{{"a live record", live}, {"a record with empty data", empty}, {"a deleted record", gone}, {"an expired record", dead}, {"a key never stored", sessions.NewKey()}} {
		before, found := loadState(t, ev, c.key)
		exp := time.Now().Add(3 * time.Hour).Round(time.Millisecond)
		written := time.Now()
		err := to.Touch(ev.ctx, c.key, exp)
		switch {
		case found && err != nil:
			t.Fatalf("%s: Load finds it but Touch gives %v", c.name, err)
		case !found && !errors.Is(err, sessions.ErrNotFound):
			t.Fatalf("%s: Load gives ErrNotFound but Touch gives %v, want ErrNotFound", c.name, err)
		}
		after, stillFound := loadState(t, ev, c.key)
		if stillFound != found || string(after) != string(before) {
			t.Fatalf("%s: Touch changed what Load returns: %s (found %v), before %s (found %v)", c.name, short(after), stillFound, short(before), found)
		}
		if r != nil && found {
			agreeExpiry(t, ev, r, c.name+" after Touch", c.key, exp, written)
		}
	}
}

func storeSwapperAgrees(t tb, ev *env) {
	sw, ok := ev.e.(sessions.Swapper)
	if !ok {
		t.Skipf("the engine does not implement Swapper")
	}
	k := sessions.NewKey()
	noErr(t, "Create", ev.e.Create(ev.ctx, k, []byte("value-1"), future(ev)))
	defer ev.e.Delete(ev.ctx, k)
	for _, old := range [][]byte{[]byte("value-"), []byte("value-12"), []byte("value-2"), []byte("VALUE-1"), []byte("value-1 "), {}, nil} {
		before, _ := loadState(t, ev, k)
		wantErr(t, fmt.Sprintf("Swap with old %s against %s", short(old), short(before)), sw.Swap(ev.ctx, k, old, []byte("wrong"), future(ev)), sessions.ErrConflict)
		after, found := loadState(t, ev, k)
		if !found || string(after) != string(before) {
			t.Fatalf("a conflicting Swap (old %s) changed the record to %s (found %v)", short(old), short(after), found)
		}
	}
	for _, next := range [][]byte{[]byte("value-2"), {}, []byte("value-3"), []byte("value-3")} {
		cur, _ := loadState(t, ev, k)
		noErr(t, fmt.Sprintf("Swap from %s (what Load returned) to %s", short(cur), short(next)), sw.Swap(ev.ctx, k, cur, next, future(ev)))
		got, found := loadState(t, ev, k)
		if !found || string(got) != string(next) {
			t.Fatalf("after Swap to %s, Load returns %s (found %v)", short(next), short(got), found)
		}
	}
	gone, dead := sessions.NewKey(), sessions.NewKey()
	noErr(t, "Create", ev.e.Create(ev.ctx, gone, []byte("x"), future(ev)))
	noErr(t, "Delete", ev.e.Delete(ev.ctx, gone))
	noErr(t, "Create expired", ev.e.Create(ev.ctx, dead, []byte("x"), time.Now().Add(-time.Minute)))
	for _, c := range []struct{ name, key string }{{"a deleted record", gone}, {"an expired record", dead}, {"a key never stored", sessions.NewKey()}} {
		wantErr(t, "Swap of "+c.name, sw.Swap(ev.ctx, c.key, []byte("x"), []byte("y"), future(ev)), sessions.ErrNotFound)
		if got, found := loadState(t, ev, c.key); found {
			t.Fatalf("Swap of %s brought it back: Load returns %s", c.name, short(got))
		}
	}
}
