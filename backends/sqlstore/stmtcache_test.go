package sqlstore

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/internal/testservers"
)

// filesOpen counts this process's file descriptors open on path.
func filesOpen(t *testing.T, path string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && l == path {
			n++
		}
	}
	return n
}

// TestCachedStatementsGoWithTheirConnections churns the connections of a
// SQLite store's pools (SetConnMaxLifetime) under concurrent requests and
// checks that the driver statements cached per connection go with the
// connections database/sql closes: a statement left behind keeps its
// closed connection's database file open (sqlite3_close_v2) and is
// counted, so both the store's count and the process's open files of
// the database would grow with every connection the pools replaced.
func TestCachedStatementsGoWithTheirConnections(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir()) // as /proc/self/fd names it
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "churn.sqlite3")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	be, err := openSQLite(ctx, &url.URL{Scheme: "sqlite", Path: path, RawQuery: "create_table=true"}, sessions.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	s := be.(*Store)
	defer s.Close()
	if filesOpen(t, path) == 0 {
		t.Fatal("no open file found for the database in /proc/self/fd")
	}
	if !s.cached {
		t.Fatal("a SQLite store opened from a URL does not cache its statements")
	}
	s.r.SetConnMaxLifetime(3 * time.Millisecond)
	s.w.SetConnMaxLifetime(3 * time.Millisecond)
	keys := make([]string, 8)
	for i := range keys {
		keys[i] = sessions.NewKey()
		if err := s.Create(ctx, keys[i], []byte("v0"), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errc := make(chan error, len(keys))
	for _, k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 60 {
				rctx, cancel := context.WithCancel(ctx) // as a request's
				if _, err := s.Load(rctx, k); err != nil {
					cancel()
					errc <- err
					return
				}
				if err := s.Update(rctx, k, []byte("v"), time.Now().Add(time.Hour)); err != nil {
					cancel()
					errc <- err
					return
				}
				cancel()
				if i%10 == 0 {
					time.Sleep(4 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	rs, ws := s.r.Stats(), s.w.Stats()
	if closed := rs.MaxLifetimeClosed + ws.MaxLifetimeClosed; closed < 10 {
		t.Fatalf("only %d connections were replaced: the test did not churn", closed)
	}
	// No call is in flight: connections and statements can only go.
	conns := rs.OpenConnections + ws.OpenConnections
	stmts := s.openStmts.Load()
	files := filesOpen(t, path)
	t.Logf("%d connections replaced; %d open, holding %d statements; %d files open on the database",
		rs.MaxLifetimeClosed+ws.MaxLifetimeClosed, conns, stmts, files)
	if max := int64(conns * len(s.st.all)); stmts > max {
		t.Errorf("%d driver statements held by %d connections (at most %d): statements of closed connections were left behind", stmts, conns, max)
	}
	// SQLite may keep the descriptor of a closed connection a moment
	// longer, while another connection holds a POSIX lock on the file
	// (unixClose's pending descriptors); a few, not one per connection
	// replaced.
	if files > conns+10 {
		t.Errorf("%d files open on the database for %d connections: closed connections were kept alive", files, conns)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n := s.openStmts.Load(); n != 0 {
		t.Errorf("%d driver statements left after Close", n)
	}
	if n := filesOpen(t, path); n != 0 {
		t.Errorf("%d files still open on the database after Close", n)
	}
}

// TestMySQLCachesStatements checks that a MySQL store opened from a URL
// runs its statements on the driver's, cached per connection, and that
// they go with their connections: churned connections leave no statement
// behind, and a request cancelled mid-statement (go-sql-driver/mysql then
// closes its connection) neither breaks the pool nor leaks.
func TestMySQLCachesStatements(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	u, err := url.Parse(testservers.SharedMariaDB(t).URL())
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("create_table", "true")
	q.Set("table", "stmtcache_"+strings.ToLower(sessions.NewKey()[:8]))
	u.RawQuery = q.Encode()
	be, err := openMySQL(ctx, u, sessions.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	s := be.(*Store)
	defer s.Close()
	if !s.cached {
		t.Fatal("a MySQL store opened from a URL does not cache its statements")
	}
	k := sessions.NewKey()
	if err := s.Create(ctx, k, []byte("v0"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	s.w.SetConnMaxLifetime(5 * time.Millisecond)
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				rctx, rcancel := context.WithCancel(ctx)
				if i%10 == 9 {
					rcancel() // a request gone before its statement
				}
				_, err := s.Load(rctx, k)
				if err == nil {
					_, _, err = s.LoadExpiry(rctx, k)
				}
				rcancel()
				if err != nil && !errors.Is(err, context.Canceled) {
					errc <- err
					return
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	data, exp, err := s.LoadExpiry(ctx, k)
	if err != nil || string(data) != "v0" || time.Until(exp) < 59*time.Minute {
		t.Fatalf("after the churn: LoadExpiry = %q, %v, %v", data, exp, err)
	}
	if n := s.openStmts.Load(); n <= 0 {
		t.Fatalf("%d driver statements counted after requests on a caching pool", n)
	}
	// Idle connections closed: their statements go with them.
	s.w.SetMaxIdleConns(0)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n := s.openStmts.Load(); n != 0 {
		t.Fatalf("%d driver statements left after Close", n)
	}
}
