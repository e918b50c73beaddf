package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/sessionkit/sessions"
)

// userTableSuffix is appended to the session table's name to name the
// user index table of sessions.UserIndexer ("django_session_user" by
// default). Django has no such table; it is created, beside Django's, the
// first time a session is bound to a user, and is harmless to a Django
// app sharing the database. Its columns: user_id, session_key,
// expire_date and meta, the entry's metadata (sessions.DeviceSettings;
// NULL when none). A table created before meta existed gets the column
// on first use (ALTER TABLE ... ADD COLUMN, nullable, so its rows read as
// entries without metadata and older processes keep writing it); where
// the column cannot be added (no ALTER privilege), the index works as
// before, without metadata.
const userTableSuffix = "_user"

// userIndex holds the statements of the user index, built on first use.
type userIndex struct {
	mu                         sync.Mutex
	ready                      bool
	meta                       bool   // the table has the meta column
	add, list, remove, expired string // remove takes removeBatch keys
}

// metaColumnType is the type of the meta column: at most 512 printable
// ASCII bytes (sessions.UserIndexer), nullable.
const metaColumnType = "varchar(512) NULL"

// removeBatch is the most keys one RemoveUserSessions statement names
// (with the user ID, 501 parameters: within every dialect's limit).
const removeBatch = 500

// removeSQL returns the statement deleting the entries of n keys of one
// user from table t: every value is a parameter.
func (d Dialect) removeSQL(t string, n int) string {
	var b strings.Builder
	b.WriteString("DELETE FROM {t} WHERE user_id = ? AND session_key IN (?")
	b.WriteString(strings.Repeat(", ?", n-1))
	b.WriteString(")")
	return buildWith(d, t, b.String())
}

// userIDType is the type of the user_id column: varchar(255), compared
// byte for byte on SQLite and PostgreSQL; varbinary(255) on MySQL, whose
// varchar compares by the default collation, case- and accent-blind and
// ignoring trailing spaces ("alice", "Alice" and "alice " one user: one
// user's DeleteUser would drop another's entries).
func (d Dialect) userIDType() string {
	if d == MySQL {
		return "varbinary(255)"
	}
	return "varchar(255)"
}

// binaryUserID makes the user_id column of a MySQL user index table t
// created before it was binary (varchar, compared by a collation)
// varbinary, keeping its bytes. Without the privilege to alter the table
// the index cannot tell user IDs apart: the error says what to run.
func (s *Store) binaryUserID(ctx context.Context, t string) error {
	var typ string
	err := s.w.QueryRowContext(ctx, "SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = 'user_id'", t).Scan(&typ)
	if err != nil {
		return s.fail(ctx, fmt.Errorf("reading the user index table %q: %w", t, err))
	}
	if strings.EqualFold(typ, "varbinary") {
		return nil
	}
	alter := "ALTER TABLE " + s.d.quote(t) + " MODIFY " + s.d.quote("user_id") + " varbinary(255) NOT NULL"
	if _, err := s.w.ExecContext(ctx, alter); err != nil {
		return fmt.Errorf("%w: sqlstore: the user index table %q compares user IDs by a collation (case- and accent-blind), and altering it failed (%v): run %s", sessions.ErrBadConfig, t, err, alter)
	}
	return nil
}

// userTableSQL returns the statements creating the user index table for a
// session table named table.
func (d Dialect) userTableSQL(table string) []string {
	t := table + userTableSuffix
	q := d.quote
	idx := q(indexName(t, "expire_date", "", d.maxNameLength()))
	var ts string
	switch d {
	case SQLite:
		ts = "datetime"
	case Postgres:
		ts = "timestamp with time zone"
	default:
		ts = "datetime(6)"
	}
	return []string{
		"CREATE TABLE IF NOT EXISTS " + q(t) + " (" + q("user_id") + " " + d.userIDType() + " NOT NULL, " + q("session_key") + " varchar(40) NOT NULL, " +
			q("expire_date") + " " + ts + " NOT NULL, " + q("meta") + " " + metaColumnType + ", PRIMARY KEY (" + q("user_id") + ", " + q("session_key") + "))",
		"CREATE INDEX IF NOT EXISTS " + idx + " ON " + q(t) + " (" + q("expire_date") + ")",
	}
}

// users returns the user index statements, creating the table if needed.
func (s *Store) users(ctx context.Context) (*userIndex, error) {
	u := &s.uix
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.ready {
		return u, nil
	}
	t := s.table + userTableSuffix
	if err := s.d.checkTable(t); err != nil {
		return nil, fmt.Errorf("%w: sqlstore: user index table: %v", sessions.ErrBadConfig, err)
	}
	for _, ddl := range s.d.userTableSQL(s.table) {
		if _, err := s.w.ExecContext(ctx, ddl); err != nil && !s.d.isDuplicateObject(err) {
			return nil, s.fail(ctx, fmt.Errorf("creating the user index table %q: %w", t, err))
		}
	}
	if s.d == MySQL {
		if err := s.binaryUserID(ctx, t); err != nil {
			return nil, err
		}
	}
	mk := func(tmpl string) string { return buildWith(s.d, t, tmpl) }
	meta, err := s.metaColumn(ctx, t)
	if err != nil {
		return nil, err
	}
	u.meta = meta
	// The later expiry stays (see sessions.UserIndexer): two saves of a
	// session upsert its entry in either order.
	switch {
	case s.d == MySQL && meta:
		// A NULL meta (none given) keeps the stored one.
		u.add = mk("INSERT INTO {t} (user_id, session_key, expire_date, meta) VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE expire_date = GREATEST(expire_date, VALUES(expire_date)), meta = COALESCE(VALUES(meta), meta)")
	case s.d == MySQL:
		u.add = mk("INSERT INTO {t} (user_id, session_key, expire_date) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE expire_date = GREATEST(expire_date, VALUES(expire_date))")
	case meta:
		u.add = mk("INSERT INTO {t} (user_id, session_key, expire_date, meta) VALUES (?, ?, ?, ?) ON CONFLICT (user_id, session_key) DO UPDATE SET expire_date = " + s.d.later("{t}.expire_date", "excluded.expire_date") + ", meta = COALESCE(excluded.meta, {t}.meta)")
	default:
		u.add = mk("INSERT INTO {t} (user_id, session_key, expire_date) VALUES (?, ?, ?) ON CONFLICT (user_id, session_key) DO UPDATE SET expire_date = " + s.d.later("{t}.expire_date", "excluded.expire_date"))
	}
	if s.d == MySQL {
		u.expired = mk("DELETE FROM {t} WHERE expire_date <= ? ORDER BY expire_date LIMIT ?")
	} else {
		u.expired = mk("DELETE FROM {t} WHERE (user_id, session_key) IN (SELECT user_id, session_key FROM {t} WHERE expire_date <= ? LIMIT ?)")
	}
	if meta {
		u.list = mk("SELECT session_key, expire_date, meta FROM {t} WHERE user_id = ? AND expire_date > ?")
	} else {
		u.list = mk("SELECT session_key, expire_date, NULL FROM {t} WHERE user_id = ? AND expire_date > ?")
	}
	u.remove = s.d.removeSQL(t, removeBatch)
	u.ready = true
	return u, nil
}

// metaColumn reports whether the user index table t has the meta
// column, adding it to a table created before it existed. It answers
// false, without error, only when the column is missing, cannot be
// added, and the table itself reads fine (no ALTER privilege): the index
// then works without metadata.
func (s *Store) metaColumn(ctx context.Context, t string) (bool, error) {
	probe := buildWith(s.d, t, "SELECT meta FROM {t} WHERE 1 = 0")
	hasMeta := func() bool {
		rows, err := s.w.QueryContext(ctx, probe)
		if err != nil {
			return false
		}
		rows.Close()
		return true
	}
	if hasMeta() {
		return true, nil
	}
	// Its error says nothing the probes below do not: a concurrent
	// process may have added the column first (a duplicate column), or
	// the user may not alter tables.
	_, _ = s.w.ExecContext(ctx, "ALTER TABLE "+s.d.quote(t)+" ADD COLUMN "+s.d.quote("meta")+" "+metaColumnType)
	if hasMeta() { // added, by this process or a concurrent one
		return true, nil
	}
	rows, err := s.w.QueryContext(ctx, buildWith(s.d, t, "SELECT session_key FROM {t} WHERE 1 = 0"))
	if err != nil {
		return false, s.fail(ctx, fmt.Errorf("reading the user index table %q: %w", t, err))
	}
	rows.Close()
	return false, nil // the table reads, the column cannot be added: no metadata
}

// AddUserSession implements sessions.UserIndexer: it records key under
// userID in the user index table until expiry, with meta (NULL, which
// keeps the stored meta, when empty).
func (s *Store) AddUserSession(ctx context.Context, userID, key string, meta []byte, expiry time.Time) error {
	b := s.bound(ctx)
	u, err := s.users(b.ctx)
	if err != nil {
		return b.end(err)
	}
	args := []any{userID, key, s.d.timeArg(expiry)}
	if u.meta {
		var m any // NULL
		if len(meta) > 0 {
			m = string(meta)
		}
		args = append(args, m)
	}
	if _, err := s.w.ExecContext(b.ctx, u.add, args...); err != nil {
		return s.fail(ctx, b.end(err))
	}
	b.end(nil)
	return nil
}

// UserSessions implements sessions.UserIndexer. Rows without metadata
// (NULL meta: written before it existed, or without it) are entries
// without metadata.
func (s *Store) UserSessions(ctx context.Context, userID string) ([]sessions.UserEntry, error) {
	b := s.bound(ctx)
	u, err := s.users(b.ctx)
	if err != nil {
		return nil, b.end(err)
	}
	entries, err := s.userSessions(b.ctx, u, userID)
	return entries, s.fail(ctx, b.end(err))
}

func (s *Store) userSessions(ctx context.Context, u *userIndex, userID string) ([]sessions.UserEntry, error) {
	rows, err := s.r.QueryContext(ctx, u.list, userID, s.nowArg())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	entries := []sessions.UserEntry{}
	for rows.Next() {
		var (
			k    string
			exp  any
			meta sql.RawBytes
		)
		if err := rows.Scan(&k, &exp, &meta); err != nil {
			return nil, err
		}
		t, err := s.d.parseStoredTime(exp)
		if err != nil {
			return nil, fmt.Errorf("user index expire_date: %w", err) // UserSessions adds "sqlstore: <where>: "
		}
		e := sessions.UserEntry{Key: k, Expiry: t}
		if len(meta) > 0 {
			e.Meta = bytes.Clone(meta)
		}
		entries = append(entries, e)
	}
	return entries, rows.Err()
}

// RemoveUserSessions implements sessions.UserIndexer: it deletes the
// rows of keys under userID, in statements of up to 500 keys. A row
// added meanwhile under another key is not touched.
func (s *Store) RemoveUserSessions(ctx context.Context, userID string, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	b := s.bound(ctx)
	u, err := s.users(b.ctx)
	if err != nil {
		return b.end(err)
	}
	return s.fail(ctx, b.end(s.removeUserSessions(b.ctx, u, userID, keys)))
}

func (s *Store) removeUserSessions(ctx context.Context, u *userIndex, userID string, keys []string) error {
	args := make([]any, 0, 1+min(len(keys), removeBatch))
	for rest := keys; len(rest) > 0; {
		n := min(len(rest), removeBatch)
		q := u.remove
		if n < removeBatch {
			q = s.d.removeSQL(s.table+userTableSuffix, n)
		}
		args = append(args[:0], userID)
		for _, k := range rest[:n] {
			args = append(args, k)
		}
		if _, err := s.w.ExecContext(ctx, q, args...); err != nil {
			return err
		}
		rest = rest[n:]
	}
	return nil
}

// deleteExpiredUsers removes expired entries of the user index, in
// batches, if the table exists.
func (s *Store) deleteExpiredUsers(ctx context.Context) error {
	s.uix.mu.Lock()
	ready := s.uix.ready
	s.uix.mu.Unlock()
	if !ready {
		if exists, err := s.tableNamedExists(ctx, s.table+userTableSuffix); err != nil || !exists {
			return err
		}
	}
	u, err := s.users(ctx)
	if err != nil {
		return err
	}
	now := s.nowArg()
	for {
		res, err := s.w.ExecContext(ctx, u.expired, now, s.batch)
		if err != nil {
			return s.fail(ctx, err)
		}
		n, err := res.RowsAffected()
		if err != nil || n < int64(s.batch) {
			return s.fail(ctx, err)
		}
	}
}
