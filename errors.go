package sessions

import (
	"errors"
	"strings"
)

// Sentinel errors. Engines return them (possibly wrapped) and callers test
// for them with [errors.Is]. No error produced by this module carries a
// secret, key material or a full session key in its text.
var (
	// ErrNotFound reports that no live session exists under a key: it was
	// never stored, it expired, it was deleted, or its data could not be
	// decoded.
	ErrNotFound = errors.New("session not found")

	// ErrExists reports that Create found a session already stored under
	// the key (Django's CreateError).
	ErrExists = errors.New("session already exists")

	// ErrInvalidKey reports a session key outside the allowed alphabet or
	// length. Engines reject such keys before they touch storage.
	ErrInvalidKey = errors.New("invalid session key")

	// ErrInterrupted reports that the session was deleted by another
	// request (a logout, a login, a key cycle) between load and save.
	// It is Django's SessionInterrupted; the middleware answers 400.
	ErrInterrupted = errors.New("the request's session was deleted before the request completed; the user may have logged out in a concurrent request, for example")

	// ErrResponseStarted reports a change to a session made after the
	// middleware had sent the response's headers that was not delivered:
	// it needed a new cookie (a new session, a cycled key, a signed-cookie
	// session), which could not reach the client, or saving it failed
	// (the error then matches the cause too). See [Manager.Handler].
	ErrResponseStarted = errors.New("session changed after the response started")

	// ErrConflict reports that a compare-and-swap found other bytes than
	// the ones expected: another request changed the session meanwhile.
	ErrConflict = errors.New("session changed concurrently")

	// ErrClosed reports use of an engine or manager after Close.
	ErrClosed = errors.New("session engine closed")

	// ErrUnsupported reports an optional operation the engine does not
	// implement.
	ErrUnsupported = errors.New("operation not supported by this session engine")

	// ErrTooLarge reports session data over the engine's or the
	// configuration's size limit (for example a signed cookie that would
	// pass 4093 bytes, which browsers silently drop).
	ErrTooLarge = errors.New("session data too large")

	// ErrBadConfig reports an invalid configuration string or setting.
	ErrBadConfig = errors.New("invalid session configuration")

	// ErrWrongType reports a stored session value that does not convert
	// to the type a [TypedKey] declares, for example one written by
	// another version of the application.
	ErrWrongType = errors.New("session value has the wrong type")
)

// Error wraps an error from an engine or the manager with the operation
// and the engine that failed. [errors.Is] and [errors.As] see through it to
// both the sentinels above and the client library's own error.
type Error struct {
	Op     string // the operation: "load", "create", "update", "delete", "swap", "touch", ...
	Engine string // the engine's scheme, for example "redis" or "sqlite"
	Err    error  // the underlying error
}

// Error implements the error interface.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("sessions: ")
	if e.Engine != "" {
		b.WriteString(e.Engine)
		b.WriteByte(' ')
	}
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	} else {
		b.WriteString("unknown error")
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// wrap returns err wrapped in an *Error, or nil. An error that already is
// an *Error is returned unchanged, so an error is wrapped once.
func wrap(op, engine string, err error) error {
	if err == nil {
		return nil
	}
	var se *Error
	if errors.As(err, &se) {
		return err
	}
	return &Error{Op: op, Engine: engine, Err: err}
}
