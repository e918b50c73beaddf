//go:build linux

package browser

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/internal/syncbuf"
	"github.com/sessionkit/sessions/internal/testservers"
)

// The browser test drives the real demo, built with go build and run as a
// child process, from headless Chromium: it logs in, fills the cart, walks
// the checkout back and forth, switches theme and language, restarts the
// demo (same data directory, same generated secret key) and finds all of
// it still there, then logs out keeping the cart and logs out dropping it.
// It checks the session cookie as the browser keeps it. Screenshots of the
// main pages go to $SESSIONS_ARTIFACTS/<engine>/ (default: a temp dir).
//
// Without Chromium the test is skipped, unless SESSIONS_REQUIRE_SERVERS=1.

// chromiumPath returns the Chromium binary, or skips (or fails) the test.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/lib/chromium/chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if testservers.Require() {
		t.Fatalf("no Chromium found (%s=1); scripts/install-deps.sh installs it", testservers.RequireEnv)
	}
	t.Skipf("no Chromium found; install Debian's chromium (scripts/install-deps.sh), or set %s=1 to fail instead", testservers.RequireEnv)
	return ""
}

// buildDemo builds the demo (cmd/sessions) into dir with the root
// module's own go.mod, as "go install" and "go run ./cmd/sessions" build
// it, and returns the binary's path.
func buildDemo(t *testing.T, dir string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the demo: %v", err)
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "cmd", "sessions", "main.go")); err != nil {
		t.Fatalf("the demo's source is not at ../../cmd/sessions: %v", err)
	}
	bin := filepath.Join(dir, "sessions")
	cmd := exec.Command(goBin, "build", "-o", bin, "./cmd/sessions")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// demoEngines returns the engine schemes and aliases compiled into the
// demo binary (sessions engines --json).
func demoEngines(t *testing.T, bin string) map[string]bool {
	t.Helper()
	out, err := exec.Command(bin, "engines", "--json").Output()
	if err != nil {
		t.Fatalf("%s engines --json: %v", bin, err)
	}
	var list []struct {
		Scheme  string   `json:"scheme"`
		Aliases []string `json:"aliases"`
	}
	if err := json.Unmarshal(out, &list); err != nil {
		t.Fatalf("%s engines --json: %v\n%s", bin, err, out)
	}
	names := make(map[string]bool)
	for _, e := range list {
		names[e.Scheme] = true
		for _, a := range e.Aliases {
			names[a] = true
		}
	}
	return names
}

// secretFileName is where the demo keeps the secret key it generates in
// its data directory (cmd/sessions/demo.go).
const secretFileName = "secret_key"

// demoProcess is a running "sessions demo".
type demoProcess struct {
	cmd  *exec.Cmd
	url  string
	out  *syncbuf.Buffer
	done chan error
}

// startDemo runs the demo binary with args and waits until it listens.
// SECRET_KEY and the SESSION_* variables are removed from its
// environment, so the demo makes and keeps its own secret.
func startDemo(t *testing.T, bin string, args ...string) *demoProcess {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"demo"}, args...)...)
	for _, e := range os.Environ() {
		name, _, _ := strings.Cut(e, "=")
		if !strings.HasPrefix(name, "SESSION_") && name != "SECRET_KEY" && name != "SECRET_KEY_FALLBACKS" && name != "DATABASE_URL" {
			cmd.Env = append(cmd.Env, e)
		}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	d := &demoProcess{cmd: cmd, out: &syncbuf.Buffer{}, done: make(chan error, 1)}
	pr, pw := io.Pipe()
	cmd.Stdout = io.MultiWriter(d.out, pw)
	cmd.Stderr = d.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := cmd.Wait()
		pw.Close()
		d.done <- err
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-d.done
		}
		if t.Failed() {
			t.Logf("demo output:\n%s", d.out.String())
		}
	})
	urlRE := regexp.MustCompile(`^\s*URL:\s+(http://\S+)`)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := urlRE.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case d.url = <-found:
	case err := <-d.done:
		d.done <- err
		t.Fatalf("the demo exited before listening: %v\n%s", err, d.out.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("the demo did not start in 30s:\n%s", d.out.String())
	}
	return d
}

// stop stops the demo with SIGTERM and checks it shuts down cleanly.
func (d *demoProcess) stop(t *testing.T) {
	t.Helper()
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		if err != nil {
			t.Fatalf("the demo exited with %v after SIGTERM:\n%s", err, d.out.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("the demo did not stop within 15s of SIGTERM")
	}
	if !strings.Contains(d.out.String(), "Stopped.") {
		t.Fatalf("no graceful shutdown:\n%s", d.out.String())
	}
}

// tab drives one browser tab against the demo.
type tab struct {
	t     *testing.T
	ctx   context.Context
	base  string // http://127.0.0.1:port (no slash)
	shots string
}

func (b *tab) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v (page %s)", what, err, b.location())
	}
}

func (b *tab) location() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	return loc
}

// open navigates to path and returns the path the browser ends on.
func (b *tab) open(path string) string {
	b.t.Helper()
	b.run("open "+path, chromedp.Navigate(b.base+path))
	return strings.TrimPrefix(b.location(), b.base)
}

// submit clicks a button that submits a form and waits for the next page.
func (b *tab) submit(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.WaitEvent(cdppage.LoadEventFired, nil, chromedp.Click(chromedp.CSS(sel))))
	if err != nil {
		b.t.Fatalf("click %s: %v (page %s)", sel, err, b.location())
	}
	return strings.TrimPrefix(b.location(), b.base)
}

func (b *tab) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v (page %s)", sel, err, b.location())
	}
	return strings.TrimSpace(s)
}

// eval evaluates a JavaScript expression in the page (only the test runs
// script: the shop has none and its CSP allows none).
func eval[T any](b *tab, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("eval %s: %v", expr, err)
	}
	return v
}

func (b *tab) has(sel string) bool {
	return eval[bool](b, fmt.Sprintf("document.querySelector(%q) !== null", sel))
}

func (b *tab) fill(fields map[string]string) {
	b.t.Helper()
	for sel, v := range fields {
		b.run("fill "+sel, chromedp.SetValue(chromedp.CSS(sel), v))
	}
}

func (b *tab) wantText(sel, want string) {
	b.t.Helper()
	if got := b.text(sel); !strings.Contains(got, want) {
		b.t.Fatalf("%s on %s: %q, want %q", sel, b.location(), got, want)
	}
}

func (b *tab) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// sessionCookie returns the session cookie as the browser keeps it.
func (b *tab) sessionCookie() *network.Cookie {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{b.base + "/"}})
	if err != nil {
		b.t.Fatalf("GetCookies: %v", err)
	}
	for _, c := range res.Cookies {
		if c.Name == "sessionid" {
			return c
		}
	}
	return nil
}

// login fills in the login form.
func (b *tab) login(username, password string, remember bool) string {
	b.t.Helper()
	if p := b.open("/login"); !strings.HasPrefix(p, "/login") {
		b.t.Fatalf("login page: ended on %s", p)
	}
	b.fill(map[string]string{"#username": username, "#password": password})
	if eval[bool](b, "document.querySelector('#remember').checked") != remember {
		b.run("remember me", chromedp.Click(chromedp.CSS("#remember")))
	}
	return b.submit("#login-submit")
}

func (b *tab) cartCount() int {
	n, err := strconv.Atoi(b.text("#cart-count"))
	if err != nil {
		b.t.Fatal(err)
	}
	return n
}

// browserEngine is one engine the browser test runs the demo on.
type browserEngine struct {
	name       string
	args       func(t *testing.T, dataDir string) []string // the demo's engine flags
	persistent bool                                        // survives a restart of the demo
	scheme     string                                      // the registered scheme it needs
}

func browserEngines() []browserEngine {
	return []browserEngine{
		{name: "sqlite", persistent: true, scheme: "sqlite", args: func(*testing.T, string) []string { return nil }}, // the default
		{name: "file", persistent: true, scheme: "file", args: func(*testing.T, string) []string { return []string{"--engine", "file"} }},
		{name: "bolt", persistent: true, scheme: "bolt", args: func(t *testing.T, dir string) []string {
			return []string{"--engine", "bolt://" + filepath.Join(dir, "sessions.db")}
		}},
		{name: "signed-cookies", persistent: true, scheme: "signed-cookies", args: func(*testing.T, string) []string {
			return []string{"--engine", "signed_cookies"}
		}},
		{name: "memory", scheme: "memory", args: func(*testing.T, string) []string { return []string{"--engine", "memory:"} }},
		{name: "redis", persistent: true, scheme: "redis", args: func(t *testing.T, _ string) []string {
			return []string{"--engine", testservers.StartRedis(t).URL()}
		}},
		{name: "memcached", persistent: true, scheme: "memcached", args: func(t *testing.T, _ string) []string {
			return []string{"--engine", "memcached://" + testservers.StartMemcached(t).Addr}
		}},
		{name: "cached-db", persistent: true, scheme: "cached-db", args: func(t *testing.T, dir string) []string {
			db := "sqlite://" + filepath.Join(dir, "cached.sqlite3") + "?create_table=true"
			return []string{"--engine", "cached-db:?cache=" + url.QueryEscape(testservers.StartRedis(t).URL()) + "&db=" + url.QueryEscape(db)}
		}},
	}
}

func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("the browser test is not short")
	}
	chromium := chromiumPath(t)
	bin := buildDemo(t, t.TempDir())
	engines := demoEngines(t, bin)
	artifacts := os.Getenv("SESSIONS_ARTIFACTS")
	if artifacts == "" {
		artifacts = t.TempDir()
	}
	for _, e := range browserEngines() {
		t.Run(e.name, func(t *testing.T) {
			if !engines[e.scheme] {
				t.Fatalf("the %s engine is not in the demo: cmd/sessions imports all/, which must import it", e.scheme)
			}
			shots := filepath.Join(artifacts, e.name)
			if err := os.MkdirAll(shots, 0o755); err != nil {
				t.Fatal(err)
			}
			browserFlow(t, chromium, bin, shots, e)
		})
	}
}

func browserFlow(t *testing.T, chromium, bin, shots string, e browserEngine) {
	dataDir := filepath.Join(t.TempDir(), "demo-data")
	addr := "127.0.0.1:" + strconv.Itoa(testservers.FreePort(t))
	args := append([]string{"--addr", addr, "--data-dir", dataDir}, e.args(t, dataDir)...)
	demo := startDemo(t, bin, args...)
	if !strings.Contains(demo.out.String(), "generated one and saved it in "+filepath.Join(dataDir, secretFileName)) {
		t.Errorf("the start-up message does not say where the new secret key went:\n%s", demo.out.String())
	}

	tmp := t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox,
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(filepath.Join(tmp, "profile")), // kept across browser restarts
		chromedp.Env("TMPDIR="+tmp),
	)
	// launch starts Chromium on the profile; the returned func closes it
	// gracefully, so that it writes its persistent cookies to disk.
	launch := func() (context.Context, func()) {
		allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancelCtx := chromedp.NewContext(allocCtx)
		if err := chromedp.Do(ctx); err != nil { // no timeout: it would bind the browser's life
			cancelCtx()
			cancelAlloc()
			t.Fatalf("starting Chromium: %v", err)
		}
		return ctx, func() {
			chromedp.Cancel(ctx)
			cancelCtx()
			cancelAlloc()
		}
	}
	ctx, closeBrowser := launch()
	t.Cleanup(func() { closeBrowser() })
	b := &tab{t: t, ctx: ctx, base: strings.TrimSuffix(demo.url, "/"), shots: shots}
	restartBrowser := func() {
		closeBrowser()
		b.ctx, closeBrowser = launch()
	}

	// Anonymous: the shop sends us to the login page.
	if p := b.open("/"); p != "/login?next=%2F" {
		t.Fatalf("anonymous home: ended on %s, want the login page", p)
	}
	b.screenshot("login")

	// Log in without "remember me": a cookie for this browser session.
	if p := b.login("alice", "wonderland", false); p != "/" {
		t.Fatalf("after login: %s", p)
	}
	b.wantText("#greeting", "Hello, Alice!")
	c := b.sessionCookie()
	if c == nil || !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax || !c.Session || c.Expires != -1 || c.Path != "/" || c.Secure {
		t.Fatalf("session cookie after login without remember me: %+v", c)
	}
	if eval[string](b, "document.cookie") != "" {
		t.Fatal("the page's script can read the session cookie")
	}
	b.wantText("#expiry", "when you close your browser")

	// Closing the browser ends that session: the shop asks to log in again.
	restartBrowser()
	if p := b.open("/"); p != "/login?next=%2F" {
		t.Fatalf("after a browser restart the browser-session login survived: %s", p)
	}
	if p := b.login("alice", "wonderland", false); p != "/" {
		t.Fatalf("after login: %s", p)
	}

	// Fill the cart.
	b.fill(map[string]string{"#product-mug input.qty": "2"})
	b.submit("#add-mug")
	b.submit("#add-tote")
	b.submit("#add-stickers")
	if n := b.cartCount(); n != 4 {
		t.Fatalf("cart count %d, want 4", n)
	}
	b.screenshot("home")
	b.open("/cart")
	b.fill(map[string]string{"#qty-stickers": "3"})
	b.submit("#update-stickers")
	b.submit("#remove-tote")
	b.wantText("#cart-total", "€36.00")
	b.open("/")
	b.submit("#add-tote")
	b.open("/cart")
	b.wantText("#cart-total", "€51.00")
	b.screenshot("cart")

	// The checkout: answers survive going back and forth.
	if p := b.open("/checkout"); p != "/checkout/1" {
		t.Fatalf("checkout starts on %s", p)
	}
	b.fill(map[string]string{
		"#f-shipping-name": "Alice Liddell", "#f-shipping-street": "1 Rabbit Hole",
		"#f-shipping-postcode": "OX1 1AA", "#f-shipping-city": "Oxford", "#f-shipping-country": "GB",
	})
	if p := b.submit("#nav-next"); p != "/checkout/2" {
		t.Fatalf("after step 1: %s", p)
	}
	b.run("choose express", chromedp.Click(chromedp.CSS("#f-delivery-method-express")))
	b.fill(map[string]string{"#f-delivery-note": "Ring twice"})
	if p := b.submit("#nav-back"); p != "/checkout/1" {
		t.Fatalf("back from step 2: %s", p)
	}
	if v := eval[string](b, "document.querySelector('#f-shipping-city').value"); v != "Oxford" {
		t.Fatalf("step 1 after going back: city %q", v)
	}
	b.submit("#nav-next")
	wantStep2 := func() {
		t.Helper()
		if !eval[bool](b, "document.querySelector('#f-delivery-method-express').checked") {
			t.Fatal("step 2 lost the delivery method")
		}
		if v := eval[string](b, "document.querySelector('#f-delivery-note').value"); v != "Ring twice" {
			t.Fatalf("step 2 lost the note: %q", v)
		}
	}
	wantStep2()
	b.run("gift", chromedp.Click(chromedp.CSS("#f-delivery-gift")))
	if p := b.submit("#nav-next"); p != "/checkout/3" {
		t.Fatalf("after step 2: %s", p)
	}
	b.fill(map[string]string{"#f-payment-email": "alice@example.com"})
	b.run("invoice", chromedp.Click(chromedp.CSS("#f-payment-method-invoice")))
	b.submit("#nav-back")
	b.open("/checkout/3")
	b.wantText("#summary-delivery", "Express, next day, gift-wrapped")
	b.screenshot("checkout")

	// Theme and language, applied to every page.
	b.submit("#theme-toggle")
	if th := eval[string](b, "document.documentElement.dataset.theme"); th != "dark" {
		t.Fatalf("theme %q after the switch", th)
	}
	b.submit("#lang-fr")
	b.open("/")
	if l := eval[string](b, "document.documentElement.lang"); l != "fr" {
		t.Fatalf("language %q after the switch", l)
	}
	b.wantText("#greeting", "Bonjour, Alice !")
	b.screenshot("home-dark-fr")
	b.open("/about")
	for _, want := range []string{`"_auth_user_id": "1"`, `"_auth_user_backend": "django.contrib.auth.backends.ModelBackend"`, `"theme": "dark"`, `"_language": "fr"`, `"mug": 2`} {
		b.wantText("#about-decoded", want)
	}
	b.screenshot("about")

	// Restart the demo: same data directory, same generated secret.
	key := b.sessionCookie().Value
	if e.persistent {
		demo.stop(t)
		demo = startDemo(t, bin, args...)
		if !strings.Contains(demo.out.String(), "read from "+filepath.Join(dataDir, secretFileName)) {
			t.Errorf("the restarted demo did not reuse its secret key:\n%s", demo.out.String())
		}
	}
	if p := b.open("/"); p != "/" {
		t.Fatalf("after the restart the shop sent us to %s: the login did not survive", p)
	}
	b.wantText("#greeting", "Bonjour, Alice !")
	if th := eval[string](b, "document.documentElement.dataset.theme"); th != "dark" {
		t.Fatalf("theme %q after the restart", th)
	}
	if n := b.cartCount(); n != 6 {
		t.Fatalf("cart count %d after the restart, want 6", n)
	}
	if p := b.open("/checkout"); p != "/checkout/3" {
		t.Fatalf("the checkout resumed on %s, want step 3", p)
	}
	if v := eval[string](b, "document.querySelector('#f-payment-email').value"); v != "alice@example.com" {
		t.Fatalf("step 3 after the restart: e-mail %q", v)
	}
	b.open("/checkout/2")
	wantStep2()
	b.open("/checkout/1")
	if v := eval[string](b, "document.querySelector('#f-shipping-country').value"); v != "GB" {
		t.Fatalf("step 1 after the restart: country %q", v)
	}
	if got := b.sessionCookie().Value; got != key && e.scheme != "signed-cookies" {
		// (A signed cookie changes whenever the session does, and
		// visiting a checkout step records the step.)
		t.Fatal("the session key changed across the restart")
	}

	// Log out keeping the cart: a new, anonymous session holds it.
	b.open("/logout")
	if !eval[bool](b, "document.querySelector('#keep-cart').checked") {
		t.Fatal("keep my cart is not checked by default")
	}
	if p := b.submit("#logout-submit"); p != "/login?logged_out=1" {
		t.Fatalf("after logout: %s", p)
	}
	b.wantText("#kept-cart", "Your cart still holds 6 items")
	if th := eval[string](b, "document.documentElement.dataset.theme"); th != "light" {
		t.Fatalf("theme %q after logout: flush keeps nothing but the cart", th)
	}
	if c := b.sessionCookie(); c == nil || c.Value == key {
		t.Fatalf("after logout the browser kept the old session: %+v", c)
	}
	b.screenshot("logged-out")
	b.open("/cart")
	if q := eval[string](b, "document.querySelector('#line-stickers').dataset.qty"); q != "3" {
		t.Fatalf("kept cart: stickers %q", q)
	}

	// Log in with "remember me": a persistent cookie; the kept cart comes along.
	if p := b.login("alice", "wonderland", true); p != "/" {
		t.Fatalf("after login: %s", p)
	}
	c = b.sessionCookie()
	want := float64(time.Now().Add(sessions.DefaultCookieAge).Unix())
	if c == nil || c.Session || math.Abs(c.Expires-want) > 3600 || !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax {
		t.Fatalf("session cookie after login with remember me: %+v (want expiry near %v)", c, want)
	}
	b.wantText("#expiry", "on ")
	if n := b.cartCount(); n != 6 {
		t.Fatalf("cart count %d after logging in again, want the kept 6", n)
	}
	// A remembered session survives the browser's restart, cart and all.
	restartBrowser()
	if p := b.open("/"); p != "/" {
		t.Fatalf("after a browser restart the remembered login is gone: %s", p)
	}
	if n := b.cartCount(); n != 6 {
		t.Fatalf("cart count %d after the browser restart, want 6", n)
	}

	// Log out dropping the cart.
	b.open("/logout")
	b.run("uncheck keep my cart", chromedp.Click(chromedp.CSS("#keep-cart")))
	b.submit("#logout-submit")
	if b.has("#kept-cart") {
		t.Fatal("the cart survived a logout that dropped it")
	}
	b.open("/cart")
	if !b.has("#cart-empty") {
		t.Fatal("the cart is not empty after a logout that dropped it")
	}
	demo.stop(t)
}
