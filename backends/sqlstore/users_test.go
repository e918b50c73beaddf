package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/sqlstore"
	"github.com/sessionkit/sessions/internal/testservers"
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
	ix.AddUserSession(ctx, "ann", live, nil, time.Now().Add(time.Hour))
	ix.AddUserSession(ctx, "ann", dead, nil, time.Now().Add(-time.Hour))
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
		if err := s.AddUserSession(ctx, "ann", kept, nil, exp); err != nil {
			t.Fatal(err)
		}
		// Every 100th key is recorded for ann, and for bob too.
		var recorded []string
		for i := 0; i < len(keys); i += 100 {
			recorded = append(recorded, keys[i])
			for _, u := range []string{"ann", "bob"} {
				if err := s.AddUserSession(ctx, u, keys[i], nil, exp); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := s.RemoveUserSessions(ctx, "ann", keys); err != nil {
			t.Fatal(err)
		}
		if got, err := s.UserSessions(ctx, "ann"); err != nil || len(got) != 1 || got[0].Key != kept {
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

// TestUserIndexTableWithoutMeta: a user index table created before
// metadata existed (no meta column) keeps its rows, read as entries
// without metadata; the store adds the column on first use, and rows an
// older process writes after that (naming no meta) read the same way.
func TestUserIndexTableWithoutMeta(t *testing.T) {
	ctx := context.Background()
	forEach(t, func(t *testing.T, b backend) {
		table := uniqueTable("old")
		s := open(t, withParams(b.base(t), "create_table", "true", "table", table))
		db := raw(s)
		ts := map[sqlstore.Dialect]string{sqlstore.SQLite: "datetime", sqlstore.Postgres: "timestamp with time zone", sqlstore.MySQL: "datetime(6)"}[b.dialect]
		ut := quote(b.dialect, table+"_user")
		ddl := "CREATE TABLE " + ut + " (user_id varchar(255) NOT NULL, session_key varchar(40) NOT NULL, expire_date " + ts + " NOT NULL, PRIMARY KEY (user_id, session_key))"
		if _, err := db.Exec(ddl); err != nil {
			t.Fatal(err)
		}
		exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
		insertOld := func(key string) {
			t.Helper()
			var arg any = sqlstore.FormatTime(exp)
			if b.dialect == sqlstore.Postgres {
				arg = exp
			}
			q := fmt.Sprintf("INSERT INTO %s (user_id, session_key, expire_date) VALUES (%s, %s, %s)", ut, ph(b.dialect, 1), ph(b.dialect, 2), ph(b.dialect, 3))
			if _, err := db.Exec(q, "ann", key, arg); err != nil {
				t.Fatalf("an old row by hand: %v", err)
			}
		}
		find := func(key string) sessions.UserEntry {
			t.Helper()
			entries, err := s.UserSessions(ctx, "ann")
			if err != nil {
				t.Fatalf("UserSessions: %v", err)
			}
			for _, e := range entries {
				if e.Key == key {
					return e
				}
			}
			t.Fatalf("%d entries listed, not the one wanted", len(entries))
			return sessions.UserEntry{}
		}
		old := sessions.NewKey()
		insertOld(old)
		if e := find(old); e.Meta != nil || !e.Expiry.Equal(exp) {
			t.Errorf("a row of the old table: meta %q, expiry %v; want none, %v", e.Meta, e.Expiry, exp)
		}
		k := sessions.NewKey()
		if err := s.AddUserSession(ctx, "ann", k, []byte(`{"c":1}`), exp); err != nil {
			t.Fatalf("AddUserSession with metadata on an old table: %v", err)
		}
		if e := find(k); string(e.Meta) != `{"c":1}` {
			t.Errorf("metadata on an old table: %q", e.Meta)
		}
		later := sessions.NewKey()
		insertOld(later) // an older process, after the column was added
		if e := find(later); e.Meta != nil {
			t.Errorf("a row written without meta: meta %q, want none", e.Meta)
		}
		if err := s.AddUserSession(ctx, "ann", old, nil, exp.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if e := find(old); e.Meta != nil || !e.Expiry.Equal(exp.Add(time.Hour)) {
			t.Errorf("an old row moved: meta %q, expiry %v", e.Meta, e.Expiry)
		}
		if err := s.AddUserSession(ctx, "ann", old, []byte(`{"c":2}`), exp); err != nil {
			t.Fatal(err)
		}
		if e := find(old); string(e.Meta) != `{"c":2}` {
			t.Errorf("an old row given metadata: %q", e.Meta)
		}
	})
}

// TestUserIndexWithoutAlterPrivilege: on MariaDB, a user who may read
// and write an old user index table (and create tables and indexes) but
// not alter it keeps a working index, without metadata.
func TestUserIndexWithoutAlterPrivilege(t *testing.T) {
	ctx := context.Background()
	my := testservers.SharedMariaDB(t)
	table := uniqueTable("noalter")
	owner := open(t, withParams(my.URL(), "create_table", "true", "table", table))
	db := raw(owner)
	user := "r_" + table
	ut := quote(sqlstore.MySQL, table+"_user")
	for _, q := range []string{
		// The user_id column as an operator altered it (binary): see
		// TestUserIndexCollationWithoutAlterPrivilege for one who did not.
		"CREATE TABLE " + ut + " (user_id varbinary(255) NOT NULL, session_key varchar(40) NOT NULL, expire_date datetime(6) NOT NULL, PRIMARY KEY (user_id, session_key))",
		"CREATE USER '" + user + "'@'%'",
		"GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, INDEX ON `" + my.Database + "`.* TO '" + user + "'@'%'",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() {
		db.Exec("DROP TABLE " + ut)
		db.Exec("DROP USER '" + user + "'@'%'")
	})
	u := strings.Replace(my.URL(), "mysql://"+my.User+"@", "mysql://"+user+"@", 1)
	s := open(t, withParams(u, "table", table))
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	k := sessions.NewKey()
	if err := s.AddUserSession(ctx, "ann", k, []byte(`{"c":1}`), exp); err != nil {
		t.Fatalf("AddUserSession without the meta column: %v", err)
	}
	got, err := s.UserSessions(ctx, "ann")
	if err != nil || len(got) != 1 || got[0].Key != k || got[0].Meta != nil || !got[0].Expiry.Equal(exp) {
		t.Fatalf("UserSessions without the meta column: %+v, %v; want the entry without metadata", got, err)
	}
	if err := s.RemoveUserSessions(ctx, "ann", []string{k}); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? AND column_name = 'meta'", table+"_user").Scan(&n); err != nil || n != 0 {
		t.Fatalf("the meta column: %d, %v; want none (the user cannot add it)", n, err)
	}
}

// TestUserIndexBinaryUserID: on MariaDB, a user index table created with
// a varchar user_id (before it was binary) compares user IDs by its
// collation, case- and accent-blind; on first use the store makes the
// column varbinary, keeping the rows, so "ann" and "Ann" are two users.
// Without the privilege to alter it, the index refuses to work and says
// what to run.
func TestUserIndexBinaryUserID(t *testing.T) {
	ctx := context.Background()
	my := testservers.SharedMariaDB(t)
	table := uniqueTable("binuid")
	owner := open(t, withParams(my.URL(), "create_table", "true", "table", table))
	db := raw(owner)
	ut := quote(sqlstore.MySQL, table+"_user")
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	k := sessions.NewKey()
	for _, q := range []string{
		"CREATE TABLE " + ut + " (user_id varchar(255) NOT NULL, session_key varchar(40) NOT NULL, expire_date datetime(6) NOT NULL, meta varchar(512) NULL, PRIMARY KEY (user_id, session_key))",
		"INSERT INTO " + ut + " (user_id, session_key, expire_date) VALUES ('ann', '" + k + "', '" + sqlstore.FormatTime(exp) + "')",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() { db.Exec("DROP TABLE " + ut) })

	t.Run("WithoutAlterPrivilege", func(t *testing.T) {
		user := "r_" + table
		for _, q := range []string{
			"CREATE USER '" + user + "'@'%'",
			"GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, INDEX ON `" + my.Database + "`.* TO '" + user + "'@'%'",
		} {
			if _, err := db.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		t.Cleanup(func() { db.Exec("DROP USER '" + user + "'@'%'") })
		s := open(t, withParams(strings.Replace(my.URL(), "mysql://"+my.User+"@", "mysql://"+user+"@", 1), "table", table))
		err := s.AddUserSession(ctx, "Ann", sessions.NewKey(), nil, exp)
		if !errors.Is(err, sessions.ErrBadConfig) || !strings.Contains(err.Error(), "varbinary(255)") {
			t.Fatalf("AddUserSession on a collation-blind table without ALTER: %v, want ErrBadConfig saying what to run", err)
		}
	})

	s := open(t, withParams(my.URL(), "table", table))
	k2 := sessions.NewKey()
	if err := s.AddUserSession(ctx, "Ann", k2, nil, exp); err != nil {
		t.Fatal(err)
	}
	for user, want := range map[string]string{"ann": k, "Ann": k2} {
		got, err := s.UserSessions(ctx, user)
		if err != nil || len(got) != 1 || got[0].Key != want {
			t.Errorf("UserSessions(%q) = %+v, %v; want its own entry only", user, got, err)
		}
	}
	var typ string
	if err := db.QueryRow("SELECT data_type FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? AND column_name = 'user_id'", table+"_user").Scan(&typ); err != nil || typ != "varbinary" {
		t.Errorf("user_id is %q (%v), want varbinary", typ, err)
	}
}
