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
	return &sessionContext{Context: ctx, s: s}
}

// sessionContext is a context carrying a session: what
// context.WithValue(ctx, ctxKey{}, s) makes, as a type of its own so that
// the middleware allocates it with the rest of a request's state.
type sessionContext struct {
	context.Context
	s *Session
}

// Value returns the session for ctxKey, and asks the parent otherwise.
func (c *sessionContext) Value(key any) any {
	if key == (ctxKey{}) {
		return c.s
	}
	return c.Context.Value(key)
}

// String names the context as context.WithValue's do.
func (c *sessionContext) String() string {
	return fmt.Sprint(c.Context) + ".WithValue(sessions.Session)"
}

// served is what the middleware keeps for one request, in one
// allocation: the session, the context that carries it and the
// ResponseWriter that finishes it.
type served struct {
	s   Session
	ctx sessionContext
	w   responseWriter
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
		st := new(served)
		s := &st.s
		m.begin(r.Context(), s, r.Header)
		if m.s.Devices.Enabled {
			s.peer = r.RemoteAddr // the address Begin cannot know
		}
		st.ctx = sessionContext{Context: r.Context(), s: s}
		r = r.WithContext(&st.ctx)
		st.w = responseWriter{ResponseWriter: w, m: m, s: s, r: r, buffered: buffered}
		next.ServeHTTP(&st.w, r)
		st.w.end()
	})
}

// Begin returns the session of a request whose header is h, as
// [Manager.Handler] does: its key comes from the session cookie
// (Settings.CookieName) or, with Settings.TokenHeader, from that header.
// Nothing is loaded until the session is used.
//
// Begin, [Manager.Finish] and [Manager.ServeError] are Handler's own
// steps, for framework adapters that cannot wrap an http.Handler (a
// server that is not net/http, or a framework that decides the status
// after the middleware returns). Handler is
//
//	s := m.Begin(ctx, r.Header)
//	// ... the handler runs with NewContext(ctx, s) ...
//	// just before the status line: h is the response's header
//	if err := m.Finish(ctx, s, status, h); err != nil {
//		m.ServeError(w, r, err) // instead of the handler's response
//	}
//	// when the handler has returned, if it had already written:
//	if err := m.Finish(ctx, s, 0, nil); err != nil {
//		m.ServeError(w, r, err)
//	}
func (m *Manager) Begin(ctx context.Context, h http.Header) *Session {
	s := new(Session)
	m.begin(ctx, s, h)
	return s
}

// begin is Begin, into a Session nothing uses yet.
func (m *Manager) begin(ctx context.Context, s *Session, h http.Header) {
	key, had := m.headerKey(h)
	m.loadInto(ctx, s, key)
	s.resp = response{hadKey: had, clientKey: key}
	if m.s.Devices.Enabled {
		s.hdr = h // the browser and forwarded address, for the metadata
	}
}

// Finish applies the middleware's rules to the response of a session
// from [Manager.Begin]; status is the response's final status.
//
// The first call must come when that status is known and before the
// response's header is sent: it saves the session if needed (never for
// a status of 500 or more) and adds to h what the response must carry:
// the session cookie or the deletion cookie (Set-Cookie), or the token
// header, and Vary. An error means the handler's response must not be
// sent: answer with [Manager.ServeError] instead (400 for
// [ErrInterrupted], the error handler for a store failure). Store
// failures are logged at Error level; a load that failed because ctx was
// cancelled (the client went away) at Debug level, or at Warn level when
// it had waited 100 ms or more for the store.
//
// Later calls are for a handler that wrote its response before it
// returned (streaming): call Finish again when it has, with h nil (the
// status is then ignored). A change the handler made meanwhile is saved
// when the client already holds the session's key; otherwise (a new
// session, CycleKey, a signed-cookie session), or when the save fails,
// it is not delivered, and the error, logged, matches
// [ErrResponseStarted]. After a failed first call, or one for a status
// of 500 or more, later calls do nothing.
//
// The cancellation of ctx (a client that went away) does not stop the
// save: the request's work is done, and Django saves its session too.
// The store's own timeouts bound it.
func (m *Manager) Finish(ctx context.Context, s *Session, status int, h http.Header) error {
	// The handler's work is done: its session is saved even if the
	// client went away meanwhile (as Django saves it), within the store's
	// own timeouts.
	reqCtx := ctx
	ctx = context.WithoutCancel(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.resp.finished {
		if s.resp.failed || s.resp.status >= 500 {
			return nil
		}
		err := m.finishLate(ctx, s)
		if err != nil {
			m.logFinishError(reqCtx, s, "session change after the response started", err)
		}
		return err
	}
	s.resp.finished, s.resp.status = true, status
	if h == nil {
		h = http.Header{}
	}
	err := m.finish(ctx, h, s, status)
	if err != nil {
		s.resp.failed = true
		m.logFinishError(reqCtx, s, "session store failed", err)
	}
	return err
}

// logFinishError logs an error of Finish or Hijacked for s with msg.
// ErrInterrupted (a concurrent logout) is the 400 the client gets, not a
// failure. A load that ended with the cancellation of the request's own
// context is the client's doing (it went away, and net/http cancelled
// its request; saves are not cancelled): it is logged at Debug level, so
// that every dropped connection does not read as a store failure, unless
// the load had waited slowLoad or more for the store, which then is the
// news: a store that hangs until the clients give up is logged at Warn
// level with the wait. The observer counts both with their class,
// context.Canceled. Anything else is logged at Error level.
func (m *Manager) logFinishError(reqCtx context.Context, s *Session, msg string, err error) {
	switch {
	case errors.Is(err, ErrInterrupted) && !errors.Is(err, ErrResponseStarted):
	case errors.Is(err, context.Canceled) && errors.Is(reqCtx.Err(), context.Canceled):
		if s.loadWait >= slowLoad {
			m.log.WarnContext(reqCtx, msg+": the client went away while the store was slow to answer",
				"engine", m.name, "waited", s.loadWait, "error", err)
			return
		}
		m.log.DebugContext(reqCtx, msg+": the client went away (the request's context was cancelled)", "engine", m.name, "error", err)
	default:
		m.log.ErrorContext(reqCtx, msg, "engine", m.name, "error", err)
	}
}

// slowLoad is the wait for the store after which a load that the client
// cancelled is logged as a warning: a session store answers in well under
// a millisecond, so a client that gave up after this long was likely
// waiting for the store.
const slowLoad = 100 * time.Millisecond

// Hijacked tells the Manager that the handler of the request of s took
// the connection over (http.Hijacker, a WebSocket upgrade) before a
// response header carried the session's cookie: none will. A change made
// so far is then handled as one made after the response started: saved
// when the client holds the session's key, else reported with an error
// matching [ErrResponseStarted] (also logged), never dropped silently.
// Call [Manager.Finish] when the handler returns, as after any response,
// for the changes made meanwhile. [Manager.Handler] calls it after a
// successful Hijack; framework adapters do the same.
func (m *Manager) Hijacked(ctx context.Context, s *Session) error {
	reqCtx := ctx
	ctx = context.WithoutCancel(ctx) // as Finish
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.resp.finished {
		s.resp.finished, s.resp.status = true, http.StatusSwitchingProtocols
	}
	if s.resp.failed {
		return nil
	}
	err := m.finishLate(ctx, s)
	if err != nil {
		m.logFinishError(reqCtx, s, "session change after the response started", err)
	}
	return err
}

// ServeError answers a request whose [Manager.Finish] failed, as
// [Manager.Handler] does. For an error of the first call, which comes
// before anything was sent, it clears the header of w and answers 400
// for [ErrInterrupted], or calls Settings.ErrorHandler (by default a
// plain 500). For an error matching [ErrResponseStarted] the response is
// under way: it only calls Settings.ErrorHandler, if set, whose writes go
// to the body.
func (m *Manager) ServeError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, ErrResponseStarted) {
		if m.s.ErrorHandler != nil {
			m.s.ErrorHandler(w, r, err)
		}
		return
	}
	clear(w.Header())
	switch {
	case errors.Is(err, ErrInterrupted):
		http.Error(w, "Bad Request: "+ErrInterrupted.Error(), http.StatusBadRequest)
	case m.s.ErrorHandler != nil:
		m.s.ErrorHandler(w, r, err)
	default:
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
	}
}

// headerKey returns the session key a request header carries (its
// cookie, or its token header) and whether it carried one.
func (m *Manager) headerKey(h http.Header) (string, bool) {
	if name := m.s.TokenHeader; name != "" {
		vs := h[http.CanonicalHeaderKey(name)]
		if len(vs) == 0 {
			return "", false
		}
		v := strings.TrimSpace(vs[0])
		if strings.EqualFold(name, "Authorization") {
			scheme, token, found := strings.Cut(v, " ")
			if !found || !strings.EqualFold(scheme, "Bearer") {
				return "", false // another scheme (Basic...) is not ours
			}
			v = strings.TrimSpace(token)
		}
		return v, true
	}
	// The last of several, as Django's parse_cookie keeps it (a later
	// value overwrites an earlier one): a browser sends two when it holds
	// a host-only and a Domain cookie, or cookies of two paths.
	cs := (&http.Request{Header: h}).CookiesNamed(m.s.CookieName)
	if len(cs) == 0 {
		return "", false
	}
	return cs[len(cs)-1].Value, true
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
	committed bool // Finish ran (and the cookie was written)
	failed    bool // the response was replaced by an error response
	hijacked  bool

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

// Hijack hands the connection over (WebSockets). No response header can
// carry a cookie from then on: changes to the session, made before or
// after, are saved as those after a response started (see
// [Manager.Hijacked]). A Hijack that fails (HTTP/2, a writer without it)
// changes nothing: the response the handler sends instead follows the
// rules.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.committed, w.hijacked = true, true
	w.body = nil
	w.m.Hijacked(w.r.Context(), w.s)
	return conn, rw, nil
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
	if w.failed {
		return
	}
	err := w.m.Finish(w.r.Context(), w.s, 0, nil)
	if err != nil && !w.hijacked { // a hijacked connection is the handler's: Finish logged it
		w.m.ServeError(w.ResponseWriter, w.r, err)
	}
}

// commit runs Django's process_response for the final status code.
func (w *responseWriter) commit(status int) {
	w.committed = true
	err := w.m.Finish(w.r.Context(), w.s, status, w.Header())
	if err == nil {
		return
	}
	w.failed = true
	w.body = nil
	w.m.ServeError(w.ResponseWriter, w.r, err)
}

// finishLate handles a change made to s after the response started. A
// server-side session still under the key the client holds is saved; a
// change that needed a new cookie, or whose save failed, gives an error
// matching ErrResponseStarted. Callers hold s.mu.
func (m *Manager) finishLate(ctx context.Context, s *Session) error {
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
	case s.key != s.resp.clientKey:
		return wrap("save", m.name, fmt.Errorf("%w: the session key changed (CycleKey) and the client keeps the old one", ErrResponseStarted))
	}
	err := m.save(ctx, s)
	if err == nil {
		return nil
	}
	// The client is not told (its response is under way): the error says
	// so, so that an error handler does not try to answer with a status.
	var e *Error
	if errors.As(err, &e) {
		return &Error{Op: e.Op, Engine: e.Engine, Err: fmt.Errorf("%w, and saving it failed: %w", ErrResponseStarted, e.Err)}
	}
	return wrap("save", m.name, fmt.Errorf("%w, and saving it failed: %w", ErrResponseStarted, err))
}

// finish applies Django's process_response to a response header: the
// Manager decides whether and how to save (commit), finish sets the
// cookie and Vary, and records the key the client will hold. Callers
// hold s.mu.
func (m *Manager) finish(ctx context.Context, h http.Header, s *Session, status int) error {
	action, err := m.commit(ctx, s, commitCall{hadCookie: s.resp.hadKey, status: status})
	if err != nil {
		return err
	}
	switch action {
	case setCookie:
		m.sendKey(h, s)
		s.resp.clientKey = s.key
	case deleteCookie:
		m.dropKey(h)
		s.resp.clientKey = ""
	case storedNothing:
		s.resp.clientKey = ""
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
