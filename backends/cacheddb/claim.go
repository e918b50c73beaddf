package cacheddb

// Claims: how a write keeps the cache from serving an old copy (see
// Consistency in the package documentation).

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"strconv"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/internal/djcache"
)

// leaseTime is how long a reader's lease keeps other readers from
// refilling the same key (they read the database meanwhile).
const leaseTime = 2 * time.Second

// maxClaimAttempts bounds the compare-and-swap retries of one claim: each
// failed attempt means another request changed the entry meanwhile.
const maxClaimAttempts = 100

// raced reports the answers of a compare-and-swap, add or replace that
// lost to another request: the entry changed meanwhile.
func raced(err error) bool {
	return errors.Is(err, sessions.ErrConflict) || errors.Is(err, sessions.ErrExists) || errors.Is(err, sessions.ErrNotFound)
}

// markerPrefix starts every claim in the cache: a pickled None (so Django
// reads a claim as a miss; pickle ignores what follows STOP), then a tag.
const markerPrefix = "\x80\x05N.sessionkit-cached_db:"

const (
	kindWrite = 'w' // a writer's claim
	kindLease = 'r' // a reader's lease
)

// marker is a claim on a cache entry: "<prefix><kind>:<until ms>:<token>".
type marker struct {
	kind  byte
	until time.Time // the holder's database step is over by then
	token string
}

func newToken() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (m marker) encode() []byte {
	ms := (m.until.UnixNano() + int64(time.Millisecond) - 1) / int64(time.Millisecond)
	return []byte(markerPrefix + string(m.kind) + ":" + strconv.FormatInt(ms, 10) + ":" + m.token)
}

func parseMarker(b []byte) (marker, bool) {
	rest, ok := bytes.CutPrefix(b, []byte(markerPrefix))
	if !ok {
		return marker{}, false
	}
	parts := bytes.SplitN(rest, []byte(":"), 3)
	if len(parts) != 3 || len(parts[0]) != 1 {
		return marker{}, false
	}
	ms, err := strconv.ParseInt(string(parts[1]), 10, 64)
	if err != nil {
		return marker{}, false
	}
	return marker{kind: parts[0][0], until: time.UnixMilli(ms), token: string(parts[2])}, true
}

// isMarker reports whether b is a claim rather than a session.
func isMarker(b []byte) bool { return bytes.HasPrefix(b, []byte(markerPrefix)) }

// busyWriter reports whether b is a writer's claim whose database step may
// not be over yet, and until when.
func busyWriter(b []byte, now time.Time) (time.Time, bool) {
	m, ok := parseMarker(b)
	if !ok || m.kind != kindWrite || !m.until.After(now) {
		return time.Time{}, false
	}
	return m.until, true
}

// claim is a write's hold on a cache entry.
type claim struct {
	key       string
	token     string
	marker    []byte    // our marker, as stored
	contended bool      // we replaced another writer's live claim
	others    time.Time // the latest end of the claims we replaced
	seen      []byte    // the copy we replaced, when not contended
	deadline  time.Time // our database step ends by then
	// background: the install runs after the write returned (see
	// installs.publish); set under installs.mu before it starts.
	background bool
}

// claimKey replaces the cache entry of key with a claim of a new write.
// guess is what the caller believes the entry holds (the copy the
// Manager loaded) and absent says it believes there is none; either saves
// a read. It fails, and the write must not touch the database, when the
// cache cannot be reached.
func (s *Store) claimKey(ctx context.Context, key string, guess []byte, absent bool) (*claim, error) {
	s.awaitInstalls(ctx, key)
	now := time.Now()
	c := &claim{key: key, token: newToken(), deadline: now.Add(s.writeTimeout)}
	own := c.deadline.Add(s.skew)
	seen, known := guess, guess != nil || absent
	for attempt := 0; attempt < maxClaimAttempts; attempt++ {
		if attempt > 3 {
			time.Sleep(time.Duration(mrand.Int64N(int64(attempt) * int64(100*time.Microsecond))))
		}
		if !known {
			b, err := s.cache.Load(ctx, key)
			switch {
			case err == nil:
				seen = b
			case errors.Is(err, sessions.ErrNotFound):
				seen = nil
			default:
				return nil, s.claimFailed(ctx, err)
			}
		}
		known = false
		var copySeen []byte
		if m, ok := parseMarker(seen); ok {
			if m.token == c.token {
				// An earlier attempt landed after all (a client retry).
				c.marker = seen
				return c, nil
			}
			if until, busy := busyWriter(seen, time.Now()); busy {
				c.contended = true
				if until.After(c.others) {
					c.others = until
				}
			}
		} else {
			copySeen = seen
		}
		until := own
		if c.others.After(until) {
			until = c.others
		}
		mk := marker{kind: kindWrite, until: until, token: c.token}.encode()
		var err error
		if seen == nil {
			err = s.cache.Create(ctx, key, mk, until.Add(s.skew))
		} else {
			err = s.cacheSw.Swap(ctx, key, seen, mk, until.Add(s.skew))
		}
		switch {
		case err == nil:
			s.cacheOK(ctx)
			c.marker, c.seen = mk, copySeen
			return c, nil
		case raced(err):
			continue
		default:
			return nil, s.claimFailed(ctx, err)
		}
	}
	return nil, fmt.Errorf("%w: cached_db: the cache entry kept changing under concurrent requests", sessions.ErrConflict)
}

func (s *Store) claimFailed(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	s.cacheFailed(ctx, "claim", err)
	return fmt.Errorf("%w: %w", ErrCacheUnavailable, err)
}

// dbContext bounds the database step of a claimed write.
func (c *claim) dbContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithDeadline(ctx, c.deadline)
}

// dbFailed handles a failed database step: a definite answer (the row was
// not there, or changed, or the data was refused) left the database as it
// was, so the claim is released; any other error may or may not have
// been applied, so the claim stays until it expires, keeping readers on
// the database. It returns the error to report.
func (s *Store) dbFailed(ctx context.Context, c *claim, err error) error {
	if errors.Is(err, sessions.ErrNotFound) || errors.Is(err, sessions.ErrConflict) || errors.Is(err, sessions.ErrExists) ||
		errors.Is(err, sessions.ErrTooLarge) || errors.Is(err, sessions.ErrInvalidKey) {
		s.release(ctx, c, false)
		return err
	}
	if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("cached_db: the database did not answer within %v: %w", s.writeTimeout, err)
	}
	return err
}

// finish ends a write whose database step succeeded: it swaps the claim
// for the new copy (data in the database's format, nil for none), or
// releases it when another write overlapped or there is no copy to
// install. An error means the write is in the database but a copy older
// than it may remain in the cache.
func (s *Store) finish(ctx context.Context, c *claim, data []byte, expiry time.Time) error {
	var cb []byte
	if data != nil && !c.contended {
		if cb, _ = s.toCache(data); cb != nil {
			cb = s.withRow(cb, data)
		}
	}
	return s.install(ctx, c, cb, expiry)
}

// install swaps the claim for cb (in the cache's format), or releases it
// when cb is nil or another write overlapped.
func (s *Store) install(ctx context.Context, c *claim, cb []byte, expiry time.Time) error {
	if cb == nil || c.contended {
		return s.release(ctx, c, true)
	}
	s.bg.publish(c, cb, expiry)
	err := s.cacheSw.Swap(ctx, c.key, c.marker, cb, expiry)
	if p, _, ok := djcache.SplitRow(cb); ok && errors.Is(err, sessions.ErrTooLarge) {
		// Too big with the row: the pickle alone (writes then read the row).
		cb = p
		s.bg.publish(c, cb, expiry)
		err = s.cacheSw.Swap(ctx, c.key, c.marker, cb, expiry)
	}
	switch {
	case err == nil:
		s.cacheOK(ctx)
		s.bg.installed(c)
		return nil
	case errors.Is(err, sessions.ErrTooLarge):
		// Too big for the cache: serve it from the database.
		s.bg.lose(c)
		return s.release(ctx, c, true)
	case raced(err):
		// Our claim was replaced: what replaced it is checked, and loads
		// must not take the claim verify may put back for ours.
		s.bg.lose(c)
		return s.verify(ctx, c, cb)
	default:
		// Our claim, or the new copy if the swap landed after all, is in
		// the cache: either is safe.
		s.cacheFailed(ctx, "set", err)
		return nil
	}
}

// release drops our claim: removed when no other write overlapped, else
// replaced by one that keeps the overlapping writes' claims. written says
// the database was changed, so whatever replaced a lost claim must be
// checked.
func (s *Store) release(ctx context.Context, c *claim, written bool) error {
	var err error
	if c.contended {
		mk := marker{kind: kindWrite, until: c.others, token: c.token}.encode()
		err = s.cacheSw.Swap(ctx, c.key, c.marker, mk, c.others.Add(s.skew))
	} else {
		err = s.dropEntry(ctx, c.key, c.marker)
	}
	switch {
	case err == nil:
		return nil
	case raced(err):
		if written {
			return s.verify(ctx, c, nil)
		}
		return nil
	default:
		s.cacheFailed(ctx, "release", err)
		return nil // our claim stays until it expires: safe
	}
}

// dropEntry removes the entry of key if it still holds b (a swap with an
// expiry in the past is a conditional delete).
func (s *Store) dropEntry(ctx context.Context, key string, b []byte) error {
	return s.cacheSw.Swap(ctx, key, b, b, time.Unix(1, 0))
}

// verify runs when our claim was replaced or lost after our database
// write: by an overlapping write (which then installs nothing), or by an
// eviction or restart, after which a reader may have cached the row as it
// was before our write. Anything but our own copy is replaced by a
// claim that keeps readers on the database until the overlapping writes
// are over.
func (s *Store) verify(ctx context.Context, c *claim, cb []byte) error {
	for attempt := 0; attempt < maxClaimAttempts; attempt++ {
		b, err := s.cache.Load(ctx, c.key)
		switch {
		case errors.Is(err, sessions.ErrNotFound):
			return nil
		case err != nil:
			return s.unsure(ctx, err)
		case cb != nil && bytes.Equal(b, cb):
			return nil // our swap landed after all (a client retry)
		}
		until := time.Now()
		if u, busy := busyWriter(b, until); busy {
			until = u
		}
		mk := marker{kind: kindWrite, until: until, token: c.token}.encode()
		err = s.cacheSw.Swap(ctx, c.key, b, mk, until.Add(s.skew))
		switch {
		case err == nil:
			return nil
		case raced(err):
			continue
		default:
			return s.unsure(ctx, err)
		}
	}
	return s.unsure(ctx, sessions.ErrConflict)
}

func (s *Store) unsure(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	s.cacheFailed(ctx, "verify", err)
	return fmt.Errorf("%w: the database was written, but the cache could not be checked for an older copy afterwards: %w", ErrCacheUnavailable, err)
}
