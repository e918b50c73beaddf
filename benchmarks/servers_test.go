package benchmarks

import (
	"context"
	"database/sql"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/sqlstore"
	"github.com/sessionkit/sessions/internal/testservers"
)

// sqlFloor benchmarks the raw statements a request cannot avoid on a
// database: SELECT by key (read-only); SELECT + UPDATE (read-write).
func sqlFloor(b *testing.B, driver, dsn string, d sqlstore.Dialect) {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	table := "floor_" + sessions.NewKey()[:8]
	for _, q := range d.CreateTableSQL(table) {
		if _, err := db.Exec(q); err != nil {
			b.Fatal(err)
		}
	}
	ph := func(n int) string {
		if d == sqlstore.Postgres {
			return "$" + string(rune('0'+n))
		}
		return "?"
	}
	ts := func(t time.Time) any {
		t = t.UTC().Truncate(time.Microsecond)
		if d == sqlstore.Postgres {
			return t
		}
		return sqlstore.FormatTime(t)
	}
	key := sessions.NewKey()
	data := string(encoded(b))
	if _, err := db.Exec("INSERT INTO "+table+" VALUES ("+ph(1)+", "+ph(2)+", "+ph(3)+")", key, data, ts(time.Now().Add(time.Hour))); err != nil {
		b.Fatal(err)
	}
	sel, err := db.Prepare("SELECT session_data FROM " + table + " WHERE session_key = " + ph(1) + " AND expire_date > " + ph(2))
	if err != nil {
		b.Fatal(err)
	}
	upd, err := db.Prepare("UPDATE " + table + " SET session_data = " + ph(1) + ", expire_date = " + ph(2) + " WHERE session_key = " + ph(3) + " AND expire_date > " + ph(4))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("read", func(b *testing.B) {
		b.ReportAllocs()
		var got string
		for b.Loop() {
			if err := sel.QueryRow(key, ts(time.Now())).Scan(&got); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("write", func(b *testing.B) {
		b.ReportAllocs()
		var got string
		for b.Loop() {
			now := time.Now()
			if err := sel.QueryRow(key, ts(now)).Scan(&got); err != nil {
				b.Fatal(err)
			}
			// The request writes a changed value: append a byte so
			// MySQL cannot skip an unchanged row.
			if _, err := upd.Exec(got[:len(got)-1]+string('a'+byte(now.UnixNano()%26)), ts(now.Add(time.Hour)), key, ts(now)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkPostgres(b *testing.B) {
	pg := testservers.SharedPostgres(b)
	b.Run("ours", func(b *testing.B) {
		table := "ours_" + sessions.NewKey()[:8]
		oursPair(b, openManager(b, pg.URL()+"&create_table=true&table="+table), baseData(0))
	})
	b.Run("floor", func(b *testing.B) {
		sqlFloor(b, "pgx", pg.URL(), sqlstore.Postgres)
	})
}

func BenchmarkMariaDB(b *testing.B) {
	my := testservers.SharedMariaDB(b)
	b.Run("ours", func(b *testing.B) {
		table := "ours_" + sessions.NewKey()[:8]
		oursPair(b, openManager(b, my.URL()+"?create_table=true&table="+table), baseData(0))
	})
	b.Run("floor", func(b *testing.B) {
		sqlFloor(b, "mysql", "root@tcp("+my.Host+":"+itoa(my.Port)+")/"+my.Database, sqlstore.MySQL)
	})
}

func itoa(n int) string {
	return fmtInt(n)
}

var _ = context.Background
