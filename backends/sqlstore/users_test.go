package sqlstore_test

import (
	"context"
	"database/sql"
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
