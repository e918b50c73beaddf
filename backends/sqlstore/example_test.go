package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/sqlstore"
	_ "modernc.org/sqlite" // the SQLite driver (pure Go)
)

// Sessions in a SQLite file, on Django's table.
func Example() {
	dir, err := os.MkdirTemp("", "sqlstore-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	settings := sessions.DefaultSettings()
	settings.SecretKey = "example secret key: use your Django SECRET_KEY"
	// create_table: this program owns the database. Leave it out when
	// Django's migrations made the table.
	config := "sqlite://" + filepath.ToSlash(filepath.Join(dir, "sessions.sqlite3")) + "?create_table=true"
	m, err := sessions.Open(ctx, config, settings)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()

	s := m.NewSession(ctx)
	s.Set("user", "alice")
	if err := m.Save(ctx, s); err != nil {
		fmt.Println(err)
		return
	}
	// A later request, carrying the key in its cookie.
	fmt.Println(m.Load(ctx, s.Key()).Get("user"))

	// Django's clearsessions.
	n, err := m.ClearExpired(ctx)
	fmt.Println(n, err)
	// Output:
	// alice
	// 0 <nil>
}

// An application that already has a pool.
func ExampleNew() {
	dir, _ := os.MkdirTemp("", "sqlstore-example")
	defer os.RemoveAll(dir)
	db, err := sql.Open("sqlite", filepath.Join(dir, "app.db")+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()

	store, err := sqlstore.New(db, sqlstore.SQLite, &sqlstore.Options{Table: "app_sessions", CreateTable: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close() // db stays open: it belongs to the application

	ctx := context.Background()
	key := sessions.NewKey()
	if err := store.Create(ctx, key, []byte("encoded session"), time.Now().Add(time.Hour)); err != nil {
		fmt.Println(err)
		return
	}
	data, err := store.Load(ctx, key)
	fmt.Printf("%s %v\n", data, err)
	fmt.Println(store.Describe())
	// Output:
	// encoded session <nil>
	// sqlite database, table "app_sessions"
}

// The statements that create the table, for a migration tool or a DBA.
func ExampleDialect_CreateTableSQL() {
	for _, q := range sqlstore.Postgres.CreateTableSQL("django_session") {
		fmt.Println(q + ";")
	}
	// Output:
	// CREATE TABLE "django_session" ("session_key" varchar(40) NOT NULL PRIMARY KEY, "session_data" text NOT NULL, "expire_date" timestamp with time zone NOT NULL);
	// CREATE INDEX "django_session_session_key_c0390e0f_like" ON "django_session" ("session_key" varchar_pattern_ops);
	// CREATE INDEX "django_session_expire_date_a5c62663" ON "django_session" ("expire_date");
}
