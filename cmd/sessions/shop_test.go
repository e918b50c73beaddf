package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/djangoauth"
)

const testSecret = "test-secret-key-not-for-production-0123456789"

// testUsers are the demo users with cheap hashes, so that logging in
// costs microseconds under the race detector instead of most of a second.
var testUsers = func() []user {
	out := slices.Clone(demoUsers)
	for i := range out {
		out[i].Password = makePassword(out[i].Plain, "testsalt"+out[i].Username, 100)
	}
	return out
}()

func testSettings() sessions.Settings {
	s := sessions.DefaultSettings()
	s.SecretKey = testSecret
	return s
}

// newTestShop returns a shop over a fresh engine (config "" = memory:)
// with the debug API on.
func newTestShop(t *testing.T, config string) (*shop, *sessions.Manager) {
	t.Helper()
	if config == "" {
		config = "memory:"
	}
	m, err := sessions.Open(context.Background(), config, testSettings())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	s, err := newShop(m, shopOptions{DebugAPI: true, Users: testUsers, Info: shopInfo{Config: config, DataDir: "/data", SecretFrom: "tests"}})
	if err != nil {
		t.Fatal(err)
	}
	return s, m
}

// browser is a test client with a cookie jar that remembers the last
// CSRF token it saw, as a browser filling in forms would.
type browser struct {
	t     *testing.T
	h     http.Handler
	jar   *cookiejar.Jar
	base  *url.URL
	token string
	lang  string
}

func newBrowser(t *testing.T, h http.Handler) *browser {
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse("http://shop.test/")
	return &browser{t: t, h: h, jar: jar, base: u}
}

var tokenRE = regexp.MustCompile(`name="csrfmiddlewaretoken" value="([A-Za-z0-9]+)"`)

type response struct {
	*http.Response
	body string
}

func (b *browser) do(method, path string, body io.Reader, contentType string) *response {
	b.t.Helper()
	req := httptest.NewRequest(method, "http://shop.test"+path, body)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if b.lang != "" {
		req.Header.Set("Accept-Language", b.lang)
	}
	for _, c := range b.jar.Cookies(b.base) {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	b.h.ServeHTTP(rec, req)
	res := rec.Result()
	res.Request = req
	b.jar.SetCookies(b.base, res.Cookies())
	r := &response{Response: res, body: rec.Body.String()}
	if m := tokenRE.FindStringSubmatch(r.body); m != nil {
		b.token = m[1]
	}
	return r
}

func (b *browser) get(path string) *response { return b.do("GET", path, nil, "") }

// post submits a form with the last CSRF token seen (getting a page first
// if none was).
func (b *browser) post(path string, form url.Values) *response {
	b.t.Helper()
	if b.token == "" {
		b.get("/login")
	}
	form = cloneValues(form)
	if !form.Has(csrfFormField) {
		form.Set(csrfFormField, b.token)
	}
	return b.do("POST", path, strings.NewReader(form.Encode()), "application/x-www-form-urlencoded")
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

func (b *browser) cookie() *http.Cookie {
	for _, c := range b.jar.Cookies(b.base) {
		if c.Name == "sessionid" {
			return c
		}
	}
	return nil
}

func (b *browser) key() string {
	if c := b.cookie(); c != nil {
		return c.Value
	}
	return ""
}

func (b *browser) login(username string, remember bool) *response {
	b.t.Helper()
	b.get("/login")
	f := url.Values{"username": {username}, "password": {passwordOf(username)}, "next": {"/"}}
	if remember {
		f.Set("remember", "on")
	}
	r := b.post("/login", f)
	if r.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("login %s: status %d, want 303\n%s", username, r.StatusCode, r.body)
	}
	b.get(r.Header.Get("Location")) // as a browser does, which also gets the new CSRF token
	return r
}

func passwordOf(username string) string {
	for _, u := range demoUsers {
		if u.Username == username {
			return u.Plain
		}
	}
	return ""
}

// sessionCookie returns the Set-Cookie header of the session cookie in r.
func sessionCookie(r *response) (*http.Cookie, string) {
	for _, h := range r.Header.Values("Set-Cookie") {
		if strings.HasPrefix(h, "sessionid=") {
			c, _ := http.ParseSetCookie(h)
			return c, h
		}
	}
	return nil, ""
}

// stored returns the session stored under key.
func stored(t *testing.T, m *sessions.Manager, key string) *sessions.Session {
	t.Helper()
	s := m.Load(context.Background(), key)
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return s
}

func wantStatus(t *testing.T, r *response, code int) {
	t.Helper()
	if r.StatusCode != code {
		t.Fatalf("%s %s: status %d, want %d\n%s", r.Request.Method, r.Request.URL, r.StatusCode, code, r.body)
	}
}

func wantBody(t *testing.T, r *response, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(r.body, s) {
			t.Errorf("%s %s: body lacks %q", r.Request.Method, r.Request.URL, s)
		}
	}
}

func TestAnonymousHomeRedirectsToLogin(t *testing.T) {
	s, _ := newTestShop(t, "")
	b := newBrowser(t, s.Handler())
	r := b.get("/")
	wantStatus(t, r, http.StatusFound)
	if loc := r.Header.Get("Location"); loc != "/login?next=%2F" {
		t.Fatalf("Location %q", loc)
	}
	r = b.get("/checkout/2")
	wantStatus(t, r, http.StatusFound)
	if loc := r.Header.Get("Location"); loc != "/login?next=%2Fcheckout%2F2" {
		t.Fatalf("Location %q", loc)
	}
}

func TestEveryPageRenders(t *testing.T) {
	s, _ := newTestShop(t, "")
	b := newBrowser(t, s.Handler())
	// Anonymous.
	for _, p := range []struct {
		path string
		code int
		want string
	}{
		{"/login", 200, `id="demo-users"`},
		{"/cart", 200, `id="cart-empty"`},
		{"/preferences", 200, `id="theme-dark"`},
		{"/about", 200, `id="about-settings"`},
		{"/no/such/page", 404, "Page not found"},
		{"/checkout/9", 302, ""},
		{"/logout", 302, ""},
	} {
		r := b.get(p.path)
		wantStatus(t, r, p.code)
		wantBody(t, r, p.want)
	}
	// Logged in.
	b.login("alice", false)
	b.post("/cart/add", url.Values{"sku": {"mug"}})
	for _, p := range []struct {
		path string
		code int
		want []string
	}{
		{"/", 200, []string{`id="greeting">Hello, Alice!`, `id="product-tote"`, "Added 1 × Gopher mug to your cart."}},
		{"/cart", 200, []string{`id="line-mug"`, `id="cart-total">€12.00`}},
		{"/checkout", 302, nil},
		{"/checkout/1", 200, []string{`id="f-shipping-name"`, "Step 1 of 3"}},
		{"/checkout/3", 302, nil},
		{"/checkout/x", 404, nil},
		{"/preferences", 200, []string{`id="prefs-save"`}},
		{"/logout", 200, []string{`id="keep-cart"`, "Keep my cart (1 item) for next time"}},
		{"/about", 200, []string{`id="about-decoded"`, "_auth_user_id"}},
		{"/login", 200, []string{"You are logged in as Alice."}},
		{"/static/style.css", 200, []string{"--accent"}},
	} {
		r := b.get(p.path)
		wantStatus(t, r, p.code)
		wantBody(t, r, p.want...)
		if strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
			for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options"} {
				if r.Header.Get(h) == "" {
					t.Errorf("%s: no %s header", p.path, h)
				}
			}
		}
	}
}

func TestLoginCyclesKeyAndStoresDjangoAuthKeys(t *testing.T) {
	s, m := newTestShop(t, "")
	b := newBrowser(t, s.Handler())
	b.get("/login")
	before := b.key()
	if before == "" {
		t.Fatal("the login page did not start a session (it needs one for its CSRF token)")
	}
	oldCSRF := stored(t, m, before).Get(csrfSessionKey)
	b.login("bob", false)
	after := b.key()
	if after == "" || after == before {
		t.Fatalf("login kept the session key %q: session fixation", before)
	}
	if ok, _ := m.Exists(context.Background(), before); ok {
		t.Fatal("the pre-login session is still stored")
	}
	sess := stored(t, m, after)
	u, _ := s.userByID("2")
	for k, want := range map[string]any{
		djangoauth.UserIDKey:  "2",
		djangoauth.BackendKey: "django.contrib.auth.backends.ModelBackend",
		djangoauth.HashKey:    djangoauth.SessionAuthHash(u.Password, testSecret),
		sessions.ExpiryKey:    int64(0),
	} {
		if got := sess.Get(k); got != want {
			t.Errorf("%s = %#v, want %#v", k, got, want)
		}
	}
	if got := sess.Get(csrfSessionKey); got == oldCSRF || got == nil {
		t.Error("login did not rotate the CSRF secret")
	}
	// The old token no longer works.
	r := b.do("POST", "/cart/add", strings.NewReader(url.Values{"sku": {"mug"}, csrfFormField: {maskCSRF(oldCSRF.(string))}}.Encode()), "application/x-www-form-urlencoded")
	wantStatus(t, r, http.StatusForbidden)
}

func TestLoginWrongPassword(t *testing.T) {
	s, _ := newTestShop(t, "")
	b := newBrowser(t, s.Handler())
	for _, f := range []url.Values{
		{"username": {"alice"}, "password": {"wrong"}},
		{"username": {"nobody"}, "password": {"wonderland"}},
		{"username": {""}, "password": {""}},
	} {
		r := b.post("/login", f)
		wantStatus(t, r, http.StatusOK)
		wantBody(t, r, `id="login-error"`, "Please enter a correct username and password.")
	}
	wantStatus(t, b.get("/"), http.StatusFound)
}

func TestLoginNextStaysOnSite(t *testing.T) {
	s, _ := newTestShop(t, "")
	b := newBrowser(t, s.Handler())
	b.get("/login")
	for next, want := range map[string]string{
		"/checkout/1":          "/checkout/1",
		"https://evil.example": "/",
		"//evil.example/x":     "/",
		`/\evil.example`:       "/",
		"":                     "/",
	} {
		r := b.post("/login", url.Values{"username": {"alice"}, "password": {"wonderland"}, "next": {next}})
		wantStatus(t, r, http.StatusSeeOther)
		if loc := r.Header.Get("Location"); loc != want {
			t.Errorf("next=%q: Location %q, want %q", next, loc, want)
		}
		b.get("/login")
	}
}

func TestRememberMeCookie(t *testing.T) {
	s, _ := newTestShop(t, "")
	for _, remember := range []bool{false, true} {
		t.Run(fmt.Sprint("remember=", remember), func(t *testing.T) {
			b := newBrowser(t, s.Handler())
			r := b.login("alice", remember)
			c, raw := sessionCookie(r)
			if c == nil {
				t.Fatal("login set no session cookie")
			}
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure {
				t.Errorf("cookie attributes: %s", raw)
			}
			if remember {
				if c.MaxAge != 1209600 || c.Expires.Before(time.Now().Add(13*24*time.Hour)) {
					t.Errorf("remember me: want Max-Age=1209600 and Expires in two weeks: %s", raw)
				}
				wantBody(t, b.get("/"), `id="expiry">on `)
			} else {
				if c.MaxAge != 0 || !c.Expires.IsZero() {
					t.Errorf("no remember me: want a browser-session cookie: %s", raw)
				}
				wantBody(t, b.get("/"), `id="expiry">when you close your browser`)
			}
		})
	}
}

func TestLogoutDeletesCookieAndSession(t *testing.T) {
	s, m := newTestShop(t, "")
	b := newBrowser(t, s.Handler())
	b.login("alice", true)
	b.post("/cart/add", url.Values{"sku": {"tee"}, "qty": {"2"}})
	key := b.key()
	b.get("/logout")
	r := b.post("/logout", url.Values{}) // keep_cart unchecked
	wantStatus(t, r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/login?logged_out=1" {
		t.Errorf("Location %q", loc)
	}
	c, raw := sessionCookie(r)
	if c == nil || c.Value != "" || c.MaxAge >= 0 {
		t.Fatalf("logout did not delete the cookie: %q", raw)
	}
	if ok, _ := m.Exists(context.Background(), key); ok {
		t.Fatal("logout left the session in the store")
	}
	if b.key() != "" {
		t.Fatal("the browser still has a session cookie")
	}
	r = b.get("/login?logged_out=1")
	wantBody(t, r, `id="logged-out"`)
	if strings.Contains(r.body, `id="kept-cart"`) {
		t.Error("the cart survived a logout that did not keep it")
	}
	wantBody(t, b.get("/cart"), `id="cart-empty"`)
}

func TestLogoutKeepsCartWhenAsked(t *testing.T) {
	s, m := newTestShop(t, "")
	b := newBrowser(t, s.Handler())
	b.login("alice", true)
	b.post("/cart/add", url.Values{"sku": {"tee"}, "qty": {"2"}})
	b.post("/cart/add", url.Values{"sku": {"jar"}})
	b.post("/preferences", url.Values{"theme": {"dark"}})
	key := b.key()
	b.get("/logout")
	r := b.post("/logout", url.Values{"keep_cart": {"on"}})
	wantStatus(t, r, http.StatusSeeOther)
	c, raw := sessionCookie(r)
	if c == nil || c.Value == "" || c.Value == key {
		t.Fatalf("keeping the cart needs a new session under a new key: %q", raw)
	}
	if ok, _ := m.Exists(context.Background(), key); ok {
		t.Fatal("the logged-in session is still stored")
	}
	sess := stored(t, m, c.Value)
	if got := sess.Keys(); !slices.Equal(got, []string{cartKey}) {
		t.Errorf("the new session holds %v, want only the cart", got)
	}
	if c := loadCart(sess); c["tee"] != 2 || c["jar"] != 1 || len(c) != 2 {
		t.Errorf("kept cart %v", c)
	}
	wantBody(t, b.get("/login?logged_out=1"), `id="kept-cart"`, "Your cart still holds 3 items")
	// Logging in again takes the kept cart along (cycle_key keeps the data).
	b.login("bob", false)
	wantBody(t, b.get("/cart"), `id="line-tee" data-qty="2"`, `id="line-jar" data-qty="1"`)
}

func TestCSRFRejection(t *testing.T) {
	s, m := newTestShop(t, "")
	b := newBrowser(t, s.Handler())
	b.login("alice", false)
	form := func(token string) io.Reader {
		return strings.NewReader(url.Values{"sku": {"mug"}, csrfFormField: {token}}.Encode())
	}
	other := newBrowser(t, s.Handler())
	other.get("/login")
	for name, body := range map[string]io.Reader{
		"no token":              strings.NewReader("sku=mug"),
		"malformed token":       form("x"),
		"another session token": form(other.token),
		"bare other secret":     form(stored(t, m, other.key()).Get(csrfSessionKey).(string)),
	} {
		r := b.do("POST", "/cart/add", body, "application/x-www-form-urlencoded")
		if r.StatusCode != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", name, r.StatusCode)
		}
		if !strings.Contains(r.body, "CSRF verification failed") {
			t.Errorf("%s: body lacks Django's message", name)
		}
	}
	if c := loadCart(stored(t, m, b.key())); len(c) != 0 {
		t.Fatalf("a rejected post changed the cart: %v", c)
	}
	// A visitor without a session has no secret at all.
	fresh := newBrowser(t, s.Handler())
	r := fresh.do("POST", "/login", strings.NewReader("username=alice&password=wonderland"), "application/x-www-form-urlencoded")
	wantStatus(t, r, http.StatusForbidden)
	wantBody(t, r, reasonNoCSRFCookie)
	// The header works as in Django, and so does the bare secret.
	secret := stored(t, m, b.key()).Get(csrfSessionKey).(string)
	req := strings.NewReader("sku=mug")
	r = func() *response {
		rq := httptest.NewRequest("POST", "http://shop.test/cart/add", req)
		rq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rq.Header.Set(csrfHeader, maskCSRF(secret))
		for _, c := range b.jar.Cookies(b.base) {
			rq.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, rq)
		res := rec.Result()
		res.Request = rq
		return &response{Response: res, body: rec.Body.String()}
	}()
	wantStatus(t, r, http.StatusSeeOther)
	wantStatus(t, b.do("POST", "/cart/add", form(secret), "application/x-www-form-urlencoded"), http.StatusSeeOther)
	if c := loadCart(stored(t, m, b.key())); c["mug"] != 2 {
		t.Fatalf("cart %v, want 2 mugs", c)
	}
}

func TestCSRFMaskRoundTrip(t *testing.T) {
	// A secret as Django draws it, upper case included.
	secret := "kT9xQ2mZ4vB7nR1pL8wC3yH6jD5fG0sA"
	if !validCSRF(secret, csrfSecretLength) {
		t.Fatal("the Django-style secret is not valid")
	}
	seen := map[string]bool{}
	for range 50 {
		tok := maskCSRF(secret)
		if !validCSRF(tok, csrfTokenLength) || unmaskCSRF(tok) != secret || !csrfMatches(tok, secret) {
			t.Fatalf("mask round trip failed: %q", tok)
		}
		seen[tok] = true
	}
	if len(seen) < 50 {
		t.Fatal("masked tokens repeat")
	}
	if csrfMatches(maskCSRF(newCSRFString()), secret) {
		t.Fatal("another secret's token matched")
	}
	// The demo's own secrets (session keys) mask and match as well.
	own := newCSRFString()
	if !validCSRF(own, csrfSecretLength) || own == newCSRFString() || !csrfMatches(maskCSRF(own), own) {
		t.Fatalf("new CSRF secret %q", own)
	}
	// A vector from Django: _mask_cipher_secret with a fixed mask.
	mask := strings.Repeat("a", 32)
	if got := unmaskCSRF(mask + secret); got != secret {
		t.Fatalf("mask of a's must be the identity: %q", got)
	}
}

func TestCart(t *testing.T) {
	s, m := newTestShop(t, "")
	b := newBrowser(t, s.Handler())
	b.login("alice", false)
	add := func(sku, qty string) *response {
		return b.post("/cart/add", url.Values{"sku": {sku}, "qty": {qty}, "next": {"/cart"}})
	}
	wantStatus(t, add("mug", "2"), http.StatusSeeOther)
	add("mug", "1")
	add("notebook", "")
	r := b.get("/cart")
	wantBody(t, r, `id="line-mug" data-qty="3"`, `id="line-notebook" data-qty="1"`, `id="cart-total">€44.50`, `id="cart-count">4<`)
	wantStatus(t, add("unicorn", "1"), http.StatusBadRequest)
	wantStatus(t, add("mug", "0"), http.StatusBadRequest)
	wantStatus(t, add("mug", "100"), http.StatusBadRequest)
	add("mug", "99")
	if c := loadCart(stored(t, m, b.key())); c["mug"] != maxQty {
		t.Errorf("quantity not capped: %v", c)
	}
	b.post("/cart/update", url.Values{"sku": {"mug"}, "qty": {"5"}})
	b.post("/cart/update", url.Values{"sku": {"notebook"}, "qty": {"0"}})
	r = b.get("/cart")
	wantBody(t, r, `id="line-mug" data-qty="5"`, "Removed Notebook from your cart.")
	if strings.Contains(r.body, `id="line-notebook"`) {
		t.Error("removed line still shown")
	}
	// Stored as Django would: a dict of SKU to int.
	raw, _ := m.Backend().(sessions.Engine).Load(context.Background(), b.key())
	d, err := m.Codec().Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := d.Get(cartKey); fmt.Sprint(v) != "map[mug:5]" {
		t.Errorf("stored cart %#v", v)
	}
	b.post("/cart/update", url.Values{"sku": {"mug"}, "qty": {"0"}})
	if stored(t, m, b.key()).Has(cartKey) {
		t.Error("an empty cart is still stored")
	}
}

func TestCheckoutWizard(t *testing.T) {
	s, m := newTestShop(t, "")
	b := newBrowser(t, s.Handler())
	b.login("alice", false)
	b.post("/cart/add", url.Values{"sku": {"tote"}, "qty": {"2"}})
	step := func(n int, nav string, f url.Values) *response {
		f = cloneValues(f)
		f.Set("nav", nav)
		return b.post(fmt.Sprintf("/checkout/%d", n), f)
	}
	shipping := url.Values{"name": {"Alice Liddell"}, "street": {"1 Rabbit Hole"}, "postcode": {"OX1 1AA"}, "city": {"Oxford"}, "country": {"GB"}}

	// Steps not reached yet are out of reach.
	if r := b.get("/checkout/3"); r.StatusCode != http.StatusFound || r.Header.Get("Location") != "/checkout/1" {
		t.Fatalf("step 3 before step 1: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	// An incomplete step is kept but not left.
	partial := url.Values{"name": {"Alice Liddell"}, "country": {"GB"}}
	r := step(1, "next", partial)
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "This field is required.", `value="Alice Liddell"`)
	r = step(1, "next", shipping)
	wantStatus(t, r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/checkout/2" {
		t.Fatalf("Location %q", loc)
	}
	// Answers survive going back and forth, whichever button.
	step(2, "back", url.Values{"method": {"express"}, "note": {"Ring twice"}})
	r = b.get("/checkout/1")
	wantBody(t, r, `id="f-shipping-city" value="Oxford"`, `<option value="GB" selected>`)
	r = b.get("/checkout/2")
	wantBody(t, r, `id="f-delivery-method-express" checked`, ">Ring twice</textarea>")
	wantStatus(t, b.get("/checkout"), http.StatusFound) // resumes
	step(2, "next", url.Values{"method": {"express"}, "gift": {"on"}, "note": {"Ring twice"}})
	r = b.get("/checkout/3")
	wantBody(t, r, `id="summary-address">Alice Liddell<br>1 Rabbit Hole<br>OX1 1AA Oxford<br>United Kingdom`, "Express, next day, gift-wrapped", `id="checkout-total">€39.90`)
	// Stored in the session as plain JSON.
	st, ok := loadCheckout(stored(t, m, b.key()))
	if !ok || st.Step != 3 || st.Furthest != 3 || st.Answers["delivery"]["gift"] != "yes" || st.Answers["shipping"]["city"] != "Oxford" {
		t.Fatalf("stored checkout %+v", st)
	}
	// Invalid e-mail, then place the order.
	r = step(3, "place", url.Values{"method": {"card"}, "email": {"not an address"}})
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "Enter a valid email address.")
	r = step(3, "place", url.Values{"method": {"card"}, "email": {"alice@example.com"}})
	wantStatus(t, r, http.StatusSeeOther)
	r = b.get("/")
	wantBody(t, r, "Thank you! Order SK-", `id="last-order"`, `id="cart-count">0<`)
	sess := stored(t, m, b.key())
	if sess.Has(cartKey) || sess.Has(checkoutKey) {
		t.Fatalf("checkout did not empty the cart and the form: %v", sess.Keys())
	}
	// With an empty cart, placing an order is refused.
	for n, f := range []url.Values{shipping, {"method": {"pickup"}}, {"method": {"card"}, "email": {"a@example.com"}}} {
		nav := "next"
		if n == 2 {
			nav = "place"
		}
		step(n+1, nav, f)
	}
	wantBody(t, b.get("/cart"), "Your cart is empty.")
	wantStatus(t, step(1, "sideways", shipping), http.StatusBadRequest)
}

func TestPreferences(t *testing.T) {
	s, m := newTestShop(t, "")
	b := newBrowser(t, s.Handler())
	b.lang = "de-CH,de;q=0.9,en;q=0.5"
	r := b.get("/login")
	wantBody(t, r, `<html lang="de" data-theme="light">`, "Warenkorb")
	b.login("chloe", false)
	r = b.post("/preferences", url.Values{"theme": {"dark"}, "next": {"/cart"}})
	if r.Header.Get("Location") != "/cart" {
		t.Fatalf("the theme switch did not go back: %q", r.Header.Get("Location"))
	}
	r = b.post("/preferences", url.Values{"language": {"fr"}, "next": {"https://evil.example/"}})
	if r.Header.Get("Location") != "/preferences" {
		t.Fatalf("an off-site next was followed: %q", r.Header.Get("Location"))
	}
	for _, p := range []string{"/", "/cart", "/checkout/1", "/preferences", "/about", "/logout", "/nope"} {
		r := b.get(p)
		wantBody(t, r, `<html lang="fr" data-theme="dark">`, ">Panier <span")
	}
	sess := stored(t, m, b.key())
	if sess.Get(themeKey) != "dark" || sess.Get(languageKey) != "fr" {
		t.Fatalf("stored preferences: %v %v", sess.Get(themeKey), sess.Get(languageKey))
	}
	wantStatus(t, b.post("/preferences", url.Values{"theme": {"purple"}}), http.StatusBadRequest)
	wantStatus(t, b.post("/preferences", url.Values{"language": {"xx"}}), http.StatusBadRequest)
	r = b.post("/preferences", url.Values{"theme": {"light"}, "language": {"de"}})
	wantStatus(t, r, http.StatusSeeOther)
	wantBody(t, b.get("/preferences"), "Einstellungen gespeichert.", `id="theme-light" checked`, `id="language-de" checked`)
}

func TestAboutShowsStoredSession(t *testing.T) {
	for _, config := range []string{"sqlite:" + filepath.Join(t.TempDir(), "s.sqlite3") + "?create_table=true", "signed-cookies:"} {
		t.Run(strings.SplitN(config, ":", 2)[0], func(t *testing.T) {
			s, m := newTestShop(t, config)
			b := newBrowser(t, s.Handler())
			b.login("alice", true)
			b.post("/cart/add", url.Values{"sku": {"jar"}})
			b.get("/")
			r := b.get("/about")
			wantStatus(t, r, http.StatusOK)
			wantBody(t, r, `id="about-engine"><b>`+m.Describe().Name+`</b>`, "SESSION_COOKIE_AGE", "1209600", `&#34;Lax&#34;`,
				`&#34;_auth_user_id&#34;: &#34;1&#34;`, `&#34;cart&#34;: {`, `&#34;jar&#34;: 1`, `id="about-at-close"><code>False`)
			raw := regexp.MustCompile(`id="about-raw">([^<]+)<`).FindStringSubmatch(r.body)
			if raw == nil {
				t.Fatal("no raw stored string")
			}
			var want string
			if config == "signed-cookies:" {
				want = b.key()
			} else {
				b, err := m.Backend().(sessions.Engine).Load(context.Background(), b.key())
				if err != nil {
					t.Fatal(err)
				}
				want = string(b)
			}
			if raw[1] != want {
				t.Errorf("raw %q, want what the store holds, %q", raw[1], want)
			}
			if strings.Count(want, ":") != 2 {
				t.Errorf("stored data %q is not Django's signed format", want)
			}
		})
	}
}

func TestDebugAPI(t *testing.T) {
	s, m := newTestShop(t, "")
	b := newBrowser(t, s.Handler())
	r := b.get("/api/session")
	wantStatus(t, r, http.StatusOK)
	if r.body != `{"data": {}, "expiry_age": 1209600}`+"\n" || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET on no session: %q", r.body)
	}
	if b.key() != "" {
		t.Fatal("reading the API created a session")
	}
	r = b.do("POST", "/api/session", strings.NewReader(`{"zeta": 1, "alpha": [1, 2.5, "x"], "nested": {"b": true, "a": null}, "café": "crème"}`), "application/json")
	wantStatus(t, r, http.StatusOK)
	want := `{"data": {"zeta":1,"alpha":[1,2.5,"x"],"nested":{"a":null,"b":true},"caf\u00e9":"cr\u00e8me"}, "expiry_age": 1209600}` + "\n"
	if r.body != want {
		t.Fatalf("POST: got\n%s\nwant\n%s", r.body, want)
	}
	var parsed struct {
		Data      map[string]any `json:"data"`
		ExpiryAge int            `json:"expiry_age"`
	}
	if err := json.Unmarshal([]byte(r.body), &parsed); err != nil || parsed.Data["café"] != "crème" {
		t.Fatalf("not JSON: %v", err)
	}
	key := b.key()
	if got := stored(t, m, key).Keys(); !slices.Equal(got, []string{"zeta", "alpha", "nested", "café"}) {
		t.Fatalf("stored keys %v", got)
	}
	b.do("POST", "/api/session", strings.NewReader(`{"_session_expiry": 60}`), "application/json")
	r = b.get("/api/session")
	wantBody(t, r, `"expiry_age": 60}`)
	// Only JSON: a foreign form cannot post here.
	wantStatus(t, b.do("POST", "/api/session", strings.NewReader("a=1"), "application/x-www-form-urlencoded"), http.StatusUnsupportedMediaType)
	wantStatus(t, b.do("POST", "/api/session", strings.NewReader(`[1]`), "application/json"), http.StatusBadRequest)
	wantStatus(t, b.do("POST", "/api/session", strings.NewReader(`{"a":`), "application/json"), http.StatusBadRequest)
	r = b.do("DELETE", "/api/session", nil, "")
	wantStatus(t, r, http.StatusOK)
	if r.body != `{"data": {}, "expiry_age": 1209600}`+"\n" {
		t.Fatalf("DELETE: %q", r.body)
	}
	if c, _ := sessionCookie(r); c == nil || c.MaxAge >= 0 {
		t.Fatal("DELETE did not delete the cookie")
	}
	if ok, _ := m.Exists(context.Background(), key); ok {
		t.Fatal("DELETE left the session stored")
	}

	// Off by default.
	m2, _ := sessions.Open(context.Background(), "memory:", testSettings())
	defer m2.Close()
	off, _ := newShop(m2, shopOptions{Users: testUsers})
	wantStatus(t, newBrowser(t, off.Handler()).get("/api/session"), http.StatusNotFound)
}

func TestMessagesStoredAsDjangoDoes(t *testing.T) {
	s, m := newTestShop(t, "")
	b := newBrowser(t, s.Handler())
	b.login("alice", false)
	b.get("/")
	b.post("/cart/add", url.Values{"sku": {"mug"}})
	got, _ := stored(t, m, b.key()).Get(messagesKey).(string)
	// Django's SessionStorage bytes: MessageEncoder with the default
	// separators and ensure_ascii, extra_tags "" as add_message gives it.
	if got != `[["__json_message", 0, 25, "Added 1 \u00d7 Gopher mug to your cart.", ""]]` {
		t.Fatalf("_messages = %q", got)
	}
	b.get("/cart")
	if stored(t, m, b.key()).Has(messagesKey) {
		t.Fatal("shown messages are still stored")
	}
}

// Messages a Django view left (extra_tags None, a mark_safe text) show on
// the next page with their level's class; plain text stays escaped.
func TestShowsMessagesDjangoAdded(t *testing.T) {
	s, m := newTestShop(t, "")
	b := newBrowser(t, s.Handler())
	b.login("alice", false)
	b.get("/")
	sess := stored(t, m, b.key())
	sess.Set(messagesKey, `[["__json_message", 1, 30, "<b>Django</b> says hi"], ["__json_message", 0, 40, "<i>not html</i>", ""]]`)
	if err := sess.Save(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := b.get("/cart")
	for _, want := range []string{
		`<div class="flash flash-warning" role="status"><b>Django</b> says hi</div>`,
		`<div class="flash flash-error" role="status">&lt;i&gt;not html&lt;/i&gt;</div>`,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if stored(t, m, b.key()).Has(messagesKey) {
		t.Fatal("shown messages are still stored")
	}
}

func TestStalePasswordHashLogsOut(t *testing.T) {
	s, m := newTestShop(t, "")
	b := newBrowser(t, s.Handler())
	b.login("alice", false)
	// The password changes (as after a password reset elsewhere).
	s.users = slices.Clone(s.users)
	s.users[0].Password = makePassword("new password", "othersalt", 100)
	r := b.get("/")
	wantStatus(t, r, http.StatusFound)
	if ok, _ := m.Exists(context.Background(), b.key()); ok {
		t.Fatal("a session with a stale hash is still stored")
	}
}

func TestDemoUsersPasswords(t *testing.T) {
	for _, u := range demoUsers {
		t.Run(u.Username, func(t *testing.T) {
			t.Parallel()
			if !strings.HasPrefix(u.Password, "pbkdf2_sha256$600000$") {
				t.Fatalf("hash %q is not Django's default", u.Password)
			}
			if !checkPassword(u.Plain, u.Password) {
				t.Fatalf("the password shown for %s does not match its hash", u.Username)
			}
		})
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/cart": "/cart", "/checkout/2?x=1": "/checkout/2?x=1", "": "/d", "cart": "/d",
		"//evil": "/d", `/\evil`: "/d", "https://evil/": "/d", "/a\r\nSet-Cookie: x": "/d",
	} {
		if got := safeNext(in, "/d"); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPickLanguage(t *testing.T) {
	for in, want := range map[string]string{
		"": "en", "fr": "fr", "de-DE,de;q=0.9": "de", "es,fr;q=0.5,de;q=0.8": "de", "en-GB;q=0.1,fr;q=0": "en", "*": "en",
	} {
		if got := pickLanguage(in); got != want {
			t.Errorf("pickLanguage(%q) = %q, want %q", in, got, want)
		}
	}
}

// Every text the templates and handlers translate has a French and a
// German translation.
func TestTranslationsComplete(t *testing.T) {
	var keys []string
	re := regexp.MustCompile(`\.(?:T|Tf) "((?:[^"\\]|\\.)*)"|\.Plural \S+ "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"`)
	files, _ := templateFS.ReadDir("templates")
	for _, f := range files {
		b, _ := templateFS.ReadFile("templates/" + f.Name())
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			for _, k := range m[1:] {
				if k != "" {
					keys = append(keys, k)
				}
			}
		}
	}
	for _, p := range catalog {
		keys = append(keys, p.Name, p.Blurb)
	}
	for _, st := range checkoutSteps {
		keys = append(keys, st.Title)
		for _, f := range st.Fields {
			keys = append(keys, f.Label)
			for _, o := range f.Options {
				keys = append(keys, o.Label)
			}
		}
	}
	keys = append(keys, "Shop", "Log in", "Log out", "Cart", "Checkout", "Preferences", "About",
		"Please enter a correct username and password.", "This field is required.", "Select a valid choice.",
		"Enter a valid email address.", "Welcome, %s!", "Added %d × %s to your cart.", "Removed %s from your cart.",
		"Preferences saved.", "Thank you! Order %s is on its way.", "Please complete the step “%s”.",
		"when you close your browser", "on %s (in %s)", "%d days", "%d hours", "%d minutes", "%d seconds",
		"Forbidden", "CSRF verification failed. Request aborted.", "Page not found", "There is nothing at this address.",
		"Bad request", "the cookie's value", "session_data as stored",
		"Devices", "Your devices", "Unknown browser", "unknown", "That session had already ended.",
		"The session was ended: that device is logged out.", "Logged out %d other device.", "Logged out %d other devices.")
	for _, lang := range []string{"fr", "de"} {
		for _, k := range keys {
			if _, ok := translations[lang][k]; !ok {
				t.Errorf("%s: no translation of %q", lang, k)
			}
		}
	}
}

func TestAboutHelpers(t *testing.T) {
	st := testSettings()
	st.Engine = "redis://:hunter2@127.0.0.1:6379/0"
	for _, row := range cookieSettings(st) {
		if strings.Contains(row.Value, "hunter2") {
			t.Fatalf("%s shows a password: %s", row.Name, row.Value)
		}
	}
	got := hexDump([]byte("\x80\x04\x95hello, pickle!\x00\x01"), 512)
	want := "00000000: 8004 9568 656c 6c6f 2c20 7069 636b 6c65  ...hello, pickle\n00000010: 2100 01                                  !.."
	if got != want {
		t.Fatalf("hexDump:\n%s\nwant\n%s", got, want)
	}
	if got := hexDump(make([]byte, 40), 16); !strings.HasSuffix(got, "… 24 more bytes") {
		t.Fatalf("hexDump limit: %q", got)
	}
}

// After a form post, the header's switches go back to a page, never to
// the address of the post.
func TestSwitchesGoBackToAPage(t *testing.T) {
	s, _ := newTestShop(t, "")
	b := newBrowser(t, s.Handler())
	b.login("alice", false)
	next := regexp.MustCompile(`name="next" value="([^"]*)"`)
	r := b.post("/cart/add", url.Values{"sku": {"nope"}})
	wantStatus(t, r, http.StatusBadRequest)
	if m := next.FindStringSubmatch(r.body); m == nil || m[1] != "/" {
		t.Errorf("after a failed POST /cart/add: next %v", m)
	}
	r = b.post("/checkout/1", url.Values{"nav": {"next"}})
	wantStatus(t, r, http.StatusOK)
	if m := next.FindStringSubmatch(r.body); m == nil || m[1] != "/checkout/1" {
		t.Errorf("after an invalid checkout step: next %v", m)
	}
}
