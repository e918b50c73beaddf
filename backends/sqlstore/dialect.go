package sqlstore

import (
	"crypto/md5"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-sql-driver/mysql"
)

// Dialect is the SQL dialect of a database: [SQLite], [Postgres] or
// [MySQL] (MariaDB included). It decides the table's DDL, identifier
// quoting, placeholders, how expire_date is written, and how the
// driver's errors are read.
type Dialect int

// The supported dialects.
const (
	// SQLite, through modernc.org/sqlite (driver name "sqlite").
	SQLite Dialect = iota + 1
	// Postgres is PostgreSQL, through github.com/jackc/pgx/v5/stdlib
	// (driver name "pgx").
	Postgres
	// MySQL is MySQL or MariaDB, through github.com/go-sql-driver/mysql
	// (driver name "mysql").
	MySQL
)

// String returns the dialect's engine scheme: "sqlite", "postgres" or
// "mysql".
func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgres"
	case MySQL:
		return "mysql"
	}
	return "Dialect(" + strconv.Itoa(int(d)) + ")"
}

// driverName returns the database/sql driver name the URL opener uses for
// this dialect: "sqlite", "pgx" or "mysql".
func (d Dialect) driverName() string {
	switch d {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "pgx"
	case MySQL:
		return "mysql"
	}
	return ""
}

// driverImport is the blank import that registers the dialect's driver.
func (d Dialect) driverImport() string {
	switch d {
	case SQLite:
		return "modernc.org/sqlite"
	case Postgres:
		return "github.com/jackc/pgx/v5/stdlib"
	case MySQL:
		return "github.com/go-sql-driver/mysql"
	}
	return ""
}

func (d Dialect) valid() bool { return d >= SQLite && d <= MySQL }

// maxNameLength is Django's connection.ops.max_name_length(): the
// identifier limit index names are shortened to (SQLite has none; Django
// then uses 200).
func (d Dialect) maxNameLength() int {
	switch d {
	case Postgres:
		return 63
	case MySQL:
		return 64
	}
	return 200
}

// quote quotes an identifier: "name" on SQLite and PostgreSQL, `name` on
// MySQL, with the quote character doubled inside.
func (d Dialect) quote(name string) string {
	if d == MySQL {
		return "`" + strings.ReplaceAll(name, "`", "``") + "`"
	}
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// checkTable validates a table name: one identifier, not empty, no control
// characters, within the database's identifier limit.
func (d Dialect) checkTable(name string) error {
	if name == "" {
		return errors.New("table name is empty")
	}
	if !utf8.ValidString(name) {
		return errors.New("table name is not valid UTF-8")
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return errors.New("table name contains a control character")
		}
	}
	if n := d.maxNameLength(); len(name) > n {
		return fmt.Errorf("table name is longer than %d bytes, the %s limit", n, d)
	}
	return nil
}

// CreateTableSQL returns the statements Django's migration
// sessions.0001_initial runs to create the session table on this
// database, for a table named table (Django's is "django_session"),
// without trailing semicolons. Index names follow Django's rule (table,
// column and a hash of both), so a table created from these statements is
// the one Django would create.
func (d Dialect) CreateTableSQL(table string) []string {
	q := d.quote
	expireIdx := q(indexName(table, "expire_date", "", d.maxNameLength()))
	switch d {
	case SQLite:
		return []string{
			"CREATE TABLE " + q(table) + ` ("session_key" varchar(40) NOT NULL PRIMARY KEY, "session_data" text NOT NULL, "expire_date" datetime NOT NULL)`,
			"CREATE INDEX " + expireIdx + " ON " + q(table) + ` ("expire_date")`,
		}
	case Postgres:
		return []string{
			"CREATE TABLE " + q(table) + ` ("session_key" varchar(40) NOT NULL PRIMARY KEY, "session_data" text NOT NULL, "expire_date" timestamp with time zone NOT NULL)`,
			"CREATE INDEX " + q(indexName(table, "session_key", "_like", d.maxNameLength())) + " ON " + q(table) + ` ("session_key" varchar_pattern_ops)`,
			"CREATE INDEX " + expireIdx + " ON " + q(table) + ` ("expire_date")`,
		}
	case MySQL:
		return []string{
			"CREATE TABLE " + q(table) + " (`session_key` varchar(40) NOT NULL PRIMARY KEY, `session_data` longtext NOT NULL, `expire_date` datetime(6) NOT NULL)",
			"CREATE INDEX " + expireIdx + " ON " + q(table) + " (`expire_date`)",
		}
	}
	return nil
}

// indexName is Django's BaseDatabaseSchemaEditor._create_index_name for
// one column: "<table>_<column>_<md5(table+column)[:8]><suffix>", shortened
// the way Django shortens it when longer than maxLen. Lengths and slices
// count characters, as Python does.
func indexName(table, column, suffix string, maxLen int) string {
	sum := md5.Sum([]byte(table + column))
	hashSuffix := hex.EncodeToString(sum[:])[:8] + suffix
	name := table + "_" + column + "_" + hashSuffix
	if utf8.RuneCountInString(name) <= maxLen {
		return name
	}
	hs := []rune(hashSuffix)
	if float64(len(hs)) > float64(maxLen)/3 {
		hs = hs[:maxLen/3]
	}
	other := (maxLen-len(hs))/2 - 1
	cut := func(s string) string {
		r := []rune(s)
		if len(r) > other {
			r = r[:other]
		}
		return string(r)
	}
	name = cut(table) + "_" + cut(column) + "_" + string(hs)
	if r, _ := utf8.DecodeRuneInString(name); r == '_' || unicode.IsDigit(r) {
		rs := []rune(name)
		name = "D" + string(rs[:len(rs)-1])
	}
	return name
}

// --- time ----------------------------------------------------------------------

// Bounds of a stored expire_date: MySQL's datetime and Python's datetime
// stop at year 9999, and a naive text date must keep four year digits to
// sort correctly. Earlier expiries are all equally expired.
var (
	minExpiry = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxExpiry = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
)

// clampExpiry returns t in UTC, truncated to microseconds (what every
// database keeps) and clamped to what the column can hold.
func clampExpiry(t time.Time) time.Time {
	t = t.UTC().Truncate(time.Microsecond)
	if t.Before(minExpiry) {
		return minExpiry
	}
	if t.After(maxExpiry) {
		return maxExpiry
	}
	return t
}

// FormatTime returns t as Django stores a datetime in SQLite with
// USE_TZ=True: Python's str() of the naive UTC datetime,
// "YYYY-MM-DD HH:MM:SS" followed by ".ffffff" unless the microseconds are
// zero. Such strings sort in time order.
func FormatTime(t time.Time) string {
	var buf [len("2006-01-02 15:04:05.000000")]byte
	return string(appendTime(buf[:0], t))
}

// appendTime appends FormatTime(t) to b: by hand for years 0 to 9999
// (every stored expiry; time.Format costs a tenth of a Load on SQLite),
// through time.Format otherwise.
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	us := t.Nanosecond() / 1000
	if year < 0 || year > 9999 {
		if us == 0 {
			return t.AppendFormat(b, "2006-01-02 15:04:05")
		}
		return t.AppendFormat(b, "2006-01-02 15:04:05.000000")
	}
	hour, minute, sec := t.Clock()
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, ' ')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	if us != 0 {
		b = append(b, '.')
		b = appendDigits(b, us, 6)
	}
	return b
}

// appendDigits appends the n last decimal digits of v >= 0, zero-padded.
func appendDigits(b []byte, v, n int) []byte {
	b = append(b, "000000"[:n]...)
	for i := len(b) - 1; i >= len(b)-n; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return b
}

// timeArg is the query argument for a datetime: the naive UTC text on
// SQLite (compared as text, as Django does) and MySQL (converted by the
// server whatever the driver's loc setting), an instant on PostgreSQL's
// timestamptz.
// later is the SQL of the later of two expire_date values: GREATEST on
// PostgreSQL and MySQL, the scalar MAX on SQLite (its times are text in
// FormatTime's fixed-width layout, which sorts as the times do).
func (d Dialect) later(a, b string) string {
	if d == SQLite {
		return "MAX(" + a + ", " + b + ")"
	}
	return "GREATEST(" + a + ", " + b + ")"
}

func (d Dialect) timeArg(t time.Time) any {
	t = t.UTC().Truncate(time.Microsecond)
	if d == Postgres {
		return t
	}
	return FormatTime(t)
}

// --- errors --------------------------------------------------------------------

// The driver's error values: modernc.org/sqlite's *Error has Code() int
// and pgconn's *PgError has SQLState() string, read through those methods
// without importing the two drivers; go-sql-driver's *MySQLError has only
// fields, so the package imports it (which registers the "mysql" driver).

func sqliteCode(err error) (int, bool) {
	var c interface{ Code() int }
	if errors.As(err, &c) {
		return c.Code(), true
	}
	return 0, false
}

func sqlState(err error) string {
	var s interface{ SQLState() string }
	if errors.As(err, &s) {
		return s.SQLState()
	}
	return ""
}

// mysqlNumber returns the server's error number of a MySQL error.
func mysqlNumber(err error) (uint16, bool) {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number, true
	}
	return 0, false
}

// MySQL's error numbers read here.
const (
	mysqlDupEntry       = 1062 // ER_DUP_ENTRY
	mysqlDupKeyName     = 1061 // ER_DUP_KEYNAME
	mysqlTableExists    = 1050 // ER_TABLE_EXISTS_ERROR
	mysqlServerShutdown = 1053 // ER_SERVER_SHUTDOWN
	mysqlServerGone     = 2006 // CR_SERVER_GONE_ERROR
	mysqlServerLost     = 2013 // CR_SERVER_LOST
)

// SQLite result codes.
const (
	sqliteBusy   = 5
	sqliteLocked = 6
	// extended codes
	sqliteConstraintPrimaryKey = 1555
	sqliteConstraintUnique     = 2067
)

// isUniqueViolation reports whether err is the database refusing a
// duplicate primary key.
func (d Dialect) isUniqueViolation(err error) bool {
	switch d {
	case SQLite:
		c, ok := sqliteCode(err)
		return ok && (c == sqliteConstraintPrimaryKey || c == sqliteConstraintUnique)
	case Postgres:
		return sqlState(err) == "23505"
	case MySQL:
		n, ok := mysqlNumber(err)
		return ok && n == mysqlDupEntry
	}
	return false
}

// isDuplicateObject reports whether err says that a table or an index of
// that name exists (PostgreSQL 42P07, or 23505 from a concurrent CREATE;
// MySQL 1050 and 1061).
func (d Dialect) isDuplicateObject(err error) bool {
	switch d {
	case Postgres:
		s := sqlState(err)
		return s == "42P07" || s == "23505"
	case MySQL:
		n, ok := mysqlNumber(err)
		return ok && (n == mysqlDupKeyName || n == mysqlTableExists)
	case SQLite:
		return err != nil && strings.Contains(err.Error(), "already exists")
	}
	return false
}

// retryable reports whether err says that the connection a statement
// was sent on is dead, so that the statement did not run and can be sent
// again on another: a server that was restarted leaves idle connections
// behind that fail once each. (database/sql retries driver.ErrBadConn
// itself; this covers what drivers report otherwise.)
func (d Dialect) retryable(err error) bool {
	if errors.Is(err, driver.ErrBadConn) {
		return true
	}
	switch d {
	case Postgres:
		// admin_shutdown, crash_shutdown, cannot_connect_now; class 08:
		// connection exceptions.
		st := sqlState(err)
		return st == "57P01" || st == "57P02" || st == "57P03" || strings.HasPrefix(st, "08")
	case MySQL:
		// Server shutdown in progress, server has gone away, lost
		// connection; go-sql-driver's ErrInvalidConn.
		if n, ok := mysqlNumber(err); ok {
			return n == mysqlServerShutdown || n == mysqlServerGone || n == mysqlServerLost
		}
		return errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, mysql.ErrInvalidConn)
	}
	return false
}

// isBusy reports whether err is SQLite's "database is locked".
func isBusy(err error) bool {
	c, ok := sqliteCode(err)
	return ok && (c&0xff == sqliteBusy || c&0xff == sqliteLocked)
}
