package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sessionkit/sessions"
)

// On PostgreSQL through pgx (the URL opener's driver, and a pool the
// application opened with github.com/jackc/pgx/v5/stdlib), the
// statements of a request go to pgx on a connection of the pool rather
// than through database/sql's *sql.Stmt: with a context that can be
// cancelled (every request's), database/sql watches each query's rows
// with a goroutine of its own, started and stopped per query, which cost
// more CPU than the rest of a Load (BenchmarkPaired, BenchmarkParallel);
// pgx watches the context with context.AfterFunc, which starts nothing
// unless the context ends. The statements are the same text, prepared
// and cached per connection by pgx (its default statement cache, or what
// the pool's configuration says), and the pool is the same: its limits,
// its health checks and the dead connections it drops are database/sql's.

// pgxConner is what pgx's database/sql connection (stdlib.Conn) offers.
type pgxConner interface{ Conn() *pgx.Conn }

// usesPgx reports whether db's connections are pgx's.
func usesPgx(ctx context.Context, db *sql.DB) (bool, error) {
	c, err := db.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer c.Close()
	var ok bool
	err = c.Raw(func(dc any) error {
		_, ok = dc.(pgxConner)
		return nil
	})
	return ok && err == nil, err
}

// errNotPgx reports a connection that is not pgx's in a pool whose
// first connection was (a pool cannot mix drivers; never expected).
var errNotPgx = errors.New("the pool's connection is not pgx's")

// withPgx runs f on a pgx connection of the pool, as database/sql would
// run a statement on it: an error pgx says is safe to retry (the
// statement was not sent) drops the connection and is reported as
// driver.ErrBadConn, which the caller retries on another; a connection
// that pgx closed on an error is dropped when it goes back to the pool.
func (s *Store) withPgx(ctx context.Context, f func(*pgx.Conn) error) error {
	if s.closed.Load() {
		return fmt.Errorf("%w (statement after Close)", sessions.ErrClosed)
	}
	c, err := s.w.Conn(ctx)
	if err != nil {
		return err
	}
	err = c.Raw(func(dc any) error {
		pc, ok := dc.(pgxConner)
		if !ok {
			return errNotPgx
		}
		conn := pc.Conn()
		if conn.IsClosed() {
			return driver.ErrBadConn
		}
		err := f(conn)
		if err != nil && pgconn.SafeToRetry(err) {
			return driver.ErrBadConn
		}
		return err
	})
	c.Close()
	return err
}

// pgxExec runs query and returns the rows it affected. (It copies args,
// and pgxQueryRow dest and args, so that the callers' slices, shared
// with the database/sql path, stay on their stack.)
func (s *Store) pgxExec(ctx context.Context, query string, args []any) (int64, error) {
	var n int64
	a := slices.Clone(args)
	err := s.withPgx(ctx, func(c *pgx.Conn) error {
		tag, err := c.Exec(ctx, query, a...)
		n = tag.RowsAffected()
		return err
	})
	return n, err
}

// pgxQueryRow runs query and scans its first row into dest; no row is an
// error matching sql.ErrNoRows.
func (s *Store) pgxQueryRow(ctx context.Context, query string, dest, args []any) error {
	d, a := slices.Clone(dest), slices.Clone(args)
	return s.withPgx(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, query, a...).Scan(d...)
	})
}
