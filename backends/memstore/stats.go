package memstore

import (
	"context"

	"github.com/sessionkit/sessions"
)

// Count implements sessions.Counter: one pass over the maps, each under
// its read lock in turn. Expired counts the entries not yet purged (DeleteExpired
// removes them; so does any write once PurgeInterval has passed).
func (s *Store) Count(ctx context.Context, progress func(done, total int64)) (sessions.Counts, error) {
	now := s.now()
	var n sessions.Counts
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		for _, e := range sh.m {
			if e.expiry.After(now) {
				n.Sessions++
			} else {
				n.Expired++
			}
		}
		sh.mu.RUnlock()
	}
	s.umu.RLock()
	defer s.umu.RUnlock()
	for _, u := range s.users {
		live := int64(0)
		for _, e := range u {
			if e.expiry.After(now) {
				live++
			}
		}
		n.UserEntries += live
		if live > 0 {
			n.Users++
		}
	}
	return n, nil
}
