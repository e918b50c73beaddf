package sessions

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
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
//   - A session deleted by a concurrent request (ErrInterrupted) gives a
//     400 response; a store failure goes to Settings.ErrorHandler (default
//     500). In both cases the handler's own response is discarded.
//
// # Streaming
//
// Handler does not buffer the response: the session is saved and the
// cookie written just before the status line, at the handler's first
// WriteHeader, Write or Flush (or when it returns without writing). A
// change made after that point cannot reach the client in a header.
// It is never dropped silently:
//
//   - A change to a server-side session whose key the client already
//     holds (the usual case: a cart updated while streaming) is saved when
//     the handler returns.
//   - A change that needs a new cookie (a new session, CycleKey, or any
//     change of a signed-cookie session) cannot be delivered: it is not
//     saved, and an error matching [ErrResponseStarted] is logged and
//     passed to Settings.ErrorHandler, whose writes then go to the body
//     of a response already under way.
//
// Handlers that must change the session after writing, as a Django view
// may, use [Manager.BufferedHandler], which holds the whole response until
// the handler returns.
//
// Unlike Django, with SaveEveryRequest a request carrying a bogus cookie
// does not create a stored empty session.
func (m *Manager) Handler(next http.Handler) http.Handler {
	return m.handler(next, false)
}

// BufferedHandler is [Manager.Handler] with Django's exact timing: the
// handler's status, headers and body are held in memory until it returns,
// so every change it makes to the session, however late, is saved and its
// cookie sent. It costs a copy of the response body; a handler that calls
// Flush (or hijacks the connection) ends the buffering at that point, and
// later changes follow Handler's streaming rules.
func (m *Manager) BufferedHandler(next http.Handler) http.Handler {
	return m.handler(next, true)
}

func (m *Manager) handler(next http.Handler, buffered bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, had := m.requestKey(r)
		s := m.Load(r.Context(), key)
		if m.s.Devices.Enabled {
			s.req = r
		}
		sw := &responseWriter{ResponseWriter: w, m: m, s: s, r: r, hadCookie: had, clientKey: key, buffered: buffered}
		r = r.WithContext(NewContext(r.Context(), s))
		next.ServeHTTP(sw, r)
		sw.end()
	})
}

// requestKey returns the session key the request carries (its cookie, or
// its token header) and whether it carried one.
func (m *Manager) requestKey(r *http.Request) (string, bool) {
	if h := m.s.TokenHeader; h != "" {
		vs, ok := r.Header[http.CanonicalHeaderKey(h)]
		if !ok || len(vs) == 0 {
			return "", false
		}
		v := strings.TrimSpace(vs[0])
		if strings.EqualFold(h, "Authorization") {
			scheme, token, found := strings.Cut(v, " ")
			if !found || !strings.EqualFold(scheme, "Bearer") {
				return "", false // another scheme (Basic...) is not ours
			}
			v = strings.TrimSpace(token)
		}
		return v, true
	}
	c, err := r.Cookie(m.s.CookieName)
	if err != nil {
		return "", false
	}
	return c.Value, true
}

// sendKey tells the client to use the key of s from now on: the cookie,
// or the token header.
func (m *Manager) sendKey(h http.Header, s *Session) {
	if m.s.TokenHeader != "" {
		h.Set(m.s.TokenHeader, s.key)
		return
	}
	m.setCookie(h, s)
}

// dropKey tells the client its key names no session any more.
func (m *Manager) dropKey(h http.Header) {
	if m.s.TokenHeader != "" {
		h[http.CanonicalHeaderKey(m.s.TokenHeader)] = []string{""}
		return
	}
	m.deleteCookie(h)
}

// varyOn is the request header a response depends on when it reads or
// sets the session.
func (m *Manager) varyOn() string {
	if m.s.TokenHeader != "" {
		return m.s.TokenHeader
	}
	return "Cookie"
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
	committed bool // the session rules ran (and the cookie was written)
	failed    bool // the response was replaced by an error response
	hijacked  bool
	status    int    // the final status the rules ran for
	clientKey string // the cookie value the client holds after this response

	// Buffered mode: until the rules run, the status and body are held.
	buffered bool
	held     int // status held by WriteHeader, 0 if none
	body     []byte
}

// Unwrap returns the underlying ResponseWriter, for http.ResponseController.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *responseWriter) WriteHeader(code int) {
	if !w.committed {
		if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
			w.ResponseWriter.WriteHeader(code) // informational: not the final status
			return
		}
		if w.buffered {
			if w.held == 0 {
				w.held = code
			}
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
		if w.buffered {
			if w.held == 0 {
				w.held = http.StatusOK
			}
			w.body = append(w.body, b...)
			return len(b), nil
		}
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
		if w.buffered {
			return io.Copy(writerOnly{w}, r)
		}
		w.commit(http.StatusOK)
	}
	if w.failed {
		return 0, errReplaced
	}
	return io.Copy(w.ResponseWriter, r)
}

// writerOnly hides ReadFrom, so io.Copy into it does not recurse.
type writerOnly struct{ io.Writer }

// Flush commits the session and flushes the underlying writer.
func (w *responseWriter) Flush() { _ = w.FlushError() }

// FlushError commits the session and flushes the underlying writer. In
// buffered mode it ends the buffering.
func (w *responseWriter) FlushError() error {
	if !w.committed {
		w.release()
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
	w.hijacked = true
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// release runs the session rules for the status so far and, in buffered
// mode, sends what was held.
func (w *responseWriter) release() {
	status := w.held
	if status == 0 {
		status = http.StatusOK
	}
	w.commit(status)
	if !w.buffered || w.failed {
		return
	}
	if w.held != 0 {
		w.ResponseWriter.WriteHeader(w.held)
	}
	if len(w.body) > 0 {
		w.ResponseWriter.Write(w.body)
	}
	w.body = nil
}

// end runs when the handler has returned: the session rules if they have
// not run yet, otherwise the rules for a change made after they ran.
func (w *responseWriter) end() {
	if !w.committed {
		w.release()
		return
	}
	if w.failed || w.hijacked || w.status >= 500 {
		return
	}
	if err := w.m.finishLate(w.r.Context(), w.s, w.clientKey); err != nil {
		w.m.log.ErrorContext(w.r.Context(), "session change after the response started", "engine", w.m.name, "error", err)
		if w.m.s.ErrorHandler != nil {
			w.m.s.ErrorHandler(w.ResponseWriter, w.r, err)
		}
	}
}

// commit runs Django's process_response for the final status code.
func (w *responseWriter) commit(status int) {
	w.committed = true
	w.status = status
	err := w.m.finish(w.r.Context(), w.Header(), w.s, w.hadCookie, status, &w.clientKey)
	if err == nil {
		return
	}
	w.failed = true
	w.body = nil
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

// finishLate handles a change made to s after the response started:
// clientKey is the key the client holds. A server-side session still
// under that key is saved; a change that needed a new cookie is reported
// with ErrResponseStarted and not saved.
func (m *Manager) finishLate(ctx context.Context, s *Session, clientKey string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.dirty {
		return nil
	}
	switch {
	case s.key == "" && s.data != nil && s.data.Len() == 0:
		// Flushed (or emptied and never stored): the store already
		// forgot it; the client's stale cookie names nothing.
		s.dirty = false
		return nil
	case m.client != nil:
		return wrap("save", m.name, fmt.Errorf("%w: a signed-cookie session lives in its cookie", ErrResponseStarted))
	case s.key == "":
		return wrap("save", m.name, fmt.Errorf("%w: a new session needs a cookie", ErrResponseStarted))
	case s.key != clientKey:
		return wrap("save", m.name, fmt.Errorf("%w: the session key changed (CycleKey) and the client keeps the old one", ErrResponseStarted))
	}
	return m.save(ctx, s)
}

// finish applies Django's process_response to a response header: the
// Manager decides whether and how to save (commit), finish sets the
// cookie and Vary. clientKey receives the cookie value the client will
// hold.
func (m *Manager) finish(ctx context.Context, h http.Header, s *Session, hadCookie bool, status int, clientKey *string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	action, err := m.commit(ctx, s, commitCall{hadCookie: hadCookie, status: status})
	if err != nil {
		return err
	}
	switch action {
	case setCookie:
		m.sendKey(h, s)
		*clientKey = s.key
	case deleteCookie:
		m.dropKey(h)
		*clientKey = ""
	case storedNothing:
		*clientKey = ""
	}
	if action != keepCookie || s.accessed {
		patchVary(h, m.varyOn())
	}
	return nil
}

func (m *Manager) setCookie(h http.Header, s *Session) {
	var exp time.Time
	age := time.Duration(-1) // no Max-Age, no Expires: a browser-session cookie
	if !s.expireAtBrowserClose() {
		now := m.now()
		if age = s.expiryAge(now); age <= 0 {
			age, exp = 0, time.Unix(0, 0) // "Max-Age=0": expire now
		} else {
			exp = now.Add(age)
		}
	}
	h["Set-Cookie"] = append(h["Set-Cookie"], m.cookieLine(s.key, age, exp))
}

// cookieParts are the constant parts of the session cookie's Set-Cookie
// line, rendered once by net/http (so they are sanitised exactly as it
// does) when the Manager is made.
type cookieParts struct {
	scope string // "; Path=/; Domain=example.com"
	flags string // "; HttpOnly; Secure; SameSite=Lax; Partitioned"
}

func newCookieParts(s Settings) cookieParts {
	scope := (&http.Cookie{Name: "n", Value: "v", Path: s.CookiePath, Domain: s.CookieDomain}).String()
	flags := (&http.Cookie{Name: "n", Value: "v", HttpOnly: s.CookieHTTPOnly, Secure: s.CookieSecure,
		SameSite: s.CookieSameSite, Partitioned: s.CookiePartitioned}).String()
	return cookieParts{scope: scope[len("n=v"):], flags: flags[len("n=v"):]}
}

// cookieLine is what http.Cookie.String writes for the session cookie
// with value v (a session key or a signed value: only characters a cookie
// value takes unquoted), Max-Age age (negative: none) and Expires exp,
// without its general-purpose validation and allocations.
func (m *Manager) cookieLine(v string, age time.Duration, exp time.Time) string {
	var b strings.Builder
	b.Grow(len(m.s.CookieName) + 1 + len(v) + len(m.cookie.scope) + len(m.cookie.flags) + 60)
	b.WriteString(m.s.CookieName)
	b.WriteByte('=')
	b.WriteString(v)
	b.WriteString(m.cookie.scope)
	if age >= 0 {
		var buf [40]byte
		b.WriteString("; Expires=")
		b.Write(exp.UTC().AppendFormat(buf[:0], http.TimeFormat))
		b.WriteString("; Max-Age=")
		b.Write(strconv.AppendInt(buf[:0], int64(age/time.Second), 10))
	}
	b.WriteString(m.cookie.flags)
	return b.String()
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

// patchVary adds the given header names to the Vary header unless already
// listed (case-insensitively), keeping the existing order, as Django's
// patch_vary_headers: a Vary of "*" stays "*".
func patchVary(h http.Header, names ...string) {
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
