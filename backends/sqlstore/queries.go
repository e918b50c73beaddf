package sqlstore

import (
	"strconv"
	"strings"
)

// queries are the statements of one store, for one dialect and table.
type queries struct {
	load          string // key, now -> session_data
	loadExp       string // key, now -> session_data, expire_date
	insert        string // key, data, expiry [, now]: upsert over an expired row on SQLite and PostgreSQL
	deleteExpKey  string // key, now: removes an expired row before a retried insert (MySQL)
	update        string // data, expiry, key, now
	touch         string // expiry, key, now
	swap          string // data, expiry, key, now, old
	del           string // key
	holds         string // key, now, data, expiry -> 1 (MySQL: did a 0-row UPDATE find the row unchanged?)
	holdsExpiry   string // key, now, expiry -> 1
	deleteExpired string // now, limit
	list          string // now, after, limit -> session_key
	probe         string // checks the columns
}

// buildQueries writes the statements for table. Templates use ? for
// parameters and {t} for the quoted table, which is inserted after the
// placeholders are numbered (a quoted name may contain a question mark).
func buildQueries(d Dialect, table string) queries {
	mk := func(tmpl string) string { return buildWith(d, table, tmpl) }
	dataEq := "session_data = ?"
	if d == MySQL {
		// MySQL compares text with the column's collation, which ignores
		// case and trailing spaces, so compare bytes; and compare their
		// SHA-256 (hex, from dataDigest) rather than the data itself, so
		// that a Swap does not send the session twice (MariaDB's
		// max_allowed_packet is 16 MB by default).
		dataEq = "SHA2(session_data, 256) = ?"
	}
	q := queries{
		load:        mk("SELECT session_data FROM {t} WHERE session_key = ? AND expire_date > ?"),
		loadExp:     mk("SELECT session_data, expire_date FROM {t} WHERE session_key = ? AND expire_date > ?"),
		update:      mk("UPDATE {t} SET session_data = ?, expire_date = ? WHERE session_key = ? AND expire_date > ?"),
		touch:       mk("UPDATE {t} SET expire_date = ? WHERE session_key = ? AND expire_date > ?"),
		swap:        mk("UPDATE {t} SET session_data = ?, expire_date = ? WHERE session_key = ? AND expire_date > ? AND " + dataEq),
		del:         mk("DELETE FROM {t} WHERE session_key = ?"),
		holds:       mk("SELECT 1 FROM {t} WHERE session_key = ? AND expire_date > ? AND " + dataEq + " AND expire_date = ?"),
		holdsExpiry: mk("SELECT 1 FROM {t} WHERE session_key = ? AND expire_date > ? AND expire_date = ?"),
		list:        mk("SELECT session_key FROM {t} WHERE expire_date > ? AND session_key > ? ORDER BY session_key LIMIT ?"),
		probe:       mk("SELECT session_key, session_data, expire_date FROM {t} WHERE 1 = 0"),
	}
	switch d {
	case SQLite, Postgres:
		// One statement: insert, or take over the row only if it has
		// expired. A live row makes it change nothing (0 rows).
		q.insert = mk("INSERT INTO {t} AS s (session_key, session_data, expire_date) VALUES (?, ?, ?) " +
			"ON CONFLICT (session_key) DO UPDATE SET session_data = excluded.session_data, expire_date = excluded.expire_date " +
			"WHERE s.expire_date <= ?")
		q.deleteExpired = mk("DELETE FROM {t} WHERE session_key IN (SELECT session_key FROM {t} WHERE expire_date <= ? LIMIT ?)")
	case MySQL:
		q.insert = mk("INSERT INTO {t} (session_key, session_data, expire_date) VALUES (?, ?, ?)")
		q.deleteExpKey = mk("DELETE FROM {t} WHERE session_key = ? AND expire_date <= ?")
		q.deleteExpired = mk("DELETE FROM {t} WHERE expire_date <= ? ORDER BY expire_date LIMIT ?")
	}
	return q
}

// buildWith writes one statement for table: ? placeholders become $n on
// PostgreSQL, then {t} becomes the quoted table name (inserted after the
// numbering: a quoted name may contain a question mark).
func buildWith(d Dialect, table, tmpl string) string {
	if d == Postgres {
		var b strings.Builder
		n := 0
		for i := 0; i < len(tmpl); i++ {
			if tmpl[i] == '?' {
				n++
				b.WriteByte('$')
				b.WriteString(strconv.Itoa(n))
				continue
			}
			b.WriteByte(tmpl[i])
		}
		tmpl = b.String()
	}
	return strings.ReplaceAll(tmpl, "{t}", d.quote(table))
}
