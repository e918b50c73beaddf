package sqlstore

import (
	"context"
	"fmt"

	"github.com/sessionkit/sessions"
)

// Count implements sessions.Counter with one COUNT query per table: the
// live and the expired rows of the session table (one statement, so one
// snapshot; Django's index on expire_date serves both ranges), then the
// users and live entries of the user index table, when it exists (a
// store that never bound a user has none: 0). On a large table the
// database still reads every row or index entry, so a count can take
// seconds; it reports no progress.
func (s *Store) Count(ctx context.Context, progress func(done, total int64)) (sessions.Counts, error) {
	var n sessions.Counts
	now := s.nowArg()
	q := buildWith(s.d, s.table, "SELECT (SELECT COUNT(*) FROM {t} WHERE expire_date > ?), (SELECT COUNT(*) FROM {t} WHERE expire_date <= ?)")
	if err := s.r.QueryRowContext(ctx, q, now, now).Scan(&n.Sessions, &n.Expired); err != nil {
		return n, s.fail(ctx, fmt.Errorf("counting sessions: %w", err))
	}
	t := s.table + userTableSuffix
	exists, err := s.tableNamedExists(ctx, t)
	if err != nil {
		return n, s.fail(ctx, fmt.Errorf("looking up the user index table: %w", err))
	}
	if !exists {
		return n, nil
	}
	q = buildWith(s.d, t, "SELECT COUNT(DISTINCT user_id), COUNT(*) FROM {t} WHERE expire_date > ?")
	if err := s.r.QueryRowContext(ctx, q, now).Scan(&n.Users, &n.UserEntries); err != nil {
		return n, s.fail(ctx, fmt.Errorf("counting the user index: %w", err))
	}
	return n, nil
}
