package filestore

import (
	"context"
	"time"

	"github.com/sessionkit/sessions"
)

// LoadExpiry implements sessions.ExpiryReader: Load, and the expiry the
// file engine reads from the file (the data's absolute expiry, or the
// file's mtime plus the session's lifetime), so that a session moved to
// another engine (backends/migrate) keeps exactly its lifetime.
func (s *Store) LoadExpiry(ctx context.Context, key string) ([]byte, time.Time, error) {
	name, err := fileName(s.prefix, key)
	if err != nil {
		return nil, time.Time{}, err
	}
	r, err := s.read(name)
	if err != nil {
		return nil, time.Time{}, s.ioErr("load", key, err)
	}
	if !r.live(s.now()) {
		return nil, time.Time{}, sessions.ErrNotFound
	}
	return r.data, r.expiry, nil
}
