package main

import (
	"crypto/subtle"
	"html/template"
	"net/http"
	"strings"

	"github.com/sessionkit/sessions"
)

// CSRF protection as Django's CsrfViewMiddleware with CSRF_USE_SESSIONS =
// True: the secret lives in the session under "_csrftoken" and every form
// carries a masked copy of it in "csrfmiddlewaretoken" (or the
// X-CSRFToken header), so a Django app sharing the sessions accepts the
// demo's forms and the other way round.
const (
	csrfSessionKey   = "_csrftoken"
	csrfFormField    = "csrfmiddlewaretoken"
	csrfHeader       = "X-CSRFToken"
	csrfChars        = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	csrfSecretLength = 32
	csrfTokenLength  = 2 * csrfSecretLength
)

// Django's rejection reasons.
const (
	reasonNoCSRFCookie  = "CSRF cookie not set."
	reasonCSRFMissing   = "CSRF token missing."
	reasonCSRFIncorrect = "CSRF token from POST incorrect."
)

// newCSRFString returns a new CSRF secret or mask. Django draws them
// (_get_new_csrf_string) as 32 characters of a-z, A-Z and 0-9; a session
// key, 32 characters of a-z and 0-9 (about 165 bits), is such a string,
// which Django's CSRF checks accept.
func newCSRFString() string {
	return sessions.NewKey()
}

// A session key is exactly one CSRF secret long (this fails to compile
// otherwise).
var _ = [1]struct{}{}[csrfSecretLength-sessions.KeyLength]

// csrfSecret returns the session's CSRF secret, creating it if needed (as
// Django's get_token).
func csrfSecret(s *sessions.Session) string {
	if v, ok := s.Get(csrfSessionKey).(string); ok && validCSRF(v, csrfSecretLength) {
		return v
	}
	v := newCSRFString()
	s.Set(csrfSessionKey, v)
	return v
}

// rotateCSRF replaces the session's CSRF secret, as Django's rotate_token
// does at login.
func rotateCSRF(s *sessions.Session) {
	s.Set(csrfSessionKey, newCSRFString())
}

// maskCSRF returns a masked token for secret: a random mask followed by
// the secret shifted by it, different on every page (against BREACH).
func maskCSRF(secret string) string {
	mask := newCSRFString()
	var b strings.Builder
	b.WriteString(mask)
	for i := 0; i < csrfSecretLength; i++ {
		x := strings.IndexByte(csrfChars, secret[i])
		y := strings.IndexByte(csrfChars, mask[i])
		b.WriteByte(csrfChars[(x+y)%len(csrfChars)])
	}
	return b.String()
}

// unmaskCSRF undoes maskCSRF.
func unmaskCSRF(token string) string {
	mask, cipher := token[:csrfSecretLength], token[csrfSecretLength:]
	out := make([]byte, csrfSecretLength)
	n := len(csrfChars)
	for i := range out {
		x := strings.IndexByte(csrfChars, cipher[i])
		y := strings.IndexByte(csrfChars, mask[i])
		out[i] = csrfChars[((x-y)%n+n)%n]
	}
	return string(out)
}

// validCSRF reports whether s is n characters of the CSRF alphabet.
func validCSRF(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(csrfChars, s[i]) < 0 {
			return false
		}
	}
	return true
}

// csrfMatches reports whether a submitted token (masked, or the bare
// secret as Django also accepts) matches the secret.
func csrfMatches(token, secret string) bool {
	switch {
	case validCSRF(token, csrfTokenLength):
		token = unmaskCSRF(token)
	case validCSRF(token, csrfSecretLength):
	default:
		return false
	}
	return subtle.ConstantTimeCompare([]byte(token), []byte(secret)) == 1
}

// csrfField returns the hidden input a form needs.
func csrfField(s *sessions.Session) template.HTML {
	return template.HTML(`<input type="hidden" name="` + csrfFormField + `" value="` + maskCSRF(csrfSecret(s)) + `">`)
}

// csrfProtect rejects unsafe requests whose token does not match the
// session's secret with 403, as CsrfViewMiddleware. exempt requests (the
// debug API, which takes only JSON and so cannot be posted by a foreign
// form) pass.
func (s *shop) csrfProtect(next http.Handler, exempt func(*http.Request) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
			next.ServeHTTP(w, r)
			return
		}
		if exempt != nil && exempt(r) {
			next.ServeHTTP(w, r)
			return
		}
		sess := sessions.FromContext(r.Context())
		secret, _ := sess.Get(csrfSessionKey).(string)
		if !validCSRF(secret, csrfSecretLength) {
			s.forbidden(w, r, reasonNoCSRFCookie)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		token := r.PostFormValue(csrfFormField)
		if token == "" {
			token = r.Header.Get(csrfHeader)
		}
		if token == "" {
			s.forbidden(w, r, reasonCSRFMissing)
			return
		}
		if !csrfMatches(token, secret) {
			s.forbidden(w, r, reasonCSRFIncorrect)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// maxFormBytes bounds a form body.
const maxFormBytes = 64 << 10
