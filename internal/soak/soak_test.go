//go:build soak

// Package soak is the fault soak of `make soak`: concurrent clients write
// sessions through the real middleware while the store's server is killed
// and restarted several times. Afterwards every write that returned
// success must still be there (zero lost acknowledged writes), nothing may
// have panicked, failures must be clear errors during the outages, and
// service must come back by itself within a few seconds of the server's
// return. It runs on loopback only, bounded in time (SOAK_DURATION per
// engine, default 40s, SOAK_RESTARTS restarts, default 3).
package soak

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	_ "github.com/sessionkit/sessions/all"
	"github.com/sessionkit/sessions/internal/testservers"
)

type target struct {
	name string
	// volatile: a restart empties the store by design (memcached keeps
	// nothing on disk): writes are then checked per session lifetime.
	volatile bool
	setup    func(t *testing.T) (config string, stop, start func())
}

func targets() []target {
	return []target{
		{name: "redis", setup: func(t *testing.T) (string, func(), func()) {
			r := testservers.StartRedisDurable(t)
			return r.URL() + "?max_retries=-1&dial_timeout=250ms&read_timeout=1s&write_timeout=1s", r.Stop, r.Start
		}},
		{name: "memcached", volatile: true, setup: func(t *testing.T) (string, func(), func()) {
			m := testservers.StartMemcached(t)
			return "memcached://" + m.Addr + "?timeout=500ms", m.Stop, m.Start
		}},
		{name: "postgres", setup: func(t *testing.T) (string, func(), func()) {
			p := testservers.StartPostgresDurable(t)
			return p.URL() + "&create_table=true&max_open_conns=16&conn_max_lifetime=30s", p.Kill, p.Start
		}},
		{name: "sqlite", setup: func(t *testing.T) (string, func(), func()) {
			// No server to kill: the application restarts instead (the
			// Manager is closed and reopened on the same file).
			return "sqlite://" + filepath.Join(t.TempDir(), "soak.sqlite3") + "?create_table=true", nil, nil
		}},
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

type report struct {
	engine                 string
	sent, ok, failed, lost int64
	lostSessions           int64
	maxRecovery            time.Duration
	statuses               map[int]int64
}

func TestSoak(t *testing.T) {
	duration := time.Duration(envInt("SOAK_DURATION", 40)) * time.Second
	restarts := envInt("SOAK_RESTARTS", 3)
	var reports []report
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			reports = append(reports, soak(t, tg, duration, restarts))
		})
	}
	t.Log("\n" + table(reports))
}

func soak(t *testing.T, tg target, duration time.Duration, restarts int) report {
	config, stop, start := tg.setup(t)
	st := sessions.DefaultSettings()
	st.SecretKey = "soak-secret-key"
	var storeErrors atomic.Int64
	st.Logger = slog.New(countingHandler{&storeErrors})
	var cur atomic.Pointer[sessions.Manager]
	open := func() {
		m, err := sessions.Open(context.Background(), config, st)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		cur.Store(m)
	}
	open()
	defer func() { cur.Load().Close() }()
	var panics atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				panics.Add(1)
				panic(p)
			}
		}()
		cur.Load().Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s := sessions.FromContext(r.Context())
			switch r.URL.Path {
			case "/w":
				s.Set(r.URL.Query().Get("k"), true)
			case "/r":
				fmt.Fprint(w, strings.Join(s.Keys(), ","))
			}
		})).ServeHTTP(w, r)
	}))
	defer srv.Close()

	rep := report{engine: tg.name, statuses: map[int]int64{}}
	var mu sync.Mutex
	lastOK := atomic.Int64{} // unix nanos of the last successful request
	deadline := time.Now().Add(duration)

	type client struct {
		jar     *cookiejar.Jar
		cookie  string          // session key when shared
		acked   map[string]bool // keys acknowledged in the current session
		session string
	}
	const independent, shared = 12, 4
	sharedCookie := ""
	var sharedAcked sync.Map
	// Seed the shared session.
	{
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
		res, err := c.Get(srv.URL + "/w?k=seed")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		for _, ck := range res.Cookies() {
			sharedCookie = ck.Value
		}
	}

	var wg sync.WaitGroup
	var seq atomic.Int64
	run := func(id int, isShared bool) {
		defer wg.Done()
		jar, _ := cookiejar.New(nil)
		hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
		cl := &client{jar: jar, acked: map[string]bool{}}
		for time.Now().Before(deadline) {
			k := fmt.Sprintf("c%d_%d", id, seq.Add(1))
			req, _ := http.NewRequest("GET", srv.URL+"/w?k="+k, nil)
			if isShared {
				req.AddCookie(&http.Cookie{Name: "sessionid", Value: sharedCookie})
				hc.Jar = nil
			}
			res, err := hc.Do(req)
			mu.Lock()
			rep.sent++
			if err != nil {
				rep.failed++
				rep.statuses[-1]++
				mu.Unlock()
				time.Sleep(20 * time.Millisecond)
				continue
			}
			res.Body.Close()
			rep.statuses[res.StatusCode]++
			if res.StatusCode != 200 {
				rep.failed++
				mu.Unlock()
				time.Sleep(20 * time.Millisecond)
				continue
			}
			rep.ok++
			mu.Unlock()
			lastOK.Store(time.Now().UnixNano())
			if isShared {
				sharedAcked.Store(k, true)
				continue
			}
			var key string
			for _, ck := range res.Cookies() {
				if ck.Name == "sessionid" {
					key = ck.Value
				}
			}
			if key != cl.session {
				if cl.session != "" {
					// The store lost the session (a restart of a volatile
					// store): start counting again.
					mu.Lock()
					rep.lostSessions++
					if !tg.volatile {
						rep.lost += int64(len(cl.acked))
					}
					mu.Unlock()
				}
				cl.session, cl.acked = key, map[string]bool{}
			}
			cl.acked[k] = true
		}
		// Verify: every acknowledged key of the current session is there.
		if isShared {
			return
		}
		got := readKeys(t, hc, srv.URL, "")
		mu.Lock()
		for k := range cl.acked {
			if !got[k] {
				rep.lost++
			}
		}
		mu.Unlock()
	}
	for i := range independent {
		wg.Add(1)
		go run(i, false)
	}
	for i := range shared {
		wg.Add(1)
		go run(100+i, true)
	}

	// The faults.
	interval := duration / time.Duration(restarts+1)
	for i := range restarts {
		time.Sleep(interval - 2*time.Second)
		if !time.Now().Before(deadline.Add(-3 * time.Second)) {
			break
		}
		outage := time.Second + time.Duration(i)*500*time.Millisecond
		if stop != nil {
			stop()
			time.Sleep(outage)
			start()
		} else {
			old := cur.Load()
			old.Close() // requests in flight fail: the application is going down
			time.Sleep(outage / 4)
			open()
		}
		back := time.Now()
		for lastOK.Load() < back.UnixNano() && time.Since(back) < 30*time.Second {
			time.Sleep(10 * time.Millisecond)
		}
		rec := time.Since(back)
		if rec > rep.maxRecovery {
			rep.maxRecovery = rec
		}
		t.Logf("%s: restart %d: outage %s, service back %s after the store", tg.name, i+1, outage, rec.Truncate(time.Millisecond))
	}
	wg.Wait()

	// The shared session: with compare-and-swap, no acknowledged key of
	// any of the concurrent writers may be missing.
	if !tg.volatile {
		jar, _ := cookiejar.New(nil)
		hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
		got := readKeys(t, hc, srv.URL, sharedCookie)
		sharedAcked.Range(func(k, _ any) bool {
			if !got[k.(string)] {
				rep.lost++
			}
			return true
		})
	}
	if n := panics.Load(); n > 0 {
		t.Errorf("%d panics", n)
	}
	if rep.lost > 0 {
		t.Errorf("%d acknowledged writes lost", rep.lost)
	}
	if !tg.volatile && rep.lostSessions > 0 {
		t.Errorf("%d sessions lost on a durable store", rep.lostSessions)
	}
	if rep.maxRecovery > 5*time.Second {
		t.Errorf("recovery took %s", rep.maxRecovery)
	}
	if rep.ok == 0 {
		t.Error("no request succeeded")
	}
	return rep
}

func readKeys(t *testing.T, hc *http.Client, base, cookie string) map[string]bool {
	var body string
	for attempt := 0; attempt < 50; attempt++ {
		req, _ := http.NewRequest("GET", base+"/r", nil)
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: "sessionid", Value: cookie})
		}
		res, err := hc.Do(req)
		if err == nil && res.StatusCode == 200 {
			b := new(strings.Builder)
			_, _ = fmt.Fprint(b, readAll(res))
			body = b.String()
			break
		}
		if err == nil {
			res.Body.Close()
		}
		time.Sleep(100 * time.Millisecond)
	}
	got := map[string]bool{}
	for _, k := range strings.Split(body, ",") {
		got[k] = true
	}
	return got
}

func readAll(res *http.Response) string {
	defer res.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := res.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}

func table(rs []report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-10s %8s %8s %8s %6s %14s %12s  %s\n", "engine", "sent", "ok", "failed", "lost", "lost sessions", "max recovery", "statuses")
	for _, r := range rs {
		fmt.Fprintf(&b, "%-10s %8d %8d %8d %6d %14d %12s  %v\n", r.engine, r.sent, r.ok, r.failed, r.lost, r.lostSessions, r.maxRecovery.Truncate(time.Millisecond), r.statuses)
	}
	return b.String()
}

// countingHandler counts log records instead of printing a line per
// failed request during an outage.
type countingHandler struct{ n *atomic.Int64 }

func (h countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countingHandler) Handle(context.Context, slog.Record) error {
	h.n.Add(1)
	return nil
}
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countingHandler) WithGroup(string) slog.Handler      { return h }
