package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/sqlstore"
	"github.com/sessionkit/sessions/internal/testservers"
	_ "modernc.org/sqlite"
)

// backend opens stores of one dialect on a real database.
type backend struct {
	name    string
	dialect sqlstore.Dialect
	// base returns the URL of the database (a fresh SQLite file in a
	// test's temp dir; the shared server's database otherwise), without
	// query.
	base func(t testing.TB) string
}

var backends = []backend{
	{name: "SQLite", dialect: sqlstore.SQLite, base: func(t testing.TB) string {
		return "sqlite://" + filepath.ToSlash(filepath.Join(t.TempDir(), "sessions.sqlite3"))
	}},
	{name: "Postgres", dialect: sqlstore.Postgres, base: func(t testing.TB) string {
		u := testservers.SharedPostgres(t).URL()
		return strings.TrimSuffix(u, "?sslmode=disable")
	}},
	{name: "MariaDB", dialect: sqlstore.MySQL, base: func(t testing.TB) string {
		return testservers.SharedMariaDB(t).URL()
	}},
}

// forEach runs f as a subtest per backend.
func forEach(t *testing.T, f func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { f(t, b) })
	}
}

var tableSeq atomic.Int64

// uniqueTable returns a table name no other test uses.
func uniqueTable(prefix string) string {
	return fmt.Sprintf("%s_%d_%d", prefix, time.Now().UnixNano()%1e9, tableSeq.Add(1))
}

// withParams appends query parameters to a URL.
func withParams(u string, params ...string) string {
	if len(params) == 0 {
		return u
	}
	q := url.Values{}
	for i := 0; i+1 < len(params); i += 2 {
		q.Add(params[i], params[i+1])
	}
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + q.Encode()
}

// open opens a store from a URL through the registry, closing it at the
// end of the test.
func open(t testing.TB, rawURL string) *sqlstore.Store {
	t.Helper()
	e, err := sessions.OpenEngine(context.Background(), rawURL, sessions.DefaultSettings())
	if err != nil {
		t.Fatalf("OpenEngine(%s): %v", sessions.Redact(rawURL), err)
	}
	s, ok := e.(*sqlstore.Store)
	if !ok {
		t.Fatalf("OpenEngine returned %T", e)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// fresh opens a store over a new table of its own.
func fresh(t testing.TB, b backend, params ...string) *sqlstore.Store {
	t.Helper()
	return open(t, withParams(b.base(t), append([]string{"table", uniqueTable("t"), "create_table", "true"}, params...)...))
}

// raw returns a pool for inspecting and writing rows by hand: the
// store's writer pool (a plain pool on PostgreSQL and MySQL, the single
// writer connection on SQLite).
func raw(s *sqlstore.Store) *sql.DB {
	_, w := s.DB()
	return w
}

// ph returns the n-th placeholder of the dialect.
func ph(d sqlstore.Dialect, n int) string {
	if d == sqlstore.Postgres {
		return fmt.Sprintf("$%d", n)
	}
	return "?"
}

// quote quotes an identifier for hand-written test SQL.
func quote(d sqlstore.Dialect, name string) string {
	if d == sqlstore.MySQL {
		return "`" + strings.ReplaceAll(name, "`", "``") + "`"
	}
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// insertRaw writes a row by hand, the way Django would.
func insertRaw(t testing.TB, b backend, db *sql.DB, table, key, data string, expire any) {
	t.Helper()
	q := fmt.Sprintf("INSERT INTO %s (session_key, session_data, expire_date) VALUES (%s, %s, %s)",
		quote(b.dialect, table), ph(b.dialect, 1), ph(b.dialect, 2), ph(b.dialect, 3))
	if _, err := db.Exec(q, key, data, expire); err != nil {
		t.Fatalf("insert by hand: %v", err)
	}
}

// countRows counts the rows of a table.
func countRows(t testing.TB, b backend, db *sql.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM " + quote(b.dialect, table)).Scan(&n); err != nil {
		t.Fatalf("count: %v", err)
	}
	return n
}

// djangoExpire is an expiry as Django would pass it to each database:
// naive UTC text for SQLite and MySQL, an instant for PostgreSQL.
func djangoExpire(d sqlstore.Dialect, t time.Time) any {
	if d == sqlstore.Postgres {
		return t.UTC()
	}
	return sqlstore.FormatTime(t)
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}
