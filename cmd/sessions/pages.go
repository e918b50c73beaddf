package main

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/messages"
)

// --- cart helpers -----------------------------------------------------------------

// loadCart returns the cart kept in the session (empty if none, or if what
// is stored is not a cart).
func loadCart(sess *sessions.Session) cart {
	c, ok := sessions.Get[map[string]int](sess, cartKey)
	if !ok {
		return cart{}
	}
	return cart(c).clean()
}

// saveCart stores c in the session, or removes the key when c is empty.
func saveCart(sess *sessions.Session, c cart) {
	c = c.clean()
	if len(c) == 0 {
		sess.Delete(cartKey)
		return
	}
	sess.Set(cartKey, map[string]int(c))
}

// --- home -------------------------------------------------------------------------

// productView is a product on the home page, with its quantity in the cart.
type productView struct {
	product
	InCart int
}

// homeData is the data of the home page.
type homeData struct {
	Products  []productView
	Cart      []cartLine
	CartTotal int
	LastOrder *order
	Checkout  int // the step of an unfinished checkout, 0 if none
}

// order is the last order placed in this session, under "last_order".
type order struct {
	Number string `json:"number"`
	Total  int    `json:"total"`
	Items  int    `json:"items"`
}

// home is the shop's home page, for logged-in visitors: a greeting, the
// products, and the session at a glance.
func (s *shop) home(w http.ResponseWriter, r *http.Request) {
	sess := sessions.FromContext(r.Context())
	c := loadCart(sess)
	d := homeData{Cart: c.lines(), CartTotal: c.total()}
	for _, p := range catalog {
		d.Products = append(d.Products, productView{product: p, InCart: c[p.SKU]})
	}
	if o, ok := sessions.Get[order](sess, lastOrderKey); ok && o.Number != "" {
		d.LastOrder = &o
	}
	if st, ok := loadCheckout(sess); ok && st.Step > 0 {
		d.Checkout = st.Step
	}
	s.render(w, r, http.StatusOK, "home", "Shop", "home", d)
}

// --- login and logout ----------------------------------------------------------

// loginData is the data of the login page.
type loginData struct {
	Users     []user
	Next      string
	Username  string
	Remember  bool
	Error     string
	LoggedOut bool
	KeptCart  int
	Current   *user
}

// loginPage shows the login form and the demo accounts.
func (s *shop) loginPage(w http.ResponseWriter, r *http.Request) {
	sess := sessions.FromContext(r.Context())
	u, err := s.currentUser(r)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	d := loginData{
		Users:     s.users,
		Next:      safeNext(r.URL.Query().Get("next"), "/"),
		LoggedOut: r.URL.Query().Has("logged_out"),
		Current:   u,
	}
	if u == nil {
		d.KeptCart = loadCart(sess).count()
	}
	s.render(w, r, http.StatusOK, "login", "Log in", "login", d)
}

// login checks the password and logs the user in as Django's login view:
// djangoauth.Login cycles the session key (against session fixation, the
// cart and preferences are kept) or flushes a session that belonged to
// someone else, and the CSRF secret is rotated. "Remember me" keeps the
// session for SESSION_COOKIE_AGE; without it the cookie ends with the
// browser.
func (s *shop) login(w http.ResponseWriter, r *http.Request) {
	sess := sessions.FromContext(r.Context())
	lang := s.language(r)
	d := loginData{
		Users:    s.users,
		Next:     safeNext(r.PostFormValue("next"), "/"),
		Username: r.PostFormValue("username"),
		Remember: r.PostFormValue("remember") != "",
	}
	u, ok := s.authenticate(d.Username, r.PostFormValue("password"))
	if !ok {
		d.Error = "Please enter a correct username and password."
		d.KeptCart = loadCart(sess).count()
		s.render(w, r, http.StatusOK, "login", "Log in", "login", d)
		return
	}
	if err := s.auth.Login(r.Context(), sess, u.ID, u.Password, ""); err != nil {
		s.serverError(w, r, err)
		return
	}
	rotateCSRF(sess)
	if d.Remember {
		sess.SetExpiry(s.m.Settings().CookieAge)
	} else {
		sess.SetExpiry(0)
	}
	if err := s.bindLogin(r, sess, u); err != nil {
		s.serverError(w, r, err)
		return
	}
	messages.Success(sess, fmt.Sprintf(translate(lang, "Welcome, %s!"), u.Name))
	redirect(w, r, d.Next)
}

// logoutData is the data of the logout page.
type logoutData struct {
	CartCount int
}

// logoutPage asks whether to keep the cart, then logs out (a POST).
func (s *shop) logoutPage(w http.ResponseWriter, r *http.Request) {
	u, err := s.currentUser(r)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if u == nil {
		http.Redirect(w, r, "/login", http.StatusFound)
		return
	}
	s.render(w, r, http.StatusOK, "logout", "Log out", "logout", logoutData{CartCount: loadCart(sessionOf(r)).count()})
}

// logout flushes the session as Django's logout: the stored session is
// deleted and the cookie with it. If the visitor chose to keep the cart,
// it is put in the new, anonymous session.
func (s *shop) logout(w http.ResponseWriter, r *http.Request) {
	sess := sessions.FromContext(r.Context())
	c := loadCart(sess)
	if err := s.auth.Logout(r.Context(), sess); err != nil {
		s.serverError(w, r, err)
		return
	}
	if r.PostFormValue("keep_cart") != "" && len(c) > 0 {
		saveCart(sess, c)
	}
	redirect(w, r, "/login?logged_out=1")
}

// sessionOf returns the request's session.
func sessionOf(r *http.Request) *sessions.Session { return sessions.FromContext(r.Context()) }

// --- cart ---------------------------------------------------------------------------

// cartData is the data of the cart page.
type cartData struct {
	Lines []cartLine
	Total int
}

// cartPage shows the cart.
func (s *shop) cartPage(w http.ResponseWriter, r *http.Request) {
	c := loadCart(sessionOf(r))
	s.render(w, r, http.StatusOK, "cart", "Cart", "cart", cartData{Lines: c.lines(), Total: c.total()})
}

// formQty reads a quantity field; def when absent.
func formQty(r *http.Request, def int) (int, bool) {
	v := strings.TrimSpace(r.PostFormValue("qty"))
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > maxQty {
		return 0, false
	}
	return n, true
}

// cartAdd adds a quantity of a product to the cart.
func (s *shop) cartAdd(w http.ResponseWriter, r *http.Request) {
	lang := s.language(r)
	p, ok := productBySKU(r.PostFormValue("sku"))
	qty, okQty := formQty(r, 1)
	if !ok || !okQty || qty < 1 {
		s.errorPage(w, r, http.StatusBadRequest, "Bad request", "No such product, or a quantity outside 1–99.", "")
		return
	}
	sess := sessionOf(r)
	c := loadCart(sess)
	c[p.SKU] = min(c[p.SKU]+qty, maxQty)
	saveCart(sess, c)
	messages.Success(sess, fmt.Sprintf(translate(lang, "Added %d × %s to your cart."), qty, translate(lang, p.Name)))
	redirect(w, r, safeNext(r.PostFormValue("next"), "/"))
}

// cartUpdate sets the quantity of a product in the cart; 0 removes it.
func (s *shop) cartUpdate(w http.ResponseWriter, r *http.Request) {
	p, ok := productBySKU(r.PostFormValue("sku"))
	qty, okQty := formQty(r, 0)
	if !ok || !okQty {
		s.errorPage(w, r, http.StatusBadRequest, "Bad request", "No such product, or a quantity outside 1–99.", "")
		return
	}
	sess := sessionOf(r)
	c := loadCart(sess)
	if qty == 0 {
		delete(c, p.SKU)
		messages.Info(sess, fmt.Sprintf(translate(s.language(r), "Removed %s from your cart."), translate(s.language(r), p.Name)))
	} else {
		c[p.SKU] = qty
	}
	saveCart(sess, c)
	redirect(w, r, "/cart")
}

// --- preferences -------------------------------------------------------------

// preferencesData is the data of the preferences page.
type preferencesData struct {
	Theme string
	Lang  string
}

// preferencesPage shows the theme and language choices.
func (s *shop) preferencesPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "preferences", "Preferences", "preferences",
		preferencesData{Theme: theme(sessionOf(r)), Lang: s.language(r)})
}

// preferencesSave stores the theme and the language, from the
// preferences page or from the switches in the header (which send one of
// the two and the page to go back to).
func (s *shop) preferencesSave(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	t, l := r.PostFormValue("theme"), r.PostFormValue("language")
	if (t != "" && t != "light" && t != "dark") || (l != "" && !knownLanguage(l)) {
		s.errorPage(w, r, http.StatusBadRequest, "Bad request", "Unknown theme or language.", "")
		return
	}
	if t != "" {
		sess.Set(themeKey, t)
	}
	if l != "" {
		sess.Set(languageKey, l)
	}
	next := r.PostFormValue("next")
	if next == "" {
		messages.Success(sess, translate(s.language(r), "Preferences saved."))
	}
	redirect(w, r, safeNext(next, "/preferences"))
}
