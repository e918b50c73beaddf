package benchmarks

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessions/internal/testservers"
)

// The HTTP load test: cmd/loadserver (a real net/http server, one process
// per library and store) under wrk on loopback for a fixed time, with
// loadtest/session.lua keeping a jar of logged-in sessions and mixing
// read-only and read-write requests. Tuned by the environment:
//
//	LOAD_DURATION=10s     how long wrk runs per server (after a 2 s warm-up)
//	LOAD_CONNECTIONS=16   concurrent connections (wrk -c), over 2 threads
const (
	loadThreads  = 2
	loadSessions = 1000 // over all threads
	loadWritePct = parallelWritePct
)

var loadServer struct {
	once sync.Once
	path string
	err  error
}

// buildLoadServer builds cmd/loadserver once per test binary.
func buildLoadServer(b *testing.B) string {
	loadServer.once.Do(func() {
		dir, err := os.MkdirTemp("", "loadserver")
		if err != nil {
			loadServer.err = err
			return
		}
		loadServer.path = filepath.Join(dir, "loadserver")
		out, err := exec.Command("go", "build", "-o", loadServer.path, "./cmd/loadserver").CombinedOutput()
		if err != nil {
			loadServer.err = fmt.Errorf("go build ./cmd/loadserver: %v\n%s", err, out)
		}
	})
	if loadServer.err != nil {
		b.Fatal(loadServer.err)
	}
	return loadServer.path
}

// startLoadServer runs the load server with args and returns its URL; it
// is killed in b.Cleanup.
func startLoadServer(b *testing.B, args ...string) string {
	cmd := exec.Command(buildLoadServer(b), args...)
	// The server's log goes to a file, not to the benchmark's output,
	// where its lines would cut result lines in two; what it logged is
	// summed up after the run.
	logf, err := os.Create(filepath.Join(b.TempDir(), "loadserver.log"))
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
		if log, err := os.ReadFile(logf.Name()); err == nil && len(log) > 0 {
			lines := strings.Split(strings.TrimRight(string(log), "\n"), "\n")
			b.Logf("loadserver %v logged %d lines, the first: %s", args, len(lines), lines[0])
		}
	})
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				line <- u
			}
		}
	}()
	select {
	case u := <-line:
		return u
	case <-time.After(30 * time.Second):
		b.Fatalf("loadserver %v did not start", args)
		return ""
	}
}

// wrkResult is what session.lua's done() prints.
type wrkResult map[string]float64

// runWrk runs wrk against url for d and parses the LOAD line.
func runWrk(b *testing.B, url string, conns int, d time.Duration) wrkResult {
	script, err := filepath.Abs("loadtest/session.lua")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "wrk", "-t", strconv.Itoa(loadThreads), "-c", strconv.Itoa(conns),
		"-d", strconv.Itoa(int(d.Seconds()))+"s", "--timeout", "5s", "-s", script, url, "--",
		strconv.Itoa(loadSessions/loadThreads), strconv.Itoa(loadWritePct))
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("wrk: %v\n%s", err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		rest, ok := strings.CutPrefix(l, "LOAD ")
		if !ok {
			continue
		}
		r := wrkResult{}
		for _, f := range strings.Fields(rest) {
			k, v, _ := strings.Cut(f, "=")
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				b.Fatalf("wrk output %q: %v", l, err)
			}
			r[k] = x
		}
		return r
	}
	b.Fatalf("wrk printed no LOAD line:\n%s", out)
	return nil
}

func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil && d > 0 {
		return d
	}
	return def
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// BenchmarkLoad runs the HTTP load test for ours and scs side by side on
// memory, Redis and SQLite (and ours on scs's SQLite driver), reporting
// requests per second, p50/p90/p99 latency in µs, and failed requests
// (which must be 0). Run it with -benchtime 1x: each iteration is a whole
// wrk run.
func BenchmarkLoad(b *testing.B) {
	if _, err := exec.LookPath("wrk"); err != nil {
		if os.Getenv("SESSIONS_REQUIRE_SERVERS") == "1" {
			b.Fatal("wrk is not installed (make deps installs it)")
		}
		b.Skip("wrk is not installed (make deps installs it)")
	}
	d := envDuration("LOAD_DURATION", 10*time.Second)
	conns := envInt("LOAD_CONNECTIONS", 16)
	redisAddr := testservers.SharedRedis(b).Addr
	cases := []struct{ store, lib string }{
		{"memory", "ours"}, {"memory", "scs"},
		{"redis", "ours"}, {"redis", "scs"},
		{"sqlite", "ours"}, {"sqlite", "scs"},
		{"sqlite-mattn", "ours"},
	}
	for _, c := range cases {
		b.Run(c.store+"/"+c.lib, func(b *testing.B) {
			url := startLoadServer(b, "-lib", c.lib, "-store", c.store, "-redis", redisAddr, "-dir", b.TempDir())
			runWrk(b, url, conns, 2*time.Second) // warm-up: pools, caches, the first sessions
			var r wrkResult
			for b.Loop() {
				r = runWrk(b, url, conns, d)
			}
			secs := r["duration_us"] / 1e6
			b.ReportMetric(r["requests"]/secs, "req/s")
			b.ReportMetric(r["p50_us"], "p50-us")
			b.ReportMetric(r["p90_us"], "p90-us")
			b.ReportMetric(r["p99_us"], "p99-us")
			b.ReportMetric(r["errors"]+r["non2xx"], "failed")
			if r["errors"]+r["non2xx"] > 0 {
				b.Errorf("%v requests failed (%v socket errors, %v with status >= 400)", r["errors"]+r["non2xx"], r["errors"], r["non2xx"])
			}
		})
	}
}
