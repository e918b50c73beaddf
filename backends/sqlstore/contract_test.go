package sqlstore_test

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/sqlstore"
	"github.com/sessionkit/sessions/internal/textutil"
)

// TestStoredAsDjango checks the bytes in the table: session_data as given,
// expire_date in UTC the way Django writes it on each database.
func TestStoredAsDjango(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		s := fresh(t, b)
		db := raw(s)
		c := ctx(t)
		zone := time.FixedZone("UTC+5", 5*3600)
		cases := []struct {
			expiry time.Time
			text   string // Django's str(naive UTC datetime)
		}{
			{time.Date(2030, 1, 2, 8, 4, 5, 0, zone), "2030-01-02 03:04:05"},
			{time.Date(2030, 1, 2, 3, 4, 5, 123456789, time.UTC), "2030-01-02 03:04:05.123456"},
		}
		for _, cs := range cases {
			k := sessions.NewKey()
			if err := s.Create(c, k, []byte("eyJhIjoiYiJ9:1r31eq:sig"), cs.expiry); err != nil {
				t.Fatal(err)
			}
			var data string
			switch b.dialect {
			case sqlstore.SQLite:
				var exp, typ string
				err := db.QueryRow(`SELECT session_data, expire_date || '', typeof(expire_date) FROM "`+s.Table()+`" WHERE session_key = ?`, k).Scan(&data, &exp, &typ)
				if err != nil {
					t.Fatal(err)
				}
				if exp != cs.text || typ != "text" {
					t.Errorf("expire_date stored as %s %q, want text %q", typ, exp, cs.text)
				}
			case sqlstore.Postgres:
				var exp time.Time
				var typ string
				err := db.QueryRow(`SELECT session_data, expire_date, pg_typeof(expire_date)::text FROM "`+s.Table()+`" WHERE session_key = $1`, k).Scan(&data, &exp, &typ)
				if err != nil {
					t.Fatal(err)
				}
				if !exp.Equal(cs.expiry.Truncate(time.Microsecond)) || typ != "timestamp with time zone" {
					t.Errorf("expire_date stored as %s %v, want %v", typ, exp, cs.expiry)
				}
			case sqlstore.MySQL:
				var exp string
				err := db.QueryRow("SELECT session_data, CAST(expire_date AS CHAR) FROM `"+s.Table()+"` WHERE session_key = ?", k).Scan(&data, &exp)
				if err != nil {
					t.Fatal(err)
				}
				want := cs.text
				if !strings.Contains(want, ".") {
					want += ".000000" // datetime(6) always shows six digits
				}
				if exp != want {
					t.Errorf("expire_date stored as %q, want naive UTC %q", exp, want)
				}
			}
			if data != "eyJhIjoiYiJ9:1r31eq:sig" {
				t.Errorf("session_data stored as %q", data)
			}
		}
	})
}

// TestRowsWrittenByDjango reads rows written by hand as Django writes them.
func TestRowsWrittenByDjango(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		s := fresh(t, b)
		db := raw(s)
		c := ctx(t)
		live, dead := sessions.NewKey(), sessions.NewKey()
		insertRaw(t, b, db, s.Table(), live, "live-data", djangoExpire(b.dialect, time.Now().Add(time.Hour)))
		insertRaw(t, b, db, s.Table(), dead, "dead-data", djangoExpire(b.dialect, time.Now().Add(-time.Second)))
		if got, err := s.Load(c, live); err != nil || string(got) != "live-data" {
			t.Errorf("Load live = %q, %v", got, err)
		}
		if _, err := s.Load(c, dead); !errors.Is(err, sessions.ErrNotFound) {
			t.Errorf("Load expired = %v, want ErrNotFound", err)
		}
		if err := s.Update(c, dead, []byte("x"), time.Now().Add(time.Hour)); !errors.Is(err, sessions.ErrNotFound) {
			t.Errorf("Update expired = %v, want ErrNotFound", err)
		}
		if err := s.Touch(c, dead, time.Now().Add(time.Hour)); !errors.Is(err, sessions.ErrNotFound) {
			t.Errorf("Touch expired = %v, want ErrNotFound", err)
		}
		if err := s.Create(c, live, []byte("x"), time.Now().Add(time.Hour)); !errors.Is(err, sessions.ErrExists) {
			t.Errorf("Create over live = %v, want ErrExists", err)
		}
		if err := s.Create(c, dead, []byte("reborn"), time.Now().Add(time.Hour)); err != nil {
			t.Errorf("Create over an expired row: %v", err)
		}
		if got, err := s.Load(c, dead); err != nil || string(got) != "reborn" {
			t.Errorf("Load after Create over an expired row = %q, %v", got, err)
		}
		if n := countRows(t, b, db, s.Table()); n != 2 {
			t.Errorf("%d rows, want 2", n)
		}
	})
}

// TestExpiryBoundary pins now with Options.Now: a row expiring exactly now
// is dead (Load needs expire_date > now) and is purged.
func TestExpiryBoundary(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		base := fresh(t, b)
		now := time.Date(2031, 5, 6, 7, 8, 9, 500000000, time.UTC)
		s, err := sqlstore.New(raw(base), b.dialect, &sqlstore.Options{Table: base.Table(), Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		c := ctx(t)
		atNow, justAfter := sessions.NewKey(), sessions.NewKey()
		if err := s.Create(c, atNow, []byte("a"), now); err != nil {
			t.Fatal(err)
		}
		if err := s.Create(c, justAfter, []byte("b"), now.Add(time.Microsecond)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Load(c, atNow); !errors.Is(err, sessions.ErrNotFound) {
			t.Errorf("Load of a row expiring now = %v, want ErrNotFound", err)
		}
		if _, err := s.Load(c, justAfter); err != nil {
			t.Errorf("Load of a row expiring 1µs from now: %v", err)
		}
		if err := s.Create(c, atNow, []byte("again"), now.Add(time.Hour)); err != nil {
			t.Errorf("Create over a row expiring now: %v", err)
		}
		if err := s.Touch(c, atNow, now); err != nil {
			t.Fatal(err)
		}
		n, err := s.DeleteExpired(c)
		if err != nil || n != 1 {
			t.Errorf("DeleteExpired = %d, %v; want 1 (the row expiring now)", n, err)
		}
		if _, err := s.Load(c, justAfter); err != nil {
			t.Errorf("DeleteExpired removed a live row: %v", err)
		}
	})
}

// TestWritesThatChangeNothing: writing the values a row already holds
// succeeds. (MySQL reports changed rows, not matched ones, unless the
// connection sets clientFoundRows; a store on a pool without it must
// not mistake such a write for a missing row.)
func TestWritesThatChangeNothing(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		stores := map[string]*sqlstore.Store{"URL": fresh(t, b)}
		if b.dialect == sqlstore.MySQL {
			// An application pool without clientFoundRows.
			db := plainPool(t, b)
			s, err := sqlstore.New(db, sqlstore.MySQL, &sqlstore.Options{Table: uniqueTable("plain"), CreateTable: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			stores["pool without clientFoundRows"] = s
		}
		for name, s := range stores {
			t.Run(name, func(t *testing.T) {
				c := ctx(t)
				k := sessions.NewKey()
				exp := time.Now().Add(time.Hour).Truncate(time.Second)
				if err := s.Create(c, k, []byte("same"), exp); err != nil {
					t.Fatal(err)
				}
				for i := range 2 {
					if err := s.Update(c, k, []byte("same"), exp); err != nil {
						t.Errorf("Update #%d with the stored values: %v", i, err)
					}
					if err := s.Touch(c, k, exp); err != nil {
						t.Errorf("Touch #%d with the stored expiry: %v", i, err)
					}
					if err := s.Swap(c, k, []byte("same"), []byte("same"), exp); err != nil {
						t.Errorf("Swap #%d to the same bytes and expiry: %v", i, err)
					}
				}
				if err := s.Swap(c, k, []byte("other"), []byte("same"), exp); !errors.Is(err, sessions.ErrConflict) {
					t.Errorf("Swap from a wrong old value to the stored one = %v, want ErrConflict", err)
				}
				missing := sessions.NewKey()
				if err := s.Update(c, missing, []byte("same"), exp); !errors.Is(err, sessions.ErrNotFound) {
					t.Errorf("Update missing = %v", err)
				}
				if err := s.Touch(c, missing, exp); !errors.Is(err, sessions.ErrNotFound) {
					t.Errorf("Touch missing = %v", err)
				}
				if err := s.Swap(c, missing, []byte("same"), []byte("same"), exp); !errors.Is(err, sessions.ErrNotFound) {
					t.Errorf("Swap missing = %v", err)
				}
				if _, err := s.Load(c, missing); !errors.Is(err, sessions.ErrNotFound) {
					t.Errorf("a write to a missing key stored something: %v", err)
				}
			})
		}
	})
}

// TestHostileInput: data and table names with SQL metacharacters are
// passed as parameters or quoted, never spliced.
func TestHostileInput(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		base := fresh(t, b)
		c := ctx(t)
		t.Run("DataIsAParameter", func(t *testing.T) {
			for i, data := range []string{
				"'); DROP TABLE " + base.Table() + "; --",
				`" OR 1=1; --`,
				"` OR 1=1; --",
				"$1 $2 ? ?? %s %v \\ \\' \\\"",
				"\x00 NUL and \xff bytes",
			} {
				k := sessions.NewKey()
				if err := base.Create(c, k, []byte(data), time.Now().Add(time.Hour)); err != nil {
					t.Fatalf("Create #%d: %v", i, err)
				}
				if got, err := base.Load(c, k); err != nil || string(got) != data {
					t.Errorf("Load #%d = %q, %v; want %q", i, got, err, data)
				}
				if err := base.Swap(c, k, []byte(data), []byte(data+"!"), time.Now().Add(time.Hour)); err != nil {
					t.Errorf("Swap #%d: %v", i, err)
				}
			}
			if n := countRows(t, b, raw(base), base.Table()); n != 5 {
				t.Errorf("%d rows, want 5", n)
			}
		})
		t.Run("TableNameIsQuoted", func(t *testing.T) {
			// Unique per run: the shared servers keep the tables of earlier runs (-count).
			name := fmt.Sprintf(`odd "name' %s; DROP TABLE x; -- ? %s`, "`x`", sessions.NewKey()[:6])
			if len(name) > 60 {
				t.Fatal("name too long for the test")
			}
			base := b.base(t)
			u := withParams(base, "table", name, "create_table", "true")
			s := open(t, u)
			if s.Table() != name {
				t.Fatalf("Table() = %q", s.Table())
			}
			k := sessions.NewKey()
			if err := s.Create(c, k, []byte("v"), time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Load(c, k); err != nil || string(got) != "v" {
				t.Errorf("Load = %q, %v", got, err)
			}
			if err := s.Create(c, sessions.NewKey(), []byte("v"), time.Now().Add(-time.Hour)); err != nil {
				t.Fatal(err)
			}
			if n, err := s.DeleteExpired(c); n != 1 || err != nil {
				t.Errorf("DeleteExpired = %d, %v", n, err)
			}
			seen := 0
			if err := s.List(c, func(string) bool { seen++; return true }); err != nil || seen != 1 {
				t.Errorf("List saw %d, %v", seen, err)
			}
			// Opening again finds the table.
			open(t, withParams(base, "table", name))
		})
	})
}

// plainPool opens a pool on the backend's database with the driver's
// defaults, as an application would (MySQL: no clientFoundRows, no
// parseTime), closed at the end of the test.
func plainPool(t testing.TB, b backend) *sql.DB {
	t.Helper()
	u := b.base(t)
	var db *sql.DB
	var err error
	switch b.dialect {
	case sqlstore.SQLite:
		db, err = sql.Open("sqlite", strings.TrimPrefix(u, "sqlite://")+"?_pragma=busy_timeout(10000)")
	case sqlstore.Postgres:
		db, err = sql.Open("pgx", u+"?sslmode=disable")
	case sqlstore.MySQL:
		dsn := strings.TrimPrefix(u, "mysql://")
		at, slash := strings.Index(dsn, "@"), strings.Index(dsn, "/")
		db, err = sql.Open("mysql", dsn[:at+1]+"tcp("+dsn[at+1:slash]+")"+dsn[slash:])
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestDeleteExpiredInBatches: every expired row goes, live rows stay,
// whatever the batch size.
func TestDeleteExpiredInBatches(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		for _, batch := range []int{1, 3, 10, 10000} {
			t.Run(fmt.Sprint("batch", batch), func(t *testing.T) {
				s := fresh(t, b, "batch_size", fmt.Sprint(batch))
				db := raw(s)
				c := ctx(t)
				var live []string
				for i := range 13 {
					insertRaw(t, b, db, s.Table(), sessions.NewKey(), "dead", djangoExpire(b.dialect, time.Now().Add(-time.Duration(i+1)*time.Minute)))
				}
				for range 4 {
					k := sessions.NewKey()
					live = append(live, k)
					insertRaw(t, b, db, s.Table(), k, "live", djangoExpire(b.dialect, time.Now().Add(time.Hour)))
				}
				n, err := s.DeleteExpired(c)
				if err != nil || n != 13 {
					t.Errorf("DeleteExpired = %d, %v; want 13", n, err)
				}
				if got := countRows(t, b, db, s.Table()); got != 4 {
					t.Errorf("%d rows left, want 4", got)
				}
				for _, k := range live {
					if _, err := s.Load(c, k); err != nil {
						t.Errorf("live row gone: %v", err)
					}
				}
				if n, err := s.DeleteExpired(c); n != 0 || err != nil {
					t.Errorf("second DeleteExpired = %d, %v", n, err)
				}
			})
		}
	})
}

// TestListPages lists more keys than one page, lets the callback use the
// store (even with a pool of one connection), and stops when asked.
func TestListPages(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		s := fresh(t, b, "max_open_conns", "1")
		db := raw(s)
		c := ctx(t)
		const n = 2345
		want := map[string]bool{}
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		q := fmt.Sprintf("INSERT INTO %s (session_key, session_data, expire_date) VALUES (%s, %s, %s)",
			quote(b.dialect, s.Table()), ph(b.dialect, 1), ph(b.dialect, 2), ph(b.dialect, 3))
		for i := range n + 10 {
			k := sessions.NewKey()
			exp := time.Now().Add(time.Hour)
			if i >= n {
				exp = time.Now().Add(-time.Hour)
			} else {
				want[k] = true
			}
			if _, err := tx.Exec(q, k, "x", djangoExpire(b.dialect, exp)); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		err = s.List(c, func(k string) bool {
			seen[k]++
			// The callback may write through the store.
			if err := s.Delete(c, k); err != nil {
				t.Errorf("Delete inside List: %v", err)
				return false
			}
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(seen) != n {
			t.Errorf("List saw %d keys, want %d", len(seen), n)
		}
		for k, c := range seen {
			if !want[k] || c != 1 {
				t.Fatalf("List reported %s %d times (live: %v)", textutil.RedactKey(k), c, want[k])
			}
		}
		if got := countRows(t, b, db, s.Table()); got != 10 {
			t.Errorf("%d rows left after deleting every listed key, want the 10 expired", got)
		}
		calls := 0
		if err := s.List(c, func(string) bool { calls++; return false }); err != nil || calls != 0 {
			t.Errorf("List over no live key: %d calls, %v", calls, err)
		}
	})
}

// TestLargeSession: a 10 MB session is refused with ErrTooLarge under
// max_data_size, and stored whole without it.
func TestLargeSession(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 10<<20/16)
	forEach(t, func(t *testing.T, b backend) {
		c := ctx(t)
		limited := fresh(t, b, "max_data_size", "1048576")
		k := sessions.NewKey()
		exp := time.Now().Add(time.Hour)
		if err := limited.Create(c, k, big, exp); !errors.Is(err, sessions.ErrTooLarge) {
			t.Errorf("Create 10 MB with max_data_size=1MiB: %v, want ErrTooLarge", err)
		}
		if err := limited.Create(c, k, []byte("small"), exp); err != nil {
			t.Fatal(err)
		}
		if err := limited.Update(c, k, big, exp); !errors.Is(err, sessions.ErrTooLarge) {
			t.Errorf("Update: %v, want ErrTooLarge", err)
		}
		if err := limited.Swap(c, k, []byte("small"), big, exp); !errors.Is(err, sessions.ErrTooLarge) {
			t.Errorf("Swap: %v, want ErrTooLarge", err)
		}
		if got, _ := limited.Load(c, k); string(got) != "small" {
			t.Errorf("a refused write changed the row: %q", got)
		}

		unlimited := fresh(t, b)
		if err := unlimited.Create(c, k, big, exp); err != nil {
			t.Fatalf("Create 10 MB without a limit: %v", err)
		}
		got, err := unlimited.Load(c, k)
		if err != nil || !bytes.Equal(got, big) {
			t.Fatalf("Load 10 MB: %d bytes, %v", len(got), err)
		}
		if err := unlimited.Swap(c, k, big, append(big, '!'), exp); err != nil {
			t.Errorf("Swap of a 10 MB session: %v", err)
		}
	})
}

// TestCloseDuringUse: closing while requests run gives ErrClosed, never a
// panic or a driver error about closed statements.
func TestCloseDuringUse(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		s := fresh(t, b)
		c := ctx(t)
		var wg sync.WaitGroup
		stop := make(chan struct{})
		errc := make(chan error, 8)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					k := sessions.NewKey()
					err := s.Create(c, k, []byte("x"), time.Now().Add(time.Hour))
					if err == nil {
						_, err = s.Load(c, k)
					}
					if err != nil {
						if !errors.Is(err, sessions.ErrClosed) {
							errc <- err
						}
						return
					}
				}
			}()
		}
		time.Sleep(50 * time.Millisecond)
		s.Close()
		close(stop)
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Errorf("during Close: %v", err)
		}
	})
}

// TestNewWithApplicationPool covers New over a pool the application owns:
// Close leaves the pool open.
func TestNewWithApplicationPool(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		base := fresh(t, b)
		db := raw(base)
		s, err := sqlstore.New(db, b.dialect, &sqlstore.Options{Table: base.Table()})
		if err != nil {
			t.Fatal(err)
		}
		c := ctx(t)
		k := sessions.NewKey()
		if err := s.Create(c, k, []byte("shared"), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if got, err := base.Load(c, k); err != nil || string(got) != "shared" {
			t.Errorf("the other store sees %q, %v", got, err)
		}
		s.Close()
		if err := db.PingContext(c); err != nil {
			t.Errorf("Close closed the application's pool: %v", err)
		}
		// The pool is open, the store is not: its calls fail with
		// ErrClosed (on PostgreSQL they do not go through the closed
		// prepared statements).
		if _, err := s.Load(c, k); !errors.Is(err, sessions.ErrClosed) {
			t.Errorf("Load after Close = %v, want ErrClosed", err)
		}
		if err := s.Swap(c, k, []byte("shared"), []byte("after"), time.Now().Add(time.Hour)); !errors.Is(err, sessions.ErrClosed) {
			t.Errorf("Swap after Close = %v, want ErrClosed", err)
		}
		if got, err := base.Load(c, k); err != nil || string(got) != "shared" {
			t.Errorf("after a Swap on a closed store the row holds %q, %v", got, err)
		}
		if s.Name() != b.dialect.String() || s.Dialect() != b.dialect {
			t.Errorf("Name %q Dialect %v", s.Name(), s.Dialect())
		}
		if _, err := sqlstore.New(nil, b.dialect, nil); !errors.Is(err, sessions.ErrBadConfig) {
			t.Errorf("New(nil) = %v", err)
		}
		if _, err := sqlstore.New(db, sqlstore.Dialect(0), nil); !errors.Is(err, sessions.ErrBadConfig) {
			t.Errorf("New with no dialect = %v", err)
		}
		if _, err := sqlstore.New(db, b.dialect, &sqlstore.Options{Table: "bad\x00name"}); !errors.Is(err, sessions.ErrBadConfig) {
			t.Errorf("New with a bad table name = %v", err)
		}
	})
}
