package migrate

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"time"

	"github.com/sessionkit/sessions"
)

// claimPrefix starts every claim: a pickled None (Django reads a claim in
// a cache as a miss; pickle ignores what follows STOP), then a tag and a
// random token. A session, in any format, never starts so.
const claimPrefix = "\x80\x05N.sessionkit-migrate:"

func newClaim() []byte {
	var b [16]byte
	rand.Read(b[:])
	return []byte(claimPrefix + hex.EncodeToString(b[:]))
}

func isClaim(b []byte) bool { return bytes.HasPrefix(b, []byte(claimPrefix)) }

// maxMoveAttempts bounds the rounds of a move that loses races to other
// movers and writers.
const maxMoveAttempts = 50

// raced reports the answers of a create or compare-and-swap that lost
// to another request: the record changed meanwhile.
func raced(err error) bool {
	return errors.Is(err, sessions.ErrExists) || errors.Is(err, sessions.ErrConflict) || errors.Is(err, sessions.ErrNotFound)
}

// where a session is.
type where int

const (
	absent   where = iota // in neither store
	inTarget              // in the new store
	inSource              // only in the old store
)

// place is what find learned about a key.
type place struct {
	where where
	data  []byte    // the new store's data, or the old store's (in its format)
	exp   time.Time // the record's expiry, when its store told it
	claim []byte    // the claim the new store holds, if any (with inSource or absent)
}

// target reads the new store: inTarget with its data, or absent, with
// the claim it holds if any.
func (s *store) target(ctx context.Context, key string, withExpiry bool) (place, error) {
	var b []byte
	var exp time.Time
	var err error
	if withExpiry && s.dstExp != nil {
		b, exp, err = s.dstExp.LoadExpiry(ctx, key)
	} else {
		b, err = s.dst.Load(ctx, key)
	}
	switch {
	case errors.Is(err, sessions.ErrNotFound):
		return place{}, nil
	case err != nil:
		return place{}, err
	case isClaim(b):
		return place{claim: b}, nil
	}
	return place{where: inTarget, data: b, exp: exp}, nil
}

// source reads the old store, with the expiry when it can tell it.
func (s *store) source(ctx context.Context, key string) ([]byte, time.Time, error) {
	if s.srcExp != nil {
		return s.srcExp.LoadExpiry(ctx, key)
	}
	b, err := s.src.Load(ctx, key)
	return b, time.Time{}, err
}

// find locates the session under key: in the new store, else in the old
// one. A session missing from both is looked for in the new store once
// more, since a move deletes the old copy only after the new store holds
// the session: without that second look, a load racing a move would find
// neither copy and log the user out.
func (s *store) find(ctx context.Context, key string, withExpiry bool) (place, error) {
	p, err := s.target(ctx, key, withExpiry)
	if err != nil || p.where == inTarget {
		return p, err
	}
	claim := p.claim
	data, exp, err := s.source(ctx, key)
	switch {
	case err == nil:
		return place{where: inSource, data: data, exp: exp, claim: claim}, nil
	case !errors.Is(err, sessions.ErrNotFound):
		return place{}, err
	}
	return s.target(ctx, key, withExpiry)
}

// decision is what a move installs in the new store, given the old
// store's record (data in its format, and its expiry, zero when unknown).
type decision func(src []byte, exp time.Time) (data []byte, newExp time.Time, err error)

// moveResult is how a move ended.
type moveResult struct {
	outcome outcome
	data    []byte    // moved: what was installed; found: the new store's data
	exp     time.Time // moved: the expiry installed
}

type outcome int

const (
	moved outcome = iota // the session is in the new store, as decided
	found                // the new store holds the session already (written or moved by another request)
	busy                 // another request is moving it (only for readers)
	gone                 // the old store no longer has it (deleted or expired)
)

// move moves the session under key from the old store to the new one. It
// claims the key in the new store (replacing seen, the claim that was
// there, or creating one where there was none), reads the old store with
// the claim in place, and swaps its claim, and only its claim, for what
// decide returns; then it deletes the old copy. A delete that runs
// meanwhile removes the old copy and then the claim, so the swap fails
// and the session is not brought back. A reader leaves a session that
// another request is moving alone (busy); writers and the bulk copy
// replace the other's claim (whose swap then fails). index says whether
// to record the moved session in the new store's user index.
func (s *store) move(ctx context.Context, key string, seen []byte, reader, index bool, decide decision) (moveResult, error) {
	for attempt := range maxMoveAttempts {
		if attempt > 2 {
			// Colliding with other movers of the same session: back off
			// a little so one of them gets through.
			time.Sleep(time.Duration(mrand.Int64N(int64(attempt) * int64(200*time.Microsecond))))
		}
		if seen != nil && reader {
			return moveResult{outcome: busy}, nil
		}
		mine := newClaim()
		var err error
		if seen == nil {
			err = s.dst.Create(ctx, key, mine, time.Now().Add(s.claimTTL))
		} else {
			err = s.dstSw.Swap(ctx, key, seen, mine, time.Now().Add(s.claimTTL))
		}
		if err != nil {
			if !raced(err) {
				return moveResult{}, err
			}
			p, err := s.target(ctx, key, false)
			if err != nil {
				return moveResult{}, err
			}
			if p.where == inTarget {
				return moveResult{outcome: found, data: p.data}, nil
			}
			seen = p.claim
			continue
		}
		src, exp, err := s.source(ctx, key)
		if err != nil {
			s.release(ctx, key, mine)
			if !errors.Is(err, sessions.ErrNotFound) {
				return moveResult{}, err
			}
			// Deleted (or expired), or moved by a writer that replaced
			// our claim and has deleted the old copy since.
			p, err := s.target(ctx, key, false)
			switch {
			case err != nil:
				return moveResult{}, err
			case p.where == inTarget:
				return moveResult{outcome: found, data: p.data}, nil
			}
			return moveResult{outcome: gone}, nil
		}
		data, newExp, err := decide(src, exp)
		if err == nil && index {
			err = s.index(ctx, key, data, newExp)
		}
		if err != nil {
			s.release(ctx, key, mine)
			return moveResult{}, err
		}
		err = s.dstSw.Swap(ctx, key, mine, data, newExp)
		switch {
		case err == nil && !newExp.After(time.Now()):
			// A write that ends the session (CycleKey retiring its old
			// key): the new store now holds an expired record, which a
			// load takes for no session, so it would fall through to an
			// old copy left behind. The old copy goes now, or the write
			// fails (with keep_source too: an ended session is deleted).
			if err := s.src.Delete(ctx, key); err != nil {
				return moveResult{}, fmt.Errorf("migrate: the session ended in the new store, but its old copy could not be deleted: %w", err)
			}
			return moveResult{outcome: moved, data: data, exp: newExp}, nil
		case err == nil:
			s.dropSource(ctx, key)
			return moveResult{outcome: moved, data: data, exp: newExp}, nil
		case raced(err):
			// Our claim was replaced (by a writer or the bulk copy) or
			// removed (by a delete; or it expired while we were slow):
			// look again.
			p, err := s.target(ctx, key, false)
			if err != nil {
				return moveResult{}, err
			}
			if p.where == inTarget {
				return moveResult{outcome: found, data: p.data}, nil
			}
			seen = p.claim
		default:
			// Unknown whether the swap landed: the claim (or the copy)
			// stays, and so does the old copy.
			return moveResult{}, err
		}
	}
	return moveResult{}, fmt.Errorf("%w: migrate: the session kept changing while it was being moved", sessions.ErrConflict)
}

// release removes our claim if it is still there (a compare-and-swap to an
// expiry in the past). On failure the claim expires by itself.
func (s *store) release(ctx context.Context, key string, mine []byte) {
	s.dstSw.Swap(ctx, key, mine, mine, time.Unix(1, 0))
}

// errIndex marks a move given up because the new store's user index
// could not record the session.
var errIndex = errors.New("migrate: recording the session in the new engine's user index failed")

// index records a session about to be moved (data in the new store's
// format) in the new store's user index when it is bound to a user. It
// runs before the session is installed, so that a session in the new
// store always has its entry, whatever interrupts the move (an entry
// whose move then fails is stale, which DeleteUser recognises and drops).
// The entry takes the metadata of the old store's entry, if any.
func (s *store) index(ctx context.Context, key string, data []byte, exp time.Time) error {
	if s.dstUsers == nil {
		return nil
	}
	u := s.boundUser(data)
	if u == "" {
		return nil
	}
	if err := s.dstUsers.AddUserSession(ctx, u, key, s.srcMeta(ctx, u, key), exp); err != nil {
		return fmt.Errorf("%w: %w", errIndex, err)
	}
	return nil
}

// cleanupTimeout bounds a background delete of an old copy.
const cleanupTimeout = 10 * time.Second

// dropSource deletes the old copy of a session the new store holds (were
// it kept, it would come back once the new record expires early, is
// evicted or deleted). When that fails (the request was cancelled, the
// old store is failing), it is tried again once in the background, then
// logged.
func (s *store) dropSource(ctx context.Context, key string) {
	if s.keepSource {
		return
	}
	err := s.src.Delete(ctx, key)
	if err == nil {
		return
	}
	s.cleanMu.Lock()
	defer s.cleanMu.Unlock()
	if !s.cleaning {
		s.staleCopy(ctx, err)
		return
	}
	s.cleanups.Go(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if err := s.src.Delete(ctx, key); err != nil {
			s.staleCopy(ctx, err)
		}
	})
}

func (s *store) staleCopy(ctx context.Context, err error) {
	s.log.LogAttrs(ctx, slog.LevelWarn, "migrate: deleting the old copy of a moved session failed; it is stale and could come back if the new copy expires first", slog.String("error", err.Error()))
}

// --- sessions.Engine -----------------------------------------------------------

// Load implements sessions.Engine: the new store's session, else the old
// store's, moved into the new store (converted, with its expiry) when the
// old engine tells the expiry. A session another request is moving is read
// from the old store without moving it.
func (s *store) Load(ctx context.Context, key string) ([]byte, error) {
	b, _, err := s.load(ctx, key, false)
	return b, err
}

// LoadExpiry implements sessions.ExpiryReader (when both engines do): Load,
// and the expiry of the record.
func (s *store) LoadExpiry(ctx context.Context, key string) ([]byte, time.Time, error) {
	return s.load(ctx, key, true)
}

func (s *store) load(ctx context.Context, key string, withExpiry bool) ([]byte, time.Time, error) {
	p, err := s.find(ctx, key, withExpiry)
	switch {
	case err != nil:
		return nil, time.Time{}, err
	case p.where == absent:
		return nil, time.Time{}, sessions.ErrNotFound
	case p.where == inTarget:
		return p.data, p.exp, nil
	}
	conv, err := s.convert(p.data)
	if err != nil {
		// Served as it is, and it stays in the old store: the Manager
		// reads it in the old format (see Codec) or, if that fails too,
		// finds it undecodable, as it would any corrupt session.
		return p.data, p.exp, nil
	}
	if p.exp.IsZero() {
		return conv, p.exp, nil // the old engine cannot tell the expiry: moved by the first write
	}
	r, err := s.move(ctx, key, p.claim, true, true, func(src []byte, exp time.Time) ([]byte, time.Time, error) {
		if exp.IsZero() {
			return nil, exp, errNoExpiry
		}
		b, err := s.convert(src)
		return b, exp, err
	})
	switch {
	case errors.Is(err, errConvert), errors.Is(err, errNoExpiry), errors.Is(err, errIndex):
		return conv, p.exp, nil // served from the old store, not moved
	case err != nil:
		return nil, time.Time{}, err
	}
	switch r.outcome {
	case moved:
		return r.data, r.exp, nil
	case found:
		if withExpiry {
			return s.load(ctx, key, true) // the expiry of what another request stored
		}
		return r.data, time.Time{}, nil
	case busy:
		return conv, p.exp, nil
	}
	return nil, time.Time{}, sessions.ErrNotFound
}

// errNoExpiry marks an old record whose expiry its store cannot tell.
var errNoExpiry = errors.New("migrate: the old engine does not tell the session's expiry")

// Create implements sessions.Engine: the key must be free in both stores.
// It costs a read of the old store (new keys are random, but the
// contract is Django's save(must_create=True)).
func (s *store) Create(ctx context.Context, key string, data []byte, expiry time.Time) error {
	_, err := s.src.Load(ctx, key)
	switch {
	case err == nil:
		return sessions.ErrExists
	case !errors.Is(err, sessions.ErrNotFound):
		return err
	}
	return s.dst.Create(ctx, key, data, expiry)
}

// Update implements sessions.Engine: a compare-and-swap on what the new
// store holds (a plain update could land on a claim of a session deleted
// meanwhile and bring it back), or a move of the old store's session
// with the new data.
func (s *store) Update(ctx context.Context, key string, data []byte, expiry time.Time) error {
	return s.write(ctx, key, nil, data, expiry)
}

// Swap implements sessions.Swapper: on the new store, or, for a session
// still in the old store, a move that installs data only if the old copy
// holds the session old describes (old may be the converted copy a load
// returned).
func (s *store) Swap(ctx context.Context, key string, old, data []byte, expiry time.Time) error {
	err := s.dstSw.Swap(ctx, key, old, data, expiry)
	if err == nil || !raced(err) {
		return err
	}
	if old == nil {
		old = []byte{} // write takes nil for "no expected bytes"; a nil old expects empty bytes
	}
	return s.write(ctx, key, old, data, expiry)
}

// write stores data under key: on the new store by compare-and-swap with
// what it holds (with old when given, the Swap), else by a move.
func (s *store) write(ctx context.Context, key string, old, data []byte, expiry time.Time) error {
	for range maxMoveAttempts {
		p, err := s.find(ctx, key, false)
		switch {
		case err != nil:
			return err
		case p.where == absent:
			return sessions.ErrNotFound
		case p.where == inTarget:
			cur := p.data
			if old != nil && !bytes.Equal(cur, old) {
				return sessions.ErrConflict
			}
			err := s.dstSw.Swap(ctx, key, cur, data, expiry)
			if err == nil || !raced(err) {
				return err
			}
			continue // changed or deleted meanwhile: look again
		}
		r, err := s.move(ctx, key, p.claim, false, false, func(src []byte, _ time.Time) ([]byte, time.Time, error) {
			if old != nil && !s.sameSession(old, src) {
				return nil, time.Time{}, sessions.ErrConflict
			}
			return data, expiry, nil
		})
		if err != nil {
			return err
		}
		switch r.outcome {
		case moved:
			return nil
		case gone:
			return sessions.ErrNotFound
		}
		// found: the new store has it now; write there.
	}
	return fmt.Errorf("%w: migrate: the session kept changing", sessions.ErrConflict)
}

// Touch implements sessions.Toucher: the new store's Touch (or an
// identical swap), or a move of the old store's session with the new
// expiry.
func (s *store) Touch(ctx context.Context, key string, expiry time.Time) error {
	for range maxMoveAttempts {
		p, err := s.find(ctx, key, false)
		switch {
		case err != nil:
			return err
		case p.where == absent:
			return sessions.ErrNotFound
		case p.where == inTarget:
			if s.dstTouch != nil {
				// A touch that lands on a claim (the session was
				// deleted since find) changes no bytes: the claim's
				// owner still releases it.
				return s.dstTouch.Touch(ctx, key, expiry)
			}
			err := s.dstSw.Swap(ctx, key, p.data, p.data, expiry)
			if err == nil || !raced(err) {
				return err
			}
			continue
		}
		r, err := s.move(ctx, key, p.claim, false, true, func(src []byte, _ time.Time) ([]byte, time.Time, error) {
			b, err := s.convert(src)
			if err != nil {
				b = src // kept as it is: Load returns the same bytes as before
			}
			return b, expiry, nil
		})
		if err != nil {
			return err
		}
		switch r.outcome {
		case moved:
			return nil
		case gone:
			return sessions.ErrNotFound
		}
	}
	return fmt.Errorf("%w: migrate: the session kept changing", sessions.ErrConflict)
}

// Delete implements sessions.Engine: the old store first, then the new
// one. In that order a move that read the old copy before the delete
// finds its claim gone (or its copy is deleted after it), so no copy
// survives an acknowledged delete.
func (s *store) Delete(ctx context.Context, key string) error {
	if err := s.src.Delete(ctx, key); err != nil {
		return err
	}
	return s.dst.Delete(ctx, key)
}

// DeleteExpired implements sessions.ExpiredDeleter on both stores (an
// engine whose store expires records by itself has nothing to do) and
// reports how many records were removed in all.
func (s *store) DeleteExpired(ctx context.Context) (int64, error) {
	var n int64
	var errs []error
	for _, d := range []sessions.ExpiredDeleter{s.srcPurge, s.dstPurge} {
		if d == nil {
			continue
		}
		k, err := d.DeleteExpired(ctx)
		n += k
		if err != nil {
			errs = append(errs, err)
		}
	}
	return n, errors.Join(errs...)
}

// List implements sessions.Lister (when both engines do): the keys of the
// old store, then those of the new store that the old one did not list.
// It remembers the old store's keys, so it holds them in memory.
func (s *store) List(ctx context.Context, fn func(key string) bool) error {
	seen := map[string]struct{}{}
	stopped := false
	err := s.srcList.List(ctx, func(k string) bool {
		seen[k] = struct{}{}
		if !fn(k) {
			stopped = true
		}
		return !stopped
	})
	if err != nil || stopped {
		return err
	}
	return s.dstList.List(ctx, func(k string) bool {
		if _, ok := seen[k]; ok {
			return true
		}
		return fn(k)
	})
}

// srcMeta returns the metadata of the old store's index entry of key
// under userID; nil when there is none or it cannot be read (metadata
// are never worth failing a move).
func (s *store) srcMeta(ctx context.Context, userID, key string) []byte {
	if s.srcUsers == nil {
		return nil
	}
	entries, err := s.srcUsers.UserSessions(ctx, userID)
	if err != nil {
		return nil
	}
	for _, e := range entries {
		if e.Key == key {
			return e.Meta
		}
	}
	return nil
}

// AddUserSession implements sessions.UserIndexer with the new store's
// index.
func (s *store) AddUserSession(ctx context.Context, userID, key string, meta []byte, expiry time.Time) error {
	return s.dstUsers.AddUserSession(ctx, userID, key, meta, expiry)
}

// UserSessions implements sessions.UserIndexer: the entries the new
// store's index records, and those the old store's index still records
// (sessions not yet moved), each key once. An entry of the new store
// without metadata takes the old store's (an entry the new store got
// before the session moved, from an update that kept its metadata).
func (s *store) UserSessions(ctx context.Context, userID string) ([]sessions.UserEntry, error) {
	entries, err := s.dstUsers.UserSessions(ctx, userID)
	if err != nil || s.srcUsers == nil {
		return entries, err
	}
	old, err := s.srcUsers.UserSessions(ctx, userID)
	if err != nil {
		return nil, err
	}
	have := make(map[string]int, len(entries))
	for i, e := range entries {
		have[e.Key] = i
	}
	for _, e := range old {
		i, ok := have[e.Key]
		switch {
		case !ok:
			have[e.Key] = len(entries)
			entries = append(entries, e)
		case entries[i].Meta == nil:
			entries[i].Meta = e.Meta
		}
	}
	return entries, nil
}

// RemoveUserSessions implements sessions.UserIndexer on both indexes.
func (s *store) RemoveUserSessions(ctx context.Context, userID string, keys []string) error {
	if s.srcUsers != nil {
		if err := s.srcUsers.RemoveUserSessions(ctx, userID, keys); err != nil {
			return err
		}
	}
	return s.dstUsers.RemoveUserSessions(ctx, userID, keys)
}
