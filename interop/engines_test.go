package interop

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	_ "github.com/sessionkit/sessions/all"
	"github.com/sessionkit/sessions/djangoauth"
	"github.com/sessionkit/sessions/internal/testservers"
)

// engineSetup is one cell row of the compatibility matrix: how Django and
// Go are configured to share one store.
type engineSetup struct {
	name string
	// minMajor is the first Django version that has the engine's backend
	// (RedisCache appeared in 4.0).
	minMajor string
	// nativeExpiry says the store expires sessions itself (Django's cache
	// engine): clearsessions has nothing to remove.
	nativeExpiry bool
	// prepare starts what the engine needs and returns Django's settings
	// and the Go config string.
	prepare func(t *testing.T, dj Django) (djangoSettings map[string]any, goConfig string)
}

// userDB is the SQLite database holding Django's auth_user table (and,
// for the db engine on SQLite, django_session).
func userDB(t *testing.T) string {
	return filepath.Join(t.TempDir(), "django.sqlite3")
}

func sqliteDatabases(path string) map[string]any {
	return map[string]any{"default": map[string]any{"ENGINE": "django.db.backends.sqlite3", "NAME": path}}
}

func engineSetups() []engineSetup {
	return []engineSetup{
		{name: "db-sqlite", prepare: func(t *testing.T, dj Django) (map[string]any, string) {
			db := userDB(t)
			return map[string]any{"DATABASES": sqliteDatabases(db), "SESSION_ENGINE": "django.contrib.sessions.backends.db"},
				"sqlite://" + db
		}},
		{name: "db-postgres", prepare: func(t *testing.T, dj Django) (map[string]any, string) {
			pg := testservers.StartPostgres(t)
			return map[string]any{
				"DATABASES": map[string]any{"default": map[string]any{
					"ENGINE": "django.db.backends.postgresql", "NAME": pg.Database, "USER": pg.User,
					"HOST": "127.0.0.1", "PORT": fmt.Sprint(pg.Port),
				}},
				"SESSION_ENGINE": "django.contrib.sessions.backends.db",
			}, pg.URL()
		}},
		{name: "db-mariadb", prepare: func(t *testing.T, dj Django) (map[string]any, string) {
			my := testservers.StartMariaDB(t)
			return map[string]any{
				"DATABASES": map[string]any{"default": map[string]any{
					"ENGINE": "django.db.backends.mysql", "NAME": my.Database, "USER": my.User,
					"HOST": "127.0.0.1", "PORT": fmt.Sprint(my.Port),
					"OPTIONS": map[string]any{"charset": "utf8mb4"},
				}},
				"SESSION_ENGINE": "django.contrib.sessions.backends.db",
			}, my.URL()
		}},
		{name: "cache-redis", minMajor: "4.0", nativeExpiry: true, prepare: func(t *testing.T, dj Django) (map[string]any, string) {
			r := testservers.StartRedis(t)
			return map[string]any{
				"DATABASES":      sqliteDatabases(userDB(t)),
				"CACHES":         map[string]any{"default": map[string]any{"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": r.URL()}},
				"SESSION_ENGINE": "django.contrib.sessions.backends.cache",
			}, r.URL()
		}},
		{name: "cache-memcached", nativeExpiry: true, prepare: func(t *testing.T, dj Django) (map[string]any, string) {
			m1, m2 := testservers.StartMemcached(t), testservers.StartMemcached(t)
			return map[string]any{
				"DATABASES": sqliteDatabases(userDB(t)),
				"CACHES": map[string]any{"default": map[string]any{"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
					"LOCATION": []any{m1.Addr, m2.Addr}}},
				"SESSION_ENGINE": "django.contrib.sessions.backends.cache",
			}, "memcached://" + m1.Addr + "," + m2.Addr
		}},
		{name: "cached_db-redis", minMajor: "4.0", prepare: func(t *testing.T, dj Django) (map[string]any, string) {
			r := testservers.StartRedis(t)
			db := userDB(t)
			return map[string]any{
					"DATABASES":      sqliteDatabases(db),
					"CACHES":         map[string]any{"default": map[string]any{"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": r.URL()}},
					"SESSION_ENGINE": "django.contrib.sessions.backends.cached_db",
				}, "cached-db:?cache=" + url.QueryEscape(r.URL()) +
					"&db=" + url.QueryEscape("sqlite://"+db)
		}},
		{name: "cached_db-memcached", prepare: func(t *testing.T, dj Django) (map[string]any, string) {
			m := testservers.StartMemcached(t)
			db := userDB(t)
			return map[string]any{
					"DATABASES": sqliteDatabases(db),
					"CACHES": map[string]any{"default": map[string]any{"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
						"LOCATION": m.Addr}},
					"SESSION_ENGINE": "django.contrib.sessions.backends.cached_db",
				}, "cached-db:?cache=" + url.QueryEscape("memcached://"+m.Addr) +
					"&db=" + url.QueryEscape("sqlite://"+db)
		}},
		{name: "file", prepare: func(t *testing.T, dj Django) (map[string]any, string) {
			dir := filepath.Join(t.TempDir(), "sessions")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			return map[string]any{"DATABASES": sqliteDatabases(userDB(t)), "SESSION_ENGINE": "django.contrib.sessions.backends.file",
				"SESSION_FILE_PATH": dir}, "file://" + dir
		}},
	}
}

// goManager opens the Go side of a setup.
func goManager(t *testing.T, config string, fn func(*sessions.Settings)) *sessions.Manager {
	t.Helper()
	s := sessions.DefaultSettings()
	s.SecretKey = secret
	if fn != nil {
		fn(&s)
	}
	m, err := sessions.Open(context.Background(), config, s)
	if err != nil {
		t.Fatalf("open %s: %v", sessions.Redact(config), err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// with runs a batch of Django commands under one configuration; a
// command without "expect_error" fails the test if Django raised.
func (d Django) with(t *testing.T, conf map[string]any, cmds ...Cmd) []Result {
	t.Helper()
	res, err := d.batch(conf, cmds)
	if err != nil {
		t.Fatalf("Django %s: %v", d.Version, err)
	}
	for i, r := range res {
		if e := r.Err(); e != "" && cmds[i]["expect_error"] == nil {
			t.Fatalf("Django %s %v: %s: %v", d.Version, cmds[i]["op"], e, r["message"])
		}
	}
	return res
}

// TestEngines is the compatibility matrix: for each engine and Django
// version, sessions cross in both directions, with changes, deletions,
// expiry, fallback keys and Django's auth.
func TestEngines(t *testing.T) {
	versions := Versions(t)
	for _, es := range engineSetups() {
		for _, dj := range versions {
			if !dj.AtLeast(es.minMajor) {
				continue
			}
			t.Run(es.name+"/django-"+dj.Major(), func(t *testing.T) {
				conf, goConfig := es.prepare(t, dj)
				dj := dj.Pooled(t)
				dj.with(t, conf, Cmd{"op": "migrate"})
				m := goManager(t, goConfig, nil)
				ctx := context.Background()
				vals := sessionValues()

				t.Run("DjangoWritesGoReads", func(t *testing.T) {
					var names []string
					var cmds []Cmd
					for name, v := range vals {
						names = append(names, name)
						cmds = append(cmds, Cmd{"op": "session_create", "data": v})
					}
					for i, r := range dj.with(t, conf, cmds...) {
						key, _ := r["key"].(string)
						s := m.Load(ctx, key)
						if s.Err() != nil {
							t.Fatalf("%s: %v", names[i], s.Err())
						}
						got := map[string]any{}
						for k, v := range s.All() {
							got[k] = v
						}
						if Canon(got) != Canon(vals[names[i]]) {
							t.Errorf("%s: Go read %s\nDjango wrote %s", names[i], Canon(got), Canon(vals[names[i]]))
						}
					}
				})

				t.Run("GoWritesDjangoReads", func(t *testing.T) {
					var names []string
					var cmds []Cmd
					for name, v := range vals {
						s := m.NewSession(ctx)
						s.Update(v)
						if len(v) == 0 {
							s.MarkModified()
						}
						if err := s.Save(ctx); err != nil {
							t.Fatal(err)
						}
						names = append(names, name)
						cmds = append(cmds, Cmd{"op": "session_load", "key": s.Key()})
					}
					for i, r := range dj.with(t, conf, cmds...) {
						if r["exists"] != true || Canon(r["data"]) != Canon(vals[names[i]]) {
							t.Errorf("%s: Django read %v (exists %v)\nGo wrote %s", names[i], Canon(r["data"]), r["exists"], Canon(vals[names[i]]))
						}
					}
				})

				t.Run("GoModifiesDjangoSession", func(t *testing.T) {
					r := dj.with(t, conf, Cmd{"op": "session_create", "data": map[string]any{"cart": []any{"apple"}, "stay": "x"}})
					key := r[0]["key"].(string)
					s := m.Load(ctx, key)
					s.Set("cart", []any{"apple", "pear"})
					s.Delete("stay")
					s.Set("theme", "dark")
					if err := s.Save(ctx); err != nil {
						t.Fatal(err)
					}
					got := dj.with(t, conf, Cmd{"op": "session_load", "key": key})[0]
					if Canon(got["data"]) != `{"cart":["apple","pear"],"theme":"dark"}` {
						t.Errorf("Django sees %s", Canon(got["data"]))
					}
					// And Django modifies a Go session.
					g := m.NewSession(ctx)
					g.Set("n", 1)
					g.Save(ctx)
					dj.with(t, conf, Cmd{"op": "session_update", "key": g.Key(), "set": map[string]any{"n": 2, "django": true}})
					back := m.Load(ctx, g.Key())
					if n, _ := sessions.Get[int](back, "n"); n != 2 || back.Get("django") != true {
						t.Errorf("Go sees %v", back.Keys())
					}
				})

				t.Run("DeletesCross", func(t *testing.T) {
					r := dj.with(t, conf, Cmd{"op": "session_create", "data": map[string]any{"a": 1}})
					key := r[0]["key"].(string)
					dj.with(t, conf, Cmd{"op": "session_delete", "key": key})
					if s := m.Load(ctx, key); s.Len() != 0 {
						t.Error("Go still loads a session Django deleted")
					}
					g := m.NewSession(ctx)
					g.Set("a", 1)
					g.Save(ctx)
					gk := g.Key()
					g.Flush(ctx)
					if got := dj.with(t, conf, Cmd{"op": "session_load", "key": gk})[0]; got["exists"] == true || Canon(got["data"]) != "{}" {
						t.Errorf("Django still loads a session Go flushed: %v", got)
					}
					// A Django write after a Go logout does not resurrect it.
					got := dj.with(t, conf, Cmd{"op": "session_update", "key": gk, "set": map[string]any{"late": 1}, "expect_error": true})[0]
					if s := m.Load(ctx, gk); s.Len() != 0 {
						t.Errorf("session resurrected by Django's write (%v)", got)
					}
				})

				t.Run("ExpiryCrosses", func(t *testing.T) {
					r := dj.with(t, conf,
						Cmd{"op": "session_create", "data": map[string]any{"a": 1}, "expiry": 3600},
						Cmd{"op": "session_create", "data": map[string]any{"a": 1}, "expiry": 0},
					)
					if s := m.Load(ctx, r[0]["key"].(string)); s.ExpiryAge() != time.Hour {
						t.Errorf("Django's set_expiry(3600): Go age %v", s.ExpiryAge())
					}
					if s := m.Load(ctx, r[1]["key"].(string)); !s.ExpireAtBrowserClose() || s.Len() == 0 {
						t.Error("Django's set_expiry(0): Go does not see a browser-close session")
					}
					g := m.NewSession(ctx)
					g.Set("a", 1)
					g.SetExpiry(10 * time.Minute)
					g.Save(ctx)
					cmds := []Cmd{{"op": "session_load", "key": g.Key()}}
					var at *sessions.Session
					setAt := time.Now()
					if dj.ReadsISOExpiry() {
						at = m.NewSession(ctx)
						at.Set("a", 1)
						at.SetExpiryAt(setAt.Add(2 * time.Hour))
						at.Save(ctx)
						cmds = append(cmds, Cmd{"op": "session_load", "key": at.Key()})
					}
					res := dj.with(t, conf, cmds...)
					if age := fmt.Sprint(res[0]["expiry_age"]); age != "600" {
						t.Errorf("Go's SetExpiry(10m): Django age %s", age)
					}
					if at != nil {
						// The absolute expiry counts down while Django
						// starts, which takes seconds on a busy machine.
						slack := int64(time.Since(setAt).Seconds()) + 2
						if age, _ := res[1]["expiry_age"].(int64); age < 7200-slack || age > 7200 {
							t.Errorf("Go's SetExpiryAt(+2h): Django age %v", res[1]["expiry_age"])
						}
					}
					// Expired on Django's side: gone for Go.
					past := dj.with(t, conf, Cmd{"op": "session_create", "data": map[string]any{"a": 1}, "expiry": -10})
					if s := m.Load(ctx, past[0]["key"].(string)); s.Len() != 0 {
						t.Error("Go loads a session Django saved as expired")
					}
				})

				t.Run("SecretKeyFallbacks", func(t *testing.T) {
					if !dj.HasFallbacks() {
						t.Skip("Django 3.2 has no SECRET_KEY_FALLBACKS")
					}
					old := goManager(t, goConfig, func(s *sessions.Settings) { s.SecretKey = "old key" })
					g := old.NewSession(ctx)
					g.Set("user", "alice")
					g.Save(ctx)
					got := dj.with(t, conf, Cmd{"op": "session_load", "key": g.Key(), "secret": "new key", "fallbacks": []any{"old key"}})[0]
					if Canon(got["data"]) != `{"user":"alice"}` {
						t.Errorf("Django with the fallback read %v", got["data"])
					}
					r := dj.with(t, conf, Cmd{"op": "session_create", "data": map[string]any{"user": "bob"}, "secret": "old key"})
					rotated := goManager(t, goConfig, func(s *sessions.Settings) {
						s.SecretKey = "new key"
						s.SecretKeyFallbacks = []string{"old key"}
					})
					if s := rotated.Load(ctx, r[0]["key"].(string)); s.Get("user") != "bob" {
						t.Error("Go with the fallback cannot read Django's session")
					}
				})

				t.Run("Auth", func(t *testing.T) {
					u := dj.with(t, conf, Cmd{"op": "create_user", "username": "ann" + sessions.NewKey()[:6], "password": "s3cret-pw"})[0]
					id, pw := u["id"].(string), u["password"].(string)
					auth := djangoauth.New(m.Settings())

					// Go logs in; Django's request.user is that user.
					s := m.NewSession(ctx)
					s.Set("cart", []any{"apple"})
					if err := auth.Login(ctx, s, id, pw, ""); err != nil {
						t.Fatal(err)
					}
					if err := s.Save(ctx); err != nil {
						t.Fatal(err)
					}
					got := dj.with(t, conf, Cmd{"op": "get_user", "key": s.Key()})[0]
					if got["authenticated"] != true || got["id"] != id {
						t.Fatalf("Django's get_user after a Go login: %v", got)
					}

					// Django logs in; Go sees the user.
					lookup := func(context.Context, string) (string, bool, error) { return pw, true, nil }
					dl := dj.with(t, conf, Cmd{"op": "login", "id": id})[0]
					if uid, ok, err := auth.User(ctx, m.Load(ctx, dl["key"].(string)), lookup); !ok || uid != id || err != nil {
						t.Errorf("Go's User after a Django login: %q %v %v", uid, ok, err)
					}

					// Django changes the password: the Go-made session is logged out for both.
					np := dj.with(t, conf, Cmd{"op": "set_password", "id": id, "password": "new-pw"})[0]["password"].(string)
					if got := dj.with(t, conf, Cmd{"op": "get_user", "key": s.Key()})[0]; got["authenticated"] == true {
						t.Error("Django still accepts the session after a password change")
					}
					newLookup := func(context.Context, string) (string, bool, error) { return np, true, nil }
					if _, ok, _ := auth.User(ctx, m.Load(ctx, dl["key"].(string)), newLookup); ok {
						t.Error("Go still accepts the session after a password change")
					}

					// Go logs out a Django login: Django sees nobody.
					dl = dj.with(t, conf, Cmd{"op": "login", "id": id})[0]
					gs := m.Load(ctx, dl["key"].(string))
					if err := auth.Logout(ctx, gs); err != nil {
						t.Fatal(err)
					}
					if got := dj.with(t, conf, Cmd{"op": "get_user", "key": dl["key"].(string)})[0]; got["authenticated"] == true {
						t.Error("Django still logged in after a Go logout")
					}
				})

				t.Run("ClearExpired", func(t *testing.T) {
					r := dj.with(t, conf, Cmd{"op": "session_create", "data": map[string]any{"a": 1}, "expiry": -10})
					key := r[0]["key"].(string)
					n, err := m.ClearExpired(ctx)
					switch {
					case err != nil:
						t.Fatal(err)
					case es.nativeExpiry && n != 0:
						t.Errorf("ClearExpired on a store that expires sessions itself removed %d, want 0", n)
					case !es.nativeExpiry && n == 0:
						t.Error("ClearExpired removed nothing, not even Django's expired session")
					}
					if got := dj.with(t, conf, Cmd{"op": "session_load", "key": key})[0]; got["exists"] == true {
						t.Error("Go's ClearExpired left Django's expired session")
					}
				})
			})
		}
	}
}

var _ = strings.TrimSpace
