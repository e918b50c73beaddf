package sqlstore_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
)

var benchRows = flag.Int("sqlstore.rows", 0, "expired rows for BenchmarkDeleteExpired (default $SQLSTORE_BENCH_ROWS, else 10000)")

func expiredRows(b *testing.B) int {
	if *benchRows > 0 {
		return *benchRows
	}
	if v := os.Getenv("SQLSTORE_BENCH_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("SQLSTORE_BENCH_ROWS=%q: want a positive number", v)
		}
		return n
	}
	return 10000
}

// BenchmarkDeleteExpired times clearsessions on a SQLite table holding N
// expired rows (and a few live ones), deleted in batches of 10,000. N is
// 10,000 by default; for the million rows run
//
//	SQLSTORE_BENCH_ROWS=1000000 go test -run '^$' -bench DeleteExpired -benchtime 1x ./backends/sqlstore/
//
// (or pass -args -sqlstore.rows=1000000). Filling the table is not timed.
func BenchmarkDeleteExpired(b *testing.B) {
	n := expiredRows(b)
	s := open(b, "sqlite://"+filepath.ToSlash(filepath.Join(b.TempDir(), "bench.sqlite3"))+"?create_table=true")
	db := raw(s)
	c := ctx(b)
	fill := fmt.Sprintf(`INSERT INTO %q (session_key, session_data, expire_date)
		WITH RECURSIVE seq(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM seq WHERE x < ?)
		SELECT printf('expired%%025d', x), 'e30:1r31eq:4jUc7d6K4SjljzmCBMRybFprOH2S1lYgEeb3CCv8FJw', '2023-11-14 22:13:20.' || printf('%%06d', x %% 1000000) FROM seq`, s.Table())
	live := sessions.NewKey()
	if err := s.Create(c, live, []byte("live"), time.Now().Add(time.Hour)); err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if _, err := db.ExecContext(c, fill, n); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		got, err := s.DeleteExpired(c)
		total += time.Since(start)
		if err != nil || got != int64(n) {
			b.Fatalf("DeleteExpired = %d, %v; want %d", got, err, n)
		}
	}
	b.StopTimer()
	if _, err := s.Load(c, live); err != nil {
		b.Fatalf("the live session is gone: %v", err)
	}
	b.ReportMetric(float64(n)*float64(b.N)/total.Seconds(), "rows/s")
	b.ReportMetric(float64(n), "rows/op")
}

// BenchmarkSQLiteCalls times the engine's calls of a request on a SQLite
// file opened from a URL: Load, and Load then Swap (a read-write
// request), with a cancellable context as a request's ("request") and
// with context.Background ("background"), whose difference is what
// watching the context costs.
func BenchmarkSQLiteCalls(b *testing.B) {
	s := open(b, "sqlite://"+filepath.ToSlash(filepath.Join(b.TempDir(), "calls.sqlite3"))+"?create_table=true")
	c := ctx(b)
	key := sessions.NewKey()
	data := []byte(`e30:1r31eq:4jUc7d6K4SjljzmCBMRybFprOH2S1lYgEeb3CCv8FJw` + fmt.Sprintf("%0200d", 0))
	if err := s.Create(c, key, data, time.Now().Add(time.Hour)); err != nil {
		b.Fatal(err)
	}
	for _, kind := range []string{"request", "background"} {
		newCtx := func() (context.Context, context.CancelFunc) {
			if kind == "background" {
				return context.Background(), func() {}
			}
			return context.WithCancel(c)
		}
		b.Run("load/"+kind, func(b *testing.B) {
			b.ReportAllocs()
			defer reportCPU(b)()
			for b.Loop() {
				rc, cancel := newCtx()
				if _, err := s.Load(rc, key); err != nil {
					b.Fatal(err)
				}
				cancel()
			}
		})
		b.Run("swap/"+kind, func(b *testing.B) {
			b.ReportAllocs()
			defer reportCPU(b)()
			for b.Loop() {
				rc, cancel := newCtx()
				old, err := s.Load(rc, key)
				if err != nil {
					b.Fatal(err)
				}
				if err := s.Swap(rc, key, old, old, time.Now().Add(time.Hour)); err != nil {
					b.Fatal(err)
				}
				cancel()
			}
		})
	}
}

// reportCPU reports the process's CPU time per op (every goroutine's:
// the driver's, database/sql's, the collector's), steadier than wall
// time on a loaded machine. Use it as defer reportCPU(b)().
func reportCPU(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() {
		b.ReportMetric(float64(cpu()-start)/float64(b.N), "cpu-ns/op")
	}
}
