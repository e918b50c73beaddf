//go:build linux

package browser

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sessionkit/sessions/internal/testservers"
)

// csrfTokenRE finds the demo's CSRF token in a page's form.
var csrfTokenRE = regexp.MustCompile(`name="csrfmiddlewaretoken" value="([A-Za-z0-9]+)"`)

// The demo's slow add (--debug-api) collides with a second request on
// the same session: the browser's tab holds its request for a few
// seconds between loading the session and saving it, and meanwhile a
// second client carrying the browser's session cookie (another tab, as
// far as the shop can tell) adds to the cart. The cart ends with both
// products, and the live counts show the conflict merged, as the metrics
// page tells a person to try with two tabs. (Two chromedp tabs of one
// headless Chromium cannot both have a request pending: the second tab
// stops answering, so the second "tab" is an HTTP client.)
func TestBrowserSlowAddMerges(t *testing.T) {
	if testing.Short() {
		t.Skip("the browser test is not short")
	}
	chromium := chromiumPath(t)
	bin := buildDemo(t, t.TempDir())
	dataDir := filepath.Join(t.TempDir(), "demo-data")
	addr := "127.0.0.1:" + strconv.Itoa(testservers.FreePort(t))
	demo := startDemo(t, bin, "--addr", addr, "--data-dir", dataDir, "--debug-api")
	if !strings.Contains(demo.out.String(), "metrics:  "+demo.url+"metrics") {
		t.Errorf("the start-up message does not name the metrics page:\n%s", demo.out.String())
	}
	shots := os.Getenv("SESSIONS_ARTIFACTS")
	if shots == "" {
		shots = t.TempDir()
	}
	shots = filepath.Join(shots, "slow-add")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}

	tmp := t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.Flag("disable-component-update", true), chromedp.Flag("lang", "en-US"),
		chromedp.WindowSize(1280, 900), chromedp.UserDataDir(filepath.Join(tmp, "profile")), chromedp.Env("TMPDIR="+tmp),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	base := strings.TrimSuffix(demo.url, "/")
	b := &tab{t: t, ctx: ctx, base: base, shots: shots}

	if p := b.open("/about"); p != "/about" || !b.has("#about-metrics-link") {
		t.Fatalf("the about page does not link the live counts (on %s)", p)
	}
	if p := b.submit("#about-metrics-link"); p != "/metrics" {
		t.Fatalf("the about page's link went to %s", p)
	}
	b.wantText("#metrics-conflicts", "0")
	b.screenshot("metrics-before")

	// The other "tab": the browser's session cookie, and a CSRF token
	// from a page read with it.
	c := b.sessionCookie()
	if c == nil {
		t.Fatal("no session cookie")
	}
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(base)
	jar.SetCookies(u, []*http.Cookie{{Name: c.Name, Value: c.Value, Path: "/"}})
	other := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := other.Get(base + "/cart")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	token := csrfTokenRE.FindSubmatch(page)
	if res.StatusCode != http.StatusOK || token == nil {
		t.Fatalf("the second client: %d, no CSRF token in\n%s", res.StatusCode, page)
	}

	// The click runs in the page, so the test does not wait for it.
	eval[bool](b, "document.querySelector('#slow-add-mug').click(), true")
	time.Sleep(time.Second) // the slow add has loaded the session and holds
	res, err = other.PostForm(base+"/cart/add", url.Values{"sku": {"tee"}, "csrfmiddlewaretoken": {string(token[1])}})
	if err != nil {
		t.Fatalf("the second client's add: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("the second client's add: %s", res.Status)
	}
	deadline := time.Now().Add(20 * time.Second)
	for b.location() != base+"/cart" {
		if time.Now().After(deadline) {
			t.Fatalf("the slow add ended on %s", b.location())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !b.has("#line-mug") || !b.has("#line-tee") {
		t.Errorf("the cart lost an addition: mug %v, tee %v", b.has("#line-mug"), b.has("#line-tee"))
	}
	b.screenshot("cart-after")
	b.open("/metrics")
	b.wantText("#metrics-conflicts", "1")
	b.wantText("#metrics-merged", "1")
	b.wantText("#metrics-failed", "0")
	b.screenshot("metrics-after")
	demo.stop(t)
}
