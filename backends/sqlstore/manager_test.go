package sqlstore_test

import (
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/sqlstore"
	"github.com/sessionkit/sessions/internal/syncbuf"
	"github.com/sessionkit/sessions/internal/testservers"
)

// app is a Manager over a store behind an httptest server with two
// routes: /set?k=&v= stores a value, /get?k= prints one.
type app struct {
	m    *sessions.Manager
	srv  *httptest.Server
	logs *syncbuf.Buffer

	mu      sync.Mutex
	handled []error // errors given to Settings.ErrorHandler
}

func newApp(t *testing.T, e sessions.Engine) *app {
	t.Helper()
	a := &app{logs: &syncbuf.Buffer{}}
	set := sessions.DefaultSettings()
	set.SecretKey = "django_tests_secret_key"
	set.Logger = slog.New(slog.NewTextHandler(a.logs, nil))
	set.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		a.mu.Lock()
		a.handled = append(a.handled, err)
		a.mu.Unlock()
		http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
	}
	m, err := sessions.New(e, set)
	if err != nil {
		t.Fatal(err)
	}
	a.m = m
	mux := http.NewServeMux()
	mux.HandleFunc("/set", func(w http.ResponseWriter, r *http.Request) {
		sessions.FromContext(r.Context()).Set(r.FormValue("k"), r.FormValue("v"))
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, sessions.FromContext(r.Context()).Get(r.FormValue("k")))
	})
	a.srv = httptest.NewServer(m.Handler(mux))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *app) errors() []error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]error(nil), a.handled...)
}

// do sends GET path with the session cookie key (if any) and returns the
// status, the body and the session cookie the response set ("" if none).
func (a *app) do(t testing.TB, path, key string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", a.srv.URL+path, nil)
	if key != "" {
		req.AddCookie(&http.Cookie{Name: "sessionid", Value: key})
	}
	res, err := a.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	set := ""
	for _, c := range res.Cookies() {
		if c.Name == "sessionid" {
			set = c.Value
		}
	}
	return res.StatusCode, string(body), set
}

// TestManagerConcurrentRequests sends 100 concurrent clients through the
// middleware: 50 on sessions of their own, writing and reading, and 50 on
// one shared session, 20 of which write keys of their own into it while
// the others read it. No request fails, no row is lost, no write to the
// shared session is lost (the Manager merges concurrent writes through
// Swap), and nothing says "database is locked".
//
// (Writers on one session are kept below the Manager's retry budget: with
// compare-and-swap, N simultaneous writers of one row need up to N rounds
// for the unluckiest, and the Manager gives up after 33.)
func TestManagerConcurrentRequests(t *testing.T) {
	const clients, sharedWriters = 100, 20
	forEach(t, func(t *testing.T, b backend) {
		s := fresh(t, b)
		a := newApp(t, s)
		_, _, shared := a.do(t, "/set?k=owner&v=shared", "")
		if shared == "" {
			t.Fatal("no session cookie")
		}
		var wg sync.WaitGroup
		errc := make(chan error, clients)
		for i := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				jar, _ := cookiejar.New(nil)
				client := &http.Client{Jar: jar, Transport: a.srv.Client().Transport}
				get := func(path string) (string, error) {
					res, err := client.Get(a.srv.URL + path)
					if err != nil {
						return "", err
					}
					defer res.Body.Close()
					body, _ := io.ReadAll(res.Body)
					if res.StatusCode != 200 {
						return "", fmt.Errorf("GET %s: %d %s", path, res.StatusCode, body)
					}
					return string(body), nil
				}
				onShared := i%2 == 1
				if onShared {
					u, _ := url.Parse(a.srv.URL)
					jar.SetCookies(u, []*http.Cookie{{Name: "sessionid", Value: shared}})
				}
				writer := !onShared || i/2 < sharedWriters
				me := fmt.Sprint("c", i)
				for step := range 4 {
					if writer {
						if _, err := get(fmt.Sprintf("/set?k=%s&v=%d", me, step)); err != nil {
							errc <- err
							return
						}
						if got, err := get("/get?k=" + me); err != nil || got != fmt.Sprint(step) {
							errc <- fmt.Errorf("client %d read %q, %v after writing %d", i, got, err, step)
							return
						}
					}
					if onShared {
						if got, err := get("/get?k=owner"); err != nil || got != "shared" {
							errc <- fmt.Errorf("client %d read the shared session: %q, %v", i, got, err)
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Error(err)
		}
		if errs := a.errors(); len(errs) > 0 {
			t.Errorf("%d store errors, first: %v", len(errs), errs[0])
		}
		if strings.Contains(a.logs.String(), "locked") {
			t.Errorf("log mentions a lock:\n%s", a.logs.String())
		}
		// One row per private session, plus the shared one.
		if n := countRows(t, b, raw(s), s.Table()); n != clients/2+1 {
			t.Errorf("%d rows, want %d", n, clients/2+1)
		}
		sess := a.m.Load(ctx(t), shared)
		for i := 1; i < 2*sharedWriters; i += 2 {
			if got := sess.Get(fmt.Sprint("c", i)); got != "3" {
				t.Errorf("shared session lost client %d's write: %v", i, got)
			}
		}
	})
}

// TestManagerCorruptRow: a row whose session_data is not a valid signed
// session is no session at all: logged, never a 500, the row left alone.
func TestManagerCorruptRow(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		s := fresh(t, b)
		a := newApp(t, s)
		exp := djangoExpire(b.dialect, time.Now().Add(time.Hour))
		for _, data := range []string{
			"garbage that is not a signed session",
			"eyJhIHRlc3Qga2V5IjoiYSB0ZXN0IHZhbHVlIn0:1r31eq:z3T5kuYwaLspnAAUpfRWpbinC-rn6c6P1Qf9PsCyZ3s", // E1, signature changed
			"\x01sqlstore:base64:!!!not base64",
		} {
			key := sessions.NewKey()
			insertRaw(t, b, raw(s), s.Table(), key, data, exp)
			status, body, cookie := a.do(t, "/get?k=a+test+key", key)
			if status != 200 || body != "<nil>" || cookie != "" {
				t.Errorf("corrupt %q: %d %q cookie %q; want 200, no data, no cookie", data, status, body, cookie)
			}
			status, _, cookie = a.do(t, "/set?k=x&v=1", key)
			if status != 200 || cookie == "" || cookie == key {
				t.Errorf("writing over corrupt %q: %d, cookie %q; want a new key", data, status, cookie)
			}
		}
		if !strings.Contains(a.logs.String(), "Session data corrupted") {
			t.Errorf("nothing logged:\n%s", a.logs.String())
		}
		if errs := a.errors(); len(errs) > 0 {
			t.Errorf("store errors: %v", errs)
		}
		if n := countRows(t, b, raw(s), s.Table()); n != 6 {
			t.Errorf("%d rows, want the 3 corrupt ones untouched and 3 new", n)
		}
		// An empty session_data is an empty session (Django decodes it to
		// {} and keeps the key, as for its file engine's placeholders).
		key := sessions.NewKey()
		insertRaw(t, b, raw(s), s.Table(), key, "", exp)
		if status, body, cookie := a.do(t, "/get?k=a+test+key", key); status != 200 || body != "<nil>" || cookie != "" {
			t.Errorf("empty row: %d %q cookie %q", status, body, cookie)
		}
		if status, _, cookie := a.do(t, "/set?k=x&v=1", key); status != 200 || cookie != key {
			t.Errorf("writing over an empty row: %d, cookie %q; want the same key", status, cookie)
		}
	})
}

// TestManagerReadsDjangoVector reads the reference's E1 session, stored
// the way Django stores it: the session_data text and a naive UTC
// expire_date text on SQLite.
func TestManagerReadsDjangoVector(t *testing.T) {
	const e1 = "eyJhIHRlc3Qga2V5IjoiYSB0ZXN0IHZhbHVlIn0:1r31eq:z3T5kuYwaLspnAAUpfRWpbinC-rn6c6P1Qf9PsCyZ2s"
	forEach(t, func(t *testing.T, b backend) {
		s := fresh(t, b)
		a := newApp(t, s)
		live, dead := sessions.NewKey(), sessions.NewKey()
		if b.dialect == sqlstore.SQLite {
			// Exactly the text Django writes (str of a naive UTC datetime).
			insertRaw(t, b, raw(s), s.Table(), live, e1, "2099-11-14 22:13:20.123456")
			insertRaw(t, b, raw(s), s.Table(), dead, e1, "2023-11-28 22:13:20")
		} else {
			insertRaw(t, b, raw(s), s.Table(), live, e1, djangoExpire(b.dialect, time.Date(2099, 11, 14, 22, 13, 20, 123456000, time.UTC)))
			insertRaw(t, b, raw(s), s.Table(), dead, e1, djangoExpire(b.dialect, time.Date(2023, 11, 28, 22, 13, 20, 0, time.UTC)))
		}
		if status, body, _ := a.do(t, "/get?k=a+test+key", live); status != 200 || body != "a test value" {
			t.Errorf("E1: %d %q, want 200 %q", status, body, "a test value")
		}
		if status, body, _ := a.do(t, "/get?k=a+test+key", dead); status != 200 || body != "<nil>" {
			t.Errorf("expired E1: %d %q, want no session", status, body)
		}
	})
}

// TestDatabaseGoesAway stops the database server under a running
// application: requests fail with a clear error through
// Settings.ErrorHandler, and succeed again once the server is back,
// without restarting the application.
func TestDatabaseGoesAway(t *testing.T) {
	type server interface {
		Stop()
		Start()
	}
	for _, c := range []struct {
		name  string
		start func(t *testing.T) (server, string)
		want  string
	}{
		{"Postgres", func(t *testing.T) (server, string) {
			pg := testservers.StartPostgres(t)
			return pg, pg.URL() + "&create_table=true"
		}, "postgres database postgres://postgres@127.0.0.1:"},
		{"MariaDB", func(t *testing.T) (server, string) {
			m := testservers.StartMariaDB(t)
			return m, m.URL() + "?create_table=true"
		}, "mysql database mysql://root@127.0.0.1:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv, u := c.start(t)
			s := open(t, u)
			a := newApp(t, s)
			status, _, key := a.do(t, "/set?k=a&v=before", "")
			if status != 200 || key == "" {
				t.Fatalf("first request: %d", status)
			}

			srv.Stop()
			status, body, _ := a.do(t, "/get?k=a", key)
			if status != http.StatusServiceUnavailable || !strings.Contains(body, "session store unavailable") {
				t.Errorf("read with the database down: %d %q, want the ErrorHandler's 503", status, body)
			}
			status, _, _ = a.do(t, "/set?k=a&v=new", "")
			if status != http.StatusServiceUnavailable {
				t.Errorf("new session with the database down: %d, want 503", status)
			}
			errs := a.errors()
			if len(errs) != 2 {
				t.Fatalf("ErrorHandler saw %d errors, want 2: %v", len(errs), errs)
			}
			for _, err := range errs {
				var se *sessions.Error
				if !errors.As(err, &se) || !strings.Contains(err.Error(), c.want) {
					t.Errorf("error %v; want a *sessions.Error naming the %s", err, c.want)
				}
				t.Logf("error handler got: %v", err)
			}

			srv.Start()
			status, body, _ = a.do(t, "/get?k=a", key)
			if status != 200 || body != "before" {
				t.Errorf("first request after the restart: %d %q, want 200 %q", status, body, "before")
			}
			status, _, key2 := a.do(t, "/set?k=a&v=after", "")
			if status != 200 || key2 == "" {
				t.Errorf("new session after the restart: %d", status)
			}
			if n := len(a.errors()); n != 2 {
				t.Errorf("%d errors after the restart", n-2)
			}
		})
	}
}

// TestCreateTableSQLite compares the table create_table makes with
// Django's DDL as SQLite records it, for Django's name and another.
func TestCreateTableSQLite(t *testing.T) {
	for _, table := range []string{"django_session", "Sessions Ünïcode"} {
		s := open(t, withParams(backends[0].base(t), "create_table", "true", "table", table))
		var got []string
		rows, err := raw(s).Query("SELECT sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL ORDER BY type DESC, name", table)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var q string
			rows.Scan(&q)
			got = append(got, q)
		}
		rows.Close()
		want := sqlstore.SQLite.CreateTableSQL(table)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("sqlite_master:\n%s\nwant Django's\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// TestDeadIdleConnections kills the pool's idle connections from the
// server side (pg_terminate_backend or KILL, as a failover or an
// administrator would), then restarts the server under them: the requests
// right after still succeed (the drivers drop dead connections; the store
// sends a statement again when one fails on a connection the server
// closed).
func TestDeadIdleConnections(t *testing.T) {
	for _, c := range []struct {
		name  string
		start func(t *testing.T) (srv interface {
			Stop()
			Start()
		}, url string, kill func() error)
	}{
		{"Postgres", func(t *testing.T) (interface {
			Stop()
			Start()
		}, string, func() error) {
			pg := testservers.StartPostgres(t)
			kill := func() error {
				_, err := pg.SQL("postgres", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'sessions' AND pid <> pg_backend_pid()")
				return err
			}
			return pg, pg.URL() + "&create_table=true&max_open_conns=8&max_idle_conns=8", kill
		}},
		{"MariaDB", func(t *testing.T) (interface {
			Stop()
			Start()
		}, string, func() error) {
			m := testservers.StartMariaDB(t)
			kill := func() error {
				ids, err := m.SQL("", "SELECT id FROM information_schema.processlist WHERE db = 'sessions' AND id <> CONNECTION_ID()")
				if err != nil || ids == "" {
					return err
				}
				var q []string
				for _, id := range strings.Fields(ids) {
					q = append(q, "KILL "+id)
				}
				_, err = m.SQL("", strings.Join(q, "; "))
				return err
			}
			return m, m.URL() + "?create_table=true&max_open_conns=8&max_idle_conns=8", kill
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv, u, kill := c.start(t)
			s := open(t, u)
			cx := ctx(t)
			k := sessions.NewKey()
			if err := s.Create(cx, k, []byte("kept"), time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			fill := func() {
				// Fill the pool with idle connections.
				var conns []*sql.Conn
				for tries := 0; len(conns) < 8; tries++ {
					conn, err := raw(s).Conn(cx)
					if err != nil {
						t.Fatal(err)
					}
					if err := conn.PingContext(cx); err != nil {
						// A dead connection left from before: dropped.
						conn.Close()
						if tries > 50 {
							t.Fatal(err)
						}
						continue
					}
					conns = append(conns, conn)
				}
				for _, conn := range conns {
					conn.Close()
				}
			}
			check := func(when string) {
				for i := range 10 {
					if got, err := s.Load(cx, k); err != nil || string(got) != "kept" {
						t.Fatalf("Load #%d after %s: %q, %v", i, when, got, err)
					}
					if err := s.Touch(cx, k, time.Now().Add(time.Hour)); err != nil {
						t.Fatalf("Touch #%d after %s: %v", i, when, err)
					}
				}
			}
			fill()
			if err := kill(); err != nil {
				t.Fatal(err)
			}
			check("the server killed the idle connections")
			fill()
			srv.Stop()
			srv.Start()
			check("a restart")
		})
	}
}
