package sqlstore_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/internal/testservers"
	"github.com/sessionkit/sessions/interop"
)

// djangoTarget is a database server on which real Django and the store
// meet.
type djangoTarget struct {
	module string // the Python database adapter Django needs
	// newDB returns a fresh, empty database: Django's DATABASES entry
	// as JSON and the store's URL (without query).
	newDB func(t *testing.T) (settings, url string)
	// schema dumps django_session's definition as the database reports it.
	schema func(t *testing.T, db *sql.DB) string
}

var djangoTargets = map[string]djangoTarget{
	"SQLite": {
		module: "sqlite3",
		newDB: func(t *testing.T) (string, string) {
			p := filepath.Join(t.TempDir(), "db.sqlite3")
			return mustJSON(map[string]any{"ENGINE": "django.db.backends.sqlite3", "NAME": p}), "sqlite://" + p
		},
		schema: func(t *testing.T, db *sql.DB) string {
			return dump(t, db, "SELECT type, name, coalesce(sql, '') FROM sqlite_master WHERE tbl_name = 'django_session' ORDER BY type, name")
		},
	},
	"Postgres": {
		module: "psycopg2",
		newDB: func(t *testing.T) (string, string) {
			pg := testservers.SharedPostgres(t)
			name := uniqueTable("dj")
			pg.CreateDatabase(t, name)
			s := mustJSON(map[string]any{"ENGINE": "django.db.backends.postgresql", "NAME": name, "USER": pg.User, "HOST": pg.Host, "PORT": pg.Port})
			return s, strings.TrimSuffix(pg.DatabaseURL(name), "?sslmode=disable")
		},
		schema: func(t *testing.T, db *sql.DB) string {
			return dump(t, db, `SELECT column_name, data_type, coalesce(character_maximum_length, 0), is_nullable FROM information_schema.columns WHERE table_name = 'django_session' ORDER BY ordinal_position`) +
				dump(t, db, `SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'django_session' ORDER BY indexname`) +
				dump(t, db, `SELECT conname, contype::text FROM pg_constraint WHERE conrelid = 'django_session'::regclass ORDER BY conname`)
		},
	},
	"MariaDB": {
		module: "MySQLdb",
		newDB: func(t *testing.T) (string, string) {
			m := testservers.SharedMariaDB(t)
			name := uniqueTable("dj")
			m.CreateDatabase(t, name)
			s := mustJSON(map[string]any{"ENGINE": "django.db.backends.mysql", "NAME": name, "USER": m.User, "PASSWORD": "",
				"HOST": m.Host, "PORT": m.Port, "OPTIONS": map[string]any{"charset": "utf8mb4"}})
			return s, m.DatabaseURL(name)
		},
		schema: func(t *testing.T, db *sql.DB) string {
			var name, def string
			if err := db.QueryRow("SHOW CREATE TABLE django_session").Scan(&name, &def); err != nil {
				t.Fatal(err)
			}
			return def
		},
	},
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func dump(t *testing.T, db *sql.DB, q string) string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var b strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			if bs, ok := v.([]byte); ok {
				v = string(bs)
			}
			if i > 0 {
				b.WriteString(" | ")
			}
			fmt.Fprint(&b, v)
		}
		b.WriteString("\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// needDjango skips (or, with SESSIONS_REQUIRE_SERVERS=1, fails) unless
// the database adapter imports under dj.
func needDjango(t *testing.T, dj interop.Django, module string) {
	t.Helper()
	if out, err := dj.Command(context.Background(), "-c", "import "+module).CombinedOutput(); err != nil {
		msg := fmt.Sprintf("Django's adapter %s is not installed (apt-get install python3-psycopg2 python3-mysqldb): %v %s", module, err, strings.TrimSpace(string(out)))
		if testservers.Require() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// django runs testdata/django_helper.py under dj and returns its output.
func django(t *testing.T, dj interop.Django, settings string, args ...string) string {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := dj.Command(c, append([]string{"testdata/django_helper.py", settings}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("django %s %s: %v\n%s", dj.Version, args[0], err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestDjangoInterop runs real Django (every version interop.Versions
// finds: 5.2, 4.2 and 3.2) against the same database as the store: the
// table Django's migration creates is the one create_table creates, and
// sessions written by either side are read by the other.
func TestDjangoInterop(t *testing.T) {
	versions := interop.Versions(t)
	for _, name := range []string{"SQLite", "Postgres", "MariaDB"} {
		for _, dj := range versions {
			t.Run(name+"/django-"+dj.Major(), func(t *testing.T) { testDjangoInterop(t, name, dj) })
		}
	}
}

func testDjangoInterop(t *testing.T, name string, dj interop.Django) {
	target := djangoTargets[name]
	needDjango(t, dj, target.module)
	c := ctx(t)
	django := func(t *testing.T, settings string, args ...string) string {
		t.Helper()
		return django(t, dj, settings, args...)
	}

	djangoSettings, djangoURL := target.newDB(t)
	django(t, djangoSettings, "migrate")
	// Django's table, opened without create_table.
	s := open(t, djangoURL)
	_, ourURL := target.newDB(t)
	ours := open(t, withParams(ourURL, "create_table", "true"))

	t.Run("SameTable", func(t *testing.T) {
		got, want := target.schema(t, raw(ours)), target.schema(t, raw(s))
		if got != want {
			t.Errorf("create_table made\n%s\nDjango's migration made\n%s", got, want)
		}
		t.Logf("django_session as Django's migration and create_table make it:\n%s", want)
	})

	set := sessions.DefaultSettings()
	set.SecretKey = "django_tests_secret_key"
	m, err := sessions.New(s, set)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("DjangoWritesGoReads", func(t *testing.T) {
		key := django(t, djangoSettings, "write", `{"django": "wrote this", "n": 1, "list": [1, "two"], "name": "Zo\u00eb \u2603"}`)
		sess := m.Load(c, key)
		if got := sess.Get("django"); got != "wrote this" {
			t.Fatalf("Go read %v from Django's session (%v)", got, sess.Err())
		}
		if got := fmt.Sprintf("%v %v %v", sess.Get("n"), sess.Get("list"), sess.Get("name")); got != "1 [1 two] Zoë ☃" {
			t.Errorf("Go read %s", got)
		}
		// Go changes Django's session; Django sees the change.
		sess.Set("go", true)
		if err := m.Save(c, sess); err != nil {
			t.Fatal(err)
		}
		if sess.Key() != key {
			t.Fatalf("the key changed on save")
		}
		if got := django(t, djangoSettings, "read", key); got != `{"django": "wrote this", "go": true, "list": [1, "two"], "n": 1, "name": "Zo\u00eb \u2603"}` {
			t.Errorf("Django read back %s", got)
		}
	})
	t.Run("GoWritesDjangoReads", func(t *testing.T) {
		sess := m.NewSession(c)
		sess.Set("go", "wrote this")
		sess.Set("emoji", "😀")
		if err := m.Save(c, sess); err != nil {
			t.Fatal(err)
		}
		if got := django(t, djangoSettings, "read", sess.Key()); got != `{"emoji": "\ud83d\ude00", "go": "wrote this"}` {
			t.Errorf("Django read %s", got)
		}
		// Go deletes it; Django no longer finds it.
		key := sess.Key()
		if err := sess.Flush(c); err != nil {
			t.Fatal(err)
		}
		if got := django(t, djangoSettings, "read", key); got != "{}" {
			t.Errorf("Django still reads %s after Go flushed the session", got)
		}
	})
	t.Run("Expiry", func(t *testing.T) {
		// A session Go stored as expired is expired for Django (the
		// expire_date formats agree), and Django's clearsessions
		// removes it while keeping the live one.
		dead := sessions.NewKey()
		if err := s.Create(c, dead, []byte("e30:1r31eq:sig"), time.Now().Add(-2*time.Second)); err != nil {
			t.Fatal(err)
		}
		sess := m.NewSession(c)
		sess.Set("x", 1)
		if err := m.Save(c, sess); err != nil {
			t.Fatal(err)
		}
		live := sess.Key()
		if got := django(t, djangoSettings, "read", dead); got != "{}" {
			t.Errorf("Django read an expired session: %s", got)
		}
		before := countRows(t, backendNamed(name), raw(s), "django_session")
		django(t, djangoSettings, "clearsessions")
		after := countRows(t, backendNamed(name), raw(s), "django_session")
		if after != before-1 {
			t.Errorf("clearsessions: %d rows -> %d, want one fewer", before, after)
		}
		if _, err := s.Load(c, live); err != nil {
			t.Errorf("clearsessions removed a live session: %v", err)
		}
	})
}

func backendNamed(name string) backend {
	for _, b := range backends {
		if b.name == name {
			return b
		}
	}
	panic(name)
}
