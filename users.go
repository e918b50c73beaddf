package sessions

import (
	"context"
	"errors"
	"fmt"
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
	if CheckUserID(id) != nil {
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
	if err := CheckUserID(userID); err != nil {
		return wrap("bind user", m.name, fmt.Errorf("%w: a user ID must be 1 to %d bytes", err, MaxUserIDLength))
	}
	if _, ok := m.engine.(UserIndexer); !ok || m.client != nil {
		return wrap("bind user", m.name, ErrUnsupported)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dict().Set(BoundUserKey, userID)
	s.setModified()
	s.note(BoundUserKey, true)
	// Saving writes the index entry (see indexWrite).
	return m.save(ctx, s)
}

// indexWrite brings the user index in line with a session just written
// under key with expiry: the entry of its user lives as long as the
// session, and prev, the user the index recorded for key before, loses
// its entry if the binding moved. Callers hold s.mu.
func (m *Manager) indexWrite(ctx context.Context, s *Session, key string, expiry time.Time, prev string) error {
	ix, ok := m.engine.(UserIndexer)
	if !ok {
		return nil
	}
	cur := boundUser(s.data)
	if cur != "" {
		if err := ix.AddUserSession(ctx, cur, key, expiry); err != nil {
			return wrap("bind user", m.name, err)
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
	if _, ok := m.engine.(UserIndexer); !ok || key == "" {
		return ""
	}
	raw, err := m.engine.Load(ctx, key)
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
	ix, ok := m.engine.(UserIndexer)
	if !ok || userID == "" {
		return
	}
	if err := ix.RemoveUserSessions(ctx, userID, []string{key}); err != nil {
		m.log.LogAttrs(ctx, slog.LevelWarn, "session user index: removing an entry failed", slog.String("engine", m.name), slog.String("error", err.Error()))
	}
}

// DeleteUser ends every session bound to userID with BindUser and removes
// their index entries, and only theirs: a session bound concurrently is
// either ended or still indexed, so a later DeleteUser ends it. An index
// entry whose session has since been bound to another user (or deleted)
// is dropped without touching that session. It returns how many sessions
// it ended. Use it after a password change or to log a user out
// everywhere.
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
	done := make([]string, 0, len(keys))
	ended := 0
	for _, k := range keys {
		raw, err := m.engine.Load(ctx, k)
		switch {
		case errors.Is(err, ErrNotFound):
			done = append(done, k) // already gone: a stale entry
			continue
		case err != nil:
			errs = append(errs, err)
			continue
		}
		if d, derr := m.codec.Decode(raw); derr == nil && len(raw) > 0 && boundUser(d) != userID {
			done = append(done, k) // moved to another user: not ours to end
			continue
		}
		if err := m.engine.Delete(ctx, k); err != nil {
			errs = append(errs, err)
			continue
		}
		ended++
		done = append(done, k)
	}
	if len(done) > 0 {
		if err := ix.RemoveUserSessions(ctx, userID, done); err != nil {
			errs = append(errs, err)
		}
	}
	return ended, wrap("delete user", m.name, errors.Join(errs...))
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
