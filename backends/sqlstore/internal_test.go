package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/sessionkit/sessions"
)

// Index names computed by Django 4.2's
// BaseDatabaseSchemaEditor._create_index_name with max_name_length 200
// (SQLite), 63 (PostgreSQL) and 64 (MySQL).
var djangoIndexNames = []struct {
	maxLen                      int
	table, column, suffix, want string
}{
	{200, "django_session", "expire_date", "", "django_session_expire_date_a5c62663"},
	{200, "django_session", "session_key", "_like", "django_session_session_key_c0390e0f_like"},
	{200, "my_sessions", "expire_date", "", "my_sessions_expire_date_8a6b8a8d"},
	{200, "my_sessions", "session_key", "_like", "my_sessions_session_key_769390aa_like"},
	{200, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "expire_date", "", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa_expire_date_c5734a60"},
	{200, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "session_key", "_like", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa_session_key_7c461132_like"},
	{200, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "expire_date", "", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx_expire_date_23864aba"},
	{200, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "session_key", "_like", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx_session_key_b1f591f0_like"},
	{200, "_under", "expire_date", "", "_under_expire_date_6e2fb257"},
	{200, "_under", "session_key", "_like", "_under_session_key_7b090f8a_like"},
	{200, "9lives_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", "expire_date", "", "9lives_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz_expire_date_b13005fb"},
	{200, "9lives_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", "session_key", "_like", "9lives_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz_session_key_05f5ea5d_like"},
	{200, "Sessions Ünïcode täble Sessions Ünïcode täble Sessions Ünïcode täble ", "expire_date", "", "Sessions Ünïcode täble Sessions Ünïcode täble Sessions Ünïcode täble _expire_date_6412a70f"},
	{200, "Sessions Ünïcode täble Sessions Ünïcode täble Sessions Ünïcode täble ", "session_key", "_like", "Sessions Ünïcode täble Sessions Ünïcode täble Sessions Ünïcode täble _session_key_15867428_like"},
	{63, "django_session", "expire_date", "", "django_session_expire_date_a5c62663"},
	{63, "django_session", "session_key", "_like", "django_session_session_key_c0390e0f_like"},
	{63, "my_sessions", "expire_date", "", "my_sessions_expire_date_8a6b8a8d"},
	{63, "my_sessions", "session_key", "_like", "my_sessions_session_key_769390aa_like"},
	{63, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "expire_date", "", "aaaaaaaaaaaaaaaaaaaaaaaaaa_expire_date_c5734a60"},
	{63, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "session_key", "_like", "aaaaaaaaaaaaaaaaaaaaaaaa_session_key_7c461132_like"},
	{63, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "expire_date", "", "xxxxxxxxxxxxxxxxxxxxxxxxxx_expire_date_23864aba"},
	{63, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "session_key", "_like", "xxxxxxxxxxxxxxxxxxxxxxxx_session_key_b1f591f0_like"},
	{63, "_under", "expire_date", "", "_under_expire_date_6e2fb257"},
	{63, "_under", "session_key", "_like", "_under_session_key_7b090f8a_like"},
	{63, "9lives_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", "expire_date", "", "D9lives_zzzzzzzzzzzzzzzzzzz_expire_date_b13005f"},
	{63, "9lives_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", "session_key", "_like", "D9lives_zzzzzzzzzzzzzzzzz_session_key_05f5ea5d_lik"},
	{63, "Sessions Ünïcode täble Sessions Ünïcode täble Sessions Ünïcode täble ", "expire_date", "", "Sessions Ünïcode täble Ses_expire_date_6412a70f"},
	{63, "Sessions Ünïcode täble Sessions Ünïcode täble Sessions Ünïcode täble ", "session_key", "_like", "Sessions Ünïcode täble S_session_key_15867428_like"},
	{64, "django_session", "expire_date", "", "django_session_expire_date_a5c62663"},
	{64, "django_session", "session_key", "_like", "django_session_session_key_c0390e0f_like"},
	{64, "my_sessions", "expire_date", "", "my_sessions_expire_date_8a6b8a8d"},
	{64, "my_sessions", "session_key", "_like", "my_sessions_session_key_769390aa_like"},
	{64, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "expire_date", "", "aaaaaaaaaaaaaaaaaaaaaaaaaaa_expire_date_c5734a60"},
	{64, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "session_key", "_like", "aaaaaaaaaaaaaaaaaaaaaaaa_session_key_7c461132_like"},
	{64, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "expire_date", "", "xxxxxxxxxxxxxxxxxxxxxxxxxxx_expire_date_23864aba"},
	{64, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "session_key", "_like", "xxxxxxxxxxxxxxxxxxxxxxxx_session_key_b1f591f0_like"},
	{64, "_under", "expire_date", "", "_under_expire_date_6e2fb257"},
	{64, "_under", "session_key", "_like", "_under_session_key_7b090f8a_like"},
	{64, "9lives_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", "expire_date", "", "D9lives_zzzzzzzzzzzzzzzzzzzz_expire_date_b13005f"},
	{64, "9lives_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", "session_key", "_like", "D9lives_zzzzzzzzzzzzzzzzz_session_key_05f5ea5d_lik"},
	{64, "Sessions Ünïcode täble Sessions Ünïcode täble Sessions Ünïcode täble ", "expire_date", "", "Sessions Ünïcode täble Sess_expire_date_6412a70f"},
	{64, "Sessions Ünïcode täble Sessions Ünïcode täble Sessions Ünïcode täble ", "session_key", "_like", "Sessions Ünïcode täble S_session_key_15867428_like"},
}

func TestIndexNameMatchesDjango(t *testing.T) {
	for _, c := range djangoIndexNames {
		if got := indexName(c.table, c.column, c.suffix, c.maxLen); got != c.want {
			t.Errorf("indexName(%q, %q, %q, %d) = %q, want Django's %q", c.table, c.column, c.suffix, c.maxLen, got, c.want)
		}
	}
}

func TestFormatTimeIsPythonStr(t *testing.T) {
	for _, c := range []struct {
		t    time.Time
		want string
	}{
		{time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), "2030-01-02 03:04:05"},
		{time.Date(2030, 1, 2, 3, 4, 5, 123456789, time.UTC), "2030-01-02 03:04:05.123456"},
		{time.Date(2030, 1, 2, 3, 4, 5, 1000, time.UTC), "2030-01-02 03:04:05.000001"},
		{time.Date(2030, 1, 2, 3, 4, 5, 999, time.UTC), "2030-01-02 03:04:05"}, // below a microsecond
		{time.Date(2030, 1, 2, 5, 4, 5, 500000000, time.FixedZone("CEST", 2*3600)), "2030-01-02 03:04:05.500000"},
		{time.Date(5, 1, 1, 0, 0, 0, 0, time.UTC), "0005-01-01 00:00:00"},
	} {
		if got := FormatTime(c.t); got != c.want {
			t.Errorf("FormatTime(%v) = %q, want %q", c.t, got, c.want)
		}
	}
	// Text order is time order, fraction or not.
	a := FormatTime(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	b := FormatTime(time.Date(2030, 1, 2, 3, 4, 5, 1000, time.UTC))
	c := FormatTime(time.Date(2030, 1, 2, 3, 4, 6, 0, time.UTC))
	if !(a < b && b < c) {
		t.Errorf("text order broken: %q %q %q", a, b, c)
	}
}

// TestFormatTimeAgreesWithTimeFormat checks the hand-written formatting
// against time.Format's over random instants, years 0 to 9999 and
// beyond.
func TestFormatTimeAgreesWithTimeFormat(t *testing.T) {
	ref := func(t time.Time) string {
		t = t.UTC()
		if t.Nanosecond()/1000 == 0 {
			return t.Format("2006-01-02 15:04:05")
		}
		return t.Format("2006-01-02 15:04:05.000000")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	lo := time.Date(-20, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	hi := time.Date(10020, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	zones := []*time.Location{time.UTC, time.FixedZone("A", 5*3600+1800), time.FixedZone("B", -11*3600)}
	for i := range 200000 {
		sec := lo + rng.Int64N(hi-lo)
		nsec := rng.Int64N(1e9)
		switch i % 4 {
		case 0:
			nsec = 0
		case 1:
			nsec -= nsec % 1000
		}
		tm := time.Unix(sec, nsec).In(zones[i%len(zones)])
		if got, want := FormatTime(tm), ref(tm); got != want {
			t.Fatalf("FormatTime(%v) = %q, time.Format gives %q", tm, got, want)
		}
	}
}

func TestClampExpiry(t *testing.T) {
	if got := clampExpiry(time.Time{}); !got.Equal(minExpiry) {
		t.Errorf("zero time clamps to %v", got)
	}
	if got := clampExpiry(time.Date(20000, 1, 1, 0, 0, 0, 0, time.UTC)); !got.Equal(maxExpiry) || FormatTime(got) != "9999-12-31 23:59:59.999999" {
		t.Errorf("year 20000 clamps to %v", got)
	}
}

func TestEncodeData(t *testing.T) {
	for _, data := range [][]byte{
		nil, {}, []byte("eyJhIjoiYiJ9:1r31eq:sig"), []byte("Zoë ☃ 😀"),
		{0}, {0xff, 0xfe}, []byte("a\x00b"), []byte(binaryPrefix), []byte(binaryPrefix + "AAAA"),
	} {
		text := encodeData(data)
		if !strings.HasPrefix(text, binaryPrefix) && text != string(data) {
			t.Errorf("text data %q changed to %q", data, text)
		}
		if strings.ContainsRune(text, 0) {
			t.Errorf("encoded %q holds a NUL", data)
		}
		if got := decodeData([]byte(text)); string(got) != string(data) {
			t.Errorf("round trip of %q gave %q", data, got)
		}
	}
	if got := encodeData([]byte("plain ascii")); got != "plain ascii" {
		t.Errorf("ASCII data must be stored as is (Django shares it), got %q", got)
	}
}

// MySQLError has the name and the Number field of go-sql-driver/mysql's
// error type, and is not it: only the driver's own error is read.
type MySQLError struct {
	Number uint16
}

func (e *MySQLError) Error() string { return fmt.Sprintf("Error %d", e.Number) }

type pgError struct{ code string }

func (e *pgError) Error() string    { return "pg error " + e.code }
func (e *pgError) SQLState() string { return e.code }

type sqliteError struct{ code int }

func (e *sqliteError) Error() string { return fmt.Sprintf("sqlite error %d", e.code) }
func (e *sqliteError) Code() int     { return e.code }

func TestDriverErrors(t *testing.T) {
	dup := fmt.Errorf("wrapped: %w", &mysql.MySQLError{Number: 1062, Message: "Duplicate entry"})
	if !MySQL.isUniqueViolation(dup) {
		t.Error("MySQL 1062 not recognized through a wrapper")
	}
	if MySQL.isUniqueViolation(&mysql.MySQLError{Number: 1146}) || MySQL.isUniqueViolation(errors.New("Error 1062")) {
		t.Error("MySQL: false unique violation")
	}
	if MySQL.isUniqueViolation(&MySQLError{Number: 1062}) {
		t.Error("MySQL: another type named MySQLError taken for the driver's")
	}
	if !MySQL.isUniqueViolation(errors.Join(errors.New("x"), &mysql.MySQLError{Number: 1062})) {
		t.Error("MySQL 1062 not found in a joined error")
	}
	if !Postgres.isUniqueViolation(fmt.Errorf("x: %w", &pgError{"23505"})) || Postgres.isUniqueViolation(&pgError{"42P01"}) {
		t.Error("PostgreSQL 23505")
	}
	if !SQLite.isUniqueViolation(&sqliteError{sqliteConstraintPrimaryKey}) || SQLite.isUniqueViolation(&sqliteError{sqliteBusy}) {
		t.Error("SQLite constraint codes")
	}
	if !isBusy(&sqliteError{sqliteBusy}) || !isBusy(&sqliteError{sqliteBusy | 2<<8}) || isBusy(&sqliteError{sqliteConstraintUnique}) {
		t.Error("SQLite busy codes")
	}
}

func TestMissingDriverNamesTheImport(t *testing.T) {
	old := registeredDrivers
	defer func() { registeredDrivers = old }()
	registeredDrivers = func() []string { return nil }
	for d, imp := range map[Dialect]string{
		SQLite:   `import _ "modernc.org/sqlite"`,
		Postgres: `import _ "github.com/jackc/pgx/v5/stdlib"`,
		MySQL:    `import _ "github.com/go-sql-driver/mysql"`,
	} {
		err := needDriver(d)
		if !errors.Is(err, sessions.ErrBadConfig) || !strings.Contains(err.Error(), imp) {
			t.Errorf("%v: %v; want ErrBadConfig naming %s", d, err, imp)
		}
	}
	registeredDrivers = sql.Drivers
	if err := needDriver(SQLite); err != nil {
		t.Errorf("with the driver imported: %v", err)
	}
}

func TestCreateTableSQLDjango(t *testing.T) {
	want := map[Dialect][]string{
		SQLite: {
			`CREATE TABLE "django_session" ("session_key" varchar(40) NOT NULL PRIMARY KEY, "session_data" text NOT NULL, "expire_date" datetime NOT NULL)`,
			`CREATE INDEX "django_session_expire_date_a5c62663" ON "django_session" ("expire_date")`,
		},
		Postgres: {
			`CREATE TABLE "django_session" ("session_key" varchar(40) NOT NULL PRIMARY KEY, "session_data" text NOT NULL, "expire_date" timestamp with time zone NOT NULL)`,
			`CREATE INDEX "django_session_session_key_c0390e0f_like" ON "django_session" ("session_key" varchar_pattern_ops)`,
			`CREATE INDEX "django_session_expire_date_a5c62663" ON "django_session" ("expire_date")`,
		},
		MySQL: {
			"CREATE TABLE `django_session` (`session_key` varchar(40) NOT NULL PRIMARY KEY, `session_data` longtext NOT NULL, `expire_date` datetime(6) NOT NULL)",
			"CREATE INDEX `django_session_expire_date_a5c62663` ON `django_session` (`expire_date`)",
		},
	}
	for d, w := range want {
		got := d.CreateTableSQL(defaultTable)
		if strings.Join(got, "\n") != strings.Join(w, "\n") {
			t.Errorf("%v:\ngot  %q\nwant %q", d, got, w)
		}
	}
	// Quoting: a quote in the name is doubled, never closes the identifier.
	if got := SQLite.CreateTableSQL(`a"b`)[0]; !strings.HasPrefix(got, `CREATE TABLE "a""b" (`) {
		t.Errorf("quoting: %s", got)
	}
	if got := MySQL.CreateTableSQL("a`b")[0]; !strings.HasPrefix(got, "CREATE TABLE `a``b` (") {
		t.Errorf("quoting: %s", got)
	}
}

func TestPostgresPlaceholders(t *testing.T) {
	q := buildQueries(Postgres, `t?x`)
	if q.swap != `UPDATE "t?x" SET session_data = $1, expire_date = $2 WHERE session_key = $3 AND expire_date > $4 AND session_data = $5` {
		t.Errorf("swap: %s", q.swap)
	}
	if strings.Contains(buildQueries(Postgres, "t").insert, "?") {
		t.Error("a ? left in a PostgreSQL query")
	}
}

func TestRetryable(t *testing.T) {
	for _, c := range []struct {
		d    Dialect
		err  error
		want bool
	}{
		{Postgres, driver.ErrBadConn, true},
		{Postgres, fmt.Errorf("x: %w", &pgError{"57P01"}), true}, // terminating connection due to administrator command
		{Postgres, &pgError{"08006"}, true},
		{Postgres, &pgError{"23505"}, false},
		{Postgres, &pgError{"42P01"}, false},
		{Postgres, context.Canceled, false},
		{MySQL, &mysql.MySQLError{Number: 2013}, true},
		{MySQL, &mysql.MySQLError{Number: 1062}, false},
		{MySQL, fmt.Errorf("x: %w", mysql.ErrInvalidConn), true},
		{MySQL, fmt.Errorf("write: %w", syscall.EPIPE), true},
		{MySQL, mysql.ErrInvalidConn, true},
		{MySQL, sql.ErrNoRows, false},
		{SQLite, &sqliteError{sqliteBusy}, false},
		{SQLite, driver.ErrBadConn, true},
	} {
		if got := c.d.retryable(c.err); got != c.want {
			t.Errorf("%v retryable(%v) = %v", c.d, c.err, got)
		}
	}
	s := &Store{d: Postgres}
	bg := context.Background()
	if !s.again(bg, 1, &pgError{"57P01"}) || !s.again(bg, maxAttempts-1, &pgError{"57P01"}) || s.again(bg, maxAttempts, &pgError{"57P01"}) {
		t.Error("attempts are not bounded by maxAttempts")
	}
	cancelled, cancel := context.WithCancel(bg)
	cancel()
	if s.again(cancelled, 1, &pgError{"57P01"}) {
		t.Error("retried with a cancelled context")
	}
	s.closed.Store(true)
	if s.again(bg, 1, &pgError{"57P01"}) {
		t.Error("retried after Close")
	}
}
