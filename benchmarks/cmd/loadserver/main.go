// Command loadserver is the small HTTP server make bench's load test
// (BenchmarkLoad, driving wrk) runs once per library and store: a real
// net/http server on loopback whose requests carry real, cancellable
// contexts, with the session middleware of sessionkit ("ours") or of scs
// around three handlers:
//
//	/login   stores the standard session (workload.Session) in a new session
//	/read    reads the logged-in user (401 if the session is gone)
//	/write   reads and increments a counter
//
// It prints "listening on http://ADDR" once it accepts connections and
// runs until it is killed.
//
//	loadserver -lib ours|scs -store memory|redis|sqlite|sqlite-mattn [-redis ADDR] [-dir DIR] [-addr 127.0.0.1:0]
//
// sqlite is each library's usual SQLite: ours on modernc.org/sqlite (the
// embedded default), scs on mattn/go-sqlite3 (its sqlite3store);
// sqlite-mattn is ours on mattn/go-sqlite3, scs's driver.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/alexedwards/scs/sqlite3store"
	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	_ "github.com/mattn/go-sqlite3"
	"github.com/redis/go-redis/v9"
	"github.com/sessionkit/sessions"
	_ "github.com/sessionkit/sessions/all"
	"github.com/sessionkit/sessions/backends/sqlstore"
	"github.com/sessionkit/sessions/benchmarks/internal/workload"
)

func main() {
	lib := flag.String("lib", "ours", "session library: ours or scs")
	store := flag.String("store", "memory", "store: memory, redis, sqlite or sqlite-mattn (ours only)")
	redisAddr := flag.String("redis", "127.0.0.1:6379", "Redis address (host:port)")
	dir := flag.String("dir", os.TempDir(), "directory for the SQLite database")
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("loadserver: ")

	var h http.Handler
	var err error
	switch *lib {
	case "ours":
		h, err = ours(*store, *redisAddr, *dir)
	case "scs":
		h, err = withSCS(*store, *redisAddr, *dir)
	default:
		err = fmt.Errorf("unknown -lib %q", *lib)
	}
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on http://%s\n", ln.Addr())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.Serve(ln))
}

// ours is sessionkit's middleware on the store.
func ours(store, redisAddr, dir string) (http.Handler, error) {
	st := sessions.DefaultSettings()
	st.SecretKey = "loadserver-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"
	ctx := context.Background()
	var m *sessions.Manager
	var err error
	switch store {
	case "memory":
		m, err = sessions.Open(ctx, "memory:", st)
	case "redis":
		m, err = sessions.Open(ctx, "redis://"+redisAddr+"/0?key_prefix=load"+sessions.NewKey()[:6], st)
	case "sqlite":
		m, err = sessions.Open(ctx, "sqlite://"+filepath.Join(dir, "ours.sqlite3")+"?create_table=true", st)
	case "sqlite-mattn":
		var db *sql.DB
		if db, err = openMattn(filepath.Join(dir, "ours-mattn.sqlite3")); err != nil {
			return nil, err
		}
		var e *sqlstore.Store
		if e, err = sqlstore.New(db, sqlstore.SQLite, &sqlstore.Options{CreateTable: true}); err != nil {
			return nil, err
		}
		m, err = sessions.New(e, st)
	default:
		return nil, fmt.Errorf("unknown -store %q", store)
	}
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		sessions.FromContext(r.Context()).Update(workload.Session())
		w.Header().Set("X-Login", "1")
	})
	mux.HandleFunc("/read", func(w http.ResponseWriter, r *http.Request) {
		if sessions.FromContext(r.Context()).Get(workload.UserKey) == nil {
			w.WriteHeader(http.StatusUnauthorized)
		}
	})
	mux.HandleFunc("/write", func(w http.ResponseWriter, r *http.Request) {
		s := sessions.FromContext(r.Context())
		n, _ := sessions.Get[int](s, workload.CounterKey)
		s.Set(workload.CounterKey, n+1)
	})
	return m.Handler(mux), nil
}

// withSCS is scs's middleware on the store.
func withSCS(store, redisAddr, dir string) (http.Handler, error) {
	sm := scs.New()
	switch store {
	case "memory":
		sm.Store = memstore.New()
	case "redis":
		sm.Store = goredisstore.New(redis.NewClient(&redis.Options{Addr: redisAddr}))
	case "sqlite":
		db, err := openMattn(filepath.Join(dir, "scs.sqlite3"))
		if err != nil {
			return nil, err
		}
		if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS sessions (token TEXT PRIMARY KEY, data BLOB NOT NULL, expiry REAL NOT NULL);
			CREATE INDEX IF NOT EXISTS sessions_expiry_idx ON sessions(expiry);`); err != nil {
			return nil, err
		}
		sm.Store = sqlite3store.New(db)
	default:
		return nil, fmt.Errorf("unknown -store %q for scs", store)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		for k, v := range workload.Session() {
			sm.Put(r.Context(), k, v)
		}
		w.Header().Set("X-Login", "1")
	})
	mux.HandleFunc("/read", func(w http.ResponseWriter, r *http.Request) {
		if sm.GetString(r.Context(), workload.UserKey) == "" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	})
	mux.HandleFunc("/write", func(w http.ResponseWriter, r *http.Request) {
		sm.Put(r.Context(), workload.CounterKey, sm.GetInt(r.Context(), workload.CounterKey)+1)
	})
	return sm.LoadAndSave(mux), nil
}

// openMattn opens SQLite through mattn/go-sqlite3 as scs's sqlite3store
// expects it: WAL, a busy timeout, one connection.
func openMattn(path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite3", path+"?_journal_mode=WAL&_busy_timeout=5000&_synchronous=NORMAL")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}
