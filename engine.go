package sessions

import (
	"context"
	"time"

	"github.com/sessionkit/sessions/codec"
)

// Backend is what a [Manager] keeps sessions with: an [Engine], which
// stores them on the server, or a [ClientSide] engine, which seals them
// into the cookie. [New] takes either; [Register]'s openers return one.
type Backend interface {
	// Close releases the backend's resources. The Manager calls it once,
	// from Manager.Close, and makes no other call afterwards.
	Close() error
}

// Engine is the storage contract every server-side backend implements:
// Django's SessionStore persistence methods, bytes in and bytes out. The
// [Manager] encodes and decodes; an engine never interprets the data
// (except where a format demands it, as Django's file engine does with
// expiry).
//
// The Manager is the only caller (every call passes one guard), so an
// engine can rely on this: a key is always [ValidKey], a user ID is 1 to
// [MaxUserIDLength] bytes, the context is live when the call starts, and
// no call comes after Close. The rules below are the contract; package
// conformance tests each one.
//
//   - Every method takes a context first and returns promptly when it is
//     cancelled or its deadline passes, with the context's error
//     (unwrapped or wrapped, matching [errors.Is]).
//   - Load returns the data stored under key. A key that was never stored,
//     was deleted, or has expired returns an error matching [ErrNotFound].
//     An expired record is never returned, even if it has not been purged.
//     Load never writes.
//   - Create stores data under key only if no live record exists there;
//     otherwise it returns an error matching [ErrExists] and leaves the
//     stored record unchanged (Django's save(must_create=True)).
//   - Update replaces the data and expiry of a live record; if none exists
//     it returns an error matching [ErrNotFound] and stores nothing, so a
//     slow request never resurrects a session another request deleted.
//   - Delete removes the record under key. Deleting an absent key is not an
//     error.
//   - The expiry passed to Create and Update is absolute. After it has
//     passed, Load returns [ErrNotFound]. Engines with coarse expiry (whole
//     seconds) declare their resolution to the conformance suite.
//   - An Engine is safe for concurrent use by multiple goroutines.
//   - Close releases resources. The Manager calls it once.
type Engine interface {
	Load(ctx context.Context, key string) ([]byte, error)
	Create(ctx context.Context, key string, data []byte, expiry time.Time) error
	Update(ctx context.Context, key string, data []byte, expiry time.Time) error
	Delete(ctx context.Context, key string) error
	Close() error
}

// ExpiredDeleter is implemented by engines that need their expired
// records removed (Django's clear_expired and the clearsessions command).
// DeleteExpired removes every record whose expiry is at or before now (the
// exact complement of what Load returns), and only those, and reports how
// many it removed. Engines should work in bounded
// batches so that a store with millions of expired records is cleared
// without one giant transaction or lock. Engines whose store expires
// records by itself (Redis, memcached) do not implement it:
// [Manager.ClearExpired] then reports 0.
type ExpiredDeleter interface {
	DeleteExpired(ctx context.Context) (int64, error)
}

// ExpiryReader is implemented by engines that can return a record's
// expiry with its data, such as the database engine. LoadExpiry follows
// the rules of Load and also returns the absolute expiry stored with the
// record. Engines layered on top (cached_db) use it to give a cached copy
// exactly the record's lifetime.
type ExpiryReader interface {
	LoadExpiry(ctx context.Context, key string) ([]byte, time.Time, error)
}

// Lister is implemented by engines that can enumerate their live keys.
// List calls fn for each live session key, in no particular order, until
// fn returns false. A key created or deleted during the walk may or may
// not be reported. Expired keys are not reported.
type Lister interface {
	List(ctx context.Context, fn func(key string) bool) error
}

// Toucher is implemented by engines that can extend a record's expiry
// without rewriting its data. Touch sets the expiry of the live record
// under key; if none exists it returns an error matching [ErrNotFound].
// Afterwards Load returns the same data as before.
type Toucher interface {
	Touch(ctx context.Context, key string, expiry time.Time) error
}

// Swapper is implemented by engines that can compare-and-swap a record.
// Swap replaces the data and expiry under key with data and expiry only if
// the stored data equals old, byte for byte. If no live record exists it
// returns an error matching [ErrNotFound]; if the stored data differs it
// returns an error matching [ErrConflict] and changes nothing. The Manager
// uses it so that concurrent requests do not lose each other's updates.
type Swapper interface {
	Swap(ctx context.Context, key string, old, data []byte, expiry time.Time) error
}

// UserIndexer is implemented by engines that keep, in their own store, an
// index from a user ID to the keys of that user's sessions, so that every
// session of a user can be ended at once ([Manager.DeleteUser], "log out
// everywhere", for example after a password change), and listed with
// their metadata ([Manager.UserSessions], a "your devices" page).
//
//   - AddUserSession records key under userID until expiry, with meta, a
//     metadata blob the Manager encodes (when, from which browser). Calling
//     it again for the same pair moves the expiry later, never earlier
//     (two saves of one session upsert its entry in either order, and an
//     entry must not lapse while its session lives; an entry outliving a
//     session whose expiry was shortened is harmless, the Manager checks
//     each against its record), and replaces the metadata; an empty (or
//     nil) meta keeps the metadata the entry has (a new entry then has
//     none). Meta is printable ASCII (JSON the Manager
//     writes) of at most 512 bytes; the engine stores it as it is.
//   - UserSessions returns the entries recorded for userID that have not
//     expired, each key once, in no particular order, with their metadata
//     (nil when none) and expiry (at the engine's resolution). A user with
//     no entries gives an empty list and no error.
//   - RemoveUserSessions forgets the entries of the given keys under
//     userID, metadata included, and only those: an entry added meanwhile
//     (a concurrent login of the same user) stays. Keys not recorded, or
//     an unknown user, are no error.
//   - Entries are removed, with their metadata, as they expire (native
//     TTL or DeleteExpired).
//   - A user ID is any valid UTF-8 string of 1 to [MaxUserIDLength]
//     bytes without a NUL byte (the Manager checks); engines store it
//     safely (hashed where it would become a file name) and compare it
//     byte for byte (no case-insensitive collation).
type UserIndexer interface {
	AddUserSession(ctx context.Context, userID, key string, meta []byte, expiry time.Time) error
	UserSessions(ctx context.Context, userID string) ([]UserEntry, error)
	RemoveUserSessions(ctx context.Context, userID string, keys []string) error
}

// UserEntry is one entry of a [UserIndexer]: a session key recorded
// under a user, with the metadata the Manager stored beside it and the
// entry's expiry.
type UserEntry struct {
	Key    string
	Meta   []byte
	Expiry time.Time
}

// MaxUserIDLength is the longest user ID a [UserIndexer] accepts.
const MaxUserIDLength = 255

// ClientSide is the contract of engines that keep the whole session in
// the cookie instead of on the server, such as Django's signed_cookies
// engine. The Manager seals the encoded session into the cookie value and
// opens it again on the next request. A ClientSide engine has no
// server-side state, so a stolen cookie stays valid until it expires.
type ClientSide interface {
	// Seal turns encoded session data into a cookie value. It returns an
	// error matching [ErrTooLarge] when the cookie would exceed the
	// browser limit.
	Seal(ctx context.Context, data []byte) (string, error)
	// Open turns a cookie value back into encoded session data; a value
	// it cannot open gives an error (the session is then empty).
	Open(ctx context.Context, value string) ([]byte, error)
	// Close releases resources, as Backend's.
	Close() error
}

// MaxCookieSize is the largest "name=value" the Manager sends for a
// client-side session. Browsers keep cookies of at least 4096 bytes
// including the name; the margin keeps clear of their off-by-one
// differences. A larger session fails to save with [ErrTooLarge] instead
// of being silently dropped by the browser.
const MaxCookieSize = 4093

// Codecer is implemented by engines whose stored format differs from the
// default signed JSON, for example Django's cache engines (pickle) or the
// signed-cookie engine (another salt and a maximum age). The Manager calls
// Codec once, with its settings (secret keys, cookie age, size limit), and
// uses the result unless [Settings.Codec] overrides it; a nil result means
// the default signed JSON.
type Codecer interface {
	Codec(s Settings) codec.Codec
}

// Describer is implemented by engines that describe themselves. Name is
// the engine's scheme ("redis", "sqlite"), which errors and logs name
// (without it they show the Go type); Describe says where the engine
// keeps its data, for messages such as the demo's start-up line, and must
// not contain credentials. [Manager.Describe] reports both.
type Describer interface {
	Name() string
	Describe() string
}

// KeyChars is the alphabet of session keys, as in Django's VALID_KEY_CHARS.
// Keys are case-insensitive-safe: some stores keep them on case-insensitive
// file systems.
const KeyChars = "abcdefghijklmnopqrstuvwxyz0123456789"

// Length limits of a valid session key. New keys are always [KeyLength]
// characters. Django accepts any key of at least 8 characters and stores it
// in a varchar(40) column.
const (
	KeyLength    = 32
	MinKeyLength = 8
	MaxKeyLength = 40
)

// ValidKey reports whether key is an acceptable session key: between
// [MinKeyLength] and [MaxKeyLength] characters, all from [KeyChars]. A
// cookie carrying any other value is treated as no session at all, and
// the Manager never passes such a key to an engine.
func ValidKey(key string) bool {
	if len(key) < MinKeyLength || len(key) > MaxKeyLength {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}
