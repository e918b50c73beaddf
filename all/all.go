// Package all registers every built-in session engine, and the database
// drivers the SQL engine needs, with a single blank import:
//
//	import _ "github.com/sessionkit/sessions/all"
//
// After it, [sessions.Open] understands every config string of the
// built-in engines: memory:, signed-cookies:, file:, bolt:, sqlite:,
// postgres: and mysql: (with modernc.org/sqlite, pgx and
// go-sql-driver/mysql registered as database/sql drivers), redis: (and
// its cluster and sentinel forms), memcached:, cached-db: and migrate:, and with
// them Django's engine names db, file, cache, cached_db and
// signed_cookies.
//
// A program that uses one engine can import just that engine's package
// (and its driver) instead, and keep its binary smaller.
package all

import (
	_ "github.com/sessionkit/sessions/backends/boltstore"     // bolt:, bbolt:
	_ "github.com/sessionkit/sessions/backends/cacheddb"      // cached-db:
	_ "github.com/sessionkit/sessions/backends/cookiestore"   // signed-cookies:
	_ "github.com/sessionkit/sessions/backends/filestore"     // file:
	_ "github.com/sessionkit/sessions/backends/memcachestore" // memcached:
	_ "github.com/sessionkit/sessions/backends/memstore"      // memory:
	_ "github.com/sessionkit/sessions/backends/migrate"       // migrate:
	_ "github.com/sessionkit/sessions/backends/redisstore"    // redis:, rediss:, redis+cluster:, redis+sentinel:
	_ "github.com/sessionkit/sessions/backends/sqlstore"      // sqlite:, postgres:, mysql:

	// The database/sql drivers of the sqlstore engine.
	_ "github.com/go-sql-driver/mysql" // mysql:
	_ "github.com/jackc/pgx/v5/stdlib" // postgres:
	_ "modernc.org/sqlite"             // sqlite:
)
