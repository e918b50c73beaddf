package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/sessionkit/sessions"
)

// On SQLite and MySQL pools the store opens itself (the URL opener), the
// statements of a request run on the driver's statements directly,
// through sql.Conn.Raw, rather than through *sql.Stmt: with a context
// that can be cancelled (every request's), database/sql watches a
// query's rows with a goroutine of its own (Rows.awaitDone) and a
// context.WithCancel, started and stopped per query, which cost about as
// much CPU as the rest of a Load. The driver watches the context itself
// while a statement runs (modernc.org/sqlite interrupts it with
// sqlite3_interrupt, and ends a wait for a lock; go-sql-driver/mysql's
// connection watcher closes the connection), so cancellation and
// deadlines are honoured as before.
//
// The driver's statements are prepared once per connection and kept by
// the connection (cachedConn), which finalizes them in its Close, before
// the driver's connection closes: whenever database/sql closes a
// connection (SetConnMaxLifetime, SetConnMaxIdleTime, a surplus of idle
// connections, driver.ErrBadConn, DB.Close), its statements go with it.
// That is why this is done only for pools the store opens: over a pool
// given to New, the store cannot know when database/sql closes one of its
// connections, and a statement left on a closed SQLite connection keeps
// the database file open and its memory allocated (sqlite3_close_v2
// leaves a zombie connection until the last statement is finalized).

// openCachedDB opens a pool of the registered driver driverName over dsn
// whose connections keep their statements (cachedConn); open counts the
// statements they hold.
func openCachedDB(driverName, dsn string, open *atomic.Int64) (*sql.DB, error) {
	probe, err := sql.Open(driverName, "")
	if err != nil {
		return nil, err
	}
	drv := probe.Driver()
	probe.Close()
	c := &cachingConnector{drv: drv, dsn: dsn, open: open}
	if dc, ok := drv.(driver.DriverContext); ok {
		if c.conn, err = dc.OpenConnector(dsn); err != nil {
			return nil, err
		}
	}
	return sql.OpenDB(c), nil
}

// cachingConnector makes the driver's connections cachedConns.
type cachingConnector struct {
	drv  driver.Driver
	dsn  string
	conn driver.Connector // the driver's, if it has one
	open *atomic.Int64
}

func (c *cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	var dc driver.Conn
	var err error
	if c.conn != nil {
		dc, err = c.conn.Connect(ctx)
	} else {
		dc, err = c.drv.Open(c.dsn)
	}
	if err != nil {
		return nil, err
	}
	return &cachedConn{Conn: dc, open: c.open}, nil
}

func (c *cachingConnector) Driver() driver.Driver { return c.drv }

// cachedConn is a driver connection that keeps the store's prepared
// statements, indexed by stmt.id, and finalizes them when it closes.
// database/sql uses a connection from one goroutine at a time (and
// sql.Conn.Raw holds its lock), so the cache needs no lock of its own.
type cachedConn struct {
	driver.Conn
	stmts []driver.Stmt
	open  *atomic.Int64 // the statements of the store's connections, for the tests
	// Buffers for a statement's arguments and a row's values, reused:
	// they are used only while the connection is (Raw).
	args [maxArgs]driver.NamedValue
	vals [maxArgs]driver.Value
}

// stmt returns the connection's statement for st, preparing it on first
// use.
func (c *cachedConn) stmt(ctx context.Context, st stmt) (driver.Stmt, error) {
	if st.id < len(c.stmts) && c.stmts[st.id] != nil {
		return c.stmts[st.id], nil
	}
	ds, err := c.PrepareContext(ctx, st.q)
	if err != nil {
		return nil, err
	}
	if st.id >= len(c.stmts) {
		c.stmts = append(c.stmts, make([]driver.Stmt, st.id+1-len(c.stmts))...)
	}
	c.stmts[st.id] = ds
	c.open.Add(1)
	return ds, nil
}

// Close finalizes the statements, then closes the driver's connection.
func (c *cachedConn) Close() error {
	var errs []error
	for i, ds := range c.stmts {
		if ds != nil {
			errs = append(errs, ds.Close())
			c.open.Add(-1)
			c.stmts[i] = nil
		}
	}
	errs = append(errs, c.Conn.Close())
	return errors.Join(errs...)
}

// The optional interfaces database/sql looks for, passed on to the
// driver's connection.

func (c *cachedConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if p, ok := c.Conn.(driver.ConnPrepareContext); ok {
		return p.PrepareContext(ctx, query)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return c.Conn.Prepare(query)
}

func (c *cachedConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if b, ok := c.Conn.(driver.ConnBeginTx); ok {
		return b.BeginTx(ctx, opts)
	}
	if opts.ReadOnly || opts.Isolation != driver.IsolationLevel(sql.LevelDefault) {
		return nil, errors.New("sqlstore: the driver does not support transaction options")
	}
	//lint:ignore SA1019 the driver has nothing else
	return c.Conn.Begin()
}

func (c *cachedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if e, ok := c.Conn.(driver.ExecerContext); ok {
		return e.ExecContext(ctx, query, args)
	}
	return nil, driver.ErrSkip
}

func (c *cachedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if q, ok := c.Conn.(driver.QueryerContext); ok {
		return q.QueryContext(ctx, query, args)
	}
	return nil, driver.ErrSkip
}

func (c *cachedConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *cachedConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *cachedConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *cachedConn) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := c.Conn.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// errNotCached reports a connection that is not a cachedConn in a pool
// the store opened with them (never expected).
var errNotCached = errors.New("the pool's connection does not cache statements")

// withCached runs f with st's statement on a connection of st's pool, as
// database/sql would run it: driver.ErrBadConn from the driver drops the
// connection (and its statements) and is returned for the caller to
// retry on another.
func (s *Store) withCached(ctx context.Context, st stmt, f func(*cachedConn, driver.Stmt) error) error {
	if s.closed.Load() {
		return fmt.Errorf("%w (statement after Close)", sessions.ErrClosed)
	}
	c, err := st.db.Conn(ctx)
	if err != nil {
		return err
	}
	err = c.Raw(func(dc any) error {
		cc, ok := dc.(*cachedConn)
		if !ok {
			return errNotCached
		}
		ds, err := cc.stmt(ctx, st)
		if err != nil {
			return err
		}
		return f(cc, ds)
	})
	c.Close()
	return err
}

// maxArgs is the most arguments a statement of the store takes.
const maxArgs = 8

// namedValues converts the store's arguments (strings, []byte, int,
// int64, time.Time) as database/sql's default converter would.
func namedValues(buf *[maxArgs]driver.NamedValue, args []any) ([]driver.NamedValue, error) {
	if len(args) > len(buf) {
		return nil, fmt.Errorf("sqlstore: %d arguments", len(args))
	}
	nv := buf[:len(args)]
	for i, a := range args {
		var v driver.Value
		switch x := a.(type) {
		case string, []byte, int64, float64, bool, time.Time, nil:
			v = x
		case int:
			v = int64(x)
		default:
			var err error
			if v, err = driver.DefaultParameterConverter.ConvertValue(a); err != nil {
				return nil, fmt.Errorf("sqlstore: argument %d: %w", i+1, err)
			}
		}
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return nv, nil
}

// cachedExec runs st and returns the rows it affected.
func (s *Store) cachedExec(ctx context.Context, st stmt, args []any) (int64, error) {
	var n int64
	err := s.withCached(ctx, st, func(cc *cachedConn, ds driver.Stmt) error {
		nv, err := namedValues(&cc.args, args)
		if err != nil {
			return err
		}
		e, ok := ds.(driver.StmtExecContext)
		if !ok {
			return errNotCached
		}
		res, err := e.ExecContext(ctx, nv)
		clear(cc.args[:])
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// cachedQueryRow runs st and scans its first row into dest; no row is
// sql.ErrNoRows.
func (s *Store) cachedQueryRow(ctx context.Context, st stmt, dest, args []any) error {
	return s.withCached(ctx, st, func(cc *cachedConn, ds driver.Stmt) error {
		nv, err := namedValues(&cc.args, args)
		if err != nil {
			return err
		}
		q, ok := ds.(driver.StmtQueryContext)
		if !ok {
			return errNotCached
		}
		rows, err := q.QueryContext(ctx, nv)
		if err != nil {
			return err
		}
		if len(dest) > len(cc.vals) || len(rows.Columns()) != len(dest) {
			rows.Close()
			return fmt.Errorf("sqlstore: %d columns for %d destinations", len(rows.Columns()), len(dest))
		}
		vals := cc.vals[:len(dest)]
		err = rows.Next(vals)
		if err == io.EOF {
			err = sql.ErrNoRows
		}
		if err == nil {
			// Copy before Close: the driver may reuse what vals
			// points to.
			err = scanValues(dest, vals)
		}
		if cerr := rows.Close(); err == nil {
			err = cerr
		}
		clear(cc.args[:])
		clear(vals) // let the collector have what they pointed to
		if err == nil && ctx.Err() != nil {
			// As database/sql's rows: a context that ended while the
			// row was read gives its error.
			err = ctx.Err()
		}
		return err
	})
}

// scanValues stores a row's values in dest as database/sql's Scan does,
// for the destinations the store uses.
func scanValues(dest []any, vals []driver.Value) error {
	for i, v := range vals {
		switch d := dest[i].(type) {
		case *[]byte:
			switch x := v.(type) {
			case []byte:
				*d = append([]byte(nil), x...)
			case string:
				*d = []byte(x)
			case nil:
				*d = nil
			default:
				return fmt.Errorf("sqlstore: column %d: cannot scan %T into []byte", i+1, v)
			}
		case *string:
			switch x := v.(type) {
			case []byte:
				*d = string(x)
			case string:
				*d = x
			default:
				return fmt.Errorf("sqlstore: column %d: cannot scan %T into string", i+1, v)
			}
		case *int:
			x, ok := v.(int64)
			if !ok {
				return fmt.Errorf("sqlstore: column %d: cannot scan %T into int", i+1, v)
			}
			*d = int(x)
		case *any:
			if b, ok := v.([]byte); ok {
				v = append([]byte(nil), b...)
			}
			*d = v
		default:
			return fmt.Errorf("sqlstore: column %d: cannot scan into %T", i+1, dest[i])
		}
	}
	return nil
}
