package all_test

import (
	"context"
	"database/sql"
	"slices"
	"testing"

	"github.com/sessionkit/sessions"
	_ "github.com/sessionkit/sessions/all"
)

// Every built-in engine that exists is registered, with the SQL drivers.
func TestRegistered(t *testing.T) {
	var schemes []string
	for _, e := range sessions.Engines() {
		schemes = append(schemes, e.Scheme)
		schemes = append(schemes, e.Aliases...)
	}
	for _, want := range []string{"memory", "signed-cookies", "file", "bolt", "sqlite", "postgres", "mysql", "redis", "rediss", "redis+cluster", "redis+sentinel", "memcached", "cached-db", "migrate"} {
		if !slices.Contains(schemes, want) {
			t.Errorf("scheme %q not registered (have %v)", want, schemes)
		}
	}
	for _, d := range []string{"sqlite", "pgx", "mysql"} {
		if !slices.Contains(sql.Drivers(), d) {
			t.Errorf("database/sql driver %q not registered (have %v)", d, sql.Drivers())
		}
	}
}

// The SQL engine opens with the driver this package imports.
func TestOpenSQLite(t *testing.T) {
	s := sessions.DefaultSettings()
	s.SecretKey = "test-secret-key-for-the-all-package"
	ctx := context.Background()
	m, err := sessions.Open(ctx, "sqlite::memory:", s)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	sess := m.NewSession(ctx)
	sess.Set("k", "v")
	if err := sess.Save(ctx); err != nil {
		t.Fatal(err)
	}
	if got := m.Load(ctx, sess.Key()).Get("k"); got != "v" {
		t.Fatalf("got %v, want v", got)
	}
}
