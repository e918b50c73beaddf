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

// TestRemoveUserSessionsBatches removes more keys than one statement
// names: every batch goes, and only the given user's given keys.
func TestRemoveUserSessionsBatches(t *testing.T) {
	ctx := context.Background()
	forEach(t, func(t *testing.T, b backend) {
		s := fresh(t, b)
		exp := time.Now().Add(time.Hour)
		keys := make([]string, 1203)
		for i := range keys {
			keys[i] = sessions.NewKey()
		}
		kept := sessions.NewKey()
		if err := s.AddUserSession(ctx, "ann", kept, exp); err != nil {
			t.Fatal(err)
		}
		// Every 100th key is recorded for ann, and for bob too.
		var recorded []string
		for i := 0; i < len(keys); i += 100 {
			recorded = append(recorded, keys[i])
			for _, u := range []string{"ann", "bob"} {
				if err := s.AddUserSession(ctx, u, keys[i], exp); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := s.RemoveUserSessions(ctx, "ann", keys); err != nil {
			t.Fatal(err)
		}
		if got, err := s.UserSessions(ctx, "ann"); err != nil || len(got) != 1 || got[0] != kept {
			t.Errorf("ann after removal: %d keys, %v; want only the kept one", len(got), err)
		}
		if got, err := s.UserSessions(ctx, "bob"); err != nil || len(got) != len(recorded) {
			t.Errorf("bob after ann's removal: %d keys, %v; want %d", len(got), err, len(recorded))
		}
		if err := s.RemoveUserSessions(ctx, "bob'); DROP TABLE django_session_user; --", recorded); err != nil {
			t.Fatal(err)
		}
		if got, err := s.UserSessions(ctx, "bob"); err != nil || len(got) != len(recorded) {
			t.Errorf("bob after a hostile user ID's removal: %d keys, %v; want %d", len(got), err, len(recorded))
		}
	})
}
