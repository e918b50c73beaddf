package benchmarks

import (
	"context"
	"database/sql"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/alexedwards/scs/sqlite3store"
	"github.com/alexedwards/scs/v2"
	gsessions "github.com/gorilla/sessions"
	_ "github.com/mattn/go-sqlite3"
	"github.com/sessionkit/sessions"
	_ "github.com/sessionkit/sessions/all"
	"github.com/sessionkit/sessions/backends/sqlstore"
	"github.com/sessionkit/sessions/codec"
	bolt "go.etcd.io/bbolt"
)

func openManager(b *testing.B, config string) *sessions.Manager {
	b.Helper()
	m, err := sessions.Open(context.Background(), config, settings())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	return m
}

// encoded returns the stored bytes of the benchmark session, as the
// Manager writes them.
func encoded(b *testing.B) []byte {
	v, err := codec.Signed{Key: secret}.Encode(codec.NewDict(baseData(0)))
	if err != nil {
		b.Fatal(err)
	}
	return v
}

func BenchmarkSQLite(b *testing.B) {
	dir := b.TempDir()
	b.Run("ours", func(b *testing.B) {
		m := openManager(b, "sqlite://"+filepath.Join(dir, "ours.sqlite3")+"?create_table=true")
		oursPair(b, m, baseData(0))
	})
	// Our engine over mattn/go-sqlite3 (cgo), the driver scs uses, to
	// separate driver cost from library cost.
	b.Run("ours-mattn", func(b *testing.B) {
		db, err := sql.Open("sqlite3", filepath.Join(dir, "ours-mattn.sqlite3")+"?_journal_mode=WAL&_busy_timeout=5000&_synchronous=NORMAL")
		if err != nil {
			b.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		st, err := sqlstore.New(db, sqlstore.SQLite, &sqlstore.Options{CreateTable: true})
		if err != nil {
			b.Fatal(err)
		}
		m, err := sessions.New(st, settings())
		if err != nil {
			b.Fatal(err)
		}
		defer m.Close()
		oursPair(b, m, baseData(0))
	})
	b.Run("scs-mattn", func(b *testing.B) {
		db, err := sql.Open("sqlite3", filepath.Join(dir, "scs.sqlite3")+"?_journal_mode=WAL&_busy_timeout=5000&_synchronous=NORMAL")
		if err != nil {
			b.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		if _, err := db.Exec(`CREATE TABLE sessions (token TEXT PRIMARY KEY, data BLOB NOT NULL, expiry REAL NOT NULL); CREATE INDEX sessions_expiry_idx ON sessions(expiry);`); err != nil {
			b.Fatal(err)
		}
		sm := scs.New()
		sm.Store = sqlite3store.NewWithCleanupInterval(db, 0)
		scsPair(b, sm)
	})
	for _, drv := range []string{"sqlite", "sqlite3"} {
		name := map[string]string{"sqlite": "floor", "sqlite3": "floor-mattn"}[drv]
		b.Run(name, func(b *testing.B) {
			dsn := filepath.Join(dir, name+".sqlite3")
			if drv == "sqlite" {
				dsn += "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)"
			} else {
				dsn += "?_journal_mode=WAL&_busy_timeout=5000&_synchronous=NORMAL"
			}
			db, err := sql.Open(drv, dsn)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			db.SetMaxOpenConns(1)
			for _, q := range sqlstore.SQLite.CreateTableSQL("django_session") {
				if _, err := db.Exec(q); err != nil {
					b.Fatal(err)
				}
			}
			key := sessions.NewKey()
			data := string(encoded(b))
			fmtTime := func(t time.Time) string { return sqlstore.FormatTime(t) }
			if _, err := db.Exec(`INSERT INTO django_session VALUES (?, ?, ?)`, key, data, fmtTime(time.Now().Add(time.Hour))); err != nil {
				b.Fatal(err)
			}
			sel, _ := db.Prepare(`SELECT session_data FROM django_session WHERE session_key = ? AND expire_date > ?`)
			upd, _ := db.Prepare(`UPDATE django_session SET session_data = ?, expire_date = ? WHERE session_key = ? AND expire_date > ?`)
			b.Run("read", func(b *testing.B) {
				b.ReportAllocs()
				var got string
				for b.Loop() {
					if err := sel.QueryRow(key, fmtTime(time.Now())).Scan(&got); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("write", func(b *testing.B) {
				b.ReportAllocs()
				var got string
				for b.Loop() {
					now := time.Now()
					if err := sel.QueryRow(key, fmtTime(now)).Scan(&got); err != nil {
						b.Fatal(err)
					}
					if _, err := upd.Exec(got, fmtTime(now.Add(time.Hour)), key, fmtTime(now)); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

func BenchmarkFile(b *testing.B) {
	dir := b.TempDir()
	mk := func(name string) string {
		d := filepath.Join(dir, name)
		if err := os.Mkdir(d, 0o700); err != nil {
			b.Fatal(err)
		}
		return d
	}
	b.Run("ours", func(b *testing.B) {
		oursPair(b, openManager(b, "file://"+mk("ours")), baseData(0))
	})
	b.Run("ours-nosync", func(b *testing.B) {
		oursPair(b, openManager(b, "file://"+mk("ours-nosync")+"?sync=false"), baseData(0))
	})
	b.Run("gorilla-nosync", func(b *testing.B) {
		store := gsessions.NewFilesystemStore(mk("gorilla"), []byte(secret))
		gorillaPair(b, store)
	})
	for _, sync := range []bool{true, false} {
		name := map[bool]string{true: "floor", false: "floor-nosync"}[sync]
		b.Run(name, func(b *testing.B) {
			d := mk(name)
			path := filepath.Join(d, "sessionid"+sessions.NewKey())
			data := encoded(b)
			os.WriteFile(path, data, 0o600)
			write := func(data []byte) {
				f, err := os.CreateTemp(d, "tmp_")
				if err != nil {
					b.Fatal(err)
				}
				f.Write(data)
				if sync {
					f.Sync()
				}
				f.Close()
				if err := os.Rename(f.Name(), path); err != nil {
					b.Fatal(err)
				}
				if sync {
					df, _ := os.Open(d)
					df.Sync()
					df.Close()
				}
			}
			b.Run("read", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := os.ReadFile(path); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("write", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					got, err := os.ReadFile(path)
					if err != nil {
						b.Fatal(err)
					}
					write(got)
				}
			})
		})
	}
}

func BenchmarkBolt(b *testing.B) {
	dir := b.TempDir()
	b.Run("ours", func(b *testing.B) {
		oursPair(b, openManager(b, "bolt://"+filepath.Join(dir, "ours.db")), baseData(0))
	})
	b.Run("floor", func(b *testing.B) {
		db, err := bolt.Open(filepath.Join(dir, "floor.db"), 0o600, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		key := []byte(sessions.NewKey())
		data := encoded(b)
		db.Update(func(tx *bolt.Tx) error {
			bk, _ := tx.CreateBucketIfNotExists([]byte("s"))
			return bk.Put(key, data)
		})
		b.Run("read", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				db.View(func(tx *bolt.Tx) error {
					_ = append([]byte(nil), tx.Bucket([]byte("s")).Get(key)...)
					return nil
				})
			}
		})
		b.Run("write", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				db.Update(func(tx *bolt.Tx) error {
					bk := tx.Bucket([]byte("s"))
					v := append([]byte(nil), bk.Get(key)...)
					return bk.Put(key, v)
				})
			}
		})
	})
}

// scsPair benchmarks scs's LoadAndSave read-only and read-write.
func scsPair(b *testing.B, sm *scs.SessionManager) {
	token := scsSeed(b, sm)
	b.Run("read", func(b *testing.B) {
		h := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if sm.GetString(r.Context(), "user") == "" {
				w.WriteHeader(500)
			}
		}))
		b.ReportAllocs()
		for b.Loop() {
			request(b, h, sm.Cookie.Name, token)
		}
	})
	b.Run("write", func(b *testing.B) {
		h := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sm.Put(r.Context(), "n", sm.GetInt(r.Context(), "n")+1)
		}))
		b.ReportAllocs()
		for b.Loop() {
			request(b, h, sm.Cookie.Name, token)
		}
	})
}
