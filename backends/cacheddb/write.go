package cacheddb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/internal/djcache"
)

// Create implements sessions.Engine: a claim on the cache entry, the
// database row, then the cache's copy.
func (s *Store) Create(ctx context.Context, key string, data []byte, expiry time.Time) error {
	c, err := s.claimKey(ctx, key, nil, true)
	if err != nil {
		return err
	}
	dctx, cancel := c.dbContext(ctx)
	defer cancel()
	if err := s.db.Create(dctx, key, data, expiry); err != nil {
		return s.dbFailed(ctx, c, err)
	}
	return s.settle(ctx, c, data, expiry)
}

// Update implements sessions.Engine: a claim on the cache entry, the
// database row (ErrNotFound if the row is gone: never resurrected), then
// the cache's copy.
func (s *Store) Update(ctx context.Context, key string, data []byte, expiry time.Time) error {
	c, err := s.claimKey(ctx, key, nil, false)
	if err != nil {
		return err
	}
	dctx, cancel := c.dbContext(ctx)
	defer cancel()
	if err := s.db.Update(dctx, key, data, expiry); err != nil {
		return s.dbFailed(ctx, c, err)
	}
	return s.settle(ctx, c, data, expiry)
}

// Swap implements sessions.Swapper on the database row. old may be the
// cache's copy (another format). A copy this store installed carries the
// row's bytes it was made from (djcache.AppendRow): the row is swapped
// against them, without reading it. Otherwise (a copy Django wrote), or
// when the row no longer holds them, the row is read and the two
// sessions compared decoded.
func (s *Store) Swap(ctx context.Context, key string, old, data []byte, expiry time.Time) error {
	if s.dbSw == nil {
		return fmt.Errorf("%w: the database engine cannot compare-and-swap", sessions.ErrUnsupported)
	}
	var guess []byte
	pickled := djcache.IsPickle(old)
	if pickled {
		guess = old // the cache's copy the request loaded
	}
	c, err := s.claimKey(ctx, key, guess, false)
	if err != nil {
		return err
	}
	dctx, cancel := c.dbContext(ctx)
	defer cancel()
	cur := old
	if pickled {
		p, row, ok := djcache.SplitRow(old)
		if ok {
			err := s.dbSw.Swap(dctx, key, row, data, expiry)
			if err == nil {
				return s.settle(ctx, c, data, expiry)
			}
			if !errors.Is(err, sessions.ErrConflict) {
				return s.dbFailed(ctx, c, err)
			}
			// The row was rewritten since the copy was made, perhaps
			// with the same session (Django re-signs what it saves).
		}
		row, err := s.db.Load(dctx, key)
		if err != nil {
			return s.dbFailed(ctx, c, err)
		}
		if !bytes.Equal(row, p) && !s.equivalent(row, p) {
			// The row changed since this request loaded.
			return s.dbFailed(ctx, c, sessions.ErrConflict)
		}
		cur = row
	}
	if err := s.dbSw.Swap(dctx, key, cur, data, expiry); err != nil {
		return s.dbFailed(ctx, c, err)
	}
	return s.settle(ctx, c, data, expiry)
}

// equivalent reports whether two stored forms (either format) hold the
// same session.
func (s *Store) equivalent(a, b []byte) bool {
	if s.dbCodec == nil {
		return false
	}
	dec := dual{db: s.dbCodec, cache: s.cacheCodec}
	da, err1 := dec.Decode(a)
	db, err2 := dec.Decode(b)
	if err1 != nil || err2 != nil {
		return false
	}
	ca, err1 := codec.MarshalPython(codec.NewDict(da.Map()))
	cb, err2 := codec.MarshalPython(codec.NewDict(db.Map()))
	return err1 == nil && err2 == nil && bytes.Equal(ca, cb)
}

// Touch implements sessions.Toucher: a claim, the row's expiry, then the
// cache's copy again with the new expiry.
func (s *Store) Touch(ctx context.Context, key string, expiry time.Time) error {
	t, ok := s.db.(sessions.Toucher)
	if !ok {
		return fmt.Errorf("%w: the database engine cannot touch", sessions.ErrUnsupported)
	}
	c, err := s.claimKey(ctx, key, nil, false)
	if err != nil {
		return err
	}
	dctx, cancel := c.dbContext(ctx)
	defer cancel()
	if err := t.Touch(dctx, key, expiry); err != nil {
		return s.dbFailed(ctx, c, err)
	}
	// The copy we replaced is the row's data, which Touch left alone.
	return s.later(ctx, c, func(ctx context.Context) error { return s.install(ctx, c, c.seen, expiry) }, nil)
}

// Delete implements sessions.Engine: a claim on the cache entry, the
// database row, then the claim is removed.
func (s *Store) Delete(ctx context.Context, key string) error {
	c, err := s.claimKey(ctx, key, nil, false)
	if err != nil {
		return err
	}
	dctx, cancel := c.dbContext(ctx)
	defer cancel()
	if err := s.db.Delete(dctx, key); err != nil {
		return s.dbFailed(ctx, c, err)
	}
	return s.finish(ctx, c, nil, time.Time{})
}
