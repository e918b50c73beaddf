package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/sqlstore"
	"github.com/sessionkit/sessions/internal/testservers"
)

func openErr(rawURL string) error {
	e, err := sessions.OpenEngine(context.Background(), rawURL, sessions.DefaultSettings())
	if err == nil {
		e.Close()
	}
	return err
}

func TestOpenSQLiteForms(t *testing.T) {
	c := ctx(t)
	dir := t.TempDir()
	t.Run("Absolute", func(t *testing.T) {
		p := filepath.Join(dir, "abs.sqlite3")
		s := open(t, "sqlite://"+p+"?create_table=true")
		if want := "sqlite database " + p + `, table "django_session"`; s.Describe() != want {
			t.Errorf("Describe = %q, want %q", s.Describe(), want)
		}
		if _, err := os.Stat(p); err != nil {
			t.Error(err)
		}
		if s.Name() != "sqlite" {
			t.Errorf("Name = %q", s.Name())
		}
	})
	t.Run("Relative", func(t *testing.T) {
		t.Chdir(dir)
		if err := os.Mkdir("rel", 0o755); err != nil {
			t.Fatal(err)
		}
		s := open(t, "sqlite3:rel/sessions.db?create_table=true&table=app_sessions")
		want := filepath.Join(dir, "rel", "sessions.db")
		if !strings.Contains(s.Describe(), want) {
			t.Errorf("Describe = %q, want the absolute path %s", s.Describe(), want)
		}
	})
	t.Run("DjangoDBAlias", func(t *testing.T) {
		// Django's "db" engine name with no DatabaseURL is
		// sqlite:db.sqlite3 in the working directory.
		d := t.TempDir()
		t.Chdir(d)
		err := openErr("db")
		if !errors.Is(err, sqlstore.ErrNoTable) || !strings.Contains(err.Error(), `"django_session"`) ||
			!strings.Contains(err.Error(), "create_table=true") || !strings.Contains(err.Error(), filepath.Join(d, "db.sqlite3")) {
			t.Fatalf("db alias on an empty dir: %v", err)
		}
		if _, err := os.Stat(filepath.Join(d, "db.sqlite3")); !errors.Is(err, os.ErrNotExist) {
			t.Error("a failed open left a database file behind")
		}
		open(t, "sqlite:db.sqlite3?create_table=true").Close()
		s := open(t, "django.contrib.sessions.backends.db")
		k := sessions.NewKey()
		if err := s.Create(c, k, []byte("x"), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Memory", func(t *testing.T) {
		a, b := open(t, "sqlite::memory:"), open(t, "sqlite::memory:")
		k := sessions.NewKey()
		if err := a.Create(c, k, []byte("x"), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Load(c, k); !errors.Is(err, sessions.ErrNotFound) {
			t.Errorf("two in-memory stores share data: %v", err)
		}
		if got, err := a.Load(c, k); err != nil || string(got) != "x" {
			t.Errorf("Load = %q, %v", got, err)
		}
	})
	testMissingAndWrongTable(t, backends[0])
	t.Run("ExistingFileWithoutTable", func(t *testing.T) {
		p := filepath.Join(dir, "empty.sqlite3")
		open(t, "sqlite://"+p+"?create_table=true&table=other").Close()
		err := openErr("sqlite://" + p)
		if !errors.Is(err, sqlstore.ErrNoTable) || !strings.Contains(err.Error(), `table "django_session" not found`) ||
			!strings.Contains(err.Error(), "manage.py migrate sessions") || !strings.Contains(err.Error(), "create_table=true") ||
			!strings.Contains(err.Error(), `CREATE TABLE "django_session"`) {
			t.Errorf("missing table: %v", err)
		}
	})
	for _, c := range []struct{ url, want string }{
		{"sqlite://host/path.db", "no host"},
		{"sqlite:", "needs a file"},
		{"sqlite://user:Sup3rSecret@/x.db", "no user or password"},
		{"sqlite:///no/such/dir/x.db?create_table=true", "directory /no/such/dir does not exist"},
		{"sqlite:x.db?tabel=x", "unknown parameter tabel"},
		{"sqlite:x.db?batch_size=0", "batch_size must be"},
		{"sqlite:x.db?busy_timeout=soon", "busy_timeout must be"},
		{"sqlite:x.db?create_table=maybe", "create_table must be"},
		{"sqlite:x.db?max_open_conns=-1", "max_open_conns must be"},
		{"sqlite:x.db?max_data_size=big", "max_data_size must be"},
		{"sqlite:x.db?sslmode=disable", "unknown parameter sslmode"},
		{"sqlite:x.db#frag", "fragment"},
	} {
		t.Run("Bad "+c.url, func(t *testing.T) {
			t.Chdir(t.TempDir())
			err := openErr(c.url)
			if !errors.Is(err, sessions.ErrBadConfig) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v; want ErrBadConfig containing %q", err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), "Sup3rSecret") {
				t.Errorf("the password leaked: %v", err)
			}
		})
	}
}

func TestOpenPostgres(t *testing.T) {
	pg := testservers.SharedPostgres(t)
	base := strings.TrimSuffix(pg.URL(), "?sslmode=disable")
	hostport := fmt.Sprintf("127.0.0.1:%d", pg.Port)
	c := ctx(t)
	t.Run("DriverParamsPassedOn", func(t *testing.T) {
		s := open(t, base+"?sslmode=disable&application_name=sessionkit-test&create_table=true&table="+uniqueTable("pg"))
		var name string
		if err := raw(s).QueryRowContext(c, "SELECT current_setting('application_name')").Scan(&name); err != nil || name != "sessionkit-test" {
			t.Errorf("application_name = %q, %v", name, err)
		}
	})
	t.Run("Alias", func(t *testing.T) {
		s := open(t, "postgresql://postgres@"+hostport+"/sessions?sslmode=disable&create_table=true&table="+uniqueTable("pg"))
		if s.Name() != "postgres" {
			t.Errorf("Name = %q", s.Name())
		}
	})
	t.Run("NoPasswordInDescribeOrErrors", func(t *testing.T) {
		// Trust authentication accepts any password.
		s := open(t, "postgres://postgres:Sup3rSecret@"+hostport+"/sessions?sslmode=disable&create_table=true&table="+uniqueTable("pg"))
		if strings.Contains(s.Describe(), "Sup3rSecret") || !strings.Contains(s.Describe(), "postgres database postgres://postgres@"+hostport+"/sessions") {
			t.Errorf("Describe = %q", s.Describe())
		}
		for _, u := range []string{
			"postgres://postgres:Sup3rSecret@" + hostport + "/no_such_db?sslmode=disable",
			"postgres://postgres:Sup3rSecret@127.0.0.1:1/sessions?sslmode=disable",
			"postgres://postgres:Sup3rSecret@" + hostport + "/sessions?sslmode=disable&bogus=1",
			"postgres://postgres:Sup3rSecret@" + hostport + "/sessions?sslmode=disable&table=missing_table",
		} {
			err := openErr(u)
			if err == nil || strings.Contains(err.Error(), "Sup3rSecret") {
				t.Errorf("open %s: %v", sessions.Redact(u), err)
			}
		}
	})
	t.Run("Unreachable", func(t *testing.T) {
		err := openErr("postgres://postgres@127.0.0.1:1/sessions?sslmode=disable")
		if err == nil || !strings.Contains(err.Error(), "cannot connect to postgres database postgres://postgres@127.0.0.1:1/sessions") {
			t.Errorf("unreachable server: %v", err)
		}
	})
	t.Run("UnknownParam", func(t *testing.T) {
		err := openErr(base + "?sslmode=disable&max_conns=3")
		if !errors.Is(err, sessions.ErrBadConfig) || !strings.Contains(err.Error(), "unknown parameter max_conns") || !strings.Contains(err.Error(), "max_open_conns") {
			t.Errorf("unknown parameter: %v", err)
		}
	})
	testMissingAndWrongTable(t, backends[1])
}

func TestOpenMariaDB(t *testing.T) {
	m := testservers.SharedMariaDB(t)
	hostport := fmt.Sprintf("127.0.0.1:%d", m.Port)
	c := ctx(t)
	t.Run("Session", func(t *testing.T) {
		s := open(t, m.URL()+"?create_table=true&table="+uniqueTable("my"))
		var tz string
		if err := raw(s).QueryRowContext(c, "SELECT @@session.time_zone").Scan(&tz); err != nil || tz != "+00:00" {
			t.Errorf("time_zone = %q, %v", tz, err)
		}
		if !strings.Contains(s.Describe(), "mysql database mysql://root@"+hostport+"/sessions") {
			t.Errorf("Describe = %q", s.Describe())
		}
	})
	t.Run("Socket", func(t *testing.T) {
		s := open(t, "mysql://root@/sessions?socket="+m.Socket+"&create_table=true&table="+uniqueTable("sock"))
		k := sessions.NewKey()
		if err := s.Create(c, k, []byte("x"), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("DriverParamsPassedOn", func(t *testing.T) {
		open(t, m.URL()+"?readTimeout=30s&writeTimeout=30s&charset=utf8mb4&create_table=true&table="+uniqueTable("my"))
	})
	for _, c := range []struct{ url, want string }{
		{"mysql://root@" + hostport + "/", "names one database"},
		{"mysql://root@" + hostport + "/a/b", "names one database"},
		{"mysql://root@" + hostport + "/sessions?socket=/x.sock", "not both"},
		{"mysql://root@" + hostport + "/sessions?loc=Local", "unknown parameter loc"},
		{"mysql://root@" + hostport + "/sessions?time_zone=SYSTEM", "unknown parameter time_zone"},
		{"mysql://root@" + hostport + "/sessions?clientFoundRows=false", "unknown parameter clientFoundRows"},
		{"mysql:sessions", "mysql://user:password@host:3306/dbname"},
	} {
		t.Run("Bad "+c.url, func(t *testing.T) {
			err := openErr(c.url)
			if !errors.Is(err, sessions.ErrBadConfig) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v; want ErrBadConfig containing %q", err, c.want)
			}
		})
	}
	t.Run("NoPasswordInErrors", func(t *testing.T) {
		for _, u := range []string{
			"mysql://root:Sup3rSecret@" + hostport + "/sessions",
			"mysql://root:Sup3rSecret@127.0.0.1:1/sessions",
			"mysql://nobody:Sup3rSecret@" + hostport + "/sessions?tls=maybe",
		} {
			err := openErr(u)
			if err == nil || strings.Contains(err.Error(), "Sup3rSecret") {
				t.Errorf("open %s: %v", sessions.Redact(u), err)
			}
		}
	})
	testMissingAndWrongTable(t, backends[2])
}

// testMissingAndWrongTable: a missing table is ErrNoTable naming it and the
// ways to create it; a table with other columns is refused.
func testMissingAndWrongTable(t *testing.T, b backend) {
	base := b.base(t)
	s := open(t, withParams(base, "table", uniqueTable("t"), "create_table", "true")) // the SQLite file exists
	t.Run("MissingTable", func(t *testing.T) {
		name := uniqueTable("missing")
		err := openErr(withParams(base, "table", name))
		if !errors.Is(err, sqlstore.ErrNoTable) || !strings.Contains(err.Error(), fmt.Sprintf("table %q not found", name)) ||
			!strings.Contains(err.Error(), "create_table=true") || !strings.Contains(err.Error(), "manage.py migrate sessions") {
			t.Errorf("missing table: %v", err)
		}
		if _, err := sqlstore.New(raw(s), b.dialect, &sqlstore.Options{Table: name}); !errors.Is(err, sqlstore.ErrNoTable) {
			t.Errorf("New on a missing table: %v", err)
		}
	})
	t.Run("WrongTable", func(t *testing.T) {
		name := uniqueTable("wrong")
		if _, err := raw(s).Exec("CREATE TABLE " + quote(b.dialect, name) + " (id int, session_key varchar(40))"); err != nil {
			t.Fatal(err)
		}
		err := openErr(withParams(base, "table", name))
		if !errors.Is(err, sessions.ErrBadConfig) || !strings.Contains(err.Error(), "not a Django session table") {
			t.Errorf("wrong table: %v", err)
		}
	})
	t.Run("ConcurrentCreate", func(t *testing.T) {
		// Several processes starting at once on a new table.
		u := withParams(base, "table", uniqueTable("race"), "create_table", "true")
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = openErr(u)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("opener %d: %v", i, err)
			}
		}
	})
}

func TestEnginesRegistered(t *testing.T) {
	want := map[string][]string{"sqlite": {"sqlite3"}, "postgres": {"postgresql"}, "mysql": nil}
	for _, info := range sessions.Engines() {
		aliases, ok := want[info.Scheme]
		if !ok {
			continue
		}
		delete(want, info.Scheme)
		if fmt.Sprint(info.Aliases) != fmt.Sprint(aliases) || info.Doc == "" || len(info.Forms) == 0 {
			t.Errorf("%s: %+v", info.Scheme, info)
		}
	}
	if len(want) > 0 {
		t.Errorf("not registered: %v", want)
	}
}

// TestServerPoolKeepsItsConnections: on PostgreSQL and MySQL the pool
// keeps as many idle connections as it may open, so that a burst of
// requests does not close connections it gives back only to open (and
// prepare statements on) new ones for the next.
func TestServerPoolKeepsItsConnections(t *testing.T) {
	for _, b := range backends[1:] {
		t.Run(b.name, func(t *testing.T) {
			db := raw(fresh(t, b))
			c := ctx(t)
			var conns []*sql.Conn
			for range 20 {
				conn, err := db.Conn(c)
				if err != nil {
					t.Fatal(err)
				}
				conns = append(conns, conn)
			}
			for _, conn := range conns {
				conn.Close()
			}
			if st := db.Stats(); st.Idle != 20 || st.MaxIdleClosed != 0 {
				t.Errorf("after 20 connections in use: %d idle, %d closed as surplus; want 20 idle", st.Idle, st.MaxIdleClosed)
			}
		})
	}
}

// TestOpenQueryTimeout: PostgreSQL and MySQL URLs bound a request's call
// to 10 s by default (a request's context has no deadline, and a paused
// server would hold it until the client gives up: conformance.RunFaults's
// StallWithoutDeadline), SQLite's does not (its waits end with
// busy_timeout); query_timeout sets it, 0 turns it off.
func TestOpenQueryTimeout(t *testing.T) {
	pg := testservers.SharedPostgres(t).URL() + "&create_table=true&table=" + uniqueTable("qt")
	my := testservers.SharedMariaDB(t).URL()
	my += map[bool]string{true: "&", false: "?"}[strings.Contains(my, "?")] + "create_table=true&table=" + uniqueTable("qt")
	lite := "sqlite://" + filepath.Join(t.TempDir(), "qt.sqlite3") + "?create_table=true"
	for _, c := range []struct {
		url  string
		want time.Duration
	}{
		{pg, 10 * time.Second},
		{pg + "&query_timeout=2s", 2 * time.Second},
		{pg + "&query_timeout=0", 0},
		{my, 10 * time.Second},
		{my + "&query_timeout=250ms", 250 * time.Millisecond},
		{lite, 0},
		{lite + "&query_timeout=3s", 3 * time.Second},
	} {
		if got := open(t, c.url).QueryTimeout(); got != c.want {
			t.Errorf("%s: QueryTimeout %v, want %v", sessions.Redact(c.url), got, c.want)
		}
	}
	if err := openErr(pg + "&query_timeout=-1s"); !errors.Is(err, sessions.ErrBadConfig) {
		t.Errorf("query_timeout=-1s: %v", err)
	}
}
