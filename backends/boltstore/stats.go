package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"

	"github.com/sessionkit/sessions"
	bbolt "go.etcd.io/bbolt"
)

// countBatch is the most entries Count reads in one read transaction, so
// that a long count never holds one transaction open (bbolt cannot grow
// its memory map while one is). A variable for tests.
var countBatch = 100_000

// Count implements sessions.Counter. It walks the expiry index (8-byte
// keys and the session key, no data), which is ordered by expiry: the
// entries up to now are the expired sessions DeleteExpired removes, the
// others the live sessions List reports; then the user index. It reads
// in batches of countBatch entries, each in its own read transaction,
// and reports progress after each (the total is not known in advance).
func (s *Store) Count(ctx context.Context, progress func(done, total int64)) (sessions.Counts, error) {
	var n sessions.Counts
	now := stamp(s.now())
	var seen int64
	// The expiry index.
	err := s.walkBatches(ctx, s.index, func(k, _ []byte) {
		seen++
		switch {
		case len(k) < headerLen:
		case binary.BigEndian.Uint64(k) <= now:
			n.Expired++
		case sessions.ValidKey(string(k[headerLen:])):
			n.Sessions++
		}
	}, func() { progress(seen, -1) })
	if err != nil {
		return n, fmt.Errorf("boltstore: count: %w", err)
	}
	// The user index: len(user ID) ‖ user ID ‖ session key, in order, so
	// the entries of one user are adjacent.
	var last []byte
	err = s.walkBatches(ctx, s.usersBucket(), func(k, v []byte) {
		seen++
		if len(k) < 1 || len(k) < 1+int(k[0]) || len(v) < headerLen || binary.BigEndian.Uint64(v) <= now {
			return
		}
		n.UserEntries++
		if user := k[:1+int(k[0])]; !bytes.Equal(user, last) {
			n.Users++
			last = bytes.Clone(user)
		}
	}, func() { progress(seen, -1) })
	if err != nil {
		return n, fmt.Errorf("boltstore: count: %w", err)
	}
	return n, nil
}

// seekAfter positions c at the first entry after the key after, or at
// the first entry when after is nil (a walk in batches resuming where the
// previous read transaction stopped), and returns it.
func seekAfter(c *bbolt.Cursor, after []byte) (k, v []byte) {
	if after == nil {
		return c.First()
	}
	if k, v = c.Seek(after); k != nil && bytes.Equal(k, after) {
		return c.Next()
	}
	return k, v
}

// walkBatches calls fn for every entry of the bucket, in key order, at
// most countBatch per read transaction, and after each batch calls done.
// A missing bucket has no entries.
func (s *Store) walkBatches(ctx context.Context, bucket []byte, fn func(k, v []byte), done func()) error {
	var after []byte
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		more := false
		err := s.db.View(func(tx *bbolt.Tx) error {
			b := tx.Bucket(bucket)
			if b == nil {
				return nil
			}
			c := b.Cursor()
			k, v := seekAfter(c, after)
			for i := 0; k != nil; k, v = c.Next() {
				if i == countBatch {
					more = true
					break
				}
				fn(k, v)
				after = k
				i++
			}
			after = bytes.Clone(after) // k points into the memory map
			return nil
		})
		if err != nil {
			return err
		}
		done()
		if !more {
			return nil
		}
	}
}
