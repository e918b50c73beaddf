package mattntest

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"runtime/metrics"
	"strconv"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/sqlstore"
	"github.com/sessionkit/sessions/conformance"
)

// dsn is how applications usually open a SQLite file with mattn: WAL and
// a busy timeout (milliseconds).
const dsn = "?_journal_mode=WAL&_synchronous=NORMAL&_busy_timeout="

// openPool opens a mattn pool over the file at path with a busy timeout
// of busy and at most maxOpen connections (0: no limit).
func openPool(t testing.TB, path string, busy time.Duration, maxOpen int) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", path+dsn+strconv.Itoa(int(busy/time.Millisecond)))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(maxOpen)
	t.Cleanup(func() { db.Close() })
	return db
}

// newStore returns a store over db, creating Django's table.
func newStore(t testing.TB, db *sql.DB) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.New(db, sqlstore.SQLite, &sqlstore.Options{CreateTable: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// harness runs the suite on pools of at most maxOpen connections.
func harness(maxOpen int) conformance.Harness {
	return conformance.Harness{
		New: func(t *testing.T) sessions.Backend {
			return newStore(t, openPool(t, filepath.Join(t.TempDir(), "s.db"), 5*time.Second, maxOpen))
		},
		NewPair: func(t *testing.T) (sessions.Backend, sessions.Backend) {
			path := filepath.Join(t.TempDir(), "s.db")
			return newStore(t, openPool(t, path, 5*time.Second, maxOpen)), newStore(t, openPool(t, path, 5*time.Second, maxOpen))
		},
	}
}

// One connection (what scs's sqlite3store asks for): requests often wait
// for it. No limit: a statement never waits for a connection.
func TestConformanceOneConnection(t *testing.T)        { conformance.Run(t, harness(1)) }
func TestConformanceManagerOneConnection(t *testing.T) { conformance.RunManager(t, harness(1)) }
func TestConformanceManagerUnlimited(t *testing.T)     { conformance.RunManager(t, harness(0)) }

// goroutinesCreated is the number of goroutines the process has started.
func goroutinesCreated() uint64 {
	s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestNoGoroutinePerStatement: under a context that can be cancelled, as
// every request's is, a keyed statement starts no goroutine when a
// connection is at hand (database/sql would start one to watch the rows,
// and mattn one more per row read or Exec, at each call).
func TestNoGoroutinePerStatement(t *testing.T) {
	for _, maxOpen := range []int{1, 0} {
		s := newStore(t, openPool(t, filepath.Join(t.TempDir(), "s.db"), 5*time.Second, maxOpen))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		key := sessions.NewKey()
		exp := time.Now().Add(time.Hour)
		if err := s.Create(ctx, key, []byte("data"), exp); err != nil {
			t.Fatal(err)
		}
		const n = 200
		before := goroutinesCreated()
		for i := range n {
			if _, err := s.Load(ctx, key); err != nil {
				t.Fatal(err)
			}
			if err := s.Update(ctx, key, []byte("data "+strconv.Itoa(i)), exp); err != nil {
				t.Fatal(err)
			}
			if err := s.Touch(ctx, key, exp); err != nil {
				t.Fatal(err)
			}
		}
		// A few may come from the runtime (the collector's workers).
		if got := goroutinesCreated() - before; got > n/10 {
			t.Errorf("pool of %d: %d goroutines started for %d Loads, Updates and Touches, want none per statement", maxOpen, got, 3*n)
		}
	}
}

// call is a named call to time.
type call struct {
	name string
	run  func(context.Context) error
}

// within runs the call under a context that ends after d, and returns
// how long it took and its error.
func (c call) within(d time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	err := c.run(ctx)
	return time.Since(start), err
}

// TestWaitForConnectionEndsWithContext: when the pool has no connection
// to give, a statement waits for one under the request's context, and
// leaves when it ends, however long the connection stays taken.
func TestWaitForConnectionEndsWithContext(t *testing.T) {
	db := openPool(t, filepath.Join(t.TempDir(), "s.db"), 5*time.Second, 1)
	s := newStore(t, db)
	key := sessions.NewKey()
	if err := s.Create(context.Background(), key, []byte("data"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	held, err := db.Conn(context.Background()) // the pool's only connection
	if err != nil {
		t.Fatal(err)
	}
	release := time.AfterFunc(10*time.Second, func() { held.Close() })
	defer func() {
		if release.Stop() {
			held.Close()
		}
	}()
	for _, op := range []call{
		{"Load", func(ctx context.Context) error { _, err := s.Load(ctx, key); return err }},
		{"Update", func(ctx context.Context) error { return s.Update(ctx, key, []byte("new"), time.Now().Add(time.Hour)) }},
	} {
		took, err := op.within(100 * time.Millisecond)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s while the only connection is taken: %v, want context.DeadlineExceeded", op.name, err)
		}
		if took > 5*time.Second {
			t.Errorf("%s returned %v after its deadline: it waited for the connection", op.name, took)
		}
	}
}

// TestCancelDuringLockWait: why the statements may drop the context.
// While another connection holds SQLite's write lock, mattn's statement
// waits for busy_timeout whether or not its context ends
// (sqlite3_interrupt does not end the busy handler's sleep), with
// database/sql's watch (a bare *sql.Stmt) as through the store. The
// store then answers the context's error, as before.
func TestCancelDuringLockWait(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	const busy = 1500 * time.Millisecond
	db := openPool(t, path, busy, 1)
	s := newStore(t, db)
	key := sessions.NewKey()
	if err := s.Create(context.Background(), key, []byte("data"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	other := openPool(t, path, 0, 1)
	tx, err := other.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`UPDATE django_session SET session_data = 'theirs'`); err != nil {
		t.Fatal(err)
	}
	raw, err := db.Prepare(`UPDATE django_session SET session_data = 'raw' WHERE session_key = ?`)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, op := range []call{
		{"database/sql", func(ctx context.Context) error { _, err := raw.ExecContext(ctx, key); return err }},
		{"the store", func(ctx context.Context) error { return s.Update(ctx, key, []byte("new"), time.Now().Add(time.Hour)) }},
	} {
		took, err := op.within(100 * time.Millisecond)
		if err == nil {
			t.Fatalf("%s: an update under another connection's write lock succeeded", op.name)
		}
		if took < busy*2/3 {
			t.Errorf("%s: returned after %v, before busy_timeout (%v): mattn ends a lock wait on cancellation now, so the store should keep the context (backends/sqlstore/detach.go)", op.name, took, busy)
		}
		if op.name == "the store" && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: %v, want an error matching context.DeadlineExceeded", op.name, err)
		}
	}
	if got, err := s.Load(context.Background(), key); err != nil || string(got) != "data" {
		t.Errorf("after the failed updates: %q, %v; want the session unchanged", got, err)
	}
}
