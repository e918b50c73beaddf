package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	_ "github.com/sessionkit/sessions/backends/sqlstore"
	_ "modernc.org/sqlite"
)

func TestUserIndexPurgedByDeleteExpired(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "u.sqlite3")
	e, err := sessions.OpenEngine(ctx, "sqlite://"+path+"?create_table=true", sessions.DefaultSettings())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ix := e.(sessions.UserIndexer)
	live, dead := sessions.NewKey(), sessions.NewKey()
	ix.AddUserSession(ctx, "ann", live, time.Now().Add(time.Hour))
	ix.AddUserSession(ctx, "ann", dead, time.Now().Add(-time.Hour))
	if _, err := e.(sessions.ExpiredDeleter).DeleteExpired(ctx); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM django_session_user`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%d index rows after DeleteExpired, want 1 (the live one)", n)
	}
}

func TestLoadExpiry(t *testing.T) {
	ctx := context.Background()
	forEach(t, func(t *testing.T, b backend) {
		{
			e := open(t, withParams(b.base(t), "create_table", "true", "table", uniqueTable("lx")))
			exp := time.Date(2031, 5, 6, 7, 8, 9, 123456000, time.UTC)
			key := sessions.NewKey()
			if err := e.Create(ctx, key, []byte("data"), exp); err != nil {
				t.Fatal(err)
			}
			data, got, err := e.LoadExpiry(ctx, key)
			if err != nil || string(data) != "data" || !got.Equal(exp) {
				t.Errorf("LoadExpiry = %q, %v, %v; want data, %v", data, got, err, exp)
			}
			if _, _, err := e.LoadExpiry(ctx, sessions.NewKey()); !errors.Is(err, sessions.ErrNotFound) {
				t.Errorf("missing: %v", err)
			}
		}
	})
}
