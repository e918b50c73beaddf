package benchmarks

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	ourmem "github.com/sessionkit/sessions/backends/memstore"
	"github.com/sessionkit/sessions/backends/sqlstore"
	"github.com/sessionkit/sessions/internal/testservers"
)

// BenchmarkSize shows how the cost of a read-write request grows with the
// session's size (about 100 B, 1 KB, 10 KB and 100 KB of JSON), on the
// memory engine (codec cost alone) and on SQLite.
func BenchmarkSize(b *testing.B) {
	dir := b.TempDir()
	for _, size := range []int{100, 1000, 10_000, 100_000} {
		for _, eng := range []string{"memory", "sqlite"} {
			b.Run(fmt.Sprintf("%s/%s", eng, human(size)), func(b *testing.B) {
				var m *sessions.Manager
				if eng == "memory" {
					var err error
					if m, err = sessions.New(ourmem.New(nil), settings()); err != nil {
						b.Fatal(err)
					}
				} else {
					m = openManager(b, "sqlite://"+filepath.Join(dir, eng+strconv.Itoa(size)+".db")+"?create_table=true")
				}
				// Incompressible-ish padding so the size is real after zlib.
				cookie := seed(b, m, baseData(size-60))
				h := m.Handler(writeHandler)
				b.ReportAllocs()
				b.SetBytes(int64(size))
				for b.Loop() {
					request(b, h, "sessionid", cookie)
				}
			})
		}
	}
}

func human(n int) string {
	switch {
	case n >= 1000:
		return fmt.Sprintf("%dKB", n/1000)
	}
	return fmt.Sprintf("%dB", n)
}

// BenchmarkParallel measures throughput with concurrent requests on
// distinct sessions (b.RunParallel); run with -cpu 1,2.
func BenchmarkParallel(b *testing.B) {
	dir := b.TempDir()
	engines := map[string]func(b *testing.B) *sessions.Manager{
		"memory": func(b *testing.B) *sessions.Manager {
			m, _ := sessions.New(ourmem.New(nil), settings())
			return m
		},
		"sqlite": func(b *testing.B) *sessions.Manager {
			return openManager(b, "sqlite://"+filepath.Join(dir, "par-"+sessions.NewKey()[:6]+".db")+"?create_table=true")
		},
	}
	for _, name := range []string{"memory", "sqlite"} {
		for _, kind := range []string{"read", "write"} {
			b.Run(name+"/"+kind, func(b *testing.B) {
				m := engines[name](b)
				h := m.Handler(map[string]http.Handler{"read": readHandler, "write": writeHandler}[kind])
				cookies := make(chan string, 64)
				for range 64 {
					cookies <- seed(b, m, baseData(0))
				}
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					c := <-cookies
					for pb.Next() {
						req := httptest.NewRequest("GET", "/", nil)
						req.AddCookie(&http.Cookie{Name: "sessionid", Value: c})
						rec := httptest.NewRecorder()
						h.ServeHTTP(rec, req)
						if rec.Code != 200 {
							b.Errorf("status %d", rec.Code)
							return
						}
					}
				})
			})
		}
	}
}

// BenchmarkClearSessions times DeleteExpired on a store full of expired
// sessions: CLEAR_ROWS of them (default 10,000; make bench sets 1,000,000
// for the databases and 100,000 for file and bolt).
func BenchmarkClearSessions(b *testing.B) {
	n := 10_000
	if v, err := strconv.Atoi(os.Getenv("CLEAR_ROWS")); err == nil && v > 0 {
		n = v
	}
	for _, eng := range []string{"sqlite", "postgres", "file", "bolt"} {
		b.Run(fmt.Sprintf("%s/%d", eng, n), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				dir := b.TempDir()
				var cfg string
				switch eng {
				case "sqlite":
					cfg = "sqlite://" + filepath.Join(dir, "c.db") + "?create_table=true"
				case "postgres":
					cfg = testservers.SharedPostgres(b).URL() + "&create_table=true&table=clear_" + sessions.NewKey()[:8]
				case "file":
					os.Mkdir(filepath.Join(dir, "s"), 0o700)
					cfg = "file://" + filepath.Join(dir, "s") + "?sync=false"
				case "bolt":
					cfg = "bolt://" + filepath.Join(dir, "c.db") + "?nosync=true"
				}
				e, err := sessions.OpenEngine(context.Background(), cfg, settings())
				if err != nil {
					b.Fatal(err)
				}
				fillExpired(b, e.(sessions.Engine), n)
				b.StartTimer()
				got, err := e.(sessions.ExpiredDeleter).DeleteExpired(context.Background())
				b.StopTimer()
				if err != nil || got != int64(n) {
					b.Fatalf("DeleteExpired = %d, %v; want %d", got, err, n)
				}
				e.Close()
				b.StartTimer()
			}
		})
	}
}

// fillExpired stores n sessions that expired an hour ago: one SQL
// statement on the databases, the engine's own Create elsewhere.
func fillExpired(b *testing.B, e sessions.Engine, n int) {
	ctx := context.Background()
	data := encoded(b)
	past := time.Now().Add(-time.Hour)
	if st, ok := e.(*sqlstore.Store); ok {
		_, w := st.DB()
		var q string
		switch st.Dialect() {
		case sqlstore.SQLite:
			q = `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < ?)
				INSERT INTO "` + st.Table() + `" SELECT printf('%032d', i), ?, ? FROM n`
			_, err := w.ExecContext(ctx, q, n, string(data), sqlstore.FormatTime(past))
			if err != nil {
				b.Fatal(err)
			}
		case sqlstore.Postgres:
			q = `INSERT INTO "` + st.Table() + `" SELECT lpad(i::text, 32, '0'), $2, $3 FROM generate_series(1, $1) i`
			if _, err := w.ExecContext(ctx, q, n, string(data), past); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	for range n {
		if err := e.Create(ctx, sessions.NewKey(), data, past); err != nil {
			b.Fatal(err)
		}
	}
}
