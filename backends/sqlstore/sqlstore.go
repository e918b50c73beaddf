package sqlstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/sessionkit/sessions"
)

// defaultTable is the name of Django's session table.
const defaultTable = "django_session"

// deleteBatch is how many expired rows DeleteExpired removes per
// statement unless [Options.BatchSize] says otherwise.
const deleteBatch = 10000

// listBatch is how many keys List reads per query. No connection is held
// while its callback runs.
const listBatch = 1000

// ErrNoTable reports that the session table does not exist and the store
// was not asked to create it. The error text names the table and says how
// to create it.
var ErrNoTable = errors.New("session table does not exist")

// Options configure a [Store]. The zero value (or nil) means Django's
// table, which must already exist.
type Options struct {
	// Table is the session table; default "django_session". It is one
	// identifier (no schema prefix) and is quoted in every statement.
	Table string
	// CreateTable creates the table, with its indexes, exactly as Django's
	// migration would, if it does not exist. Leave it off when the table
	// belongs to a Django app: then a missing table is an error matching
	// [ErrNoTable].
	CreateTable bool
	// BatchSize is the number of expired rows DeleteExpired removes per
	// statement; default 10,000.
	BatchSize int
	// MaxDataSize, when positive, makes Create, Update and Swap refuse
	// data longer than this many bytes with an error matching
	// sessions.ErrTooLarge. Default: no limit of the engine's own (the
	// Manager limits encoded sessions to Settings.MaxDataSize, 4 MiB by
	// default).
	MaxDataSize int
	// QueryTimeout, when positive, ends a call made for a request (Load,
	// LoadExpiry, Create, Update, Touch, Swap, Delete and the user index's
	// calls) that has had no answer from the database after this long,
	// with an error matching context.DeadlineExceeded, unless the
	// caller's context ends first. A database that stops answering
	// (paused, overloaded, or its network dropping packets) then fails
	// the request instead of holding it, and a connection of the pool,
	// for as long as the client waits: a request's context has no
	// deadline of its own. DeleteExpired, List and Count run under the
	// caller's context alone. Zero means no limit of the store's own;
	// the URL opener sets 10 s for PostgreSQL and MySQL (query_timeout).
	QueryTimeout time.Duration
	// Now returns the current time, against which expire_date is
	// compared; nil means time.Now. For tests.
	Now func() time.Time
}

// Store is the database engine: Django's db session engine over
// database/sql. It implements sessions.Engine, sessions.ExpiredDeleter,
// sessions.Lister, sessions.Toucher, sessions.Swapper,
// sessions.UserIndexer, sessions.ExpiryReader and sessions.Describer. It is safe for concurrent use.
type Store struct {
	d       Dialect
	table   string
	where   string // for Describe, without credentials
	r, w    *sql.DB
	owned   []*sql.DB // closed by Close
	now     func() time.Time
	batch   int
	maxData int
	timeout time.Duration // Options.QueryTimeout

	st        stmts
	pgx       bool          // PostgreSQL through pgx: statements go to pgx directly (pgx.go)
	cached    bool          // SQLite pools the store opened: statements run on the driver's, cached per connection (stmtcache.go)
	detach    bool          // a pool given to New whose driver cannot end a keyed statement early (detach.go)
	openStmts *atomic.Int64 // the driver statements their connections hold (for tests)
	uix       userIndex
	closed    atomic.Bool // set by Close: a call in flight reports ErrClosed and is not retried
	closeOnce sync.Once
}

type stmts struct {
	load, loadExp, insert, deleteExpKey, update, touch, swap, del stmt
	holds, holdsExpiry, deleteExpired, list                       stmt
	all                                                           []*sql.Stmt
}

// stmt is a prepared statement and its text: on PostgreSQL through pgx,
// the text is sent on a connection of the pool directly (see pgx.go); on
// SQLite pools the store opened, the driver's statement for id is taken
// from the connection's cache (see stmtcache.go).
type stmt struct {
	*sql.Stmt
	q  string
	db *sql.DB // the pool it runs on
	id int     // its index in the connections' statement caches
	// keyed: it reads or writes the one row of a key (every statement
	// but list and deleteExpired, which go through many rows).
	keyed bool
}

// New returns a Store over a pool the application already has. d is the
// dialect of db's driver. New checks that the table exists (creating it if
// o.CreateTable is set) and prepares its statements, within 30 seconds.
// Close does not close db: it belongs to the caller.
//
// With SQLite, every statement goes through db: give it a busy timeout
// (for modernc.org/sqlite, "_pragma=busy_timeout(5000)" in the DSN) or
// db.SetMaxOpenConns(1), or writes from concurrent requests may fail with
// "database is locked". The URL opener ("sqlite:///path") does this for
// you, with WAL and a single writer connection beside a pool of readers.
//
// With MySQL any pool works: expire_date is passed as naive UTC text
// whatever the driver's loc, and a write that changes nothing is told
// from a missing row whether or not the pool sets clientFoundRows.
func New(db *sql.DB, d Dialect, o *Options) (*Store, error) {
	if db == nil {
		return nil, fmt.Errorf("%w: sqlstore: nil *sql.DB", sessions.ErrBadConfig)
	}
	if !d.valid() {
		return nil, fmt.Errorf("%w: sqlstore: unknown dialect %v (use sqlstore.SQLite, Postgres or MySQL)", sessions.ErrBadConfig, d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return newStore(ctx, config{d: d, r: db, w: db, where: d.String() + " database"}, o)
}

// config is what the openers and New hand to newStore.
type config struct {
	d      Dialect
	r, w   *sql.DB
	owned  []*sql.DB
	where  string
	cached *atomic.Int64 // r and w were opened with openCachedDB; their statement count
}

func newStore(ctx context.Context, c config, o *Options) (*Store, error) {
	var opts Options
	if o != nil {
		opts = *o
	}
	if opts.Table == "" {
		opts.Table = defaultTable
	}
	if err := c.d.checkTable(opts.Table); err != nil {
		return nil, fmt.Errorf("%w: sqlstore: %v", sessions.ErrBadConfig, err)
	}
	if opts.BatchSize < 0 || opts.MaxDataSize < 0 || opts.QueryTimeout < 0 {
		return nil, fmt.Errorf("%w: sqlstore: BatchSize, MaxDataSize and QueryTimeout must not be negative", sessions.ErrBadConfig)
	}
	if opts.BatchSize == 0 {
		opts.BatchSize = deleteBatch
	}
	s := &Store{
		d: c.d, table: opts.Table, where: c.where, r: c.r, w: c.w, owned: c.owned,
		now: opts.Now, batch: opts.BatchSize, maxData: opts.MaxDataSize, timeout: opts.QueryTimeout,
		cached: c.cached != nil, openStmts: c.cached,
		detach: c.cached == nil && c.d == SQLite && cannotInterrupt(c.w),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if err := s.ensureTable(ctx, opts.CreateTable); err != nil {
		return nil, err
	}
	if err := s.prepare(ctx); err != nil {
		s.closeStmts()
		return nil, err
	}
	if s.d == Postgres {
		var err error
		if s.pgx, err = usesPgx(ctx, s.w); err != nil {
			s.closeStmts()
			return nil, fmt.Errorf("sqlstore: %s: %w", s.where, err)
		}
	}
	return s, nil
}

// ensureTable checks that the table exists with Django's columns, and
// creates it when create is set.
func (s *Store) ensureTable(ctx context.Context, create bool) error {
	exists, err := s.tableExists(ctx, s.r)
	if err != nil {
		return fmt.Errorf("sqlstore: %s: checking for table %q: %w", s.where, s.table, err)
	}
	if !exists {
		if !create {
			return s.noTable()
		}
		if err := s.createTable(ctx); err != nil {
			return fmt.Errorf("sqlstore: %s: creating table %q: %w", s.where, s.table, err)
		}
	}
	if _, err := s.r.ExecContext(ctx, buildQueries(s.d, s.table).probe); err != nil {
		return fmt.Errorf("%w: sqlstore: %s: table %q is not a Django session table (session_key, session_data, expire_date): %w", sessions.ErrBadConfig, s.where, s.table, err)
	}
	return nil
}

func (s *Store) noTable() error {
	return fmt.Errorf("sqlstore: %s: %w: table %q not found; create it with Django (python manage.py migrate sessions), or set create_table=true in the URL (Options.CreateTable) to create it as Django's migration does (%s)",
		s.where, ErrNoTable, s.table, strings.Join(s.d.CreateTableSQL(s.table), "; "))
}

// tableExists looks the session table up in the catalog.
func (s *Store) tableExists(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (bool, error) {
	return s.lookupTable(ctx, q, s.table)
}

// tableNamedExists looks another table up in the catalog.
func (s *Store) tableNamedExists(ctx context.Context, name string) (bool, error) {
	return s.lookupTable(ctx, s.r, name)
}

func (s *Store) lookupTable(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, table string) (bool, error) {
	var n int
	var err error
	switch s.d {
	case SQLite:
		err = q.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ? COLLATE NOCASE", table).Scan(&n)
	case Postgres:
		err = q.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT to_regclass($1) AS r) x WHERE r IS NOT NULL", s.d.quote(table)).Scan(&n)
	case MySQL:
		var db sql.NullString
		if err = q.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&db); err != nil {
			break
		}
		if !db.Valid {
			return false, errors.New("no database selected: name one in the URL, mysql://user@host:3306/dbname")
		}
		err = q.QueryRowContext(ctx, "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?", table).Scan(&n)
	}
	return n > 0, err
}

// createTable runs Django's DDL, in one transaction where the database
// allows it, and tolerates a concurrent creator.
func (s *Store) createTable(ctx context.Context) error {
	err := s.runDDL(ctx)
	if err != nil && s.d.isDuplicateObject(err) {
		// Another process created it first.
		if exists, err2 := s.tableExists(ctx, s.r); err2 == nil && exists {
			return nil
		}
	}
	return err
}

func (s *Store) runDDL(ctx context.Context) error {
	ddl := s.d.CreateTableSQL(s.table)
	switch s.d {
	case SQLite, Postgres:
		conn, err := s.w.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		if s.d == Postgres {
			// Serialize concurrent creators (processes starting at once)
			// with a session lock taken before the transaction, so that
			// the transaction sees the catalog as the previous holder
			// left it.
			lock := "sessionkit/sqlstore " + s.table
			if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(hashtext($1))", lock); err != nil {
				return err
			}
			defer conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock(hashtext($1))", lock)
		}
		tx, err := conn.BeginTx(ctx, nil) // SQLite: BEGIN IMMEDIATE (the writer's _txlock)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		exists, err := s.tableExists(ctx, tx)
		if err != nil || exists {
			return err
		}
		for _, q := range ddl {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return tx.Commit()
	case MySQL:
		// DDL commits implicitly on MySQL; a concurrent creator makes ours
		// fail with "already exists", which is fine.
		for _, q := range ddl {
			if _, err := s.w.ExecContext(ctx, q); err != nil && !s.d.isDuplicateObject(err) {
				return err
			}
		}
	}
	return nil
}

func (s *Store) prepare(ctx context.Context) error {
	q := buildQueries(s.d, s.table)
	p := func(db *sql.DB, query string, dst *stmt) error {
		if query == "" {
			return nil
		}
		st, err := db.PrepareContext(ctx, query)
		if err != nil {
			return fmt.Errorf("sqlstore: %s: preparing %q: %w", s.where, query, err)
		}
		*dst = stmt{Stmt: st, q: query, db: db, id: len(s.st.all), keyed: dst != &s.st.list && dst != &s.st.deleteExpired}
		s.st.all = append(s.st.all, st)
		return nil
	}
	for _, x := range []struct {
		db  *sql.DB
		q   string
		dst *stmt
	}{
		{s.r, q.load, &s.st.load},
		{s.r, q.loadExp, &s.st.loadExp},
		{s.r, q.holds, &s.st.holds},
		{s.r, q.holdsExpiry, &s.st.holdsExpiry},
		{s.r, q.list, &s.st.list},
		{s.w, q.insert, &s.st.insert},
		{s.w, q.deleteExpKey, &s.st.deleteExpKey},
		{s.w, q.update, &s.st.update},
		{s.w, q.touch, &s.st.touch},
		{s.w, q.swap, &s.st.swap},
		{s.w, q.del, &s.st.del},
		{s.w, q.deleteExpired, &s.st.deleteExpired},
	} {
		if err := p(x.db, x.q, x.dst); err != nil {
			return err
		}
	}
	return nil
}

// Name returns the engine's scheme: "sqlite", "postgres" or "mysql".
func (s *Store) Name() string { return s.d.String() }

// Dialect returns the store's dialect.
func (s *Store) Dialect() Dialect { return s.d }

// Table returns the name of the session table.
func (s *Store) Table() string { return s.table }

// QueryTimeout returns how long a call made for a request waits for the
// database (Options.QueryTimeout, the URL's query_timeout); zero means no
// limit of the store's own.
func (s *Store) QueryTimeout() time.Duration { return s.timeout }

// Describe says where the sessions are kept, without credentials.
func (s *Store) Describe() string { return fmt.Sprintf("%s, table %q", s.where, s.table) }

// checkData enforces MaxDataSize.
func (s *Store) checkData(data []byte) error {
	if s.maxData > 0 && len(data) > s.maxData {
		return fmt.Errorf("%w: %d bytes, limit %d (sqlstore max_data_size)", sessions.ErrTooLarge, len(data), s.maxData)
	}
	return nil
}

// binaryPrefix marks session_data that is stored base64-encoded because
// it is not text: the column is text (PostgreSQL refuses NUL bytes and
// invalid UTF-8, MySQL invalid UTF-8), while the Engine contract is bytes
// in, bytes out. Django's encoded sessions are ASCII and are stored as
// they are; only other data, or data starting with this prefix, is
// encoded.
const binaryPrefix = "\x01sqlstore:base64:"

// encodeData returns the session_data text for data.
func encodeData(data []byte) string {
	if utf8.Valid(data) && bytes.IndexByte(data, 0) < 0 && !bytes.HasPrefix(data, []byte(binaryPrefix)) {
		return string(data)
	}
	return binaryPrefix + base64.StdEncoding.EncodeToString(data)
}

// dataArg is the argument compared with session_data: the text itself,
// or on MySQL its SHA-256 in hex (see buildQueries).
func (s *Store) dataArg(data []byte) string {
	text := encodeData(data)
	if s.d == MySQL {
		sum := sha256.Sum256([]byte(text))
		return hex.EncodeToString(sum[:])
	}
	return text
}

// decodeData reverses encodeData. Text that merely looks encoded but is
// not valid base64 is returned as it is.
func decodeData(text []byte) []byte {
	if !bytes.HasPrefix(text, []byte(binaryPrefix)) {
		return text
	}
	b, err := base64.StdEncoding.DecodeString(string(text[len(binaryPrefix):]))
	if err != nil {
		return text
	}
	return b
}

// fail turns an error from database/sql into the store's error: ErrClosed
// when Close closed the statements under the call, the context's error
// when it is done, the driver's error wrapped otherwise.
func (s *Store) fail(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if s.closed.Load() {
		return fmt.Errorf("%w (%v)", sessions.ErrClosed, err)
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if s.d == SQLite && isBusy(err) {
		return fmt.Errorf("sqlstore: %s: %w (another process holds the write lock longer than busy_timeout)", s.where, err)
	}
	return fmt.Errorf("sqlstore: %s: %w", s.where, err)
}

// maxAttempts bounds how often a statement is tried when the connection
// it ran on turned out to be dead (see Dialect.retryable).
const maxAttempts = 3

// again reports whether a statement that failed with err should be tried
// again on another connection.
func (s *Store) again(ctx context.Context, attempt int, err error) bool {
	return err != nil && attempt < maxAttempts && s.d.retryable(err) && ctx.Err() == nil && !s.closed.Load()
}

// bounded is a call's context limited to the store's query timeout.
type bounded struct {
	ctx, parent context.Context
	cancel      context.CancelFunc // nil: ctx is parent
	s           *Store
}

// bound returns ctx limited to the store's query timeout
// (Options.QueryTimeout), unless ctx ends sooner; the call ends it with
// end.
func (s *Store) bound(ctx context.Context) bounded {
	if s.timeout <= 0 {
		return bounded{ctx: ctx, parent: ctx}
	}
	if d, ok := ctx.Deadline(); ok && time.Until(d) <= s.timeout {
		return bounded{ctx: ctx, parent: ctx}
	}
	c, cancel := context.WithTimeout(ctx, s.timeout)
	return bounded{ctx: c, parent: ctx, cancel: cancel, s: s}
}

// end releases the timeout's timer and returns the call's err, which the
// timeout turns into an error that says so (and matches
// context.DeadlineExceeded).
func (b bounded) end(err error) error {
	if b.cancel == nil {
		return err
	}
	if err != nil && b.parent.Err() == nil && b.ctx.Err() == context.DeadlineExceeded {
		err = fmt.Errorf("sqlstore: %s: no answer within query_timeout %v (%v): %w", b.s.where, b.s.timeout, err, context.DeadlineExceeded)
	}
	b.cancel()
	return err
}

// exec runs st, within the query timeout, and returns the number of rows
// it affected.
func (s *Store) exec(ctx context.Context, st stmt, args ...any) (int64, error) {
	b := s.bound(ctx)
	n, err := s.run(b.ctx, st, args...)
	return n, b.end(err)
}

// run runs st and returns the number of rows it affected.
func (s *Store) run(ctx context.Context, st stmt, args ...any) (int64, error) {
	for attempt := 1; ; attempt++ {
		var n int64
		var err error
		switch {
		case s.cached:
			n, err = s.cachedExec(ctx, st, args)
		case s.pgx:
			n, err = s.pgxExec(ctx, st.q, args)
		default:
			var res sql.Result
			if res, err = st.ExecContext(s.stmtContext(ctx, st), args...); err == nil {
				n, err = res.RowsAffected()
			}
		}
		if !s.again(ctx, attempt, err) {
			return n, err
		}
	}
}

// queryRow runs st, within the query timeout, and scans its row into
// dest; no row is an error matching sql.ErrNoRows.
func (s *Store) queryRow(ctx context.Context, st stmt, dest []any, args ...any) error {
	b := s.bound(ctx)
	return b.end(s.queryRowOnce(b.ctx, st, dest, args))
}

func (s *Store) queryRowOnce(ctx context.Context, st stmt, dest []any, args []any) error {
	for attempt := 1; ; attempt++ {
		var err error
		switch {
		case s.cached:
			err = s.cachedQueryRow(ctx, st, dest, args)
		case s.pgx:
			err = s.pgxQueryRow(ctx, st.q, dest, args)
		default:
			err = st.QueryRowContext(s.stmtContext(ctx, st), args...).Scan(dest...)
		}
		if !s.again(ctx, attempt, err) {
			return err
		}
	}
}

func (s *Store) query(ctx context.Context, st stmt, args ...any) (*sql.Rows, error) {
	for attempt := 1; ; attempt++ {
		rows, err := st.QueryContext(ctx, args...)
		if !s.again(ctx, attempt, err) {
			return rows, err
		}
	}
}

func (s *Store) nowArg() any { return s.d.timeArg(s.now()) }

// Load implements sessions.Engine: the data of the live row under key.
// Rows whose expire_date has passed are never returned.
func (s *Store) Load(ctx context.Context, key string) ([]byte, error) {
	var data []byte
	err := s.queryRow(ctx, s.st.load, []any{&data}, key, s.nowArg())
	if errors.Is(err, sql.ErrNoRows) {
		return nil, sessions.ErrNotFound
	}
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	if data == nil {
		data = []byte{}
	}
	return decodeData(data), nil
}

// LoadExpiry implements sessions.ExpiryReader: Load, and the row's
// expire_date.
func (s *Store) LoadExpiry(ctx context.Context, key string) ([]byte, time.Time, error) {
	var data []byte
	var exp any
	err := s.queryRow(ctx, s.st.loadExp, []any{&data, &exp}, key, s.nowArg())
	if errors.Is(err, sql.ErrNoRows) {
		return nil, time.Time{}, sessions.ErrNotFound
	}
	if err != nil {
		return nil, time.Time{}, s.fail(ctx, err)
	}
	t, err := s.d.parseStoredTime(exp)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("sqlstore: %s: expire_date: %w", s.where, err)
	}
	if data == nil {
		data = []byte{}
	}
	return decodeData(data), t, nil
}

// parseStoredTime reads expire_date as a driver returns it: a time.Time,
// or Django's naive UTC text.
func (d Dialect) parseStoredTime(v any) (time.Time, error) {
	switch x := v.(type) {
	case time.Time:
		if d != Postgres && x.Location() == time.Local && x.Location().String() != "UTC" {
			// A naive datetime (SQLite's text, MySQL's datetime) read
			// in local time (MySQL's loc=Local, mattn's _loc=auto): it
			// is UTC. PostgreSQL's timestamptz is an instant, which pgx
			// gives in local time.
			return time.Date(x.Year(), x.Month(), x.Day(), x.Hour(), x.Minute(), x.Second(), x.Nanosecond(), time.UTC), nil
		}
		return x.UTC(), nil
	case []byte:
		return d.parseStoredTime(string(x))
	case string:
		for _, layout := range []string{"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999"} {
			if t, err := time.Parse(layout, x); err == nil {
				return t.UTC(), nil
			}
		}
		return time.Time{}, fmt.Errorf("unreadable datetime %q", x)
	}
	return time.Time{}, fmt.Errorf("unexpected type %T", v)
}

// Create implements sessions.Engine: it inserts the row, or returns an
// error matching sessions.ErrExists if a live row has the key. An expired
// row with the key is replaced.
func (s *Store) Create(ctx context.Context, key string, data []byte, expiry time.Time) error {
	if err := s.checkData(data); err != nil {
		return err
	}
	exp := s.d.timeArg(clampExpiry(expiry))
	if s.d != MySQL {
		n, err := s.exec(ctx, s.st.insert, key, encodeData(data), exp, s.nowArg())
		if err != nil {
			if s.d.isUniqueViolation(err) {
				return sessions.ErrExists
			}
			return s.fail(ctx, err)
		}
		return affected(n, sessions.ErrExists)
	}
	// MySQL has no conditional upsert whose row count can be trusted
	// (clientFoundRows changes it): insert, and on a duplicate key remove
	// the row only if it has expired, then insert again.
	for range 3 {
		_, err := s.exec(ctx, s.st.insert, key, encodeData(data), exp)
		if err == nil {
			return nil
		}
		if !s.d.isUniqueViolation(err) {
			return s.fail(ctx, err)
		}
		n, err := s.exec(ctx, s.st.deleteExpKey, key, s.nowArg())
		if err != nil {
			return s.fail(ctx, err)
		}
		if n == 0 {
			return sessions.ErrExists // the row is live
		}
	}
	return sessions.ErrExists
}

// affected returns nil if a statement affected n > 0 rows, else none.
func affected(n int64, none error) error {
	if n == 0 {
		return none
	}
	return nil
}

// rowExists runs a SELECT 1 statement.
func (s *Store) rowExists(ctx context.Context, st stmt, args ...any) (bool, error) {
	var one int
	err := s.queryRow(ctx, st, []any{&one}, args...)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, s.fail(ctx, err)
	}
	return true, nil
}

// Update implements sessions.Engine: it replaces the data and expiry of
// the live row under key, or returns an error matching
// sessions.ErrNotFound and writes nothing.
func (s *Store) Update(ctx context.Context, key string, data []byte, expiry time.Time) error {
	if err := s.checkData(data); err != nil {
		return err
	}
	exp := s.d.timeArg(clampExpiry(expiry))
	now := s.nowArg()
	n, err := s.exec(ctx, s.st.update, encodeData(data), exp, key, now)
	if err != nil {
		return s.fail(ctx, err)
	}
	err = affected(n, sessions.ErrNotFound)
	if errors.Is(err, sessions.ErrNotFound) && s.d == MySQL {
		// MySQL counts changed rows, not matched ones, unless the
		// connection set clientFoundRows: a row already holding these
		// values reports 0.
		if ok, herr := s.rowExists(ctx, s.st.holds, key, now, s.dataArg(data), exp); herr != nil || ok {
			return herr
		}
	}
	return err
}

// Touch implements sessions.Toucher: it sets the expiry of the live row
// under key without rewriting its data, or returns an error matching
// sessions.ErrNotFound.
func (s *Store) Touch(ctx context.Context, key string, expiry time.Time) error {
	exp := s.d.timeArg(clampExpiry(expiry))
	now := s.nowArg()
	n, err := s.exec(ctx, s.st.touch, exp, key, now)
	if err != nil {
		return s.fail(ctx, err)
	}
	err = affected(n, sessions.ErrNotFound)
	if errors.Is(err, sessions.ErrNotFound) && s.d == MySQL {
		if ok, herr := s.rowExists(ctx, s.st.holdsExpiry, key, now, exp); herr != nil || ok {
			return herr
		}
	}
	return err
}

// Swap implements sessions.Swapper with one conditional UPDATE on
// session_data, so that it works on Django's own table: the row is
// replaced only if it is live and holds exactly old. Otherwise it returns
// an error matching sessions.ErrNotFound (no live row) or
// sessions.ErrConflict (other data) and changes nothing.
func (s *Store) Swap(ctx context.Context, key string, old, data []byte, expiry time.Time) error {
	if err := s.checkData(data); err != nil {
		return err
	}
	exp := s.d.timeArg(clampExpiry(expiry))
	now := s.nowArg()
	n, err := s.exec(ctx, s.st.swap, encodeData(data), exp, key, now, s.dataArg(old))
	if err != nil {
		return s.fail(ctx, err)
	}
	if n > 0 {
		return nil
	}
	if s.d == MySQL && bytes.Equal(old, data) {
		if ok, herr := s.rowExists(ctx, s.st.holds, key, now, s.dataArg(data), exp); herr != nil || ok {
			return herr
		}
	}
	// Nothing matched: tell a missing row from changed data. (A row that
	// holds old again by now was changed and changed back in between:
	// a conflict too, and the caller retries.)
	if _, err := s.Load(ctx, key); err != nil {
		return err
	}
	return sessions.ErrConflict
}

// Delete implements sessions.Engine. Deleting an absent key is not an
// error.
func (s *Store) Delete(ctx context.Context, key string) error {
	_, err := s.exec(ctx, s.st.del, key)
	return s.fail(ctx, err)
}

// DeleteExpired implements sessions.ExpiredDeleter (Django's
// clearsessions): it deletes the rows whose expire_date has passed, in
// statements of at most BatchSize rows, each its own transaction, until
// none is left, and reports how many it deleted. On an error it reports
// the rows deleted so far.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	now := s.nowArg()
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n, err := s.run(ctx, s.st.deleteExpired, now, s.batch)
		if err != nil {
			return total, s.fail(ctx, err)
		}
		total += n
		if n < int64(s.batch) {
			return total, s.deleteExpiredUsers(ctx)
		}
	}
}

// List implements sessions.Lister: it calls fn with each live key, in key
// order, a page at a time; no connection is held while fn runs, so fn may
// use the store.
func (s *Store) List(ctx context.Context, fn func(key string) bool) error {
	after := ""
	keys := make([]string, 0, listBatch)
	for {
		keys = keys[:0]
		rows, err := s.query(ctx, s.st.list, s.nowArg(), after, listBatch)
		if err != nil {
			return s.fail(ctx, err)
		}
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return s.fail(ctx, err)
			}
			keys = append(keys, k)
		}
		if err := rows.Err(); err != nil {
			rows.Close()
			return s.fail(ctx, err)
		}
		rows.Close()
		for _, k := range keys {
			if err := ctx.Err(); err != nil {
				return err
			}
			if !fn(k) {
				return nil
			}
		}
		if len(keys) < listBatch {
			return nil
		}
		after = keys[len(keys)-1]
	}
}

// Close implements sessions.Engine: it releases the prepared statements
// and the connections the store opened (not a *sql.DB given to [New]). A
// call in flight fails with an error matching sessions.ErrClosed, or
// finishes: database/sql's Close waits for the queries in progress, so
// against a stalled database Close returns only when they end, within
// query_timeout (10 s by default on PostgreSQL and MySQL). Closing twice
// returns nil.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.closeStmts()
		var errs []error
		for _, db := range s.owned {
			errs = append(errs, db.Close())
		}
		err = errors.Join(errs...)
	})
	return err
}

func (s *Store) closeStmts() {
	for _, st := range s.st.all {
		st.Close()
	}
}

// DB returns the pools the store uses: reads go to r and writes to w. They
// are the same pool except for SQLite files opened from a URL, where w
// has a single connection. Do not close them.
func (s *Store) DB() (r, w *sql.DB) { return s.r, s.w }
