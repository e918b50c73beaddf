package sessions

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

type ctxKey struct{}

// FromContext returns the session the middleware attached to a request's
// context, or nil if the request did not pass through [Manager.Handler].
func FromContext(ctx context.Context) *Session {
	s, _ := ctx.Value(ctxKey{}).(*Session)
	return s
}

// NewContext returns a copy of ctx carrying s, for use with FromContext.
func NewContext(ctx context.Context, s *Session) context.Context {
	return context.WithValue(ctx, ctxKey{}, s)
}

// Handler returns middleware that gives every request a session (see
// [FromContext]) and saves it as Django's SessionMiddleware does:
//
//   - The session is loaded lazily from the cookie named CookieName; an
//     unknown, expired or malformed key is never adopted.
//   - When the request carried a cookie and the session is now empty (for
//     example after Flush), the cookie is deleted.
//   - Otherwise, when the session was modified (or SaveEveryRequest is set)
//     and is not empty, and the status is below 500, the session is saved
//     and the cookie set with Max-Age/Expires (or neither for a
//     browser-close session), Domain, Path, Secure, HttpOnly and SameSite
//     from the settings.
//   - Vary: Cookie is added whenever the session was accessed or the
//     cookie was set or deleted.
//   - The cookie is written before the first byte of the body, even when
//     the handler never calls WriteHeader. Flushing through
//     http.ResponseController still works.
//   - A session deleted by a concurrent request (ErrInterrupted) gives a
//     400 response; a store failure goes to Settings.ErrorHandler (default
//     500). In both cases the handler's own response is discarded.
//
// Unlike Django, with SaveEveryRequest a request carrying a bogus cookie
// does not create a stored empty session.
func (m *Manager) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, had := m.cookieValue(r)
		s := m.Load(r.Context(), key)
		sw := &responseWriter{ResponseWriter: w, m: m, s: s, r: r, hadCookie: had}
		r = r.WithContext(NewContext(r.Context(), s))
		next.ServeHTTP(sw, r)
		if !sw.committed {
			sw.commit(http.StatusOK)
		}
	})
}

func (m *Manager) cookieValue(r *http.Request) (string, bool) {
	c, err := r.Cookie(m.s.CookieName)
	if err != nil {
		return "", false
	}
	return c.Value, true
}

// errReplaced is returned by Write after the session could not be saved
// and the response was replaced by an error response.
var errReplaced = errors.New("sessions: response replaced by an error response because the session could not be saved")

type responseWriter struct {
	http.ResponseWriter
	m         *Manager
	s         *Session
	r         *http.Request
	hadCookie bool
	committed bool
	failed    bool
}

// Unwrap returns the underlying ResponseWriter, for http.ResponseController.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *responseWriter) WriteHeader(code int) {
	if !w.committed {
		if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
			w.ResponseWriter.WriteHeader(code) // informational: not the final status
			return
		}
		w.commit(code)
	}
	if w.failed {
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if !w.committed {
		w.commit(http.StatusOK)
	}
	if w.failed {
		return 0, errReplaced
	}
	return w.ResponseWriter.Write(b)
}

// ReadFrom keeps io.Copy's fast path (sendfile) available.
func (w *responseWriter) ReadFrom(r io.Reader) (int64, error) {
	if !w.committed {
		w.commit(http.StatusOK)
	}
	if w.failed {
		return 0, errReplaced
	}
	return io.Copy(w.ResponseWriter, r)
}

// Flush commits the session and flushes the underlying writer.
func (w *responseWriter) Flush() { _ = w.FlushError() }

// FlushError commits the session and flushes the underlying writer.
func (w *responseWriter) FlushError() error {
	if !w.committed {
		w.commit(http.StatusOK)
	}
	if w.failed {
		return errReplaced
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack hands the connection over (WebSockets). The session is not saved
// afterwards.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.committed = true
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// commit runs Django's process_response for the final status code.
func (w *responseWriter) commit(status int) {
	w.committed = true
	err := w.m.finish(w.r.Context(), w.Header(), w.s, w.hadCookie, status)
	if err == nil {
		return
	}
	w.failed = true
	h := w.Header()
	for k := range h {
		delete(h, k)
	}
	if errors.Is(err, ErrInterrupted) {
		http.Error(w.ResponseWriter, "Bad Request: "+ErrInterrupted.Error(), http.StatusBadRequest)
		return
	}
	w.m.log.ErrorContext(w.r.Context(), "session store failed", "engine", w.m.name, "error", err)
	if w.m.s.ErrorHandler != nil {
		w.m.s.ErrorHandler(w.ResponseWriter, w.r, err)
		return
	}
	http.Error(w.ResponseWriter, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
}

// finish applies the save/cookie/Vary rules to a response header.
func (m *Manager) finish(ctx context.Context, h http.Header, s *Session, hadCookie bool, status int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m.s.SaveEveryRequest && (s.key != "" || s.bogus) && s.data == nil {
		// Django would save a bogus key as a new empty session here
		// (its is_empty does not load). Load first so a key that names
		// no live session is dropped and the cookie deleted instead.
		s.ensureLoaded()
	}
	if s.accessed && s.loadErr != nil {
		return s.loadErr
	}
	empty := s.isEmpty()
	vary := false
	if hadCookie && empty {
		m.deleteCookie(h)
		vary = true
	} else {
		vary = s.accessed
		if (s.modified || m.s.SaveEveryRequest) && !empty && status < 500 {
			if s.data == nil {
				s.ensureLoaded()
				if s.loadErr != nil {
					return s.loadErr
				}
			}
			if err := m.save(ctx, s); err != nil {
				return err
			}
			if s.key == "" {
				// Saved as already expired: nothing to keep.
				if hadCookie {
					m.deleteCookie(h)
				}
			} else {
				m.setCookie(h, s)
			}
			vary = true
		} else if s.accessed && status < 500 {
			m.refreshIdle(ctx, s)
		}
	}
	if vary {
		PatchVary(h, "Cookie")
	}
	return nil
}

func (m *Manager) setCookie(h http.Header, s *Session) {
	c := &http.Cookie{
		Name:        m.s.CookieName,
		Value:       s.key,
		Path:        m.s.CookiePath,
		Domain:      m.s.CookieDomain,
		Secure:      m.s.CookieSecure,
		HttpOnly:    m.s.CookieHTTPOnly,
		SameSite:    m.s.CookieSameSite,
		Partitioned: m.s.CookiePartitioned,
	}
	if !s.expireAtBrowserClose() {
		now := m.now()
		age := s.expiryAge(now)
		if age <= 0 {
			c.MaxAge = -1 // "Max-Age=0": expire now
			c.Expires = time.Unix(0, 0)
		} else {
			c.MaxAge = int(age / time.Second)
			c.Expires = now.Add(age)
		}
	}
	h.Add("Set-Cookie", c.String())
}

func (m *Manager) deleteCookie(h http.Header) {
	c := &http.Cookie{
		Name:        m.s.CookieName,
		Value:       "",
		Path:        m.s.CookiePath,
		Domain:      m.s.CookieDomain,
		MaxAge:      -1,
		Expires:     time.Unix(0, 0),
		SameSite:    m.s.CookieSameSite,
		Partitioned: m.s.CookiePartitioned,
		// Django adds Secure to the deletion cookie for __Secure-/__Host-
		// names and SameSite=None; we also keep it for Secure sites.
		Secure: m.s.CookieSecure || m.s.CookieSameSite == http.SameSiteNoneMode ||
			strings.HasPrefix(m.s.CookieName, "__Secure-") || strings.HasPrefix(m.s.CookieName, "__Host-"),
	}
	h.Add("Set-Cookie", c.String())
}

// PatchVary adds the given header names to the Vary header unless already
// listed (case-insensitively), keeping the existing order, as Django's
// patch_vary_headers: a Vary of "*" stays "*".
func PatchVary(h http.Header, names ...string) {
	var existing []string
	for _, v := range h.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				existing = append(existing, f)
			}
		}
	}
	for _, e := range existing {
		if e == "*" {
			h.Set("Vary", "*")
			return
		}
	}
	out := existing
	for _, n := range names {
		found := false
		for _, e := range out {
			if strings.EqualFold(e, n) {
				found = true
				break
			}
		}
		if !found {
			out = append(out, n)
		}
	}
	if len(out) > 0 && len(out) != len(existing) || len(h.Values("Vary")) > 1 {
		h.Set("Vary", strings.Join(out, ", "))
	}
}
