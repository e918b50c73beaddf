package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/internal/textutil"
)

func init() {
	sessions.Register(sessions.EngineInfo{
		Scheme:  "sqlite",
		Aliases: []string{"sqlite3"},
		Forms: []string{
			"sqlite:///var/lib/app/sessions.sqlite3",
			"sqlite:db.sqlite3?create_table=true",
			"sqlite::memory:",
		},
		Doc: "Django's db engine on SQLite (modernc.org/sqlite, pure Go): WAL, one writer, django_session table",
	}, openSQLite)
	sessions.Register(sessions.EngineInfo{
		Scheme:  "postgres",
		Aliases: []string{"postgresql"},
		Forms: []string{
			"postgres://user:password@host:5432/dbname?sslmode=require",
			"postgres://user@/dbname?host=/var/run/postgresql&table=django_session",
		},
		Doc: "Django's db engine on PostgreSQL (pgx): django_session table",
	}, openPostgres)
	sessions.Register(sessions.EngineInfo{
		Scheme: "mysql",
		Forms: []string{
			"mysql://user:password@host:3306/dbname",
			"mysql://user@/dbname?socket=/run/mysqld/mysqld.sock",
		},
		Doc: "Django's db engine on MySQL or MariaDB (go-sql-driver/mysql): django_session table",
	}, openMySQL)
}

// registeredDrivers lists the database/sql drivers; a variable for tests.
var registeredDrivers = sql.Drivers

// needDriver reports a missing database/sql driver with the import that
// registers it.
func needDriver(d Dialect) error {
	if slices.Contains(registeredDrivers(), d.driverName()) {
		return nil
	}
	return fmt.Errorf("%w: the %s engine needs the database/sql driver %q, which is not registered: add\n\timport _ %q\nto your program (or import _ \"github.com/sessionkit/sessions/all\")",
		sessions.ErrBadConfig, d, d.driverName(), d.driverImport())
}

// serverQueryTimeout is the default query_timeout of PostgreSQL and
// MySQL: as long as their connect timeouts.
const serverQueryTimeout = 10 * time.Second

// readOptions reads the parameters every dialect has; queryTimeout is the
// dialect's default query_timeout.
func readOptions(p *sessions.Params, queryTimeout time.Duration) Options {
	return Options{
		Table:        p.String("table", defaultTable),
		CreateTable:  p.Bool("create_table", false),
		BatchSize:    p.Int("batch_size", deleteBatch, 1, 1_000_000),
		MaxDataSize:  p.Int("max_data_size", 0, 0, 1<<30),
		QueryTimeout: p.Duration("query_timeout", queryTimeout, 0, time.Hour),
	}
}

// poolConfig is the database/sql pool configuration from the URL.
type poolConfig struct {
	maxOpen, maxIdle   int
	lifetime, idleTime time.Duration
}

func readPool(p *sessions.Params, def poolConfig) poolConfig {
	return poolConfig{
		maxOpen:  p.Int("max_open_conns", def.maxOpen, 0, 100_000),
		maxIdle:  p.Int("max_idle_conns", def.maxIdle, 0, 100_000),
		lifetime: p.Duration("conn_max_lifetime", def.lifetime, 0, 30*24*time.Hour),
		idleTime: p.Duration("conn_max_idle_time", def.idleTime, 0, 30*24*time.Hour),
	}
}

func (c poolConfig) apply(db *sql.DB) {
	db.SetMaxOpenConns(c.maxOpen)
	idle := c.maxIdle
	if c.maxOpen > 0 && idle > c.maxOpen {
		idle = c.maxOpen
	}
	db.SetMaxIdleConns(idle)
	db.SetConnMaxLifetime(c.lifetime)
	db.SetConnMaxIdleTime(c.idleTime)
}

// passThrough marks the driver's own parameters in names as known and
// returns their values.
func passThrough(p *sessions.Params, u *url.URL, names []string) url.Values {
	q := u.Query()
	out := url.Values{}
	for _, n := range names {
		if p.Has(n) {
			out[n] = q[n]
		}
	}
	return out
}

// location returns a URL without query, fragment or password, for
// messages.
func location(u *url.URL) string {
	c := *u
	c.RawQuery, c.Fragment, c.RawFragment = "", "", ""
	if c.User != nil {
		c.User = url.User(c.User.Username())
	}
	return sessions.Redact(c.String())
}

// --- SQLite ------------------------------------------------------------------

// sqlitePath returns the file named by a sqlite URL, or ":memory:".
func sqlitePath(u *url.URL) (string, error) {
	const forms = "use sqlite:///absolute/path/sessions.sqlite3, sqlite:relative/path.sqlite3 or sqlite::memory:"
	if u.User != nil {
		return "", fmt.Errorf("%w: a sqlite URL has no user or password; %s", sessions.ErrBadConfig, forms)
	}
	if u.Host != "" {
		return "", fmt.Errorf("%w: a sqlite URL has no host (%s): %s", sessions.ErrBadConfig, textutil.Quote(u.Host), forms)
	}
	if u.Fragment != "" {
		return "", fmt.Errorf("%w: a sqlite URL has no #fragment (write # in a file name as %%23)", sessions.ErrBadConfig)
	}
	p := u.Path
	if u.Opaque != "" {
		var err error
		if p, err = url.PathUnescape(u.Opaque); err != nil {
			return "", fmt.Errorf("%w: sqlite URL: %v", sessions.ErrBadConfig, err)
		}
	}
	if p == "" {
		return "", fmt.Errorf("%w: a sqlite URL needs a file: %s", sessions.ErrBadConfig, forms)
	}
	if p == ":memory:" {
		return p, nil
	}
	return filepath.Abs(filepath.FromSlash(p))
}

func openSQLite(ctx context.Context, u *url.URL, _ sessions.Settings) (sessions.Backend, error) {
	p := sessions.ParseParams(u)
	o := readOptions(p, 0)
	busy := p.Duration("busy_timeout", 5*time.Second, 0, time.Hour)
	readers := max(4, runtime.GOMAXPROCS(0))
	pool := readPool(p, poolConfig{maxOpen: readers, maxIdle: readers})
	if err := p.Err(); err != nil {
		return nil, err
	}
	path, err := sqlitePath(u)
	if err != nil {
		return nil, err
	}
	if err := needDriver(SQLite); err != nil {
		return nil, err
	}
	if path == ":memory:" {
		// One connection, kept forever: each connection to :memory: is
		// a database of its own.
		open := new(atomic.Int64)
		db, err := openCachedDB("sqlite", ":memory:?_pragma=foreign_keys(1)", open)
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
		o.CreateTable = true
		s, err := newStore(ctx, config{d: SQLite, r: db, w: db, owned: []*sql.DB{db}, where: "sqlite in-memory database (lost on Close)", cached: open}, &o)
		if err != nil {
			db.Close()
			return nil, err
		}
		return s, nil
	}
	where := "sqlite database " + path
	if st, err := os.Stat(filepath.Dir(path)); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("%w: sqlstore: %s: directory %s does not exist", sessions.ErrBadConfig, where, filepath.Dir(path))
	}
	mode := "rwc"
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if !o.CreateTable {
			table := o.Table
			if table == "" {
				table = defaultTable
			}
			return nil, fmt.Errorf("sqlstore: %s: %w: the file does not exist, so neither does table %q; create it with Django (python manage.py migrate sessions), or set create_table=true in the URL to create the file and the table as Django's migration does",
				where, ErrNoTable, table)
		}
	} else if !o.CreateTable {
		mode = "rw"
	}
	file := "file:" + (&url.URL{Path: filepath.ToSlash(path)}).EscapedPath()
	ms := strconv.FormatInt(busy.Milliseconds(), 10)
	common := "mode=" + mode + "&_pragma=busy_timeout(" + ms + ")&_pragma=foreign_keys(1)"
	// The writer: one connection, so that writers queue in the pool
	// instead of fighting over SQLite's lock; BEGIN IMMEDIATE for the
	// table creation.
	open := new(atomic.Int64) // the statements of both pools' connections
	w, err := openCachedDB("sqlite", file+"?"+common+"&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate", open)
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// Open the writer first: it creates the file and switches it to WAL
	// before any reader looks.
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlstore: %s: %w", where, err)
	}
	// The readers: a pool of read-only connections; in WAL mode they
	// never block the writer nor wait for it.
	r, err := openCachedDB("sqlite", file+"?"+common+"&_pragma=query_only(1)", open)
	if err != nil {
		w.Close()
		return nil, err
	}
	pool.apply(r)
	s, err := newStore(ctx, config{d: SQLite, r: r, w: w, owned: []*sql.DB{r, w}, where: where, cached: open}, &o)
	if err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	return s, nil
}

// --- PostgreSQL --------------------------------------------------------------

// pgParams are the parameters passed on to pgx: its connection settings
// and the usual run-time parameters.
var pgParams = []string{
	"host", "port", "dbname", "user", "password", "passfile", "service", "servicefile",
	"connect_timeout", "target_session_attrs",
	"sslmode", "sslrootcert", "sslcert", "sslkey", "sslpassword", "sslsni", "krbsrvname", "krbspn",
	"application_name", "search_path", "statement_timeout", "lock_timeout",
	"idle_in_transaction_session_timeout", "options",
}

func openPostgres(ctx context.Context, u *url.URL, _ sessions.Settings) (sessions.Backend, error) {
	p := sessions.ParseParams(u)
	o := readOptions(p, serverQueryTimeout)
	// As many idle connections as open ones: under load, a connection
	// given back while the idle list is full is closed, and the next
	// request opens (and prepares) a new one; idle connections still go
	// after conn_max_idle_time.
	pool := readPool(p, poolConfig{maxOpen: 20, maxIdle: 20, lifetime: 30 * time.Minute, idleTime: 5 * time.Minute})
	pass := passThrough(p, u, pgParams)
	if err := p.Err(); err != nil {
		return nil, err
	}
	if u.Opaque != "" {
		return nil, fmt.Errorf("%w: use postgres://user:password@host:5432/dbname", sessions.ErrBadConfig)
	}
	if err := pgGivenTwice(u, pass); err != nil {
		return nil, err
	}
	if err := needDriver(Postgres); err != nil {
		return nil, err
	}
	if !pass.Has("connect_timeout") {
		pass.Set("connect_timeout", "10")
	}
	dsn := *u
	dsn.Scheme = "postgres"
	// pgx decodes a query as libpq does: a '+' is a plus sign, not a
	// space (Encode writes a space as '+' and a plus sign as %2B).
	dsn.RawQuery = strings.ReplaceAll(pass.Encode(), "+", "%20")
	dsn.Fragment, dsn.RawFragment = "", ""
	where := "postgres database " + location(u)
	db, err := sql.Open("pgx", dsn.String())
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %s: %w", where, err)
	}
	return openServer(ctx, db, Postgres, pool, where, &o, nil)
}

// pgGivenTwice rejects a connection setting given both in the URL and
// as a parameter (postgres://u:pw@h/db?password=other): pgx would take
// the parameter and silently ignore the other. It also rejects a path of
// more than one database name.
func pgGivenTwice(u *url.URL, pass url.Values) error {
	_, hasPassword := u.User.Password()
	dbname := strings.TrimPrefix(u.EscapedPath(), "/")
	for _, c := range []struct {
		inURL bool
		param string
		where string
	}{
		{u.User != nil && u.User.Username() != "", "user", "the user name"},
		{hasPassword, "password", "the password"},
		{u.Hostname() != "", "host", "the host"},
		{u.Port() != "", "port", "the port"},
		{dbname != "", "dbname", "the database name"},
	} {
		if c.inURL && pass.Has(c.param) {
			return fmt.Errorf("%w: %s is given twice, in the URL and as %s=; give it once", sessions.ErrBadConfig, c.where, c.param)
		}
	}
	if strings.Contains(dbname, "/") {
		return fmt.Errorf("%w: a postgres URL names one database: postgres://user:password@host:5432/dbname", sessions.ErrBadConfig)
	}
	return nil
}

// openServer finishes opening a PostgreSQL or MySQL store. cached is
// the statement count of a pool opened with openCachedDB, or nil.
func openServer(ctx context.Context, db *sql.DB, d Dialect, pool poolConfig, where string, o *Options, cached *atomic.Int64) (sessions.Engine, error) {
	pool.apply(db)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlstore: cannot connect to %s: %w", where, err)
	}
	s, err := newStore(ctx, config{d: d, r: db, w: db, owned: []*sql.DB{db}, where: where, cached: cached}, o)
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// --- MySQL ---------------------------------------------------------------------

// mysqlParams are the go-sql-driver/mysql parameters passed on. Those the
// store depends on (parseTime, loc, clientFoundRows, interpolateParams,
// multiStatements, time_zone) are set by the store and cannot be changed.
var mysqlParams = []string{
	"tls", "timeout", "readTimeout", "writeTimeout", "charset", "collation",
	"allowCleartextPasswords", "allowNativePasswords", "allowOldPasswords", "allowFallbackToPlaintext",
	"serverPubKey", "maxAllowedPacket", "connectionAttributes", "compress", "rejectReadOnly",
	"checkConnLiveness",
}

func openMySQL(ctx context.Context, u *url.URL, _ sessions.Settings) (sessions.Backend, error) {
	p := sessions.ParseParams(u)
	o := readOptions(p, serverQueryTimeout)
	pool := readPool(p, poolConfig{maxOpen: 20, maxIdle: 20, lifetime: 30 * time.Minute, idleTime: 5 * time.Minute})
	socket := p.String("socket", "")
	pass := passThrough(p, u, mysqlParams)
	if err := p.Err(); err != nil {
		return nil, err
	}
	const form = "use mysql://user:password@host:3306/dbname"
	if u.Opaque != "" {
		return nil, fmt.Errorf("%w: %s", sessions.ErrBadConfig, form)
	}
	dbname := strings.TrimPrefix(u.Path, "/")
	if dbname == "" || strings.Contains(dbname, "/") {
		return nil, fmt.Errorf("%w: a mysql URL names one database: %s", sessions.ErrBadConfig, form)
	}
	if err := needDriver(MySQL); err != nil {
		return nil, err
	}
	var addr string
	switch {
	case socket != "":
		if u.Host != "" {
			return nil, fmt.Errorf("%w: a mysql URL has either a host or a socket parameter, not both", sessions.ErrBadConfig)
		}
		addr = "unix(" + socket + ")"
	default:
		host := u.Host
		if host == "" {
			host = "127.0.0.1"
		}
		if u.Port() == "" {
			host = net.JoinHostPort(strings.Trim(host, "[]"), "3306")
		}
		addr = "tcp(" + host + ")"
	}
	var b strings.Builder
	if u.User != nil {
		b.WriteString(u.User.Username())
		if pw, ok := u.User.Password(); ok {
			b.WriteString(":" + pw)
		}
		b.WriteString("@")
	}
	b.WriteString(addr + "/" + dbname)
	q := url.Values{}
	for k, v := range pass {
		q[k] = v
	}
	if !q.Has("timeout") {
		q.Set("timeout", "10s")
	}
	q.Set("parseTime", "true")
	q.Set("loc", "UTC")
	q.Set("clientFoundRows", "true")
	q.Set("time_zone", "'+00:00'")
	b.WriteString("?" + q.Encode())
	where := "mysql database " + location(u)
	// The statements run on the driver's, cached per connection
	// (stmtcache.go): go-sql-driver/mysql watches a query's context on
	// its connection, so database/sql's goroutine per query is not needed.
	open := new(atomic.Int64)
	db, err := openCachedDB("mysql", b.String(), open)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %s: %v", where, redactErr(err, u))
	}
	return openServer(ctx, db, MySQL, pool, where, &o, open)
}

// redactErr removes a URL's password from an error's text.
func redactErr(err error, u *url.URL) error {
	if u.User == nil {
		return err
	}
	pw, ok := u.User.Password()
	if !ok || pw == "" || !strings.Contains(err.Error(), pw) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), pw, "xxxxx"))
}
