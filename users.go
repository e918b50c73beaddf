package sessions

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/sessionkit/sessions/codec"
)

// BoundUserKey is the session entry recording the user a session was bound
// to with [Manager.BindUser].
const BoundUserKey = "_sessionkit_user"

// boundUser returns the user a session's data are bound to, or "".
func boundUser(d *codec.Dict) string {
	if d == nil {
		return ""
	}
	v, _ := d.Get(BoundUserKey)
	id, _ := v.(string)
	if id == "" || len(id) > MaxUserIDLength {
		return ""
	}
	return id
}

// BindUser records that the session belongs to userID, so that
// [Manager.DeleteUser] can end it later ("log out everywhere"). Call it at
// login, after CycleKey. A session is bound to at most one user: binding
// it to another user moves it. The binding follows the session through
// CycleKey and is kept in the engine's own store (it needs a
// [UserIndexer] engine; others give ErrUnsupported). A session without a
// key is saved first.
func (m *Manager) BindUser(ctx context.Context, s *Session, userID string) error {
	if m.client != nil {
		return wrap("bind user", m.name, ErrUnsupported)
	}
	if err := m.st.guardUser(ctx, "bind user", userID); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.set(BoundUserKey, userID)
	// Saving writes the index entry (see index).
	return m.save(ctx, s)
}

// index brings the user index in line with s, just stored under key with
// expiry exp: the entry of its user lives as long as the session, and the
// user the index recorded for key before (s.bound) loses its entry if the
// binding moved. With DeviceSettings, a new entry gets its metadata and
// an existing one a new "last seen" when due. Callers hold s.mu.
func (m *Manager) index(ctx context.Context, s *Session, key string, exp time.Time) error {
	if m.st.users == nil {
		return nil
	}
	prev, cur := s.bound, boundUser(s.data)
	if cur != "" {
		now := m.now()
		var meta []byte
		switch {
		case !m.s.Devices.Enabled:
		case cur != prev:
			meta = m.freshMeta(s, now)
		case m.seenDue(key, now):
			meta = m.seenMeta(ctx, s, cur, key, now)
		}
		if err := m.st.addUserSession(ctx, cur, key, meta, exp); err != nil {
			return err
		}
		if meta != nil {
			m.seen.note(key, now)
		}
	}
	s.bound = cur
	if prev != "" && prev != cur {
		m.unindex(ctx, prev, key)
	}
	return nil
}

// seenRefresh is how often "last seen" is recorded: DeviceSettings.Refresh,
// never more often than the idle refresh.
func (m *Manager) seenRefresh() time.Duration {
	d := m.s.Devices.Refresh
	if d <= 0 {
		d = defaultSeenRefresh
		if m.s.IdleTimeout > 0 {
			d = m.s.IdleRefresh
		}
	}
	if m.s.IdleTimeout > 0 {
		d = max(d, m.s.IdleRefresh)
	}
	return d
}

// seenDue reports whether the "last seen" of key should be recorded now.
func (m *Manager) seenDue(key string, now time.Time) bool {
	return m.s.Devices.Enabled && m.seen.due(key, now, m.seenRefresh())
}

// freshMeta is the metadata of a new index entry: created and seen now
// (created when the old key was, after CycleKey), with the browser and
// address of the request s came with.
func (m *Manager) freshMeta(s *Session, now time.Time) []byte {
	d := deviceMeta{Created: now.UnixMilli(), Seen: now.UnixMilli()}
	if s.created != 0 {
		d.Created = s.created
	}
	if c := s.client(); c != nil {
		d.UA, d.IP = c.ua, c.ip
	}
	return d.encode()
}

// seenMeta is the metadata of the existing entry of key under userID with
// "last seen" now, and the browser and address of this request (a
// browser updates, a phone changes networks). It returns nil (keep the
// stored metadata) when the entry cannot be read.
func (m *Manager) seenMeta(ctx context.Context, s *Session, userID, key string, now time.Time) []byte {
	e, ok := m.entry(ctx, userID, key)
	if !ok {
		return nil
	}
	return m.touchMeta(s, e.Meta, now)
}

// touchMeta returns old with "last seen" now and the request's client.
func (m *Manager) touchMeta(s *Session, old []byte, now time.Time) []byte {
	d := decodeMeta(old)
	d.Seen = now.UnixMilli()
	if c := s.client(); c != nil {
		if c.ua != "" {
			d.UA = c.ua
		}
		if c.ip != "" {
			d.IP = c.ip
		}
	}
	return d.encode()
}

// entry returns the index entry of key under userID. A failure is
// logged: metadata are never worth failing a request.
func (m *Manager) entry(ctx context.Context, userID, key string) (UserEntry, bool) {
	entries, err := m.st.userSessions(ctx, userID)
	if err != nil {
		m.log.LogAttrs(ctx, slog.LevelWarn, "session user index: reading an entry failed", slog.String("engine", m.name), slog.String("error", err.Error()))
		return UserEntry{}, false
	}
	for _, e := range entries {
		if e.Key == key {
			return e, true
		}
	}
	return UserEntry{}, false
}

// reindex updates the index entry of s after a request that used it
// without saving: its expiry moves to exp if the record was extended,
// and its "last seen" is recorded if due. An entry no longer listed (the
// session was logged out, cleared or moved by another request since this
// one loaded it) is left alone: a read-only request never brings one
// back. Failures are logged. Callers hold s.mu.
func (m *Manager) reindex(ctx context.Context, s *Session, exp time.Time, extended bool, now time.Time) {
	seen := m.seenDue(s.key, now)
	if seen {
		// Noted even if the entry cannot be updated, so that a session
		// without one costs one index read per Refresh, not per request.
		m.seen.note(s.key, now)
	}
	e, ok := m.entry(ctx, s.bound, s.key)
	if !ok {
		return
	}
	var meta []byte
	if seen {
		meta = m.touchMeta(s, e.Meta, now)
	}
	if !extended {
		exp = e.Expiry
	}
	if err := m.st.addUserSession(ctx, s.bound, s.key, meta, exp); err != nil {
		m.log.LogAttrs(ctx, slog.LevelWarn, "session user index: refreshing an entry failed", slog.String("engine", m.name), slog.String("error", err.Error()))
	}
}

// storedBinding returns the user the record under key is bound to now,
// for an engine with a user index; "" when there is none, the record is
// gone, or the engine keeps no index. Callers use it where the request
// never loaded the record (Clear and Flush do not load) or may have
// loaded it before another request rebound it.
func (m *Manager) storedBinding(ctx context.Context, key string) string {
	if m.st.users == nil || key == "" {
		return ""
	}
	raw, err := m.st.load(ctx, key)
	if err != nil || len(raw) == 0 {
		return ""
	}
	d, err := m.codec.Decode(raw)
	if err != nil {
		return ""
	}
	return boundUser(d)
}

// unindex forgets the index entry of key under userID. A failure leaves
// a stale entry, which DeleteUser recognises and skips, so it is logged,
// not returned.
func (m *Manager) unindex(ctx context.Context, userID, key string) {
	if m.st.users == nil || userID == "" {
		return
	}
	if err := m.st.removeUserSessions(ctx, userID, []string{key}); err != nil {
		m.log.LogAttrs(ctx, slog.LevelWarn, "session user index: removing an entry failed", slog.String("engine", m.name), slog.String("error", err.Error()))
	}
}

// DeleteUser ends every session bound to userID with BindUser and removes
// their index entries, and only theirs: a session bound concurrently is
// either ended or still indexed, so a later DeleteUser ends it; one whose
// key another request cycles meanwhile is ended under its new key. An index
// entry whose session has since been bound to another user (or deleted)
// is dropped without touching that session. When a delete fails, the
// entries of the sessions that survived are kept, so that calling
// DeleteUser again finds them. It returns how many sessions it ended.
// Use it after a password change or to log a user out everywhere.
func (m *Manager) DeleteUser(ctx context.Context, userID string) (int, error) {
	return m.deleteUser(ctx, "delete user", userID, "")
}

// DeleteUserExcept is [Manager.DeleteUser] sparing the session under
// keep, the one the user is using: "log out my other devices". A session
// of the user bound concurrently is either ended or still listed, as
// with DeleteUser.
func (m *Manager) DeleteUserExcept(ctx context.Context, userID, keep string) (int, error) {
	return m.deleteUser(ctx, "delete user", userID, keep)
}

func (m *Manager) deleteUser(ctx context.Context, op, userID, keep string) (int, error) {
	if m.client != nil {
		return 0, wrap(op, m.name, ErrUnsupported)
	}
	var errs []error
	var done []string
	seen := map[string]bool{}
	ended := 0
	// An entry found gone may be a session another request's CycleKey
	// moved to a new key meanwhile, whose entry it wrote before retiring
	// the old key: the index is read again for entries not seen yet.
	for pass := 0; pass < maxDeletePasses; pass++ {
		entries, err := m.st.userSessions(ctx, userID)
		if err != nil {
			if pass == 0 {
				return 0, err
			}
			errs = append(errs, err)
			break
		}
		gone := false
		for _, e := range entries {
			if e.Key == keep || seen[e.Key] {
				continue
			}
			seen[e.Key] = true
			switch err := m.end(ctx, e.Key, userID); {
			case errors.Is(err, errGone):
				gone = true
				done = append(done, e.Key) // a stale entry: gone, or moved to another user
			case err != nil:
				errs = append(errs, err)
			default:
				ended++
				done = append(done, e.Key)
			}
		}
		if !gone {
			break
		}
	}
	if len(done) > 0 {
		if err := m.st.removeUserSessions(ctx, userID, done); err != nil {
			errs = append(errs, err)
		}
	}
	return ended, errors.Join(errs...)
}

// maxDeletePasses bounds how often deleteUser reads the index again after
// finding an entry's session gone.
const maxDeletePasses = 4

// end deletes the session under key if it is bound to userID; errGone
// when it is gone or bound to another user.
func (m *Manager) end(ctx context.Context, key, userID string) error {
	if err := m.ownedBy(ctx, key, userID); err != nil {
		return err
	}
	return m.st.delete(ctx, key)
}

// errGone reports an index entry whose session is gone or bound to
// another user.
var errGone = errors.New("not this user's session")

// ownedBy returns nil when the session under key is bound to userID (or
// its data cannot be read: it is in the user's index), errGone when it is
// gone or bound to another user, or the store's error.
func (m *Manager) ownedBy(ctx context.Context, key, userID string) error {
	raw, err := m.st.load(ctx, key)
	switch {
	case errors.Is(err, ErrNotFound):
		return errGone
	case err != nil:
		return err
	}
	if d, derr := m.codec.Decode(raw); derr == nil && len(raw) > 0 && boundUser(d) != userID {
		return errGone
	}
	return nil
}

// UserSessions returns the live sessions bound to userID, newest first
// (by CreatedAt; sessions without metadata last), with the metadata
// DeviceSettings recorded. Each is checked against its record, so a
// session logged out by other means (Django's logout, a Flush) or moved
// to another user is not listed: the cost is one load per entry.
// Sessions are identified by [Device].ID, never by their key.
func (m *Manager) UserSessions(ctx context.Context, userID string) ([]Device, error) {
	if m.client != nil {
		return nil, wrap("user sessions", m.name, ErrUnsupported)
	}
	entries, err := m.st.userSessions(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]Device, 0, len(entries))
	for _, e := range entries {
		switch err := m.ownedBy(ctx, e.Key, userID); {
		case errors.Is(err, errGone):
			continue
		case err != nil:
			return nil, err
		}
		d := decodeMeta(e.Meta)
		out = append(out, Device{
			ID:        m.DeviceID(e.Key),
			CreatedAt: msTime(d.Created),
			LastSeen:  msTime(d.Seen),
			UserAgent: d.UA,
			IP:        d.IP,
			Expires:   e.Expiry,
		})
	}
	slices.SortFunc(out, func(a, b Device) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		if c := b.LastSeen.Compare(a.LastSeen); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// DeleteSession ends the session of userID whose [Device].ID is id (one
// line of a "your devices" page): the record and its index entry go, as
// with any delete, and the session's next request finds no session. An
// id that names none of the user's live sessions (already ended, another
// user's, made up) gives an error matching [ErrNotFound]: a user can end
// only their own sessions.
func (m *Manager) DeleteSession(ctx context.Context, userID, id string) error {
	if m.client != nil {
		return wrap("delete session", m.name, ErrUnsupported)
	}
	entries, err := m.st.userSessions(ctx, userID)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if id == "" || !hmac.Equal([]byte(m.DeviceID(e.Key)), []byte(id)) {
			continue
		}
		err := m.end(ctx, e.Key, userID)
		if err != nil && !errors.Is(err, errGone) {
			return err
		}
		if rerr := m.st.removeUserSessions(ctx, userID, []string{e.Key}); rerr != nil {
			return rerr
		}
		if errors.Is(err, errGone) {
			break
		}
		return nil
	}
	return wrap("delete session", m.name, fmt.Errorf("%w: no such session of this user", ErrNotFound))
}
