package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/sessionkit/sessions"
	bbolt "go.etcd.io/bbolt"
)

// usersSuffix names the bucket of the user index (sessions.UserIndexer):
// "<bucket>.users", keyed by len(user ID) ‖ user ID ‖ session key, each
// value the 8-byte expiry of the entry followed by its metadata (none in
// entries written before metadata existed).
const usersSuffix = ".users"

func userPrefix(userID string) []byte {
	p := make([]byte, 0, 1+len(userID))
	p = append(p, byte(len(userID)))
	return append(p, userID...)
}

func (s *Store) usersBucket() []byte { return append(bytes.Clone(s.data), usersSuffix...) }

// AddUserSession implements sessions.UserIndexer.
func (s *Store) AddUserSession(ctx context.Context, userID, key string, meta []byte, expiry time.Time) error {
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(s.usersBucket())
		if err != nil {
			return err
		}
		k := append(userPrefix(userID), key...)
		exp := stamp(expiry)
		if old := b.Get(k); len(old) >= headerLen {
			// The later expiry stays (see sessions.UserIndexer).
			exp = max(exp, binary.BigEndian.Uint64(old))
			if len(meta) == 0 && len(old) > headerLen {
				meta = bytes.Clone(old[headerLen:]) // kept
			}
		}
		v := make([]byte, headerLen+len(meta))
		binary.BigEndian.PutUint64(v, exp)
		copy(v[headerLen:], meta)
		return b.Put(k, v)
	})
	if err != nil {
		return fmt.Errorf("boltstore: bind user: %w", err)
	}
	return nil
}

// UserSessions implements sessions.UserIndexer.
func (s *Store) UserSessions(ctx context.Context, userID string) ([]sessions.UserEntry, error) {
	entries := []sessions.UserEntry{}
	now := stamp(s.now())
	err := s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(s.usersBucket())
		if b == nil {
			return nil
		}
		p := userPrefix(userID)
		c := b.Cursor()
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			if len(v) < headerLen {
				continue
			}
			exp := binary.BigEndian.Uint64(v)
			if exp <= now {
				continue
			}
			e := sessions.UserEntry{Key: string(k[len(p):]), Expiry: time.Unix(0, int64(exp))}
			if len(v) > headerLen {
				e.Meta = bytes.Clone(v[headerLen:])
			}
			entries = append(entries, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: user sessions: %w", err)
	}
	return entries, nil
}

// RemoveUserSessions implements sessions.UserIndexer: it deletes the
// entries of keys under userID in one transaction. Entries are separate
// bucket keys, so an entry added meanwhile is not touched.
func (s *Store) RemoveUserSessions(ctx context.Context, userID string, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	p := userPrefix(userID)
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(s.usersBucket())
		if b == nil {
			return nil
		}
		for _, k := range keys {
			if err := b.Delete(append(p[:len(p):len(p)], k...)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("boltstore: remove user sessions: %w", err)
	}
	return nil
}

// purgeUsers removes expired user-index entries, in bounded batches.
func (s *Store) purgeUsers(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		full := false
		err := s.db.Update(func(tx *bbolt.Tx) error {
			b := tx.Bucket(s.usersBucket())
			if b == nil {
				return nil
			}
			now := stamp(s.now())
			var dead [][]byte
			c := b.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				if len(v) < headerLen || binary.BigEndian.Uint64(v) <= now {
					dead = append(dead, bytes.Clone(k))
					if len(dead) >= s.batch {
						full = true
						break
					}
				}
			}
			for _, k := range dead {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("boltstore: purge user index: %w", err)
		}
		if !full {
			return nil
		}
	}
}
