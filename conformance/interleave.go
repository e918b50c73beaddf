package conformance

import (
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"time"

	"github.com/sessionkit/sessions"
)

// The interleaving table: request A loads a session, request B then runs
// whole, then A acts and finishes. Every pair of the operations below is
// a case; the expected outcome comes from one rule set (see expectPair):
//
//   - a session B deleted (Flush, CycleKey's old key, DeleteUser) is never
//     brought back by A: A's save answers 400 (ErrInterrupted) and nothing
//     is stored under a new key;
//   - where the engine can compare-and-swap, B's acknowledged changes
//     survive A's save (A re-applies only what it changed); without it the
//     last writer wins;
//   - A's idle refresh (Touch: A only read) moves the expiry alone, and
//     never writes: an engine that can neither Touch nor Swap is not
//     refreshed at all, since an Update of the data A loaded would undo
//     B's change (a logout by Clear, say);
//   - the user index lists exactly the live sessions bound to each user:
//     a session is bound to at most one user, CycleKey carries its binding
//     and drops the old key's entry.

// ilOp is one operation of the table.
type ilOp struct {
	name  string
	index bool // needs a UserIndexer engine
	do    func(r *http.Request, m *sessions.Manager, s *sessions.Session, user string) error
}

var ilOps = []ilOp{
	{name: "Set", do: func(r *http.Request, _ *sessions.Manager, s *sessions.Session, _ string) error {
		s.Set("b", "x")
		return nil
	}},
	{name: "Delete", do: func(r *http.Request, _ *sessions.Manager, s *sessions.Session, _ string) error {
		s.Delete("a")
		return nil
	}},
	{name: "Clear", do: func(r *http.Request, _ *sessions.Manager, s *sessions.Session, _ string) error {
		s.Clear()
		return nil
	}},
	{name: "Flush", do: func(r *http.Request, _ *sessions.Manager, s *sessions.Session, _ string) error {
		return s.Flush(r.Context())
	}},
	{name: "CycleKey", do: func(r *http.Request, _ *sessions.Manager, s *sessions.Session, _ string) error {
		s.CycleKey(r.Context()) // a failure shows in the response (400)
		return nil
	}},
	{name: "SetExpiry", do: func(r *http.Request, _ *sessions.Manager, s *sessions.Session, _ string) error {
		s.SetExpiry(time.Hour)
		return nil
	}},
	{name: "Touch", do: func(r *http.Request, _ *sessions.Manager, s *sessions.Session, _ string) error {
		s.Get("a") // read only: the idle refresh extends the expiry
		return nil
	}},
	{name: "BindUser", index: true, do: func(r *http.Request, m *sessions.Manager, s *sessions.Session, user string) error {
		m.BindUser(r.Context(), s, user) // a failure shows in the response, as a save's would
		return nil
	}},
	{name: "DeleteUser", index: true, do: func(r *http.Request, m *sessions.Manager, s *sessions.Session, _ string) error {
		_, err := m.DeleteUser(r.Context(), "alice")
		return err
	}},
}

// ilState is the expected content of one stored session (nil: absent).
type ilState map[string]any

func (s ilState) clone() ilState { return maps.Clone(s) }

// ilExpect is the expected outcome of one pair.
type ilExpect struct {
	statusA int
	k       ilState // the original key
	kB      ilState // B's new key (B cycled)
	kA      ilState // A's new key (A cycled)
	aWrote  bool    // A's request stored something (for the index)
}

const ilBound = sessions.BoundUserKey

// expectPair computes the outcome of B then A from the rules above.
func expectPair(b, a string, swap, index bool) ilExpect {
	orig := ilState{"a": "1", "b": "2"}
	if index {
		orig[ilBound] = "alice"
	}
	// B's effect, on a session it loads fresh.
	var k, kB ilState
	k = orig.clone()
	apply := func(op string, st ilState, user string) ilState {
		switch op {
		case "Set":
			st["b"] = "x"
		case "Delete":
			delete(st, "a")
		case "Clear":
			st = ilState{}
		case "SetExpiry":
			st[sessions.ExpiryKey] = "3600"
		case "BindUser":
			st[ilBound] = user
		}
		return st
	}
	deleted := false
	switch b {
	case "Flush":
		k, deleted = nil, true
	case "CycleKey":
		k, kB, deleted = nil, orig.clone(), true
	case "DeleteUser":
		k, deleted = nil, true
	default:
		k = apply(b, k, "bob")
	}
	e := ilExpect{statusA: 200, k: k, kB: kB}
	// A acts on its stale view (orig).
	switch a {
	case "Flush":
		e.k = nil
	case "Touch":
	case "DeleteUser":
		if e.k != nil && e.k[ilBound] == "alice" {
			e.k = nil
		}
		if e.kB != nil && e.kB[ilBound] == "alice" {
			e.kB = nil
		}
	case "CycleKey":
		if deleted {
			e.statusA = 400
			break
		}
		e.kA, e.k, e.aWrote = e.k, nil, true
	default: // Set, Delete, Clear, SetExpiry, BindUser: a save of k
		if deleted {
			e.statusA = 400
			break
		}
		base := e.k
		if !swap || a == "Clear" {
			base = orig.clone()
		}
		e.k, e.aWrote = apply(a, base.clone(), "carol"), true
	}
	return e
}

// interleaveCases returns the table as manager cases.
func interleaveCases() []managerCase {
	var out []managerCase
	for _, b := range ilOps {
		for _, a := range ilOps {
			out = append(out, managerCase{
				name:       "Interleave/" + b.name + "Then" + a.name,
				serverOnly: true,
				reason:     fmt.Sprintf("request A loads, request B does %s and finishes, then A does %s: no deleted session comes back, no acknowledged change is lost, the user index stays exact", b.name, a.name),
				run:        func(c *mgr) { runPair(c, b, a) },
			})
		}
	}
	return out
}

// runPair runs one case of the interleaving table: A loads, B does its
// operation and finishes, A does its own; then it checks what each key
// holds, that the store holds no other record, and the user index.
func runPair(c *mgr, b, a ilOp) {
	_, index := c.engine.(sessions.UserIndexer)
	if (a.index || b.index) && !index {
		c.t.Skip("the engine keeps no user index")
	}
	_, swap := c.engine.(sessions.Swapper)
	idle := func(s *sessions.Settings) { s.IdleTimeout = 2 * time.Hour; s.IdleRefresh = time.Nanosecond }
	mA, mB := c.manager(idle), c.manager(idle)
	k := seedPair(c, mB, index)
	exp := expectPair(b.name, a.name, swap, index)
	resA, resB := interleave(c, mA, mB, k, b, a)
	if resB.StatusCode != 200 {
		c.t.Errorf("B %s answered %d", b.name, resB.StatusCode)
	}
	if resA.StatusCode != exp.statusA {
		c.t.Errorf("A %s answered %d, want %d", a.name, resA.StatusCode, exp.statusA)
	}
	keyB, keyA := newKey(resB, k), newKey(resA, k)
	if b.name == "CycleKey" && keyB == "" {
		c.t.Fatal("B cycled but sent no new key")
	}
	if exp.kA != nil && keyA == "" {
		c.t.Fatal("A cycled but sent no new key")
	}
	check := func(label, key string, want ilState) {
		got := c.stored(mA, key)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			c.t.Errorf("%s: stored %v, want %v", label, describe(got), describe(want))
		}
	}
	check("the original key", k, exp.k)
	if keyB != "" {
		check("B's new key", keyB, exp.kB)
	}
	if keyA != "" {
		check("A's new key", keyA, exp.kA)
	}
	live := map[string]ilState{k: exp.k}
	if keyB != "" {
		live[keyB] = exp.kB
	}
	if keyA != "" {
		live[keyA] = exp.kA
	}
	checkNoStray(c, live)
	if index {
		checkPairIndex(c, mA, live, fmt.Sprintf("keys: original %s, B's %s, A's %s", k[:4], prefix(keyB), prefix(keyA)))
	}
}

// seedPair stores the session both requests work on, bound to alice when
// the engine keeps a user index, and returns its key.
func seedPair(c *mgr, m *sessions.Manager, index bool) string {
	seed := m.NewSession(c.ctx)
	seed.Set("a", "1")
	seed.Set("b", "2")
	if err := seed.Save(c.ctx); err != nil {
		c.t.Fatal(err)
	}
	if index {
		if err := m.BindUser(c.ctx, seed, "alice"); err != nil {
			c.t.Fatalf("BindUser(alice): %v", err)
		}
	}
	return seed.Key()
}

// interleave serves request A through mA, which loads session k and waits
// while request B, through mB, does b and finishes; then A does a.
func interleave(c *mgr, mA, mB *sessions.Manager, k string, b, a ilOp) (resA, resB *http.Response) {
	loaded, resume, finished := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		resA = c.serveQuiet(mA, func(w http.ResponseWriter, r *http.Request) {
			s := sessions.FromContext(r.Context())
			s.Get("a")
			close(loaded)
			<-resume
			if err := a.do(r, mA, s, "carol"); err != nil {
				c.t.Errorf("A %s: %v", a.name, err)
			}
		}, k)
	}()
	<-loaded
	resB = c.serveQuiet(mB, func(w http.ResponseWriter, r *http.Request) {
		if err := b.do(r, mB, sessions.FromContext(r.Context()), "bob"); err != nil {
			c.t.Errorf("B %s: %v", b.name, err)
		}
	}, k)
	close(resume)
	<-finished
	return resA, resB
}

// checkNoStray checks, when the engine lists, that the store holds
// exactly the live keys: a refused CycleKey stores nothing anywhere.
func checkNoStray(c *mgr, live map[string]ilState) {
	l, ok := c.engine.(sessions.Lister)
	if !ok {
		return
	}
	var want, got []string
	for key, st := range live {
		if st != nil {
			want = append(want, key)
		}
	}
	if err := l.List(c.ctx, func(key string) bool { got = append(got, key); return true }); err != nil {
		c.t.Fatalf("List: %v", err)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		c.t.Errorf("the store holds %v, want %v", short4(got), short4(want))
	}
}

// checkPairIndex checks that the user index lists, for each user, exactly
// the live keys bound to the user; keys names the keys in a failure.
func checkPairIndex(c *mgr, m *sessions.Manager, live map[string]ilState, keys string) {
	for _, user := range []string{"alice", "bob", "carol"} {
		var want []string
		for key, st := range live {
			if st != nil && st[ilBound] == user {
				want = append(want, key)
			}
		}
		// The index itself, not only the Manager's checked listing.
		entries, err := c.eng().(sessions.UserIndexer).UserSessions(c.ctx, user)
		if err != nil {
			c.t.Fatalf("UserSessions(%s): %v", user, err)
		}
		got := entryKeys(entries)
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			c.t.Errorf("index of %s lists %v, want %v (%s)", user, short4(got), short4(want), keys)
		}
		devs, err := m.UserSessions(c.ctx, user)
		if err != nil {
			c.t.Fatalf("Manager.UserSessions(%s): %v", user, err)
		}
		if len(devs) != len(want) {
			c.t.Errorf("Manager.UserSessions(%s) lists %d sessions, want %d", user, len(devs), len(want))
		}
	}
}

// serveQuiet is serve without t.Helper (it runs on another goroutine).
func (c *mgr) serveQuiet(m *sessions.Manager, h http.HandlerFunc, cookie string) *http.Response {
	req, _ := http.NewRequestWithContext(c.ctx, "GET", "http://example.com/", nil)
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: m.Settings().CookieName, Value: cookie})
	}
	rec := httptest.NewRecorder()
	m.Handler(h).ServeHTTP(rec, req)
	return rec.Result()
}

// stored returns the data stored under key as strings, or nil.
func (c *mgr) stored(m *sessions.Manager, key string) ilState {
	ok, err := m.Exists(c.ctx, key)
	if err != nil {
		c.t.Fatalf("Exists: %v", err)
	}
	if !ok {
		return nil
	}
	st := ilState{}
	for k, v := range m.Load(c.ctx, key).All() {
		st[k] = fmt.Sprint(v)
	}
	return st
}

// newKey returns the session key a response set, if other than old.
func newKey(res *http.Response, old string) string {
	ck := sessionCookie(res, "sessionid")
	if ck == nil || ck.Value == "" || ck.Value == old {
		return ""
	}
	return ck.Value
}

func describe(s ilState) string {
	if s == nil {
		return "nothing"
	}
	keys := slices.Sorted(maps.Keys(s))
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s: %v", k, s[k])
	}
	b.WriteByte('}')
	return b.String()
}

func prefix(k string) string {
	if len(k) < 4 {
		return "-"
	}
	return k[:4]
}

func short4(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = prefix(k)
	}
	return out
}
