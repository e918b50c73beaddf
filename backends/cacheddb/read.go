package cacheddb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/internal/djcache"
)

// Load implements sessions.Engine: the cache's copy when it has one (in
// the cache's format), else the database row. A miss refills the cache
// under a lease, so that a write in between cannot be overwritten by the
// older row; a live claim means a write is under way, and the row is
// read without caching it. A claim of this process's own write, whose
// install is on its way, gives the copy being installed: the load does
// not wait for the install (see pendingCopy); with any other claim,
// the load waits for the process's pending installs of key, if any, and
// reads the cache again.
func (s *Store) Load(ctx context.Context, key string) ([]byte, error) {
	if s.skipCache() {
		return s.db.Load(ctx, key)
	}
	pending := s.bg.pendingCopies(key)
	b, err := s.cacheLoad(ctx, key)
	if err == nil && isMarker(b) {
		if cb := s.bg.copyFor(key, b, pending); cb != nil {
			s.cacheOK(ctx)
			return cb, nil
		}
		if s.awaitInstalls(ctx, key) {
			b, err = s.cacheLoad(ctx, key)
		}
	}
	switch {
	case err == nil:
		s.cacheOK(ctx)
		if !isMarker(b) {
			return b, nil
		}
		if m, _ := parseMarker(b); m.until.After(time.Now()) {
			return s.db.Load(ctx, key) // a write (or another refill) is under way
		}
		return s.refill(ctx, key, b)
	case errors.Is(err, sessions.ErrNotFound):
		s.cacheOK(ctx)
		return s.refill(ctx, key, nil)
	case ctx.Err() != nil:
		return nil, ctx.Err()
	default:
		s.cacheFailed(ctx, "load", err)
		return s.db.Load(ctx, key)
	}
}

// cacheLoad reads the cache within the read budget (see
// Options.ReadTimeout), so a stalled cache leaves the load time to read
// the database.
func (s *Store) cacheLoad(ctx context.Context, key string) ([]byte, error) {
	budget := s.readTimeout
	if dl, ok := ctx.Deadline(); ok {
		budget = min(budget, time.Until(dl)/2)
	}
	cctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	b, err := s.cache.Load(cctx, key)
	if err != nil && ctx.Err() == nil && cctx.Err() != nil {
		return nil, fmt.Errorf("cached_db: the cache did not answer within %v: %w", budget.Round(time.Millisecond), err)
	}
	return b, err
}

// refill reads the row under a lease on the cache entry, which holds seen
// (nil: nothing), and caches it until the row's expiry.
func (s *Store) refill(ctx context.Context, key string, seen []byte) ([]byte, error) {
	er, ok := s.db.(sessions.ExpiryReader)
	if !ok {
		return s.db.Load(ctx, key)
	}
	until := time.Now().Add(leaseTime)
	lease := marker{kind: kindLease, until: until, token: newToken()}.encode()
	var err error
	if seen == nil {
		err = s.cache.Create(ctx, key, lease, until)
	} else {
		err = s.cacheSw.Swap(ctx, key, seen, lease, until)
	}
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case !raced(err):
			s.cacheFailed(ctx, "lease", err)
		}
		return s.db.Load(ctx, key) // someone else is at it, or the cache failed
	}
	data, exp, err := er.LoadExpiry(ctx, key)
	if err != nil {
		if errors.Is(err, sessions.ErrNotFound) {
			s.dropEntry(ctx, key, lease)
		}
		return nil, err
	}
	cb, ok := s.toCache(data)
	if !ok {
		s.dropEntry(ctx, key, lease)
		return data, nil
	}
	err = s.cacheSw.Swap(ctx, key, lease, s.withRow(cb, data), exp)
	if errors.Is(err, sessions.ErrTooLarge) && !s.verbatim {
		err = s.cacheSw.Swap(ctx, key, lease, cb, exp) // without the row
	}
	switch {
	case err == nil, raced(err):
	case errors.Is(err, sessions.ErrTooLarge):
		s.dropEntry(ctx, key, lease)
	default:
		s.cacheFailed(ctx, "refill", err)
	}
	return data, nil
}

// withRow returns the cache's copy cb of the row data with data in a
// trailer (djcache.AppendRow), so that a write of the session can
// compare-and-swap the row without reading it (see Swap). Verbatim copies
// are the row already; Options.PlainCopies leaves the row out.
func (s *Store) withRow(cb, data []byte) []byte {
	if s.verbatim || s.plain || !djcache.IsPickle(cb) {
		return cb
	}
	return djcache.AppendRow(cb, data)
}

// toCache converts database-format data to the cache's format.
func (s *Store) toCache(data []byte) ([]byte, bool) {
	if s.verbatim {
		return data, true
	}
	d, err := s.dbCodec.Decode(data)
	if err != nil {
		return nil, false
	}
	b, err := s.cacheCodec.Encode(d)
	return b, err == nil
}
