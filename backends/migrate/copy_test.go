package migrate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/memstore"
	"github.com/sessionkit/sessions/backends/sqlstore"
	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/codec/pickle"
	"github.com/sessionkit/sessions/internal/testservers"
	"github.com/sessionkit/sessions/internal/testutil"
)

// count returns the number of live keys of a store.
func count(t testing.TB, e sessions.Engine) int {
	t.Helper()
	n := 0
	if err := e.(sessions.Lister).List(context.Background(), func(string) bool { n++; return true }); err != nil {
		t.Fatal(err)
	}
	return n
}

// extraKey lists one more key than the store holds: a session deleted
// between the listing and the copy.
type extraKey struct {
	*hooked
	extra string
}

func (e extraKey) List(ctx context.Context, fn func(string) bool) error {
	if !fn(e.extra) {
		return nil
	}
	return e.hooked.List(ctx, fn)
}

// TestCopySummary checks what Copy counts and does for each kind of
// session: moved (converted from pickle to signed JSON, with its expiry),
// already in the new store (kept, and the stale old copy deleted), gone
// before its turn, and undecodable (left in the old store); the dry run
// counts the same and writes nothing.
func TestCopySummary(t *testing.T) {
	ctx := context.Background()
	src, dst := newHooked(true), memstore.New(nil)
	pk := pickle.Codec{}
	exp := time.Now().Add(3 * time.Hour).Round(time.Millisecond)
	var keys []string
	for i := range 10 {
		k := sessions.NewKey()
		keys = append(keys, k)
		if err := src.Create(ctx, k, encoded(t, pk, map[string]any{"i": i}), exp); err != nil {
			t.Fatal(err)
		}
	}
	newer := sessions.NewKey()
	src.Create(ctx, newer, encoded(t, pk, map[string]any{"v": "old"}), exp)
	written := encoded(t, signed(), map[string]any{"v": "new"})
	dst.Create(ctx, newer, written, exp)
	bad := sessions.NewKey()
	src.Create(ctx, bad, []byte("\x80\x04garbage"), exp)
	from := extraKey{src, sessions.NewKey()}
	set := testSettings()

	var progress []Summary
	o := &CopyOptions{Settings: set, BatchSize: 4, Workers: 3, DryRun: true, Logger: set.Logger,
		Progress: func(s Summary) { progress = append(progress, s) }}
	sum, err := Copy(ctx, from, dst, o)
	want := Summary{Total: 13, Copied: 10, SkippedNewer: 1, SkippedExpired: 1, Failed: 1}
	if err != nil || sum != want {
		t.Fatalf("dry run: %+v, %v; want %+v", sum, err, want)
	}
	if count(t, dst) != 1 || count(t, src) != 12 {
		t.Fatalf("the dry run wrote: new store %d, old store %d", count(t, dst), count(t, src))
	}
	if len(progress) != 5 || progress[0].Done() != 0 || progress[0].Total != 13 || progress[4] != want {
		t.Fatalf("progress reports: %+v", progress)
	}

	o.DryRun = false
	sum, err = Copy(ctx, from, dst, o)
	if err != nil || sum != want {
		t.Fatalf("copy: %+v, %v; want %+v", sum, err, want)
	}
	for i, k := range keys {
		raw, got, err := dst.LoadExpiry(ctx, k)
		if err != nil || !got.Equal(exp) {
			t.Fatalf("session %d: %v, expiry %v, want %v", i, err, got, exp)
		}
		d, err := signed().Decode(raw)
		if v, _ := d.Get("i"); err != nil || fmt.Sprint(v) != fmt.Sprint(i) {
			t.Fatalf("session %d moved as %v (%v)", i, v, err)
		}
	}
	if got, _ := dst.Load(ctx, newer); !bytes.Equal(got, written) {
		t.Fatal("the copy overwrote the session the new store held")
	}
	if count(t, src) != 1 || !rawLive(t, src, bad) {
		t.Fatal("the old store should keep only the undecodable session")
	}
	// Run again: nothing left but the failure.
	sum, err = Copy(ctx, from, dst, o)
	if want := (Summary{Total: 2, SkippedExpired: 1, Failed: 1}); err != nil || sum != want {
		t.Fatalf("second run: %+v, %v; want %+v", sum, err, want)
	}
}

// TestCopyKeepSource copies without deleting: a second run skips every
// session as newer.
func TestCopyKeepSource(t *testing.T) {
	ctx := context.Background()
	src, dst := memstore.New(nil), memstore.New(nil)
	for range 20 {
		src.Create(ctx, sessions.NewKey(), []byte("x"), hour())
	}
	o := &CopyOptions{Settings: testSettings(), KeepSource: true}
	if s, err := Copy(ctx, src, dst, o); err != nil || s.Copied != 20 {
		t.Fatalf("%+v %v", s, err)
	}
	if count(t, src) != 20 || count(t, dst) != 20 {
		t.Fatalf("old %d, new %d", count(t, src), count(t, dst))
	}
	if s, err := Copy(ctx, src, dst, o); err != nil || s.SkippedNewer != 20 || s.Copied != 0 {
		t.Fatalf("second run: %+v %v", s, err)
	}
}

// TestCopyNeeds: the old engine must list and tell expiries.
func TestCopyNeeds(t *testing.T) {
	type plain struct{ sessions.Engine }
	_, err := Copy(context.Background(), plain{memstore.New(nil)}, memstore.New(nil), nil)
	if !errors.Is(err, sessions.ErrUnsupported) {
		t.Fatalf("a source without Lister: %v", err)
	}
	type listOnly struct {
		sessions.Engine
		sessions.Lister
	}
	m := memstore.New(nil)
	if _, err := Copy(context.Background(), listOnly{m, m}, memstore.New(nil), nil); !errors.Is(err, sessions.ErrUnsupported) {
		t.Fatalf("a source without ExpiryReader: %v", err)
	}
}

// TestCopyWhileServing runs Copy while the application logs users out and
// changes sessions through the migrating engine: every logout stays
// done, every acknowledged change is kept, and everything else is moved.
func TestCopyWhileServing(t *testing.T) {
	ctx := context.Background()
	src, dst := memstore.New(nil), memstore.New(nil)
	app := newMigrating(t, src, dst, nil)
	const n = 3000
	keys := make([]string, n)
	for i := range keys {
		keys[i] = sessions.NewKey()
		src.Create(ctx, keys[i], []byte(fmt.Sprint("v0-", i)), hour())
	}
	var wg sync.WaitGroup
	var sum Summary
	var copyErr error
	wg.Go(func() {
		sum, copyErr = Copy(ctx, src, dst, &CopyOptions{Settings: testSettings(), BatchSize: 100, Workers: 4})
	})
	deleted := map[int]bool{}
	changed := map[int][]byte{}
	for i := 0; i < n; i += 3 {
		if i%2 == 0 {
			if err := app.Delete(ctx, keys[i]); err != nil {
				t.Fatal(err)
			}
			deleted[i] = true
			continue
		}
		v := []byte(fmt.Sprint("v1-", i))
		if err := app.Update(ctx, keys[i], v, hour()); err != nil {
			t.Fatal(err)
		}
		changed[i] = v
	}
	wg.Wait()
	app.cleanups.Wait()
	if copyErr != nil {
		t.Fatal(copyErr)
	}
	for i, k := range keys {
		inSrc, inDst := rawLive(t, src, k), rawLive(t, dst, k)
		switch {
		case deleted[i]:
			if inSrc || inDst {
				t.Fatalf("session %d was logged out, but a copy is left (old %v, new %v)", i, inSrc, inDst)
			}
		case inSrc || !inDst:
			t.Fatalf("session %d: old %v, new %v; want it moved", i, inSrc, inDst)
		case changed[i] != nil:
			if got, _ := dst.Load(ctx, k); !bytes.Equal(got, changed[i]) {
				t.Fatalf("session %d: the application's change was lost (%q)", i, got)
			}
		}
	}
	if sum.Copied+sum.SkippedNewer+sum.SkippedExpired > n {
		t.Fatalf("summary %+v counts more than %d sessions", sum, n)
	}
}

// TestCopyInterruptedAndResumed moves sessions from SQLite (signed JSON)
// to Redis (pickle), with bound users, is cancelled in the middle of a
// batch, and is run again: every session ends in Redis once, with its
// data, expiry and user index entry, and none is left in SQLite.
func TestCopyInterruptedAndResumed(t *testing.T) {
	const n = 5000
	ctx := context.Background()
	src := openEngine(t, sqliteKind.url(t))
	dst := openEngine(t, redisKind.url(t))
	exp := seedSQLite(t, src.(*sqlstore.Store), n)
	set := testSettings()

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var once sync.Once
	o := &CopyOptions{Settings: set, BatchSize: 500, Logger: set.Logger, Progress: func(s Summary) {
		if s.Done() >= n/2 {
			// Cancel while the next batch is under way.
			once.Do(func() { time.AfterFunc(2*time.Millisecond, cancel) })
		}
	}}
	first, err := Copy(cctx, src, dst, o)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("the interrupted copy: %+v, %v; want context.Canceled", first, err)
	}
	if first.Done() >= n || first.Copied < n/2 {
		t.Fatalf("the interrupted copy did %+v", first)
	}
	second, err := Copy(ctx, src, dst, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first run %+v, second run %+v", first, second)
	if second.Failed != 0 || second.SkippedExpired != 0 || first.Copied+second.Copied+second.SkippedNewer < n {
		t.Fatalf("the runs moved too few sessions: %+v then %+v", first, second)
	}
	if got := count(t, dst); got != n {
		t.Fatalf("Redis holds %d sessions, want %d", got, n)
	}
	if got := count(t, src); got != 0 {
		t.Fatalf("SQLite still holds %d sessions", got)
	}
	checkMoved(t, dst, n, exp, pickle.Codec{})
}

// seedSQLite writes n sessions into an SQLite store in one transaction
// (session i holds {"n": i}, and every 100th is bound to user-<i%7> in
// the store's user index) and returns their expiry.
func seedSQLite(t testing.TB, s *sqlstore.Store, n int) time.Time {
	t.Helper()
	ctx := context.Background()
	exp := time.Now().Add(2 * time.Hour).Truncate(time.Millisecond)
	_, w := s.DB()
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	ins, err := tx.PrepareContext(ctx, `INSERT INTO "django_session" ("session_key", "session_data", "expire_date") VALUES (?, ?, ?)`)
	if err != nil {
		t.Fatal(err)
	}
	c := signed()
	var bound []string
	for i := range n {
		k := seedKey(i)
		v := map[string]any{"n": i, "cart": []any{"apple", i}}
		if i%100 == 0 {
			v[sessions.BoundUserKey] = fmt.Sprint("user-", i%7)
			bound = append(bound, k)
		}
		b, err := c.Encode(codec.NewDict(v))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ins.ExecContext(ctx, k, string(b), sqlstore.FormatTime(exp)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	for _, k := range bound {
		if err := s.AddUserSession(ctx, fmt.Sprint("user-", seedIndex(k)%7), k, nil, exp); err != nil {
			t.Fatal(err)
		}
	}
	return exp
}

// seedKey is the key of seeded session i: its number, zero-padded.
func seedKey(i int) string { return fmt.Sprintf("seed%028d", i) }

func seedIndex(k string) int {
	var i int
	fmt.Sscanf(k[4:], "%d", &i)
	return i
}

// checkMoved checks every seeded session in dst: its data (in dst's
// format c), its expiry, and the user index entry of the bound ones.
func checkMoved(t testing.TB, dst sessions.Engine, n int, exp time.Time, c codec.Codec) {
	t.Helper()
	ctx := context.Background()
	er := dst.(sessions.ExpiryReader)
	for i := range n {
		raw, got, err := er.LoadExpiry(ctx, seedKey(i))
		if err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
		// Redis counts a TTL from when it runs the command, which a
		// loaded machine (the race detector, two cores) delays.
		if d := got.Sub(exp); d > 2*time.Second || d < -time.Second {
			t.Fatalf("session %d: expiry %v, want %v", i, got, exp)
		}
		d, err := c.Decode(raw)
		if err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
		if v, _ := d.Get("n"); fmt.Sprint(v) != fmt.Sprint(i) {
			t.Fatalf("session %d holds n=%v", i, v)
		}
	}
	ix := dst.(sessions.UserIndexer)
	total := 0
	for u := range 7 {
		entries, err := ix.UserSessions(ctx, fmt.Sprint("user-", u))
		if err != nil {
			t.Fatal(err)
		}
		keys := make([]string, 0, len(entries))
		for _, e := range entries {
			keys = append(keys, e.Key)
		}
		for _, k := range keys {
			if seedIndex(k)%100 != 0 || seedIndex(k)%7 != u {
				t.Fatalf("user-%d's index lists session %d", u, seedIndex(k))
			}
		}
		total += len(keys)
	}
	if want := (n + 99) / 100; total != want {
		t.Fatalf("the new store's user index lists %d sessions, want %d", total, want)
	}
}

// TestMigrateRedisToCluster moves sessions from a single Redis to a Redis
// Cluster, the third move of the issue: some through the migrating engine
// (loads, a logout), the rest with Copy; Redis's own TTLs carry over.
func TestMigrateRedisToCluster(t *testing.T) {
	ctx := context.Background()
	c := testservers.StartRedisCluster(t, 3)
	src := openEngine(t, redisKind.url(t))
	dst := openEngine(t, testutil.WithParams(c.URL(), "key_prefix", unique(t, "c")))
	pk := pickle.Codec{}
	exp := time.Now().Add(time.Hour)
	keys := make([]string, 300)
	for i := range keys {
		keys[i] = sessions.NewKey()
		if err := src.Create(ctx, keys[i], encoded(t, pk, map[string]any{"i": i}), exp); err != nil {
			t.Fatal(err)
		}
	}
	m, err := sessions.New(newMigrating(t, src, dst, nil).engine(), testSettings())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if v, _ := sessions.Get[int](m.Load(ctx, keys[i]), "i"); v != i {
			t.Fatalf("session %d loads i=%d", i, v)
		}
	}
	if err := m.Load(ctx, keys[50]).Flush(ctx); err != nil {
		t.Fatal(err)
	}
	sum, err := Copy(ctx, src, dst, &CopyOptions{Settings: testSettings(), BatchSize: 64})
	if err != nil || sum.Copied != 249 || sum.Failed != 0 {
		t.Fatalf("Copy: %+v, %v; want 249 copied", sum, err)
	}
	if count(t, src) != 0 || count(t, dst) != 299 {
		t.Fatalf("single Redis %d, cluster %d; want 0 and 299", count(t, src), count(t, dst))
	}
	for i, k := range keys {
		v, ok := sessions.Get[int](m.Load(ctx, k), "i")
		switch {
		case i == 50 && ok:
			t.Fatal("the logged-out session came back")
		case i != 50 && v != i:
			t.Fatalf("session %d: i=%d", i, v)
		}
	}
}
