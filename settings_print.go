package sessions

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
)

// redactedSecret is what a Settings' text shows in place of a secret.
const redactedSecret = "[redacted]"

// String describes s for logs and debugging without its secrets: the
// secret key, its fallbacks and the encryption keys show as "[redacted]"
// (fallbacks and encryption keys with their count), and the config
// strings (Engine, DatabaseURL, CacheURL) go through [Redact]. Fields
// holding code (Codec, ErrorHandler, Logger, Observer, Clock) show their
// type, or nil. fmt's %v, %+v and %s use it, %#v uses GoString, and
// log/slog uses LogValue: printing Settings never shows a secret.
func (s Settings) String() string {
	var b strings.Builder
	b.WriteString("sessions.Settings{")
	for i, a := range s.attrs() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.Key)
		b.WriteString(": ")
		if a.Value.Kind() == slog.KindString {
			b.WriteString(strconv.Quote(a.Value.String()))
		} else {
			fmt.Fprint(&b, a.Value.Any())
		}
	}
	b.WriteString("}")
	return b.String()
}

// GoString is String, for fmt's %#v.
func (s Settings) GoString() string { return s.String() }

// LogValue is what log/slog records for a Settings: String's fields as a
// group, with the same secrets left out.
func (s Settings) LogValue() slog.Value { return slog.GroupValue(s.attrs()...) }

// attrs lists the fields of s as String and LogValue show them. It names
// every field by hand, so that a field added later is left out until it
// is known to be no secret.
func (s Settings) attrs() []slog.Attr {
	secret := func(v string) string {
		if v == "" {
			return ""
		}
		return redactedSecret
	}
	secrets := func(vs []string) string {
		if len(vs) == 0 {
			return ""
		}
		return strconv.Itoa(len(vs)) + " " + redactedSecret
	}
	code := func(v any) string {
		if v == nil {
			return "nil"
		}
		return fmt.Sprintf("%T", v)
	}
	fn := func(set bool) string {
		if set {
			return "set"
		}
		return "nil"
	}
	var logger, observer any
	if s.Logger != nil {
		logger = s.Logger
	}
	if s.Observer != nil {
		observer = s.Observer
	}
	return []slog.Attr{
		slog.String("Engine", Redact(s.Engine)),
		slog.String("CookieName", s.CookieName),
		slog.Duration("CookieAge", s.CookieAge),
		slog.String("CookieDomain", s.CookieDomain),
		slog.String("CookiePath", s.CookiePath),
		slog.Bool("CookieSecure", s.CookieSecure),
		slog.Bool("CookieHTTPOnly", s.CookieHTTPOnly),
		slog.String("CookieSameSite", sameSiteName(s.CookieSameSite)),
		slog.Bool("CookiePartitioned", s.CookiePartitioned),
		slog.String("TokenHeader", s.TokenHeader),
		slog.Bool("SaveEveryRequest", s.SaveEveryRequest),
		slog.Bool("ExpireAtBrowserClose", s.ExpireAtBrowserClose),
		slog.String("FilePath", s.FilePath),
		slog.String("DatabaseURL", Redact(s.DatabaseURL)),
		slog.String("CacheURL", Redact(s.CacheURL)),
		slog.String("CacheKeyPrefix", s.CacheKeyPrefix),
		slog.Int("CacheVersion", s.CacheVersion),
		slog.String("SecretKey", secret(s.SecretKey)),
		slog.String("SecretKeyFallbacks", secrets(s.SecretKeyFallbacks)),
		slog.String("KeySalt", s.KeySalt),
		slog.String("Codec", code(s.Codec)),
		slog.String("EncryptionKeys", secrets(s.EncryptionKeys)),
		slog.Int("MaxDataSize", s.MaxDataSize),
		slog.Int("CompressAbove", s.CompressAbove),
		slog.Float64("CookieCompressSaving", s.CookieCompressSaving),
		slog.Duration("IdleTimeout", s.IdleTimeout),
		slog.Duration("IdleRefresh", s.IdleRefresh),
		slog.String("Devices", fmt.Sprintf("%+v", s.Devices)),
		slog.String("ErrorHandler", fn(s.ErrorHandler != nil)),
		slog.String("Logger", code(logger)),
		slog.String("Observer", code(observer)),
		slog.String("Clock", fn(s.Clock != nil)),
	}
}

// String describes the Manager without its secrets: the engine's name and
// where it keeps sessions (as [Manager.Describe] says), and its Settings
// as [Settings.String] shows them. fmt's %v and %+v use it, %#v
// GoString.
func (m *Manager) String() string {
	if m == nil {
		return "sessions.Manager(nil)"
	}
	return fmt.Sprintf("sessions.Manager{Engine: %q, Where: %q, Settings: %s}", m.name, m.where, m.s.String())
}

// GoString is String, for fmt's %#v.
func (m *Manager) GoString() string { return m.String() }

// sameSiteName names a SameSite mode as the cookie attribute does.
func sameSiteName(m http.SameSite) string {
	switch m {
	case 0:
		return "unset"
	case http.SameSiteDefaultMode:
		return "Default (no attribute)"
	case http.SameSiteLaxMode:
		return "Lax"
	case http.SameSiteStrictMode:
		return "Strict"
	case http.SameSiteNoneMode:
		return "None"
	}
	return strconv.Itoa(int(m))
}
