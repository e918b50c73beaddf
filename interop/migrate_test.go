package interop

import (
	"context"
	"sort"
	"testing"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/migrate"
	"github.com/sessionkit/sessions/internal/testservers"
)

// TestMigrateDjango moves a Django site's sessions between its cache
// engine (pickle in Redis) and its db engine (signed JSON in SQLite) with
// migrate.Copy, what "sessions migrate" runs, in both directions: Django,
// configured with the other engine, reads every session with its data and
// expiry.
func TestMigrateDjango(t *testing.T) {
	for _, dj := range Versions(t) {
		if !dj.AtLeast("4.0") {
			continue // Django's RedisCache appeared in 4.0
		}
		t.Run("django-"+dj.Major(), func(t *testing.T) {
			ctx := context.Background()
			r := testservers.StartRedis(t)
			db := userDB(t)
			cacheConf := map[string]any{
				"DATABASES":      sqliteDatabases(db),
				"CACHES":         map[string]any{"default": map[string]any{"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": r.URL()}},
				"SESSION_ENGINE": "django.contrib.sessions.backends.cache",
			}
			dbConf := map[string]any{"DATABASES": sqliteDatabases(db), "SESSION_ENGINE": "django.contrib.sessions.backends.db"}
			dj := dj.Pooled(t)
			dj.with(t, dbConf, Cmd{"op": "migrate"})
			cacheURL, dbURL := r.URL(), "sqlite://"+db
			s := sessions.DefaultSettings()
			s.SecretKey = secret

			copyAll := func(from, to string, keep bool) migrate.Summary {
				t.Helper()
				src, err := sessions.OpenEngine(ctx, from, s)
				if err != nil {
					t.Fatal(err)
				}
				defer src.Close()
				dst, err := sessions.OpenEngine(ctx, to, s)
				if err != nil {
					t.Fatal(err)
				}
				defer dst.Close()
				sum, err := migrate.Copy(ctx, src, dst, &migrate.CopyOptions{Settings: s, KeepSource: keep})
				if err != nil {
					t.Fatal(err)
				}
				return sum
			}

			// checkMoved has Django, under conf, load every session.
			checkMoved := func(conf map[string]any, keys, names []string, vals map[string]map[string]any, hourKey string) {
				t.Helper()
				var cmds []Cmd
				for _, k := range keys {
					cmds = append(cmds, Cmd{"op": "session_load", "key": k})
				}
				cmds = append(cmds, Cmd{"op": "session_load", "key": hourKey})
				res := dj.with(t, conf, cmds...)
				for i, name := range names {
					if res[i]["exists"] != true || Canon(res[i]["data"]) != Canon(vals[name]) {
						t.Errorf("%s: Django read %s (exists %v)\nDjango wrote %s", name, Canon(res[i]["data"]), res[i]["exists"], Canon(vals[name]))
					}
				}
				// A session with set_expiry(3600) keeps its expiry: the
				// age counts down from the hour, and the copy never
				// adds time.
				last := res[len(res)-1]
				age, _ := last["expiry_age"].(int64)
				if last["exists"] != true || age > 3600 || age < 3500 {
					t.Errorf("the session with an hour left: exists %v, expiry age %v", last["exists"], last["expiry_age"])
				}
			}

			// create has Django, under conf, save every value and a
			// session with an hour left.
			create := func(conf map[string]any) (keys, names []string, vals map[string]map[string]any, hourKey string) {
				t.Helper()
				vals = sessionValues()
				for name := range vals {
					names = append(names, name)
				}
				sort.Strings(names)
				var cmds []Cmd
				for _, name := range names {
					cmds = append(cmds, Cmd{"op": "session_create", "data": vals[name]})
				}
				cmds = append(cmds, Cmd{"op": "session_create", "data": map[string]any{"h": 1}, "expiry": 3600})
				res := dj.with(t, conf, cmds...)
				for _, r := range res[:len(names)] {
					keys = append(keys, r["key"].(string))
				}
				return keys, names, vals, res[len(names)]["key"].(string)
			}

			t.Run("CacheToDB", func(t *testing.T) {
				keys, names, vals, hourKey := create(cacheConf)
				sum := copyAll(cacheURL, dbURL, false)
				if sum.Copied != int64(len(keys)+1) || sum.Failed != 0 {
					t.Fatalf("copy: %+v; want %d copied", sum, len(keys)+1)
				}
				checkMoved(dbConf, keys, names, vals, hourKey)
				// Moved: the cache no longer has them.
				if got := dj.with(t, cacheConf, Cmd{"op": "session_load", "key": keys[0]})[0]; got["exists"] == true {
					t.Error("the session is still in the cache after the move")
				}
			})

			t.Run("DBToCache", func(t *testing.T) {
				keys, names, vals, hourKey := create(dbConf)
				sum := copyAll(dbURL, cacheURL, true)
				// The db still holds the sessions moved by CacheToDB:
				// they come along.
				if sum.Copied < int64(len(keys)+1) || sum.Failed != 0 {
					t.Fatalf("copy: %+v; want at least %d copied", sum, len(keys)+1)
				}
				checkMoved(cacheConf, keys, names, vals, hourKey)
				// --keep-source: the db still has them, for a site that
				// switches SESSION_ENGINE after the copy.
				if got := dj.with(t, dbConf, Cmd{"op": "session_load", "key": keys[0]})[0]; got["exists"] != true {
					t.Error("KeepSource deleted the db's copy")
				}
				// A second copy finds them all in the cache: skipped as
				// newer, nothing overwritten.
				if again := copyAll(dbURL, cacheURL, true); again.Copied != 0 || again.SkippedNewer != sum.Copied {
					t.Errorf("second copy: %+v", again)
				}
			})
		})
	}
}
