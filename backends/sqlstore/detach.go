package sqlstore

// Statements without the request's cancellation, over a SQLite pool of
// github.com/mattn/go-sqlite3 given to New.
//
// Under a context that can end (every request's), a statement through
// database/sql costs a goroutine and a context.WithCancel to watch its
// rows (Rows.awaitDone), and mattn/go-sqlite3 starts one more goroutine
// per row read and per Exec, to call sqlite3_interrupt if the context
// ends. On a session request this is about as much CPU as the statement
// itself (BenchmarkPaired/SQLiteMattn on a quiet host: a read-only
// request 32-33 → 20-21 µs, a read-write one 99-109 → 57-61 µs). And
// for the store's statements it buys nothing: each one reads or writes
// one row by its primary key, and the
// only way such a statement lasts is a wait for SQLite's write lock,
// which sqlite3_interrupt does not end (SQLite's busy handler sleeps
// until the lock is free or busy_timeout has passed, whatever the
// context; TestCancelDuringLockWait shows it). So over such a pool the
// store runs its keyed statements under context.WithoutCancel: the
// context is checked before the statement starts, and a cancelled or
// expired request gets its context's error for a statement that failed
// (Store.fail), as before.
//
// The wait for a connection must still end with the request: database/sql
// waits for one under the statement's context when the pool is at
// SetMaxOpenConns (common with SQLite, often 1). So a statement is only
// detached when the pool can give a connection at once (one is idle, or
// fewer than the maximum are open); otherwise it runs under the request's
// context, watched as before. Between that check and database/sql taking
// the connection another request can take it; the detached statement then
// waits for the next connection to be released, which on a pool serving
// session requests is the end of another one-row statement.
//
// modernc.org/sqlite does end a wait for the lock when the context ends,
// so its pools keep the context (and the pools the URL opener makes run
// on the driver's statements directly: stmtcache.go). So does every other
// driver, and mattn's driver wrapped by another package (a tracing or
// hooks wrapper): the store recognises mattn by its driver's type only.

import (
	"context"
	"database/sql"
	"reflect"
)

// mattnPackage is the import path of the driver whose statements cannot
// be interrupted while they wait for a lock.
const mattnPackage = "github.com/mattn/go-sqlite3"

// cannotInterrupt reports whether db's driver is mattn/go-sqlite3 (see
// the top of this file).
func cannotInterrupt(db *sql.DB) bool {
	t := reflect.TypeOf(db.Driver())
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t != nil && t.PkgPath() == mattnPackage
}

// stmtContext returns the context st runs under: ctx, or ctx without its
// cancellation for a keyed statement over a pool that cannot interrupt
// one, when ctx has not ended and the pool has a connection to give at
// once.
func (s *Store) stmtContext(ctx context.Context, st stmt) context.Context {
	if !s.detach || !st.keyed || ctx.Done() == nil || ctx.Err() != nil || !connAtHand(st.db) {
		return ctx
	}
	return context.WithoutCancel(ctx)
}

// connAtHand reports whether db gives a connection without waiting: one
// is idle, or it may open another.
func connAtHand(db *sql.DB) bool {
	st := db.Stats()
	return st.MaxOpenConnections <= 0 || st.Idle > 0 || st.OpenConnections < st.MaxOpenConnections
}
