// Package djangoauth reads and writes the keys Django's auth framework
// keeps in a session, so a Go service can see who is logged in to a Django
// app, and log users in and out in a way Django accepts.
//
// Django stores three keys at login: _auth_user_id (the user's primary key
// as a string), _auth_user_backend (the dotted path of the authentication
// backend) and _auth_user_hash (an HMAC of the user's password hash, so
// changing the password logs out every other session). [Auth.Login],
// [Auth.User], [Auth.Logout] and [Auth.UpdateSessionAuthHash] follow
// django.contrib.auth's login, get_user, logout and
// update_session_auth_hash step by step, SECRET_KEY_FALLBACKS included.
//
// The package does not read Django's user table: you pass the user's
// password hash (the auth_user.password column) or a lookup function.
package djangoauth

import (
	"context"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/signing"
)

// The session keys of django.contrib.auth.
const (
	UserIDKey  = "_auth_user_id"
	BackendKey = "_auth_user_backend"
	HashKey    = "_auth_user_hash"
)

// ModelBackend is Django's default authentication backend.
const ModelBackend = "django.contrib.auth.backends.ModelBackend"

// hashSalt is the key_salt of AbstractBaseUser.get_session_auth_hash.
const hashSalt = "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash"

// SessionAuthHash returns Django's get_session_auth_hash for a user whose
// password field is passwordHash: the hex HMAC-SHA256 of passwordHash
// keyed with SHA256(salt + secret).
func SessionAuthHash(passwordHash, secret string) string {
	return hex.EncodeToString(signing.SaltedHMAC(hashSalt, passwordHash, secret))
}

// Auth logs users in and out of sessions the way Django does.
type Auth struct {
	// SecretKey and SecretKeyFallbacks are Django's SECRET_KEY and
	// SECRET_KEY_FALLBACKS.
	SecretKey          string
	SecretKeyFallbacks []string
	// Backends is AUTHENTICATION_BACKENDS; a session naming another
	// backend is not logged in. Empty means [ModelBackend].
	Backends []string
}

// New returns an Auth using the secret keys of the session settings.
func New(s sessions.Settings) *Auth {
	return &Auth{SecretKey: s.SecretKey, SecretKeyFallbacks: s.SecretKeyFallbacks}
}

func (a *Auth) backends() []string {
	if len(a.Backends) == 0 {
		return []string{ModelBackend}
	}
	return a.Backends
}

// ErrNoSession reports a nil session.
var ErrNoSession = errors.New("djangoauth: no session")

// Login logs the user in, as django.contrib.auth.login: if the session
// belongs to another user, or to this user with a stale password hash, it
// is flushed; if it belongs to nobody, its key is cycled (against session
// fixation); then the three auth keys are stored. backend "" means the
// first configured backend. Like Django's login, which also rotates the
// CSRF token, an application keeping a CSRF token in the session should
// replace it after Login.
func (a *Auth) Login(ctx context.Context, s *sessions.Session, userID, passwordHash, backend string) error {
	if s == nil {
		return ErrNoSession
	}
	hash := SessionAuthHash(passwordHash, a.SecretKey)
	if cur, ok := s.Lookup(UserIDKey); ok {
		stored, _ := s.Get(HashKey).(string)
		if fmt.Sprint(cur) != userID || !equal(stored, hash) {
			if err := s.Flush(ctx); err != nil {
				return err
			}
		}
	} else if err := s.CycleKey(ctx); err != nil {
		return err
	}
	if backend == "" {
		backend = a.backends()[0]
	}
	s.Set(UserIDKey, userID)
	s.Set(BackendKey, backend)
	s.Set(HashKey, hash)
	return nil
}

// Logout flushes the session, as django.contrib.auth.logout.
func (a *Auth) Logout(ctx context.Context, s *sessions.Session) error {
	if s == nil {
		return ErrNoSession
	}
	return s.Flush(ctx)
}

// UserID returns the user ID and backend stored in the session, without
// any verification. Use [Auth.User] to know whether the login is valid.
func UserID(s *sessions.Session) (userID, backend string, ok bool) {
	if s == nil {
		return "", "", false
	}
	id, ok1 := s.Lookup(UserIDKey)
	be, ok2 := s.Lookup(BackendKey)
	if !ok1 || !ok2 {
		return "", "", false
	}
	return fmt.Sprint(id), fmt.Sprint(be), true
}

// Lookup returns the password field (auth_user.password) of a user, and
// whether the user exists.
type Lookup func(ctx context.Context, userID string) (passwordHash string, found bool, err error)

// User returns the logged-in user's ID, as django.contrib.auth.get_user:
// the session must name a configured backend and an existing user, and its
// hash must match the user's current password hash. A hash made with one of
// the fallback keys is accepted and upgraded (the key is cycled and the
// hash re-stored); a mismatching hash flushes the session (the password
// changed: this session is logged out). ok is false for an anonymous
// visitor; err reports a failed lookup or store.
func (a *Auth) User(ctx context.Context, s *sessions.Session, lookup Lookup) (userID string, ok bool, err error) {
	id, backend, found := UserID(s)
	if !found || !slices.Contains(a.backends(), backend) {
		return "", false, nil
	}
	pw, exists, err := lookup(ctx, id)
	if err != nil {
		return "", false, err
	}
	if !exists {
		return "", false, nil
	}
	stored, _ := s.Get(HashKey).(string)
	current := SessionAuthHash(pw, a.SecretKey)
	if stored != "" && equal(stored, current) {
		return id, true, nil
	}
	if stored != "" {
		for _, k := range a.SecretKeyFallbacks {
			if equal(stored, SessionAuthHash(pw, k)) {
				if err := s.CycleKey(ctx); err != nil {
					return "", false, err
				}
				s.Set(HashKey, current)
				return id, true, nil
			}
		}
	}
	return "", false, s.Flush(ctx)
}

// UpdateSessionAuthHash keeps the current session logged in after the
// user changed their password (Django's update_session_auth_hash): the key
// is cycled and the new hash stored. Every other session of the user
// stops validating.
func (a *Auth) UpdateSessionAuthHash(ctx context.Context, s *sessions.Session, passwordHash string) error {
	if s == nil {
		return ErrNoSession
	}
	if err := s.CycleKey(ctx); err != nil {
		return err
	}
	if _, _, ok := UserID(s); ok {
		s.Set(HashKey, SessionAuthHash(passwordHash, a.SecretKey))
	}
	return nil
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
