package sessions

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestDefaultSettingsMatchDjango(t *testing.T) {
	s := DefaultSettings()
	if s.CookieName != "sessionid" || s.CookieAge != 1209600*time.Second || s.CookiePath != "/" ||
		!s.CookieHTTPOnly || s.CookieSecure || s.CookieSameSite != http.SameSiteLaxMode || s.CookieDomain != "" ||
		s.SaveEveryRequest || s.ExpireAtBrowserClose || s.Engine != "db" || s.CacheVersion != 1 ||
		s.KeySalt != "django.contrib.sessions.SessionStore" {
		t.Errorf("defaults differ from Django's: %+v", s)
	}
}

func TestSettingsFromEnv(t *testing.T) {
	env := map[string]string{
		"SESSION_ENGINE": "redis://127.0.0.1:6379/0", "SESSION_COOKIE_NAME": "sid", "SESSION_COOKIE_AGE": "3600",
		"SESSION_COOKIE_DOMAIN": ".example.com", "SESSION_COOKIE_PATH": "/app/", "SESSION_COOKIE_SECURE": "True",
		"SESSION_COOKIE_HTTPONLY": "false", "SESSION_COOKIE_SAMESITE": "Strict", "SESSION_SAVE_EVERY_REQUEST": "1",
		"SESSION_EXPIRE_AT_BROWSER_CLOSE": "yes", "SESSION_FILE_PATH": "/var/lib/s", "SECRET_KEY": "k",
		"SECRET_KEY_FALLBACKS": "old1, old2,", "SESSION_CACHE_KEY_PREFIX": "p", "SESSION_CACHE_VERSION": "2",
		"DATABASE_URL": "postgres://x", "SESSION_CACHE_URL": "memcached://h",
	}
	s, err := settingsFrom(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if s.Engine != env["SESSION_ENGINE"] || s.CookieName != "sid" || s.CookieAge != time.Hour || s.CookieDomain != ".example.com" ||
		s.CookiePath != "/app/" || !s.CookieSecure || s.CookieHTTPOnly || s.CookieSameSite != http.SameSiteStrictMode ||
		!s.SaveEveryRequest || !s.ExpireAtBrowserClose || s.FilePath != "/var/lib/s" || s.SecretKey != "k" ||
		strings.Join(s.SecretKeyFallbacks, "|") != "old1|old2" || s.CacheKeyPrefix != "p" || s.CacheVersion != 2 ||
		s.DatabaseURL != "postgres://x" || s.CacheURL != "memcached://h" {
		t.Errorf("parsed %+v", s)
	}
}

func TestSettingsFromEnvErrorsNameVariableNotValue(t *testing.T) {
	env := map[string]string{"SESSION_COOKIE_AGE": "two weeks", "SESSION_COOKIE_SECURE": "sometimes", "SESSION_COOKIE_SAMESITE": "Loose"}
	_, err := settingsFrom(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if !errors.Is(err, ErrBadConfig) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"SESSION_COOKIE_AGE", "SESSION_COOKIE_SECURE", "SESSION_COOKIE_SAMESITE"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %s: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "two weeks") || strings.Contains(err.Error(), "sometimes") {
		t.Errorf("error prints values: %v", err)
	}
}

func TestValidate(t *testing.T) {
	if err := (&Settings{}).validate(); err == nil || !strings.Contains(err.Error(), "DefaultSettings") {
		t.Errorf("zero Settings accepted: %v", err)
	}
	s := DefaultSettings()
	if err := s.validate(); err == nil || !strings.Contains(err.Error(), "SecretKey") {
		t.Errorf("missing SecretKey accepted: %v", err)
	}
	s.SecretKey = "top-secret-value"
	if err := s.validate(); err != nil {
		t.Errorf("valid settings rejected: %v", err)
	}
	s.CookieSameSite = http.SameSiteNoneMode
	if err := s.validate(); err == nil || !strings.Contains(err.Error(), "Secure") {
		t.Errorf("SameSite=None without Secure accepted: %v", err)
	}
	s.CookieSecure = true
	if err := s.validate(); err != nil {
		t.Error(err)
	}
	s.CookieName = "bad name;"
	if err := s.validate(); err == nil {
		t.Error("bad cookie name accepted")
	} else if strings.Contains(err.Error(), "top-secret-value") {
		t.Error("error prints the secret")
	}
}

// TestDifferenceCookieAgeZeroRefused pins a deliberate difference: Django
// accepts SESSION_COOKIE_AGE=0 and then expires every session at once
// (Max-Age=0, expire_date = now); New refuses it as a configuration
// mistake.
func TestDifferenceCookieAgeZeroRefused(t *testing.T) {
	s := DefaultSettings()
	s.SecretKey = "top-secret-value"
	s.CookieAge = 0
	if err := s.validate(); err == nil || !strings.Contains(err.Error(), "CookieAge") {
		t.Errorf("CookieAge 0 accepted: %v", err)
	}
	t.Setenv("SECRET_KEY", "top-secret-value")
	t.Setenv("SESSION_COOKIE_AGE", "0")
	if s, err := SettingsFromEnv(); err == nil {
		if err := s.validate(); err == nil {
			t.Error("SESSION_COOKIE_AGE=0 accepted")
		}
	}
}
