// Package sqlstore is Django's db session engine over database/sql: the
// sessions live in Django's own django_session table, on SQLite,
// PostgreSQL or MySQL/MariaDB, in the format Django writes, so a Go
// service and a Django app can share them.
//
// Import the driver your database needs (or
// github.com/sessionkit/sessions/all, which imports all three):
//
//	import _ "modernc.org/sqlite"               // sqlite:   (pure Go)
//	import _ "github.com/jackc/pgx/v5/stdlib"   // postgres:
//	import _ "github.com/go-sql-driver/mysql"   // mysql:
//
// Opening a URL without its driver fails with an error naming the import.
// The package itself imports go-sql-driver/mysql, whose errors it reads
// (*mysql.MySQLError), so the "mysql" driver is always registered.
//
// # URLs
//
//	sqlite:///var/lib/app/sessions.sqlite3   an absolute path
//	sqlite:db.sqlite3                        a path relative to the working directory
//	                                         (Django's "db" engine name without a
//	                                         DatabaseURL means exactly this)
//	sqlite::memory:                          a private in-memory database (for tests)
//	postgres://user:password@host:5432/dbname?sslmode=require
//	postgres://user@/dbname?host=/var/run/postgresql
//	mysql://user:password@host:3306/dbname
//	mysql://user@/dbname?socket=/run/mysqld/mysqld.sock
//
// The schemes sqlite3 and postgresql are aliases. Parameters of every
// database:
//
//	table=django_session    the session table (one identifier; quoted in every statement)
//	create_table=false      create the table, exactly as Django's migration does, if missing
//	batch_size=10000        rows per DELETE in DeleteExpired
//	max_data_size=0         refuse data over this many bytes (ErrTooLarge); 0: no engine limit
//	query_timeout=10s       end a request's call the database has not answered after this
//	                        long (PostgreSQL and MySQL: 10s; SQLite: 0, none); 0: no limit
//	max_open_conns, max_idle_conns, conn_max_lifetime, conn_max_idle_time
//	                        the database/sql pool (SQLite: the pool of readers;
//	                        PostgreSQL and MySQL: 20 open, 20 idle, 30m, 5m)
//
// SQLite also takes busy_timeout (default 5s). PostgreSQL passes on pgx's
// connection parameters (sslmode, sslrootcert, sslcert, sslkey, host,
// connect_timeout, application_name, search_path, statement_timeout and
// the like). MySQL passes on go-sql-driver/mysql's (tls, timeout,
// readTimeout, writeTimeout, charset, collation...) and takes socket for a
// unix socket; parseTime, loc=UTC, clientFoundRows and time_zone='+00:00'
// are set by the store. Any other parameter is an error, so a typo is not
// ignored. Passwords never appear in errors or in Describe.
//
// A SQLite database opened from a URL runs in WAL mode with
// synchronous=NORMAL, foreign keys on and a busy timeout, through two
// pools: one connection that does every write, so concurrent requests
// queue for it instead of failing with "database is locked", and a pool of
// read-only connections that WAL lets read while the writer writes. Every
// statement is prepared once per connection, and a request's statements
// run on the driver's statements directly (through sql.Conn.Raw), not
// through database/sql's *sql.Stmt, whose rows cost a goroutine and a
// context.WithCancel per query under a cancellable context (about as much
// CPU as the rest of a Load); modernc.org/sqlite watches the context
// itself while a statement runs (sqlite3_interrupt, and the end of a
// wait for a lock), so cancellation and deadlines hold as before. Each
// connection of these pools owns its statements and finalizes them when
// database/sql closes it (after conn_max_lifetime or conn_max_idle_time,
// when the pool has too many idle connections, when the connection went
// bad, on Close). That is why this is done only for pools the store
// opens: a pool given to [New] keeps *sql.Stmt, because nothing tells the
// store when database/sql closes one of that pool's connections, and a
// statement left on a closed SQLite connection keeps the database file
// open and its memory allocated until it is finalized. The pools'
// sql.Conn.Raw gives the store's connection, not the driver's.
//
// A MySQL or MariaDB pool opened from a URL runs its statements the same
// way, prepared once per connection and finalized with it:
// go-sql-driver/mysql watches a statement's context on its connection
// (and closes the connection when the context ends mid-statement).
//
// On PostgreSQL through pgx (the URL opener's driver, or a pool opened
// with github.com/jackc/pgx/v5/stdlib), a request's statements go to pgx
// on a connection of the pool, prepared and cached per connection by
// pgx, rather than through database/sql's statements, whose rows cost a
// goroutine per query under a cancellable context.
//
// Over a SQLite pool of github.com/mattn/go-sqlite3 given to [New], the
// statements that read or write one session run without the request's
// cancellation (context.WithoutCancel) when the pool has a connection to
// give at once, which spares database/sql's goroutine per query and
// mattn's per row read and Exec. mattn cannot end a statement's wait for
// SQLite's write lock when its context ends (the busy handler sleeps until
// the lock is free or busy_timeout has passed), and nothing else in a
// one-row statement lasts, so the context bought nothing there; it is
// still checked before the statement, a failed statement of a request
// whose context ended still answers the context's error, and a wait for a
// connection of a busy pool still ends with the request (the statement
// then runs under the request's context, as before). Other drivers keep
// the context throughout.
//
// # Outages
//
// A request's context has no deadline (net/http ends it only when the
// client goes away), so a database that stops answering (paused,
// overloaded, its network dropping packets) would hold every request, and
// a connection of the pool each, for as long as it lasts. A call made for
// a request (Load, LoadExpiry, Create, Update, Touch, Swap, Delete and
// the user index's calls) therefore ends after query_timeout
// ([Options.QueryTimeout]; 10 s on PostgreSQL and MySQL) with an error
// that says so and matches context.DeadlineExceeded; the Manager hands it
// to Settings.ErrorHandler (500 by default). The driver closes the
// connection a statement was cut off on, so no later call reads its
// reply. A statement already sent may still
// take effect once the server answers again, as with any request that
// times out. A refused connection fails at once, a connection that is
// never accepted after connect_timeout (PostgreSQL) or timeout (MySQL),
// both 10 s. DeleteExpired, List and Count run under the caller's
// context alone: give them a deadline.
//
// The pool bounds the connections a stalled database costs the process,
// however many requests pile up: max_open_conns, whose calls wait for a
// connection no longer than query_timeout. On PostgreSQL, pgx closes a
// connection whose statement was cut off in the background: it first
// sends the server a cancel request, on a connection of its own, and
// waits up to 15 s for that and for the server to end the old one. So a
// database that stalls under load can hold about three times
// max_open_conns connections (and file descriptors) for those 15 s: the
// pool's new ones, and the two of each connection being closed (up to
// 3.6 times measured, on a busy machine). MySQL's driver closes such a
// connection at once.
//
// [New] wraps a *sql.DB the application already has.
//
// # Table
//
// Django's model Session, created by migration sessions.0001_initial; on
// SQLite:
//
//	CREATE TABLE "django_session" ("session_key" varchar(40) NOT NULL PRIMARY KEY,
//	  "session_data" text NOT NULL, "expire_date" datetime NOT NULL);
//	CREATE INDEX "django_session_expire_date_a5c62663" ON "django_session" ("expire_date");
//
// PostgreSQL has timestamp with time zone and a second index,
// "django_session_session_key_c0390e0f_like" (varchar_pattern_ops); MySQL
// has longtext and datetime(6). [Dialect.CreateTableSQL] returns the
// statements for each database and any table name, with Django's index
// names. By default the table must exist: a missing one gives an error
// matching [ErrNoTable] that names it and says how to create it. With
// create_table=true ([Options.CreateTable]) the store creates it.
//
// # Expiry
//
// expire_date is stored as Django stores it with USE_TZ=True: in UTC, as
// naive text "YYYY-MM-DD HH:MM:SS[.ffffff]" on SQLite (Python's str of the
// datetime; see [FormatTime]), timestamptz on PostgreSQL, naive datetime(6)
// on MySQL, to the microsecond. Load only returns a row whose expire_date
// is after now, with now taken from Go's clock and passed as a parameter,
// as Django does; so an expired session is never returned, though its row
// stays until DeleteExpired (Django's clearsessions; sessions.Manager's
// ClearExpired) removes it, in batches of batch_size rows, each a
// transaction of its own, so that millions of expired rows do not hold a
// lock for long. Create takes over the row of an expired session with the
// same key.
//
// Update, Touch and Swap only change a live row; a session deleted or
// expired meanwhile gives ErrNotFound instead of coming back. Swap is one
// UPDATE ... WHERE session_key = ? AND session_data = ?, so the Manager can
// merge concurrent changes to a session on Django's unchanged table.
//
// # Sharing the table with Django
//
// Point both at the same database and table, with the same SECRET_KEY (and
// SECRET_KEY_FALLBACKS), and leave create_table off: Django's migrations
// own the table. Django must run with USE_TZ=True (the default since
// Django 5.0), so that both sides read expire_date as UTC. Sessions
// written by either side are read by the other; logging out on one side
// deletes the row for both. Opening a SQLite file switches it to WAL mode,
// which Django handles as any SQLite client does (the -wal and -shm files
// appear next to the database). Run clearsessions from either side, not
// both at once.
//
// # Errors
//
// Methods return errors matching sessions.ErrNotFound, ErrExists,
// ErrConflict, ErrTooLarge, ErrClosed for a call that Close interrupts,
// and the context's error when it ends. Keys, data and user IDs are
// always passed as parameters, never spliced into SQL. Other
// failures wrap the driver's error (so errors.As finds *pgconn.PgError,
// *mysql.MySQLError or *sqlite.Error) and say which database failed, without
// credentials. A database that goes away makes requests fail with that
// error (the Manager hands it to Settings.ErrorHandler); database/sql
// reconnects when it is back, without restarting the application.
//
// session_data is a text column. Django's encoded sessions are ASCII and
// are stored as they are; data that is not UTF-8 text, or holds NUL bytes
// (which PostgreSQL and MySQL refuse in text), is stored base64-encoded
// behind a marker and decoded again by Load, so the engine stores any
// bytes.
package sqlstore
