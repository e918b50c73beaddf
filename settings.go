package sessions

import (
	"fmt"
	"github.com/sessionkit/sessions/observe"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/codec/aead"
)

// Settings mirror Django's SESSION_* settings, with Django's defaults, plus
// the secret keys and the Go-side hooks. Start from [DefaultSettings] or
// [SettingsFromEnv] and change what you need: [New] rejects a Settings
// value whose CookieName or CookieAge is unset, because a zero Settings
// would silently turn off HttpOnly.
type Settings struct {
	// Engine is the config string of the engine (SESSION_ENGINE): a URL
	// such as "redis://127.0.0.1:6379/0" or one of Django's engine names
	// such as "db" or "django.contrib.sessions.backends.cache". Used by
	// [Open] when its config argument is empty. Default "db".
	Engine string

	// CookieName is SESSION_COOKIE_NAME; default "sessionid". It is also
	// the file-name prefix of the file engine.
	CookieName string
	// CookieAge is SESSION_COOKIE_AGE: the default lifetime of a session,
	// in whole seconds; default two weeks (1209600 s).
	CookieAge time.Duration
	// CookieDomain is SESSION_COOKIE_DOMAIN; empty means a host-only
	// cookie (Django's None).
	CookieDomain string
	// CookiePath is SESSION_COOKIE_PATH; default "/".
	CookiePath string
	// CookieSecure is SESSION_COOKIE_SECURE; default false, as in Django.
	// Set it in production behind HTTPS.
	CookieSecure bool
	// CookieHTTPOnly is SESSION_COOKIE_HTTPONLY; default true.
	CookieHTTPOnly bool
	// CookieSameSite is SESSION_COOKIE_SAMESITE; default Lax.
	// http.SameSiteDefaultMode omits the attribute (Django's False).
	// SameSiteNoneMode requires CookieSecure.
	CookieSameSite http.SameSite
	// CookiePartitioned adds the Partitioned attribute (CHIPS). Not a
	// Django setting; default false.
	CookiePartitioned bool
	// TokenHeader, when set, carries the session key in this HTTP header
	// instead of the cookie, for API clients and mobile apps, which keep
	// no cookies. A request sends its key in the header, or as
	// "Authorization: Bearer <key>" when TokenHeader is "Authorization".
	// A response that creates, cycles or renews the session returns the
	// key in the header (TokenHeader itself; for "Authorization", in
	// "Authorization" too, without the "Bearer " prefix), and one that
	// ends it returns the header present and empty: the client drops its
	// key. Every other rule (no fixation, cycling at login, expiry,
	// Vary) is the cookie's; the cookie settings do not apply. Not a
	// Django setting; default "" (the cookie). SESSION_TOKEN_HEADER.
	TokenHeader string

	// SaveEveryRequest is SESSION_SAVE_EVERY_REQUEST: save (and re-send the
	// cookie) on every response whose session is not empty; default false.
	SaveEveryRequest bool
	// ExpireAtBrowserClose is SESSION_EXPIRE_AT_BROWSER_CLOSE; default false.
	ExpireAtBrowserClose bool

	// FilePath is SESSION_FILE_PATH, the directory of the file engine
	// (used by the "file" alias). Empty means none: unlike Django, the
	// world-shared temporary directory is never used.
	FilePath string
	// DatabaseURL is the database of the "db" and "cached_db" aliases, for
	// example "postgres://user@host/app" (Django's DATABASES). Empty means
	// the SQLite file "db.sqlite3" in the working directory.
	DatabaseURL string
	// CacheURL is the cache of the "cache" and "cached_db" aliases, for
	// example "redis://127.0.0.1:6379/0" (Django's CACHES[SESSION_CACHE_ALIAS]).
	CacheURL string
	// CacheKeyPrefix and CacheVersion are CACHES[...]["KEY_PREFIX"] and
	// ["VERSION"]: cache keys are "<prefix>:<version>:<key>". Defaults ""
	// and 1.
	CacheKeyPrefix string
	CacheVersion   int

	// SecretKey is Django's SECRET_KEY. It signs session data and signed
	// cookies. Required.
	SecretKey string
	// SecretKeyFallbacks is SECRET_KEY_FALLBACKS: older keys still accepted
	// when verifying, so a key can be rotated without logging everyone out.
	SecretKeyFallbacks []string
	// KeySalt is the salt of stored session data; default
	// "django.contrib.sessions.SessionStore", what every Django engine
	// uses. Change it only if the Django side uses a SessionStore subclass
	// with another class name.
	KeySalt string

	// Codec overrides the engine's format. Nil means the engine's Django
	// format (signed JSON, or pickle for the cache engines). Override it
	// only for Go-only deployments.
	Codec codec.Codec
	// EncryptionKeys turn on encryption at rest (off when empty): the
	// Manager encrypts the engine's format (or Codec) with package
	// codec/aead, on every engine, the signed-cookie engine included, so
	// that readers of the store, a backup or the cookie see no session
	// data. For Go-only deployments: Django cannot read encrypted
	// sessions, and sessions stored before encryption was turned on read
	// as no session. The first key encrypts and every key decrypts: to
	// rotate, put a new key first and remove the old one once CookieAge
	// has passed. Each key is a random secret of at least 32 bytes, for
	// example the output of "openssl rand -base64 32". Not a Django
	// setting.
	EncryptionKeys []string
	// MaxDataSize limits the serialized size of one session, in bytes;
	// larger sessions fail to save with ErrTooLarge and larger stored data
	// is treated as corrupt. Default 4 MiB.
	MaxDataSize int
	// CompressAbove, when positive, zlib-compresses the stored data of a
	// server-side session larger than this many bytes (when that saves
	// a quarter or more); zero, the default, never compresses. Django
	// reads both forms and compresses every payload over 100 bytes;
	// server-side stores gain little from it while every save pays a
	// deflate and every load an inflate. Data Django wrote compressed are
	// always read. SESSION_COMPRESS_ABOVE.
	CompressAbove int
	// CookieCompressSaving is the least share a signed-cookie session of
	// more than a kilobyte of data must shrink by to be sent compressed
	// (smaller ones are sent as they are; a cookie that would not fit
	// otherwise is compressed whatever it saves). Default 0.25; 0 means
	// Django's rule (any saving of two bytes or more).
	CookieCompressSaving float64

	// IdleTimeout, when positive, ends a server-side session after this
	// long without a request, however long CookieAge is (OWASP's idle
	// timeout; CookieAge stays the absolute lifetime). Not a Django
	// setting: the stored record simply expires sooner, which Django
	// apps sharing the store see too. Requests that only read the
	// session extend it without rewriting it (Touch), at most once per
	// IdleRefresh per session and process. Signed-cookie sessions are not
	// affected: give them a short CookieAge and SaveEveryRequest instead.
	IdleTimeout time.Duration
	// IdleRefresh is the least time between two extensions of an idle
	// timeout by read-only requests. Zero means a tenth of IdleTimeout
	// (at least one second).
	IdleRefresh time.Duration

	// Devices turns on session metadata for a "your devices" page
	// (creation, last seen, browser, address, beside each entry of the
	// user index); off by default. See [DeviceSettings] for what is kept
	// and the privacy trade-off. Not a Django setting.
	Devices DeviceSettings

	// ErrorHandler answers a request whose session could not be loaded or
	// saved because the store failed. Nil means a plain 500 response.
	// (A session deleted concurrently is answered 400 without it.)
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
	// Logger receives security events (bad signatures) and store errors.
	// Nil means slog.Default(). Session keys are never logged in full.
	Logger *slog.Logger
	// Observer, when set, receives an Event for every engine call and
	// session decision (see package observe): metrics, traces, audit. Not a
	// Django setting.
	Observer observe.Observer
	// Clock, when set, replaces time.Now for every expiry computation of
	// the Manager. It is meant for tests.
	Clock func() time.Time
}

// Django's defaults.
const (
	DefaultCookieName = "sessionid"
	DefaultCookieAge  = 1209600 * time.Second
)

// defaultEngine is Django's default SESSION_ENGINE.
const defaultEngine = "db"

// DefaultSettings returns Django's default session settings. SecretKey is
// empty and must be set.
func DefaultSettings() Settings {
	return Settings{
		Engine:         defaultEngine,
		CookieName:     DefaultCookieName,
		CookieAge:      DefaultCookieAge,
		CookiePath:     "/",
		CookieHTTPOnly: true,
		CookieSameSite: http.SameSiteLaxMode,
		CacheVersion:   1,
		KeySalt:        codec.DjangoSessionSalt,
		MaxDataSize:    4 << 20,

		CookieCompressSaving: 0.25,
	}
}

// SettingsFromEnv returns [DefaultSettings] overridden by the environment
// variables of the same names as Django's settings: SESSION_ENGINE,
// SESSION_COOKIE_NAME, SESSION_COOKIE_AGE (seconds), SESSION_COOKIE_DOMAIN,
// SESSION_COOKIE_PATH, SESSION_COOKIE_SECURE, SESSION_COOKIE_HTTPONLY,
// SESSION_COOKIE_SAMESITE (Lax, Strict, None or False),
// SESSION_SAVE_EVERY_REQUEST, SESSION_EXPIRE_AT_BROWSER_CLOSE,
// SESSION_FILE_PATH, SESSION_CACHE_URL, SESSION_DATABASE_URL (or
// DATABASE_URL), SESSION_CACHE_KEY_PREFIX, SESSION_CACHE_VERSION,
// SECRET_KEY and SECRET_KEY_FALLBACKS (comma-separated), and
// SESSION_ENCRYPTION_KEYS (comma-separated, the encrypting key first; see
// EncryptionKeys), and SESSION_DEVICES and SESSION_DEVICES_IP
// (Devices.Enabled and Devices.IP). Booleans accept
// 1/0, true/false, True/False, yes/no. An unparsable value is an error
// naming the variable (never its value, which may be a secret).
func SettingsFromEnv() (Settings, error) {
	return settingsFrom(os.LookupEnv)
}

func settingsFrom(lookup func(string) (string, bool)) (Settings, error) {
	s := DefaultSettings()
	var errs []string
	str := func(name string, dst *string) {
		if v, ok := lookup(name); ok {
			*dst = v
		}
	}
	boolean := func(name string, dst *bool) {
		if v, ok := lookup(name); ok {
			b, err := parseBool(v)
			if err != nil {
				errs = append(errs, name+": not a boolean")
				return
			}
			*dst = b
		}
	}
	str("SESSION_ENGINE", &s.Engine)
	str("SESSION_COOKIE_NAME", &s.CookieName)
	if v, ok := lookup("SESSION_COOKIE_AGE"); ok {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n <= 0 {
			errs = append(errs, "SESSION_COOKIE_AGE: not a positive number of seconds")
		} else {
			s.CookieAge = time.Duration(n) * time.Second
		}
	}
	str("SESSION_COOKIE_DOMAIN", &s.CookieDomain)
	str("SESSION_COOKIE_PATH", &s.CookiePath)
	boolean("SESSION_COOKIE_SECURE", &s.CookieSecure)
	boolean("SESSION_COOKIE_HTTPONLY", &s.CookieHTTPOnly)
	if v, ok := lookup("SESSION_COOKIE_SAMESITE"); ok {
		ss, err := parseSameSite(v)
		if err != nil {
			errs = append(errs, "SESSION_COOKIE_SAMESITE: "+err.Error())
		} else {
			s.CookieSameSite = ss
		}
	}
	str("SESSION_TOKEN_HEADER", &s.TokenHeader)
	if v, ok := lookup("SESSION_COMPRESS_ABOVE"); ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 {
			errs = append(errs, "SESSION_COMPRESS_ABOVE: not a number of bytes")
		} else {
			s.CompressAbove = n
		}
	}
	boolean("SESSION_SAVE_EVERY_REQUEST", &s.SaveEveryRequest)
	boolean("SESSION_EXPIRE_AT_BROWSER_CLOSE", &s.ExpireAtBrowserClose)
	str("SESSION_FILE_PATH", &s.FilePath)
	str("SESSION_CACHE_URL", &s.CacheURL)
	str("DATABASE_URL", &s.DatabaseURL)
	str("SESSION_DATABASE_URL", &s.DatabaseURL)
	str("SESSION_CACHE_KEY_PREFIX", &s.CacheKeyPrefix)
	if v, ok := lookup("SESSION_CACHE_VERSION"); ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			errs = append(errs, "SESSION_CACHE_VERSION: not an integer")
		} else {
			s.CacheVersion = n
		}
	}
	str("SECRET_KEY", &s.SecretKey)
	if v, ok := lookup("SECRET_KEY_FALLBACKS"); ok && strings.TrimSpace(v) != "" {
		s.SecretKeyFallbacks = nil
		for _, k := range strings.Split(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				s.SecretKeyFallbacks = append(s.SecretKeyFallbacks, k)
			}
		}
	}
	if v, ok := lookup("SESSION_ENCRYPTION_KEYS"); ok {
		s.EncryptionKeys = splitList(v)
	}
	boolean("SESSION_DEVICES", &s.Devices.Enabled)
	str("SESSION_DEVICES_IP", &s.Devices.IP)
	if len(errs) > 0 {
		return s, fmt.Errorf("%w: %s", ErrBadConfig, strings.Join(errs, "; "))
	}
	return s, nil
}

// splitList splits a comma-separated list, dropping spaces around items
// and empty items.
func splitList(v string) []string {
	var out []string
	for _, k := range strings.Split(v, ",") {
		if k = strings.TrimSpace(k); k != "" {
			out = append(out, k)
		}
	}
	return out
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes", "on":
		return true, nil
	case "0", "false", "no", "off", "":
		return false, nil
	}
	return false, fmt.Errorf("invalid boolean")
}

// parseSameSite parses a SameSite value as Django spells it: "Lax",
// "Strict", "None", or "False" (no attribute). Case is ignored.
func parseSameSite(v string) (http.SameSite, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "lax":
		return http.SameSiteLaxMode, nil
	case "strict":
		return http.SameSiteStrictMode, nil
	case "none":
		return http.SameSiteNoneMode, nil
	case "false", "":
		return http.SameSiteDefaultMode, nil
	}
	return 0, fmt.Errorf("want Lax, Strict, None or False")
}

// validate checks the settings New needs. It never prints secret values.
func (s *Settings) validate() error {
	var errs []string
	if s.CookieName == "" {
		errs = append(errs, "CookieName is empty (start from sessions.DefaultSettings())")
	} else if (&http.Cookie{Name: s.CookieName}).Valid() != nil {
		errs = append(errs, "CookieName is not a valid cookie name")
	}
	if s.CookieAge < time.Second {
		errs = append(errs, "CookieAge must be at least one second (start from sessions.DefaultSettings())")
	}
	if s.CookiePath == "" {
		errs = append(errs, `CookiePath is empty (Django's default is "/")`)
	}
	if s.SecretKey == "" {
		errs = append(errs, "SecretKey is empty (Django's SECRET_KEY)")
	}
	if s.CompressAbove < 0 || s.CookieCompressSaving < 0 || s.CookieCompressSaving >= 1 {
		errs = append(errs, "CompressAbove must not be negative, CookieCompressSaving must be in [0, 1)")
	}
	if s.TokenHeader != "" && !validHeaderName(s.TokenHeader) {
		errs = append(errs, "TokenHeader is not a valid HTTP header name")
	}
	if s.CookieSameSite == http.SameSiteNoneMode && !s.CookieSecure {
		errs = append(errs, "CookieSameSite None requires CookieSecure: browsers reject such a cookie")
	}
	switch s.CookieSameSite {
	case 0, http.SameSiteDefaultMode, http.SameSiteLaxMode, http.SameSiteStrictMode, http.SameSiteNoneMode:
	default:
		errs = append(errs, "CookieSameSite has an unknown value")
	}
	if s.IdleTimeout < 0 || s.IdleRefresh < 0 {
		errs = append(errs, "IdleTimeout and IdleRefresh must not be negative")
	}
	if s.IdleTimeout > 0 && s.IdleTimeout < time.Second {
		errs = append(errs, "IdleTimeout must be at least one second")
	}
	if s.MaxDataSize < 0 {
		errs = append(errs, "MaxDataSize is negative")
	}
	errs = append(errs, s.Devices.validate()...)
	for i, k := range s.EncryptionKeys {
		if len(k) < aead.MinKeySize {
			errs = append(errs, fmt.Sprintf("EncryptionKeys: key %d is shorter than %d bytes (generate one with \"openssl rand -base64 32\")", i+1, aead.MinKeySize))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s", ErrBadConfig, strings.Join(errs, "; "))
	}
	return nil
}

// validHeaderName reports whether n is an HTTP header name (a token).
func validHeaderName(n string) bool {
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return n != ""
}
