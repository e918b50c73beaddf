package sqlstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sessionkit/sessions"
)

// Django's engine name "db" (SESSION_ENGINE =
// "django.contrib.sessions.backends.db") opens the database engine on
// Settings.DatabaseURL (SESSION_DATABASE_URL), Django's
// DATABASES["default"]: here a SQLite file; "postgres://app@db/app" or
// "mysql://app@db/app" in production. With no DatabaseURL it is the
// SQLite file db.sqlite3 in the working directory, as in a new Django
// project.
func Example_dbAlias() {
	dir, err := os.MkdirTemp("", "sqlstore-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	settings := sessions.DefaultSettings()
	settings.SecretKey = "example secret key: use your Django SECRET_KEY"
	settings.DatabaseURL = "sqlite://" + filepath.ToSlash(filepath.Join(dir, "db.sqlite3")) + "?create_table=true"
	for _, engine := range []string{"db", "django.contrib.sessions.backends.db"} {
		m, err := sessions.Open(ctx, engine, settings)
		if err != nil {
			fmt.Println(err)
			return
		}
		s := m.NewSession(ctx)
		s.Set("engine", engine)
		err = m.Save(ctx, s)
		fmt.Println(engine, "->", m.Describe().Name, err)
		m.Close()
	}
	// Output:
	// db -> sqlite <nil>
	// django.contrib.sessions.backends.db -> sqlite <nil>
}
