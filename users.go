package sessions

import (
	"context"
	"errors"
	"log/slog"
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
// binding moved. Callers hold s.mu.
func (m *Manager) index(ctx context.Context, s *Session, key string, exp time.Time) error {
	if m.st.users == nil {
		return nil
	}
	prev, cur := s.bound, boundUser(s.data)
	if cur != "" {
		if err := m.st.addUserSession(ctx, cur, key, exp); err != nil {
			return err
		}
	}
	s.bound = cur
	if prev != "" && prev != cur {
		m.unindex(ctx, prev, key)
	}
	return nil
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
// either ended or still indexed, so a later DeleteUser ends it. An index
// entry whose session has since been bound to another user (or deleted)
// is dropped without touching that session. When a delete fails, the
// entries of the sessions that survived are kept, so that calling
// DeleteUser again finds them. It returns how many sessions it ended.
// Use it after a password change or to log a user out everywhere.
func (m *Manager) DeleteUser(ctx context.Context, userID string) (int, error) {
	if m.client != nil {
		return 0, wrap("delete user", m.name, ErrUnsupported)
	}
	keys, err := m.st.userSessions(ctx, userID)
	if err != nil {
		return 0, err
	}
	var errs []error
	done := make([]string, 0, len(keys))
	ended := 0
	for _, k := range keys {
		switch err := m.ownedBy(ctx, k, userID); {
		case errors.Is(err, errGone):
			done = append(done, k) // a stale entry: gone, or moved to another user
			continue
		case err != nil:
			errs = append(errs, err)
			continue
		}
		if err := m.st.delete(ctx, k); err != nil {
			errs = append(errs, err)
			continue
		}
		ended++
		done = append(done, k)
	}
	if len(done) > 0 {
		if err := m.st.removeUserSessions(ctx, userID, done); err != nil {
			errs = append(errs, err)
		}
	}
	return ended, errors.Join(errs...)
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

// UserSessions returns the keys of the live sessions bound to userID.
func (m *Manager) UserSessions(ctx context.Context, userID string) ([]string, error) {
	if m.client != nil {
		return nil, wrap("user sessions", m.name, ErrUnsupported)
	}
	return m.st.userSessions(ctx, userID)
}
