// Package enginecheck holds the checks engines used to repeat at the top
// of every method before the Manager's guard (store.go) took them over.
// It is transitional: engines drop these calls as they are cleaned up,
// and the package goes when none is left.
package enginecheck

import (
	"context"

	"github.com/sessionkit/sessions"
)

// Precheck returns the context's error, ErrInvalidKey for a bad key, or
// ErrClosed.
func Precheck(ctx context.Context, key string, closed bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !sessions.ValidKey(key) {
		return sessions.ErrInvalidKey
	}
	if closed {
		return sessions.ErrClosed
	}
	return nil
}

// CheckKey returns ErrInvalidKey for a bad key.
func CheckKey(key string) error {
	if sessions.ValidKey(key) {
		return nil
	}
	return sessions.ErrInvalidKey
}

// CheckUserID returns ErrInvalidKey for a bad user ID.
func CheckUserID(userID string) error {
	if userID == "" || len(userID) > sessions.MaxUserIDLength {
		return sessions.ErrInvalidKey
	}
	return nil
}
