package conformance

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sessionkit/sessions"
)

// userStoreCases check sessions.UserIndexer.
func userStoreCases() []storeCase {
	return []storeCase{
		{name: "UserIndex", quick: true, reason: "UserIndexer: keys recorded per user are listed once each, users are isolated, RemoveUserSessions forgets them", run: storeUserIndex},
		{name: "UserIndexExpiry", reason: "UserIndexer: an entry past its expiry is not listed; odd but valid user IDs (slashes, dots, backslashes, non-ASCII) are stored safely (invalid ones never reach the engine: see InvalidUserID)", run: storeUserIndexExpiry},
		{name: "UserIDsExact", quick: true, reason: "UserIndexer: user IDs are compared byte for byte: IDs differing only in case, accents or trailing spaces are different users (a case-insensitive collation would let one user's DeleteUser drop another's entries, and a rebinding to a case variant overwrite the entry)", run: storeUserIDsExact},
		{name: "UserIndexRemoveOnlyGiven", reason: "UserIndexer: RemoveUserSessions forgets exactly the given keys, atomically: an entry added meanwhile for the same user (even through another instance, even as the user's last entry goes) stays", run: storeUserIndexRemoveOnlyGiven},
	}
}

// userCases check BindUser and DeleteUser through a Manager.
func userCases() []managerCase {
	return []managerCase{
		{name: "LogOutEverywhere", serverOnly: true, reason: "BindUser at login, through CycleKey; DeleteUser ends every session of that user and no other (UserIndexer engines)", run: caseLogOutEverywhere},
		{name: "DeleteUserDuringCycleKey", serverOnly: true, reason: "a CycleKey of the user's session that lands while DeleteUser runs (after it read the index, before it reached the old key) does not let the session escape: DeleteUser ends it under its new key (UserIndexer engines)", run: caseDeleteUserDuringCycleKey},
		{name: "MergedSaveIndexesStoredExpiry", serverOnly: true, reason: "a save merged with another request's (which reset the expiry to two weeks) gives the user index entry the expiry it stored, not the one it computed before the merge: an entry that expires before its session hides it from DeleteUser (UserIndexer, Swapper engines)", run: caseMergedSaveIndexesStoredExpiry},
	}
}

func caseMergedSaveIndexesStoredExpiry(c *mgr) {
	eng := c.eng()
	_, swaps := eng.(sessions.Swapper)
	if _, ok := eng.(sessions.UserIndexer); !ok || !swaps {
		c.t.Skip("the engine lacks UserIndexer or Swapper")
	}
	m := c.manager(nil)
	user := "merge-" + sessions.NewKey()[:8]
	s := m.NewSession(c.ctx)
	s.SetExpiry(time.Minute)
	if err := s.Save(c.ctx); err != nil {
		c.t.Fatal(err)
	}
	if err := m.BindUser(c.ctx, s, user); err != nil {
		c.t.Fatal(err)
	}
	a := m.Load(c.ctx, s.Key()) // request A loads (expiry: a minute)
	a.Get("x")
	b := m.Load(c.ctx, s.Key()) // request B: back to the cookie age, saved first
	b.ResetExpiry()
	if err := b.Save(c.ctx); err != nil {
		c.t.Fatal(err)
	}
	a.Set("cart", "1") // A's save conflicts with B's and merges
	if err := a.Save(c.ctx); err != nil {
		c.t.Fatal(err)
	}
	if got := a.ExpiryAge(); got != sessions.DefaultCookieAge {
		c.t.Fatalf("after the merge ExpiryAge = %v, want B's reset to %v", got, sessions.DefaultCookieAge)
	}
	devices, err := m.UserSessions(c.ctx, user)
	if err != nil || len(devices) != 1 {
		c.t.Fatalf("UserSessions = %v, %v; want the one session", devices, err)
	}
	if left := time.Until(devices[0].Expires); left < sessions.DefaultCookieAge-time.Hour {
		c.t.Errorf("the index entry expires in %v, the session in two weeks: DeleteUser would miss it after %v", left.Round(time.Second), left.Round(time.Second))
	}
}

func storeUserIndex(t tb, ev *env) {
	ix, ok := ev.e.(sessions.UserIndexer)
	if !ok {
		t.Skipf("the engine does not implement UserIndexer")
	}
	alice := "alice-" + sessions.NewKey()[:8]
	bob := "bob@example.com/../" + sessions.NewKey()[:8]
	a1, a2, b1 := sessions.NewKey(), sessions.NewKey(), sessions.NewKey()
	for _, p := range []struct{ u, k string }{{alice, a1}, {alice, a2}, {alice, a1}, {bob, b1}} {
		noErr(t, "AddUserSession", ix.AddUserSession(ev.ctx, p.u, p.k, nil, future(ev)))
	}
	entries, err := ix.UserSessions(ev.ctx, alice)
	noErr(t, "UserSessions", err)
	got := entryKeys(entries)
	slices.Sort(got)
	want := []string{a1, a2}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("UserSessions(alice) = %d keys, want her 2 (each once)", len(got))
	}
	noErr(t, "RemoveUserSessions", ix.RemoveUserSessions(ev.ctx, alice, got))
	if got, err := ix.UserSessions(ev.ctx, alice); err != nil || len(got) != 0 {
		t.Fatalf("after RemoveUserSessions of all her keys: %d keys, %v", len(got), err)
	}
	if got, err := ix.UserSessions(ev.ctx, bob); err != nil || len(got) != 1 || got[0].Key != b1 {
		t.Fatalf("bob's index was touched: %d keys, %v", len(got), err)
	}
	if got, err := ix.UserSessions(ev.ctx, "nobody-"+sessions.NewKey()); err != nil || len(got) != 0 {
		t.Fatalf("unknown user: %v, %v", got, err)
	}
	noErr(t, "RemoveUserSessions of an unknown user", ix.RemoveUserSessions(ev.ctx, "nobody-"+sessions.NewKey(), []string{b1}))
	if got, err := ix.UserSessions(ev.ctx, bob); err != nil || len(got) != 1 {
		t.Fatalf("bob's index was touched by another user's removal: %d keys, %v", len(got), err)
	}
	noErr(t, "RemoveUserSessions", ix.RemoveUserSessions(ev.ctx, bob, []string{b1}))
}

func storeUserIndexExpiry(t tb, ev *env) {
	ix, ok := ev.e.(sessions.UserIndexer)
	if !ok {
		t.Skipf("the engine does not implement UserIndexer")
	}
	u := "user-" + sessions.NewKey()[:8]
	live, dead := sessions.NewKey(), sessions.NewKey()
	noErr(t, "AddUserSession", ix.AddUserSession(ev.ctx, u, live, nil, future(ev)))
	noErr(t, "AddUserSession expired", ix.AddUserSession(ev.ctx, u, dead, nil, time.Now().Add(-time.Minute)))
	got, err := ix.UserSessions(ev.ctx, u)
	if err != nil || len(got) != 1 || got[0].Key != live {
		t.Fatalf("UserSessions = %d keys, %v; want only the live one", len(got), err)
	}
	odd := "../" + strings.Repeat("é/\\x00 ", 20)
	noErr(t, "AddUserSession with an odd but valid user ID", ix.AddUserSession(ev.ctx, odd, live, nil, future(ev)))
	if got, err := ix.UserSessions(ev.ctx, odd); err != nil || len(got) != 1 {
		t.Fatalf("odd user ID round trip: %v, %v", got, err)
	}
	noErr(t, "RemoveUserSessions with an odd but valid user ID", ix.RemoveUserSessions(ev.ctx, odd, []string{live}))
	if got, err := ix.UserSessions(ev.ctx, odd); err != nil || len(got) != 0 {
		t.Fatalf("odd user ID after RemoveUserSessions: %d keys, %v", len(got), err)
	}
	noErr(t, "RemoveUserSessions", ix.RemoveUserSessions(ev.ctx, u, []string{live, dead}))
}

func storeUserIndexRemoveOnlyGiven(t tb, ev *env) {
	ix, ok := ev.e.(sessions.UserIndexer)
	if !ok {
		t.Skipf("the engine does not implement UserIndexer")
	}
	// Adds go through a, removals through b: two instances over
	// one store when the harness has them.
	a, b := ix, ix
	if ev.pair != nil {
		ea, eb := ev.pair()
		a, _ = ea.(sessions.UserIndexer)
		b, _ = eb.(sessions.UserIndexer)
		if a == nil || b == nil {
			t.Fatalf("NewPair returned an engine without UserIndexer")
		}
	}
	alice := "alice-" + sessions.NewKey()[:8]
	k1, k2 := sessions.NewKey(), sessions.NewKey()
	for _, k := range []string{k1, k2} {
		noErr(t, "AddUserSession", a.AddUserSession(ev.ctx, alice, k, nil, future(ev)))
	}
	noErr(t, "RemoveUserSessions", b.RemoveUserSessions(ev.ctx, alice, []string{k1}))
	if got, err := a.UserSessions(ev.ctx, alice); err != nil || len(got) != 1 || got[0].Key != k2 {
		t.Fatalf("after RemoveUserSessions(k1): %d keys, %v; want only k2", len(got), err)
	}
	for _, keys := range [][]string{nil, {}, {k1, sessions.NewKey()}} {
		noErr(t, fmt.Sprintf("RemoveUserSessions of %d unrecorded keys", len(keys)), b.RemoveUserSessions(ev.ctx, alice, keys))
	}
	noErr(t, "RemoveUserSessions of an unknown user", b.RemoveUserSessions(ev.ctx, "nobody-"+sessions.NewKey(), []string{k2}))
	if got, err := a.UserSessions(ev.ctx, alice); err != nil || len(got) != 1 || got[0].Key != k2 {
		t.Fatalf("removals of unrecorded keys or of another user touched the index: %d keys, %v; want k2", len(got), err)
	}

	userIndexAddsRaceRemovals(t, ev, a, b, alice, k2)
	userIndexLastEntryRace(t, ev, a, b)
}

// userIndexAddsRaceRemovals races logins (adds of new keys to alice
// through a) with removals of other keys (through b), and checks that
// every key added and never removed stays listed. k2 is a key of alice's
// that the removals take out.
func userIndexAddsRaceRemovals(t tb, ev *env, a, b sessions.UserIndexer, alice, k2 string) {
	const adders, perAdder, olds = 4, 25, 8
	old := make([]string, olds)
	for i := range old {
		old[i] = sessions.NewKey()
	}
	var wg sync.WaitGroup
	errc := make(chan error, adders+1)
	added := make([][]string, adders)
	done := make(chan struct{})
	for w := range adders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perAdder {
				k := sessions.NewKey()
				if err := a.AddUserSession(ev.ctx, alice, k, nil, future(ev)); err != nil {
					errc <- fmt.Errorf("concurrent AddUserSession: %w", err)
					return
				}
				added[w] = append(added[w], k)
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()
	var rwg sync.WaitGroup
	rwg.Add(1)
	go func() {
		defer rwg.Done()
		for stop := false; !stop; {
			select {
			case <-done:
				stop = true // one last round after the adders
			default:
			}
			for _, k := range old {
				if err := b.AddUserSession(ev.ctx, alice, k, nil, future(ev)); err != nil {
					errc <- fmt.Errorf("AddUserSession of an old key: %w", err)
					return
				}
			}
			if err := b.RemoveUserSessions(ev.ctx, alice, append([]string{k2}, old...)); err != nil {
				errc <- fmt.Errorf("concurrent RemoveUserSessions: %w", err)
				return
			}
		}
	}()
	rwg.Wait()
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatalf("%v", err)
		}
	}
	listed, err := a.UserSessions(ev.ctx, alice)
	noErr(t, "UserSessions", err)
	got := entryKeys(listed)
	want := slices.Concat(added...)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("after concurrent adds and removals: %d keys listed, want the %d added and never removed", len(got), len(want))
	}
	noErr(t, "RemoveUserSessions of many keys", b.RemoveUserSessions(ev.ctx, alice, want))
}

// userIndexLastEntryRace removes a user's last entry (through b) while
// another is added (through a), and checks that the added one stays.
func userIndexLastEntryRace(t tb, ev *env, a, b sessions.UserIndexer) {
	bob := "bob-" + sessions.NewKey()[:8]
	for range 40 {
		gone, kept := sessions.NewKey(), sessions.NewKey()
		noErr(t, "AddUserSession", b.AddUserSession(ev.ctx, bob, gone, nil, future(ev)))
		start := make(chan struct{})
		var errA, errB error
		var pwg sync.WaitGroup
		pwg.Add(2)
		go func() { defer pwg.Done(); <-start; errA = a.AddUserSession(ev.ctx, bob, kept, nil, future(ev)) }()
		go func() { defer pwg.Done(); <-start; errB = b.RemoveUserSessions(ev.ctx, bob, []string{gone}) }()
		close(start)
		pwg.Wait()
		if errA != nil || errB != nil {
			t.Fatalf("AddUserSession racing the removal of the last entry: %v; RemoveUserSessions: %v", errA, errB)
		}
		if got, err := a.UserSessions(ev.ctx, bob); err != nil || len(got) != 1 || got[0].Key != kept {
			t.Fatalf("a key added as the user's last entry was removed: %d keys listed, %v; want the added one", len(got), err)
		}
		noErr(t, "RemoveUserSessions", b.RemoveUserSessions(ev.ctx, bob, []string{kept}))
	}

}

func caseLogOutEverywhere(c *mgr) {
	if _, ok := c.engine.(sessions.UserIndexer); !ok {
		c.t.Skip("the engine does not implement UserIndexer")
	}
	m := c.manager(nil)
	login := func(user string) *sessions.Session {
		s := m.NewSession(c.ctx)
		s.Set("cart", []any{"x"})
		if err := s.Save(c.ctx); err != nil {
			c.t.Fatal(err)
		}
		if err := s.CycleKey(c.ctx); err != nil {
			c.t.Fatal(err)
		}
		if err := m.BindUser(c.ctx, s, user); err != nil {
			c.t.Fatal(err)
		}
		return s
	}
	laptop, phone, other := login("ann"), login("ann"), login("bob")
	// A bound session keeps its binding through a later CycleKey.
	if err := phone.CycleKey(c.ctx); err != nil {
		c.t.Fatal(err)
	}
	devs, err := m.UserSessions(c.ctx, "ann")
	ids := deviceIDs(devs)
	if err != nil || len(ids) < 2 || !slices.Contains(ids, m.DeviceID(phone.Key())) || !slices.Contains(ids, m.DeviceID(laptop.Key())) {
		c.t.Fatalf("UserSessions(ann) = %d sessions, %v", len(ids), err)
	}
	n, err := m.DeleteUser(c.ctx, "ann")
	if err != nil || n < 2 {
		c.t.Fatalf("DeleteUser = %d, %v", n, err)
	}
	for _, s := range []*sessions.Session{laptop, phone} {
		if ok, _ := m.Exists(c.ctx, s.Key()); ok {
			c.t.Error("a session of the user survived DeleteUser")
		}
	}
	if ok, _ := m.Exists(c.ctx, other.Key()); !ok {
		c.t.Error("another user's session was deleted")
	}
	// A request of the deleted session cannot resurrect it.
	laptop.Set("late", true)
	if err := laptop.Save(c.ctx); !errors.Is(err, sessions.ErrInterrupted) {
		c.t.Errorf("saving a deleted session: %v, want ErrInterrupted", err)
	}
}

func storeUserIDsExact(t tb, ev *env) {
	ix, ok := ev.e.(sessions.UserIndexer)
	if !ok {
		t.Skipf("the engine does not implement UserIndexer")
	}
	base := "alice" + sessions.NewKey()[:6]
	ids := []string{base, strings.ToUpper(base[:1]) + base[1:], "\u00e1" + base[1:], base + " ", strings.ToUpper(base)}
	shared := sessions.NewKey() // one session key under every ID
	exp := time.Now().Add(time.Hour)
	own := map[string]string{}
	for _, id := range ids {
		own[id] = sessions.NewKey()
		noErr(t, "AddUserSession", ix.AddUserSession(ev.ctx, id, own[id], nil, exp))
		noErr(t, "AddUserSession of a shared key", ix.AddUserSession(ev.ctx, id, shared, []byte(`{"u":`+strconv.Quote(id)+`}`), exp))
	}
	check := func(label string) {
		t.Helper()
		for _, id := range ids {
			entries, err := ix.UserSessions(ev.ctx, id)
			noErr(t, "UserSessions", err)
			var keys []string
			for _, e := range entries {
				keys = append(keys, e.Key)
				if e.Key == shared && string(e.Meta) != `{"u":`+strconv.Quote(id)+`}` {
					t.Fatalf("%s: user %q's entry of the shared key has the metadata %q: another user's", label, id, e.Meta)
				}
			}
			slices.Sort(keys)
			want := []string{own[id], shared}
			slices.Sort(want)
			if !slices.Equal(keys, want) {
				t.Fatalf("%s: user %q lists %v, want %v (its own entries only)", label, id, keys, want)
			}
		}
	}
	check("after AddUserSession")
	// Removing one user's entries leaves its case variants' alone.
	noErr(t, "RemoveUserSessions", ix.RemoveUserSessions(ev.ctx, ids[0], []string{own[ids[0]], shared}))
	ids0 := ids[0]
	ids = ids[1:]
	check("after another user's RemoveUserSessions")
	if entries, err := ix.UserSessions(ev.ctx, ids0); err != nil || len(entries) != 0 {
		t.Fatalf("the removed user lists %v, %v", entries, err)
	}
	for _, id := range ids {
		noErr(t, "RemoveUserSessions", ix.RemoveUserSessions(ev.ctx, id, []string{own[id], shared}))
	}
}

func caseDeleteUserDuringCycleKey(c *mgr) {
	eng := c.eng()
	if _, ok := eng.(sessions.UserIndexer); !ok {
		c.t.Skip("the engine does not implement UserIndexer")
	}
	mb := c.manager(nil)
	s := mb.NewSession(c.ctx)
	s.Set("secret", "alice's")
	if err := s.Save(c.ctx); err != nil {
		c.t.Fatal(err)
	}
	user := "alice-" + sessions.NewKey()[:8]
	if err := mb.BindUser(c.ctx, s, user); err != nil {
		c.t.Fatal(err)
	}
	k1 := s.Key()
	var k2 string
	ma := c.managerOver(wrapEngine(eng, onFirst("Load", k1, func() {
		b := mb.Load(c.ctx, k1)
		if err := b.CycleKey(c.ctx); err != nil {
			c.t.Errorf("CycleKey: %v", err)
		}
		k2 = b.Key()
	})), nil)
	n, err := ma.DeleteUser(c.ctx, user)
	if err != nil {
		c.t.Fatalf("DeleteUser: %v", err)
	}
	if k2 == "" || k2 == k1 {
		c.t.Fatalf("the CycleKey did not run inside DeleteUser (new key %q)", k2)
	}
	if mb.Load(c.ctx, k2).Has("secret") || n != 1 {
		c.t.Errorf("DeleteUser ended %d sessions, and the session cycled while it ran still loads under its new key: it escaped the logout", n)
	}
}
