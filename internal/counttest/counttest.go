// Package counttest checks an engine's sessions.Counter against the
// engine's other methods, for the engines' own tests. (The conformance
// suite should get the same case; until then each engine that counts
// runs Check.)
package counttest

import (
	"context"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/codec"
)

// Secret is the SECRET_KEY of the sessions Check stores.
const Secret = "counttest-secret-key-0123456789-abcdefghijklmnop"

// Check stores sessions in e, an empty store, through its Engine
// methods: live ones, expired ones, and user index entries (live and
// expired, when e is a sessions.UserIndexer). It checks that Count agrees
// with List, DeleteExpired and UserSessions, before and after
// DeleteExpired and a Delete, that its progress never runs backwards nor
// past its total, and that a Manager over e reports the same counts from
// Stats.
func Check(t *testing.T, e sessions.Engine) {
	t.Helper()
	c, ok := e.(sessions.Counter)
	if !ok {
		t.Fatalf("%T does not implement sessions.Counter", e)
	}
	ck := &checker{t: t, ctx: context.Background(), e: e, c: c}
	ck.want("empty store", ck.count("empty store"), sessions.Counts{})

	s := sessions.DefaultSettings()
	s.SecretKey = Secret
	live, w := ck.fill(s)
	got := ck.count("5 live, 3 expired")
	ck.want("5 live, 3 expired", got, w)
	agree(t, e, got)

	if p, ok := e.(sessions.ExpiredDeleter); ok {
		removed, err := p.DeleteExpired(ck.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if removed != w.Expired {
			t.Errorf("DeleteExpired removed %d, Count said %d expired", removed, w.Expired)
		}
		w.Expired = 0
		ck.want("after DeleteExpired", ck.count("after DeleteExpired"), w)
	}
	if err := e.Delete(ck.ctx, live[4]); err != nil {
		t.Fatal(err)
	}
	w.Sessions--
	got = ck.count("after Delete")
	ck.want("after Delete", got, w)
	agree(t, e, got)

	ck.throughManager(s, w)
}

// checker holds what Check's steps share.
type checker struct {
	t   *testing.T
	ctx context.Context
	e   sessions.Engine
	c   sessions.Counter
}

// count calls Count and checks that its progress never runs backwards
// nor past its total.
func (ck *checker) count(when string) sessions.Counts {
	ck.t.Helper()
	var last int64
	n, err := ck.c.Count(ck.ctx, func(done, total int64) {
		if done < last || (total >= 0 && done > total) {
			ck.t.Errorf("%s: progress %d of %d after %d", when, done, total, last)
		}
		last = done
	})
	if err != nil {
		ck.t.Fatalf("%s: Count: %v", when, err)
	}
	return n
}

func (ck *checker) want(when string, got, w sessions.Counts) {
	ck.t.Helper()
	if got != w {
		ck.t.Errorf("%s: Count = %+v, want %+v", when, got, w)
	}
}

// fill stores 5 live sessions and 3 expired ones, and user index entries
// for four of the live ones (one expired) when the engine keeps the
// index. It returns the live keys and the counts the store should now
// report.
func (ck *checker) fill(s sessions.Settings) ([]string, sessions.Counts) {
	t, ctx, e := ck.t, ck.ctx, ck.e
	t.Helper()
	d := &codec.Dict{}
	d.Set("counttest", true)
	data, err := sessions.DefaultCodec(s).Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	store := func(n int, expiry time.Time) []string {
		t.Helper()
		var keys []string
		for range n {
			k := sessions.NewKey()
			if err := e.Create(ctx, k, data, expiry); err != nil {
				t.Fatalf("Create: %v", err)
			}
			keys = append(keys, k)
		}
		return keys
	}
	hour := time.Now().Add(time.Hour)
	live := store(5, hour)
	store(3, time.Now().Add(-time.Hour))

	w := sessions.Counts{Sessions: 5, Expired: 3}
	u, users := e.(sessions.UserIndexer)
	if !users {
		return live, w
	}
	for _, b := range []struct {
		user, key string
		expiry    time.Time
	}{
		{"alice", live[0], hour}, {"alice", live[1], hour},
		{"bob", live[2], hour},
		{"carol", live[3], time.Now().Add(-time.Hour)}, // an expired entry
	} {
		if err := u.AddUserSession(ctx, b.user, b.key, []byte(`{"c":1}`), b.expiry); err != nil {
			t.Fatalf("AddUserSession: %v", err)
		}
	}
	w.Users, w.UserEntries = 2, 3
	return live, w
}

// throughManager checks that a Manager over the engine says it counts and
// reports w from Stats.
func (ck *checker) throughManager(s sessions.Settings, w sessions.Counts) {
	ck.t.Helper()
	m, err := sessions.New(ck.e, s)
	if err != nil {
		ck.t.Fatal(err)
	}
	if !m.Describe().Counts {
		ck.t.Error("Describe().Counts is false")
	}
	st, err := m.Stats(ck.ctx, nil)
	if err != nil {
		ck.t.Fatalf("Stats: %v", err)
	}
	ck.want("Manager.Stats", st, w)
}

// agree checks counts against List and UserSessions.
func agree(t *testing.T, e sessions.Engine, n sessions.Counts) {
	t.Helper()
	ctx := context.Background()
	if l, ok := e.(sessions.Lister); ok {
		var listed int64
		if err := l.List(ctx, func(string) bool { listed++; return true }); err != nil {
			t.Fatal(err)
		}
		if listed != n.Sessions {
			t.Errorf("List reports %d live sessions, Count %d", listed, n.Sessions)
		}
	}
	if u, ok := e.(sessions.UserIndexer); ok {
		var users, entries int64
		for _, id := range []string{"alice", "bob", "carol"} {
			keys, err := u.UserSessions(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) > 0 {
				users++
			}
			entries += int64(len(keys))
		}
		if users != n.Users || entries != n.UserEntries {
			t.Errorf("UserSessions: %d users, %d entries; Count: %d, %d", users, entries, n.Users, n.UserEntries)
		}
	}
}
