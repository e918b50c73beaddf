package sessions

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/sessionkit/sessions/observe"
)

// store is the only code that calls a server-side engine. Every call
// passes the same guard (an open store, a live context, a valid key or
// user ID), so engines need not repeat it, and every engine error is
// wrapped once, in an *Error naming the operation and the engine. It also
// holds the two algorithms all engines share: extend (Touch, else an
// identical Swap, else Update) and write (compare-and-swap with merging).
type store struct {
	e    Engine
	name string

	// The optional interfaces, found once.
	swap   Swapper
	touch  Toucher
	expiry ExpiryReader
	purge  ExpiredDeleter
	list   Lister
	users  UserIndexer

	closed atomic.Bool
	ob     *observer // nil: nothing observes

	// locks queue this process's writers of one session behind each
	// other, so a crowd of concurrent requests on one session does not
	// spin on compare-and-swap conflicts; the swap still protects against
	// other processes.
	locks [64]sync.Mutex
	seed  maphash.Seed

	maxSwapRetries int
}

func newStore(e Engine, name string) *store {
	st := &store{e: e, name: name, seed: maphash.MakeSeed(), maxSwapRetries: 32}
	st.swap, _ = e.(Swapper)
	st.touch, _ = e.(Toucher)
	st.expiry, _ = e.(ExpiryReader)
	st.purge, _ = e.(ExpiredDeleter)
	st.list, _ = e.(Lister)
	st.users, _ = e.(UserIndexer)
	return st
}

// guard returns the error a call must end with before it reaches the
// engine: ErrClosed, the context's error, or ErrInvalidKey.
func (st *store) guard(ctx context.Context, op string, keys ...string) error {
	var err error
	switch {
	case st.closed.Load():
		err = ErrClosed
	case ctx.Err() != nil:
		err = ctx.Err()
	default:
		for _, k := range keys {
			if !ValidKey(k) {
				err = ErrInvalidKey
				break
			}
		}
	}
	return st.wrap(op, err)
}

// guardUser is guard for a user ID.
func (st *store) guardUser(ctx context.Context, op, userID string, keys ...string) error {
	if err := st.guard(ctx, op, keys...); err != nil {
		return err
	}
	if userID == "" || len(userID) > MaxUserIDLength {
		return st.wrap(op, fmt.Errorf("%w: a user ID must be 1 to %d bytes", ErrInvalidKey, MaxUserIDLength))
	}
	if strings.IndexByte(userID, 0) >= 0 || !utf8.ValidString(userID) {
		// PostgreSQL's text holds neither; no engine should differ.
		return st.wrap(op, fmt.Errorf("%w: a user ID must be valid UTF-8 without NUL bytes", ErrInvalidKey))
	}
	if st.users == nil {
		return st.wrap(op, ErrUnsupported)
	}
	return nil
}

// wrap wraps an engine's error once.
func (st *store) wrap(op string, err error) error { return wrap(op, st.name, err) }

func (st *store) lock(key string) *sync.Mutex {
	return &st.locks[maphash.String(st.seed, key)%uint64(len(st.locks))]
}

func (st *store) close() error {
	if st.closed.Swap(true) {
		return nil
	}
	return st.e.Close()
}

// load reads the record under key, reporting a hit, a miss or an error.
func (st *store) load(ctx context.Context, key string) ([]byte, error) {
	t0 := st.ob.start()
	b, err := st.fetch(ctx, key)
	if st.ob != nil {
		e := observe.Event{Op: observe.OpLoad, Outcome: observe.OutcomeHit, Duration: time.Since(t0)}
		switch {
		case errors.Is(err, ErrNotFound):
			e.Outcome = observe.OutcomeMiss
		case err != nil:
			e.Outcome, e.Err = observe.OutcomeError, errorClass(err)
		}
		st.ob.event(ctx, e)
	}
	return b, err
}

// fetch is load for a caller that reports the outcome itself (the
// Manager, which also knows whether the data decode).
func (st *store) fetch(ctx context.Context, key string) ([]byte, error) {
	if err := st.guard(ctx, "load", key); err != nil {
		return nil, err
	}
	b, err := st.e.Load(ctx, key)
	return b, st.wrap("load", err)
}

// loadExpiry is load with the record's stored expiry, zero when the
// engine cannot tell.
func (st *store) loadExpiry(ctx context.Context, key string) ([]byte, time.Time, error) {
	if st.expiry == nil {
		b, err := st.load(ctx, key)
		return b, time.Time{}, err
	}
	if err := st.guard(ctx, "load", key); err != nil {
		return nil, time.Time{}, err
	}
	b, exp, err := st.expiry.LoadExpiry(ctx, key)
	return b, exp, st.wrap("load", err)
}

// maxCreateAttempts bounds the retries on a key collision, which with 165
// bits of entropy only a broken store produces (Django's cache engine gives
// up after 10,000 for the same reason).
const maxCreateAttempts = 10

// create stores data under a new random key and returns the key.
func (st *store) create(ctx context.Context, data []byte, exp time.Time) (string, error) {
	t0 := st.ob.start()
	key, err := st.createNew(ctx, data, exp)
	st.ob.call(ctx, observe.OpCreate, t0, err)
	return key, err
}

func (st *store) createNew(ctx context.Context, data []byte, exp time.Time) (string, error) {
	if err := st.guard(ctx, "create"); err != nil {
		return "", err
	}
	for range maxCreateAttempts {
		key := NewKey()
		err := st.e.Create(ctx, key, data, exp)
		if !errors.Is(err, ErrExists) {
			return key, st.wrap("create", err)
		}
	}
	return "", st.wrap("create", fmt.Errorf("%w: %d attempts; the store may be misbehaving", ErrExists, maxCreateAttempts))
}

func (st *store) delete(ctx context.Context, key string) error {
	t0 := st.ob.start()
	err := st.guard(ctx, "delete", key)
	if err == nil {
		err = st.wrap("delete", st.e.Delete(ctx, key))
	}
	st.ob.call(ctx, observe.OpDelete, t0, err)
	return err
}

// extend moves the expiry of the record under key, whose data this
// request loaded as raw, without changing them: Touch, else a Swap of raw
// for itself, else an Update with raw. A record deleted meanwhile gives
// ErrNotFound; one changed meanwhile (by a newer write, which set its own
// expiry) counts as extended.
func (st *store) extend(ctx context.Context, key string, raw []byte, exp time.Time) error {
	t0 := st.ob.start()
	err := st.touchOnce(ctx, key, raw, exp)
	st.ob.call(ctx, observe.OpTouch, t0, err)
	return err
}

func (st *store) touchOnce(ctx context.Context, key string, raw []byte, exp time.Time) error {
	if err := st.guard(ctx, "touch", key); err != nil {
		return err
	}
	var err error
	switch {
	case st.touch != nil:
		err = st.touch.Touch(ctx, key, exp)
	case st.swap != nil:
		err = st.swap.Swap(ctx, key, raw, raw, exp)
		if errors.Is(err, ErrConflict) {
			err = nil
		}
	default:
		err = st.e.Update(ctx, key, raw, exp)
	}
	return st.wrap("touch", err)
}

// rebase is how write merges: given the bytes another request stored, it
// returns the data and expiry to try next.
type rebase func(theirs []byte) (data []byte, exp time.Time, err error)

// write stores data under key until exp, where this request loaded old
// (nil when it never loaded the record). With a Swapper it swaps only if
// the record still holds old; on a conflict it reads the record, asks
// merge for the data to store instead and tries again. It returns the
// bytes stored. A record deleted meanwhile gives ErrInterrupted: a slow
// request never brings back a session another request deleted.
func (st *store) write(ctx context.Context, key string, old, data []byte, exp time.Time, merge rebase) ([]byte, error) {
	t0 := st.ob.start()
	stored, retries, err := st.swapLoop(ctx, key, old, data, exp, merge)
	st.ob.call(ctx, observe.OpUpdate, t0, err)
	if retries > 0 && st.ob != nil {
		e := observe.Event{Op: observe.OpConflict, Retries: retries, Merged: err == nil}
		if err != nil {
			e.Outcome, e.Err = observe.OutcomeError, errorClass(err)
		}
		st.ob.event(ctx, e)
	}
	return stored, err
}

// swapLoop is write's algorithm; it also reports how many conflicts it
// met.
func (st *store) swapLoop(ctx context.Context, key string, old, data []byte, exp time.Time, merge rebase) ([]byte, int, error) {
	if err := st.guard(ctx, "update", key); err != nil {
		return nil, 0, err
	}
	if st.swap == nil || old == nil {
		err := st.e.Update(ctx, key, data, exp)
		return data, 0, st.wrap("update", interrupted(err))
	}
	var l *sync.Mutex
	defer func() {
		if l != nil {
			l.Unlock()
		}
	}()
	for attempt := 0; ; attempt++ {
		err := st.swap.Swap(ctx, key, old, data, exp)
		switch {
		case err == nil:
			return data, attempt, nil
		case !errors.Is(err, ErrConflict):
			return nil, attempt, st.wrap("update", interrupted(err))
		case attempt >= st.maxSwapRetries:
			return nil, attempt + 1, st.wrap("update", fmt.Errorf("%w: gave up after %d attempts", ErrConflict, attempt+1))
		}
		// Another request wrote first. From now on queue behind this
		// process's other writers of the session (the lock is only
		// taken after a conflict, so it never delays a write that meets
		// none); after a few rounds, back off a little, unlocked, so a
		// crowd of writers on one session stops colliding.
		if l == nil {
			l = st.lock(key)
			l.Lock()
		} else if attempt >= 2 {
			l.Unlock()
			time.Sleep(time.Duration(mrand.Int64N(int64(attempt) * int64(time.Millisecond))))
			l.Lock()
		}
		theirs, err := st.e.Load(ctx, key)
		if err != nil {
			return nil, attempt + 1, st.wrap("update", interrupted(err))
		}
		if data, exp, err = merge(theirs); err != nil {
			return nil, attempt + 1, err
		}
		old = theirs
	}
}

// interrupted turns "no such record" into ErrInterrupted: the session was
// deleted by another request between this one's load and save.
func interrupted(err error) error {
	if errors.Is(err, ErrNotFound) {
		return ErrInterrupted
	}
	return err
}

// deleteExpired runs the engine's clearsessions; an engine without one
// expires its records itself.
func (st *store) deleteExpired(ctx context.Context) (int64, error) {
	if err := st.guard(ctx, "clear expired"); err != nil {
		return 0, err
	}
	if st.purge == nil {
		return 0, nil
	}
	t0 := st.ob.start()
	n, err := st.purge.DeleteExpired(ctx)
	err = st.wrap("clear expired", err)
	if st.ob != nil {
		e := observe.Event{Op: observe.OpClearExpired, Duration: time.Since(t0), Count: n}
		if err != nil {
			e.Outcome, e.Err = observe.OutcomeError, errorClass(err)
		}
		st.ob.event(ctx, e)
	}
	return n, err
}

func (st *store) keys(ctx context.Context, fn func(key string) bool) error {
	if err := st.guard(ctx, "list"); err != nil {
		return err
	}
	if st.list == nil {
		return st.wrap("list", ErrUnsupported)
	}
	t0 := st.ob.start()
	err := st.wrap("list", st.list.List(ctx, fn))
	st.ob.call(ctx, observe.OpList, t0, err)
	return err
}

func (st *store) addUserSession(ctx context.Context, userID, key string, meta []byte, exp time.Time) error {
	if err := st.guardUser(ctx, "bind user", userID, key); err != nil {
		return err
	}
	if len(meta) > maxMeta {
		return st.wrap("bind user", fmt.Errorf("%w: %d bytes of session metadata, limit %d", ErrTooLarge, len(meta), maxMeta))
	}
	t0 := st.ob.start()
	err := st.wrap("bind user", st.users.AddUserSession(ctx, userID, key, meta, exp))
	st.ob.call(ctx, observe.OpIndex, t0, err)
	return err
}

func (st *store) userSessions(ctx context.Context, userID string) ([]UserEntry, error) {
	if err := st.guardUser(ctx, "user sessions", userID); err != nil {
		return nil, err
	}
	t0 := st.ob.start()
	entries, err := st.users.UserSessions(ctx, userID)
	err = st.wrap("user sessions", err)
	st.ob.call(ctx, observe.OpIndex, t0, err)
	return entries, err
}

func (st *store) removeUserSessions(ctx context.Context, userID string, keys []string) error {
	if err := st.guardUser(ctx, "unbind user", userID, keys...); err != nil {
		return err
	}
	t0 := st.ob.start()
	err := st.wrap("unbind user", st.users.RemoveUserSessions(ctx, userID, keys))
	st.ob.call(ctx, observe.OpIndex, t0, err)
	return err
}
