package main

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/djangoauth"
	"github.com/sessionkit/sessions/messages"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// The session keys of the demo shop, besides Django's auth keys
// (djangoauth) and the CSRF secret.
const (
	cartKey     = "cart"      // {"mug": 2, ...}
	checkoutKey = "checkout"  // the multi-step form, see checkoutState
	themeKey    = "theme"     // "light" or "dark"
	languageKey = "_language" // Django's LANGUAGE_SESSION_KEY (read by Django 3.2's LocaleMiddleware)
	messagesKey = "_messages" // django.contrib.messages' SessionStorage
)

// shop is the demo web shop: every page, over one sessions.Manager.
type shop struct {
	m        *sessions.Manager
	auth     *djangoauth.Auth
	users    []user
	debugAPI bool
	metrics  *metrics                       // the live counts (/metrics); nil: none
	hold     time.Duration                  // how long POST /debug/slow-add holds its request
	pause    func(ctx context.Context) bool // holds it: holdRequest, or a test's
	info     shopInfo
	log      *slog.Logger
	pages    map[string]*template.Template
	mux      *http.ServeMux // the pages, set by Handler
}

// shopInfo is what the about panel tells about the set-up.
type shopInfo struct {
	Config     string // the engine's config string, without secrets
	DataDir    string // the demo's data directory
	SecretFrom string // where SECRET_KEY came from
}

// shopOptions configure newShop.
type shopOptions struct {
	DebugAPI bool
	// Metrics, the observer of m (its Settings.Observer), makes the debug
	// API also serve /metrics and POST /debug/slow-add.
	Metrics *metrics
	Info    shopInfo
	Users   []user       // nil: demoUsers
	Logger  *slog.Logger // nil: no request log
}

// pageNames are the templates of the shop, each with the layout.
var pageNames = []string{"home", "login", "logout", "cart", "checkout", "preferences", "about", "metrics", "error", "devices"}

// newShop returns the shop over m.
func newShop(m *sessions.Manager, o shopOptions) (*shop, error) {
	s := &shop{
		m:        m,
		auth:     djangoauth.New(m.Settings()),
		users:    o.Users,
		debugAPI: o.DebugAPI,
		hold:     defaultHold,
		info:     o.Info,
		log:      o.Logger,
		pages:    map[string]*template.Template{},
	}
	if s.users == nil {
		s.users = demoUsers
	}
	if o.DebugAPI {
		s.metrics = o.Metrics
	}
	s.pause = s.holdRequest
	if s.info.Config == "" {
		s.info.Config = m.Describe().Name
	}
	for _, name := range pageNames {
		t, err := template.New(name).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
		s.pages[name] = t
	}
	return s, nil
}

// Handler returns the shop's HTTP handler: the static files, and every
// page behind the session middleware and CSRF protection.
func (s *shop) Handler() http.Handler {
	mux := http.NewServeMux()
	s.mux = mux
	mux.HandleFunc("GET /{$}", s.requireLogin(s.home))
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("GET /logout", s.logoutPage)
	mux.HandleFunc("POST /logout", s.logout)
	mux.HandleFunc("GET /cart", s.cartPage)
	mux.HandleFunc("POST /cart/add", s.cartAdd)
	mux.HandleFunc("POST /cart/update", s.cartUpdate)
	mux.HandleFunc("GET /checkout", s.requireLogin(s.checkoutResume))
	mux.HandleFunc("GET /checkout/{step}", s.requireLogin(s.checkoutPage))
	mux.HandleFunc("POST /checkout/{step}", s.requireLogin(s.checkoutPost))
	mux.HandleFunc("GET /preferences", s.preferencesPage)
	mux.HandleFunc("POST /preferences", s.preferencesSave)
	mux.HandleFunc("GET /about", s.aboutPage)
	mux.HandleFunc("GET /devices", s.requireLogin(s.devicesPage))
	mux.HandleFunc("POST /devices/end", s.requireLogin(s.devicesEnd))
	mux.HandleFunc("POST /devices/others", s.requireLogin(s.devicesEndOthers))
	if s.debugAPI {
		mux.HandleFunc("GET /api/session", s.apiGet)
		mux.HandleFunc("POST /api/session", s.apiPost)
		mux.HandleFunc("DELETE /api/session", s.apiDelete)
	}
	if s.metrics != nil {
		mux.HandleFunc("GET /metrics", s.metricsPage)
		mux.HandleFunc("POST /debug/slow-add", s.slowAdd)
	}
	mux.HandleFunc("/", s.notFound)

	static, _ := fs.Sub(staticFS, "static")
	root := http.NewServeMux()
	root.Handle("GET /static/", http.StripPrefix("/static/", cacheFor(time.Hour, http.FileServerFS(static))))
	root.Handle("/", s.m.Handler(s.csrfProtect(mux, s.isAPI)))
	return s.logRequests(securityHeaders(root))
}

// isAPI reports whether r is for the debug API, which takes JSON only
// and needs no CSRF token.
func (s *shop) isAPI(r *http.Request) bool {
	return s.debugAPI && r.URL.Path == "/api/session"
}

// securityHeaders adds the headers every page of a careful site sends.
// The policy allows no script at all: the shop needs none.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// cacheFor lets browsers cache the responses of next for d.
func cacheFor(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(d.Seconds())))
		next.ServeHTTP(w, r)
	})
}

// statusRecorder remembers the status of a response, for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

// WriteHeader records the status.
func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records an implicit 200.
func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap returns the underlying ResponseWriter, for http.ResponseController.
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests writes one line per request to the shop's logger.
func (s *shop) logRequests(next http.Handler) http.Handler {
	if s.log == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", rec.status), slog.Duration("took", time.Since(start).Round(10*time.Microsecond)))
	})
}

// --- the current visitor -----------------------------------------------------

// ctxUser is the context key of the logged-in user (see requireLogin).
type ctxUser struct{}

// currentUser returns the logged-in user, as Django's get_user: the
// session must name a demo user with a matching password hash; a stale
// hash logs the session out.
func (s *shop) currentUser(r *http.Request) (*user, error) {
	if u, ok := r.Context().Value(ctxUser{}).(*user); ok {
		return u, nil
	}
	sess := sessions.FromContext(r.Context())
	id, ok, err := s.auth.User(r.Context(), sess, s.lookupPassword)
	if err != nil || !ok {
		return nil, err
	}
	u, _ := s.userByID(id)
	return u, nil
}

// requireLogin sends anonymous visitors to the login page, as Django's
// login_required, and passes the user on in the request's context.
func (s *shop) requireLogin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, err := s.currentUser(r)
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		if u == nil {
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusFound)
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), ctxUser{}, u)))
	}
}

// --- rendering ------------------------------------------------------------------

// page is what every template gets: the layout's data and the page's own
// (Data).
type page struct {
	Title     string
	Nav       string // the active navigation entry
	Lang      string
	Theme     string
	User      *user
	CartCount int
	Path      string // the current path, for "back to where I was"
	Flash     []messages.Message
	Expiry    string
	Engine    string
	CSRFField template.HTML
	Languages []language
	Data      any
}

// T translates an English text to the page's language.
func (p *page) T(key string) string { return translate(p.Lang, key) }

// Tf translates a format and formats it.
func (p *page) Tf(key string, args ...any) string { return fmt.Sprintf(p.T(key), args...) }

// Money formats cents as a price in the page's language.
func (p *page) Money(cents int) string { return formatMoney(p.Lang, cents) }

// render writes a page with the layout.
func (s *shop) render(w http.ResponseWriter, r *http.Request, status int, name, title, nav string, data any) {
	sess := sessions.FromContext(r.Context())
	u, err := s.currentUser(r)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	p := &page{
		Nav:       nav,
		Lang:      s.language(r),
		Theme:     theme(sess),
		User:      u,
		CartCount: loadCart(sess).count(),
		Path:      s.backPath(r),
		Flash:     messages.Get(sess),
		Engine:    s.m.Describe().Name,
		CSRFField: csrfField(sess),
		Languages: languages,
		Data:      data,
	}
	p.Title = p.T(title)
	p.Expiry = s.expiryText(p.Lang, sess)
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		s.serverError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// backPath returns where the theme and language switches of a page go
// back to: the page itself, or for a page answering a form post, its
// address if it is a page too, else the home page.
func (s *shop) backPath(r *http.Request) string {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return r.URL.RequestURI()
	}
	if s.mux != nil {
		g := r.Clone(r.Context())
		g.Method = http.MethodGet
		if _, pattern := s.mux.Handler(g); pattern != "" && pattern != "/" {
			return r.URL.Path
		}
	}
	return "/"
}

// language returns the visitor's language: the one chosen and kept in the
// session, else the best match of the Accept-Language header, else
// English.
func (s *shop) language(r *http.Request) string {
	if v, ok := sessions.FromContext(r.Context()).Get(languageKey).(string); ok && knownLanguage(v) {
		return v
	}
	return pickLanguage(r.Header.Get("Accept-Language"))
}

// theme returns the theme kept in the session: "light" (the default) or
// "dark".
func theme(sess *sessions.Session) string {
	if v, _ := sess.Get(themeKey).(string); v == "dark" {
		return "dark"
	}
	return "light"
}

// expiryText describes when the session ends.
func (s *shop) expiryText(lang string, sess *sessions.Session) string {
	if sess.ExpireAtBrowserClose() {
		return translate(lang, "when you close your browser")
	}
	return fmt.Sprintf(translate(lang, "on %s (in %s)"), sess.ExpiryDate().UTC().Format("2006-01-02 15:04 MST"), humanDuration(lang, sess.ExpiryAge()))
}

// errorData is the data of the error page.
type errorData struct {
	Status  int
	Heading string
	Message string
	Detail  string
}

// errorPage answers status with the error page.
func (s *shop) errorPage(w http.ResponseWriter, r *http.Request, status int, heading, message, detail string) {
	s.render(w, r, status, "error", heading, "", errorData{Status: status, Heading: heading, Message: message, Detail: detail})
}

// forbidden answers 403 as Django's CSRF failure view.
func (s *shop) forbidden(w http.ResponseWriter, r *http.Request, reason string) {
	s.errorPage(w, r, http.StatusForbidden, "Forbidden", "CSRF verification failed. Request aborted.", reason)
}

// notFound answers 404 with the error page.
func (s *shop) notFound(w http.ResponseWriter, r *http.Request) {
	s.errorPage(w, r, http.StatusNotFound, "Page not found", "There is nothing at this address.", "")
}

// serverError answers 500 without the page layout (which needs the
// session that may be what failed); the session middleware does not
// save a session on a 5xx response.
func (s *shop) serverError(w http.ResponseWriter, r *http.Request, err error) {
	if s.log != nil {
		s.log.ErrorContext(r.Context(), "request failed", "path", r.URL.Path, "error", err)
	}
	if errors.Is(err, sessions.ErrInterrupted) {
		http.Error(w, "Bad Request: "+sessions.ErrInterrupted.Error(), http.StatusBadRequest)
		return
	}
	http.Error(w, "Internal Server Error", http.StatusInternalServerError)
}

// redirect answers a form post with 303 See Other.
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// safeNext returns next if it is a path on this site, else def, so a
// crafted link cannot send the visitor elsewhere after a form (Django's
// url_has_allowed_host_and_scheme).
func safeNext(next, def string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.ContainsAny(next, "\r\n\t") {
		return def
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return def
	}
	return next
}
