package migrate

import (
	"context"
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sessionkit/sessions"
)

// TestMigrateConfig opens migrating engines from config strings: the two
// nested URLs, the optional interfaces the pair allows, and clear errors
// (without passwords) for what is wrong.
func TestMigrateConfig(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	sqlite := "sqlite://" + filepath.ToSlash(filepath.Join(dir, "s.sqlite3")) + "?create_table=true"
	cfg := "migrate:?from=" + url.QueryEscape(sqlite) + "&to=" + url.QueryEscape("memory:")
	m, err := sessions.Open(ctx, cfg, testSettings())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	d := m.Describe()
	if d.Name != "migrate" || !strings.Contains(d.Where, "from sqlite") || !strings.Contains(d.Where, "to memory") || !d.Lists || !d.Users || !d.Expiry {
		t.Fatalf("Describe = %+v", d)
	}
	s := m.NewSession(ctx)
	s.Set("a", 1)
	if err := s.Save(ctx); err != nil {
		t.Fatal(err)
	}

	bad := map[string]string{
		"migrate:":                                 "needs the old and the new engine",
		"migrate:?from=memory%3A":                  "needs the old and the new engine",
		"migrate:?from=memory%3A&to=memory%3A":     "the same engine",
		"migrate:?from=memory%3A&to=memory%3A&x=1": "unknown parameter x",
		"migrate:?from=" + url.QueryEscape("migrate:?from=a&to=b") + "&to=memory%3A":                      "cannot nest itself",
		"migrate:?from=nosuch%3A&to=memory%3A":                                                            "old engine (from)",
		"migrate:?from=memory%3A&to=" + url.QueryEscape("postgres://app:hunter2@127.0.0.1:1/app?bogus=1"): "new engine (to)",
		"migrate:?from=memory%3A&to=signed-cookies%3A":                                                    "server-side engines",
		"migrate://host/?from=memory%3A&to=memory%3A":                                                     "takes no host",
	}
	for config, want := range bad {
		_, err := sessions.Open(ctx, config, testSettings())
		if !errors.Is(err, sessions.ErrBadConfig) && !strings.Contains(config, "nosuch") && !strings.Contains(config, "postgres") {
			t.Errorf("%s: %v, want ErrBadConfig", config, err)
		}
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: %v, want an error about %q without the password", config, err, want)
		}
	}
}

// TestMigrateInterfaces: the optional interfaces follow the two engines.
func TestMigrateInterfaces(t *testing.T) {
	type plain struct{ sessions.Engine }
	type swapper struct {
		sessions.Engine
		sessions.Swapper
	}
	mem := func() sessions.Engine { return openEngine(t, "memory:") }
	full := mem()
	baseOnly := func() sessions.Engine { m := mem(); return swapper{m, m.(sessions.Swapper)} }
	for _, c := range []struct {
		name          string
		from, to      sessions.Engine
		list, ix, exp bool
	}{
		{"both full", full, mem(), true, true, true},
		{"old plain", plain{mem()}, mem(), false, true, false},
		{"new base only", mem(), baseOnly(), false, false, false},
	} {
		e, err := New(c.from, c.to, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, l := e.(sessions.Lister)
		_, u := e.(sessions.UserIndexer)
		_, x := e.(sessions.ExpiryReader)
		if l != c.list || u != c.ix || x != c.exp {
			t.Errorf("%s: Lister %v, UserIndexer %v, ExpiryReader %v", c.name, l, u, x)
		}
		for _, ok := range []bool{is[sessions.Swapper](e), is[sessions.Toucher](e), is[sessions.ExpiredDeleter](e), is[sessions.Codecer](e), is[sessions.Describer](e)} {
			if !ok {
				t.Errorf("%s: a base interface is missing", c.name)
			}
		}
	}
	if _, err := New(mem(), plain{mem()}, nil); !errors.Is(err, sessions.ErrBadConfig) {
		t.Errorf("a new engine without Swapper: %v", err)
	}
}

func is[T any](v any) bool { _, ok := v.(T); return ok }
