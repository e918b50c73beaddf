// Package mattntest tests the database engine (backends/sqlstore) over an
// application's pool of github.com/mattn/go-sqlite3, the cgo SQLite
// driver scs and many applications use. It is a module of its own so that
// the root module does not depend on a cgo driver; make test runs it (it
// is in the Makefile's MODULES).
package mattntest
