package sessions

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sessionkit/sessions/codec"
)

// BoundUserKey is the session entry recording the user a session was bound
// to with [Manager.BindUser].
const BoundUserKey = "_sessionkit_user"

// BindUser records that the session belongs to userID, so that
// [Manager.DeleteUser] can end it later ("log out everywhere"). Call it at
// login, after CycleKey. The binding follows the session through CycleKey
// and is kept in the engine's own store (it needs a [UserIndexer] engine;
// others give ErrUnsupported). A session without a key is saved first.
func (m *Manager) BindUser(ctx context.Context, s *Session, userID string) error {
	if err := CheckUserID(userID); err != nil {
		return wrap("bind user", m.name, fmt.Errorf("%w: a user ID must be 1 to %d bytes", err, MaxUserIDLength))
	}
	if _, ok := m.engine.(UserIndexer); !ok || m.client != nil {
		return wrap("bind user", m.name, ErrUnsupported)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dict().Set(BoundUserKey, userID)
	s.modified = true
	s.note(BoundUserKey, true)
	// Saving writes the index entry (see indexWrite).
	return m.save(ctx, s)
}

// indexWrite refreshes the user-index entry of a bound session just
// written under key with expiry, so the entry lives as long as the
// session.
func (m *Manager) indexWrite(ctx context.Context, d *codec.Dict, key string, expiry time.Time) error {
	uid, ok := d.Get(BoundUserKey)
	if !ok {
		return nil
	}
	id, _ := uid.(string)
	ix, ok := m.engine.(UserIndexer)
	if !ok || CheckUserID(id) != nil {
		return nil
	}
	return wrap("bind user", m.name, ix.AddUserSession(ctx, id, key, expiry))
}

// DeleteUser ends every session bound to userID with BindUser: each is
// deleted from the store and the user's index is cleared. It returns how
// many index entries it processed. Use it after a password change or to
// log a user out everywhere. When a delete fails, the index is kept, so
// that calling DeleteUser again finds the sessions that survived.
func (m *Manager) DeleteUser(ctx context.Context, userID string) (int, error) {
	if err := CheckUserID(userID); err != nil {
		return 0, wrap("delete user", m.name, err)
	}
	ix, ok := m.engine.(UserIndexer)
	if !ok || m.client != nil {
		return 0, wrap("delete user", m.name, ErrUnsupported)
	}
	if m.closed.Load() {
		return 0, wrap("delete user", m.name, ErrClosed)
	}
	keys, err := ix.UserSessions(ctx, userID)
	if err != nil {
		return 0, wrap("delete user", m.name, err)
	}
	var errs []error
	for _, k := range keys {
		if err := m.engine.Delete(ctx, k); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		// Keep the index, so that a retry finds the sessions still alive.
		return len(keys), wrap("delete user", m.name, errors.Join(errs...))
	}
	return len(keys), wrap("delete user", m.name, ix.RemoveUser(ctx, userID))
}

// UserSessions returns the keys of the live sessions bound to userID.
func (m *Manager) UserSessions(ctx context.Context, userID string) ([]string, error) {
	if err := CheckUserID(userID); err != nil {
		return nil, wrap("user sessions", m.name, err)
	}
	ix, ok := m.engine.(UserIndexer)
	if !ok || m.client != nil {
		return nil, wrap("user sessions", m.name, ErrUnsupported)
	}
	keys, err := ix.UserSessions(ctx, userID)
	return keys, wrap("user sessions", m.name, err)
}
