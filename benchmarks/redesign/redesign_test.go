// Package redesign times the memory, SQLite and Redis engines' read-only
// and read-write requests through the middleware using only the API that
// main at 4ab9a1e (before the redesign of issue 14) and core share, so
// that scripts/abbench.sh can run this very source against both trees:
//
//	scripts/abbench.sh 4ab9a1e . '^BenchmarkRedesign$'   (with PKG=./redesign)
//
// make bench does it and puts the table in RESULTS.md.
package redesign

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	_ "github.com/sessionkit/sessions/all"
	"github.com/sessionkit/sessions/benchmarks/internal/workload"
	"github.com/sessionkit/sessions/internal/testservers"
)

const secret = "benchmark-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"

var handlers = map[string]http.Handler{
	"read": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sessions.FromContext(r.Context()).Get(workload.UserKey) == nil {
			w.WriteHeader(500)
		}
	}),
	"write": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessions.FromContext(r.Context())
		n, _ := sessions.Get[int](s, workload.CounterKey)
		s.Set(workload.CounterKey, n+1)
	}),
}

// BenchmarkRedesign serves the standard session's read-only and
// read-write requests (each with a cancellable context, as net/http
// gives them) on each store, reporting the process's CPU time per
// request beside the wall time.
func BenchmarkRedesign(b *testing.B) {
	stores := []struct {
		name   string
		config func(b *testing.B) string
	}{
		{"memory", func(*testing.B) string { return "memory:" }},
		{"sqlite", func(b *testing.B) string {
			return "sqlite://" + filepath.Join(b.TempDir(), "s.sqlite3") + "?create_table=true"
		}},
		{"redis", func(b *testing.B) string { return testservers.StartRedis(b).URL() + "?key_prefix=bench" }},
	}
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			s := sessions.DefaultSettings()
			s.SecretKey = secret
			m, err := sessions.Open(context.Background(), st.config(b), s)
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			ctx := context.Background()
			sess := m.NewSession(ctx)
			sess.Update(workload.Session())
			if err := sess.Save(ctx); err != nil {
				b.Fatal(err)
			}
			cookie := &http.Cookie{Name: s.CookieName, Value: sess.Key()}
			for _, kind := range []string{"read", "write"} {
				h := m.Handler(handlers[kind])
				b.Run(kind, func(b *testing.B) {
					b.ReportAllocs()
					cpu0 := cpuTime()
					for b.Loop() {
						rctx, cancel := context.WithCancel(ctx)
						req := httptest.NewRequestWithContext(rctx, "GET", "/", nil)
						req.AddCookie(cookie)
						rec := httptest.NewRecorder()
						h.ServeHTTP(rec, req)
						cancel()
						if rec.Code != 200 {
							b.Fatalf("status %d: %s", rec.Code, rec.Body)
						}
					}
					b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
				})
			}
		})
	}
}

// cpuTime is the CPU time (user + system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
