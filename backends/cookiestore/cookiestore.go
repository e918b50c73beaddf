// Package cookiestore is Django's signed_cookies session engine: the whole
// session lives in the cookie, as signing.dumps(session,
// salt="django.contrib.sessions.backends.signed_cookies", compress=True),
// readable by a Django app with the same SECRET_KEY and by the browser
// (the data are signed, not encrypted: never put secrets in them).
//
// The cookie is valid for SESSION_COOKIE_AGE after the last save (its
// timestamp is checked on every request); a custom expiry set with
// SetExpiry is honoured by the browser only, as in Django. Nothing is kept
// on the server, so a session cannot be revoked: a stolen cookie stays
// valid until it expires, even after a logout.
//
// Browsers drop cookies over about 4 KB without a word; this engine
// refuses to save a session whose cookie would pass sessions.MaxCookieSize bytes
// with an error matching sessions.ErrTooLarge instead.
//
// # URL
//
//	signed-cookies:     (Django's "signed_cookies" and "django.contrib.sessions.backends.signed_cookies" too)
//
// There are no parameters: the key, fallbacks, cookie name and age come
// from sessions.Settings.
package cookiestore

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/codec"
)

// Scheme is the URL scheme of this engine.
const Scheme = "signed-cookies"

// Salt is the salt Django's signed_cookies engine signs with.
const Salt = "django.contrib.sessions.backends.signed_cookies"

func init() {
	sessions.Register(sessions.EngineInfo{
		Scheme:     Scheme,
		Aliases:    []string{"signed-cookie", "signedcookies"},
		Forms:      []string{"signed-cookies:", "signed_cookies"},
		Doc:        "the session lives in a signed cookie (Django's signed_cookies); no server state, about 4 KB at most",
		NoLocation: true,
	}, func(ctx context.Context, u *url.URL, s sessions.Settings) (sessions.Backend, error) {
		if err := sessions.ParseParams(u).Err(); err != nil {
			return nil, err
		}
		return New(nil), nil
	})
}

// Options configure a Store. The secret keys, cookie name and age come
// from the sessions.Settings of the Manager that uses the store.
type Options struct {
	// Now returns the current time, for the signature age check; nil
	// means time.Now. For tests.
	Now func() time.Time
}

// Store is the signed-cookie engine. It implements sessions.ClientSide
// and sessions.Codecer.
type Store struct {
	now func() time.Time
}

// New returns a Store. A nil o means default options.
func New(o *Options) *Store {
	s := &Store{}
	if o != nil {
		s.now = o.Now
	}
	return s
}

// Name returns the engine's scheme.
func (s *Store) Name() string { return Scheme }

// Describe says where the data lives.
func (s *Store) Describe() string { return "signed cookies in the browser (no server state)" }

// Codec returns Django's signed-cookie format for the settings: signed
// JSON with the engine's salt, SECRET_KEY and its fallbacks, and a maximum
// age of SESSION_COOKIE_AGE. A payload of more than compressAbove bytes
// is compressed when the cookie would not fit otherwise, or when that
// saves CookieCompressSaving of it (a quarter by default): a cookie
// travels with every request.
func (s *Store) Codec(st sessions.Settings) codec.Codec {
	name := st.CookieName
	if name == "" {
		name = sessions.DefaultCookieName
	}
	return codec.Signed{
		Key: st.SecretKey, Fallbacks: st.SecretKeyFallbacks, Salt: Salt,
		MaxAge: st.CookieAge, MaxSize: st.MaxDataSize, Now: s.now,
		Compression: codec.Compression{Above: min(compressAbove, fitPayload(name)), MinSaving: st.CookieCompressSaving, ToFit: fitPayload(name)},
	}
}

// compressAbove is the payload size up to which a cookie is sent
// uncompressed: below a kilobyte a deflate per save and an inflate per
// load cost more (measured: 29% of a read-write request's CPU with a
// 260-byte session) than the few hundred bytes it could save per request.
// Django compresses from 100 bytes and reads both forms.
const compressAbove = 1024

// fitPayload is the largest payload whose uncompressed signed cookie
// fits in sessions.MaxCookieSize: the value is the payload in base64 (4
// characters per 3 bytes), a timestamp (6 base62 digits for centuries to
// come) and a 43-character signature, with two colons.
func fitPayload(cookieName string) int {
	value := sessions.MaxCookieSize - len(cookieName) - 1
	return (value - 6 - 43 - 2) * 3 / 4
}

// Seal returns the cookie value for encoded session data, or an error
// matching sessions.ErrTooLarge when the cookie would be over MaxCookieSize.
func (s *Store) Seal(ctx context.Context, data []byte) (string, error) {
	if n := len(data); n > sessions.MaxCookieSize {
		return "", fmt.Errorf("%w: the signed cookie would be over %d bytes, more than browsers keep; store less in the session or use a server-side engine", sessions.ErrTooLarge, sessions.MaxCookieSize)
	}
	return string(data), nil
}

// Open returns the encoded session data in a cookie value. The signature
// and age are checked when the data are decoded.
func (s *Store) Open(ctx context.Context, value string) ([]byte, error) {
	return []byte(value), nil
}

// Close does nothing.
func (s *Store) Close() error { return nil }
