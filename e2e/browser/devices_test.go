//go:build linux

package browser

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/sessionkit/sessions/internal/testservers"
)

// TestBrowserDevices drives the demo's "Your devices" page from
// headless Chromium, logged in as one user from separate browser
// contexts (incognito profiles: cookie jars of their own, as two
// browsers): each sees both sessions with its own marked, one ends the
// other, which is logged out on its next request; then "log out my other
// devices" ends every other session and keeps this one.
func TestBrowserDevices(t *testing.T) {
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
		if e.name != "sqlite" && e.name != "redis" {
			continue
		}
		t.Run(e.name, func(t *testing.T) {
			if !engines[e.scheme] {
				t.Fatalf("the %s engine is not in the demo", e.scheme)
			}
			shots := filepath.Join(artifacts, "devices-"+e.name)
			if err := os.MkdirAll(shots, 0o755); err != nil {
				t.Fatal(err)
			}
			devicesFlow(t, chromium, bin, shots, e)
		})
	}
}

func devicesFlow(t *testing.T, chromium, bin, shots string, e browserEngine) {
	dataDir := filepath.Join(t.TempDir(), "demo-data")
	addr := "127.0.0.1:" + strconv.Itoa(testservers.FreePort(t))
	demo := startDemo(t, bin, append([]string{"--addr", addr, "--data-dir", dataDir}, e.args(t, dataDir)...)...)
	base := strings.TrimSuffix(demo.url, "/")

	tmp := t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox,
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(filepath.Join(tmp, "profile")),
		chromedp.Env("TMPDIR="+tmp),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	root, cancelRoot := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelRoot)
	if err := chromedp.Do(root); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	// browser returns a tab in a browser context of its own.
	browser := func() *tab {
		ctx, cancel := chromedp.NewContext(root, chromedp.WithNewBrowserContext())
		t.Cleanup(cancel)
		if err := chromedp.Do(ctx); err != nil { // no timeout: it would bind the tab's life
			t.Fatalf("opening a browser context: %v", err)
		}
		return &tab{t: t, ctx: ctx, base: base, shots: shots}
	}
	laptop, phone := browser(), browser()

	if p := laptop.login("alice", "wonderland", true); p != "/" {
		t.Fatalf("laptop login: %s", p)
	}
	if p := phone.login("alice", "wonderland", true); p != "/" {
		t.Fatalf("phone login: %s", p)
	}
	if laptop.sessionCookie().Value == phone.sessionCookie().Value {
		t.Fatal("the two browser contexts share a session")
	}

	// devices opens the devices page of b and returns the IDs listed,
	// newest first, and the one marked as this device.
	devices := func(b *tab) (ids []string, current string) {
		t.Helper()
		if p := b.open("/devices"); p != "/devices" {
			t.Fatalf("the devices page: ended on %s", p)
		}
		ids = eval[[]string](b, `Array.from(document.querySelectorAll('tr.device')).map(r => r.id.replace('device-', ''))`)
		marked := eval[[]string](b, `Array.from(document.querySelectorAll('tr.device[data-current="true"]')).map(r => r.id.replace('device-', ''))`)
		if len(marked) != 1 {
			t.Fatalf("%d sessions marked as this device, want 1", len(marked))
		}
		return ids, marked[0]
	}

	// Both browsers see both sessions, each its own marked.
	ids, laptopID := devices(laptop)
	if len(ids) != 2 {
		t.Fatalf("the laptop sees %d sessions, want 2", len(ids))
	}
	laptop.wantText("#device-"+laptopID, "Chrome")
	laptop.wantText("#this-device", "This device")
	laptop.screenshot("devices-two")
	ids2, phoneID := devices(phone)
	if len(ids2) != 2 || phoneID == laptopID || !strings.Contains(strings.Join(ids2, " "), laptopID) || !strings.Contains(strings.Join(ids, " "), phoneID) {
		t.Fatalf("the phone sees %v (itself %s), the laptop %v (itself %s): want the same two sessions", ids2, phoneID, ids, laptopID)
	}
	if ids[0] != phoneID {
		t.Errorf("the list is not newest first: %v, the phone (%s) logged in last", ids, phoneID)
	}
	if laptop.has("#end-" + laptopID) {
		t.Error("the page offers to end this very session")
	}

	// The laptop ends the phone's session: the phone is logged out.
	if p := laptop.submit("#end-" + phoneID); p != "/devices" {
		t.Fatalf("after ending the phone's session: %s", p)
	}
	laptop.wantText(".flash", "that device is logged out")
	if ids, _ := devices(laptop); len(ids) != 1 || ids[0] != laptopID {
		t.Fatalf("after ending the phone's session the laptop sees %v, want itself only", ids)
	}
	laptop.screenshot("devices-ended")
	if p := phone.open("/"); p != "/login?next=%2F" {
		t.Fatalf("the ended session's browser was sent to %s, want the login page", p)
	}
	if p := phone.open("/devices"); !strings.HasPrefix(p, "/login") {
		t.Fatalf("the ended session still sees the devices page (%s)", p)
	}

	// Log out my other devices: the phone again and a tablet go, the
	// laptop stays.
	if p := phone.login("alice", "wonderland", false); p != "/" {
		t.Fatalf("phone login again: %s", p)
	}
	tablet := browser()
	if p := tablet.login("alice", "wonderland", true); p != "/" {
		t.Fatalf("tablet login: %s", p)
	}
	if ids, _ := devices(laptop); len(ids) != 3 {
		t.Fatalf("the laptop sees %d sessions, want 3", len(ids))
	}
	if p := laptop.submit("#end-others"); p != "/devices" {
		t.Fatalf("after logging out the other devices: %s", p)
	}
	laptop.wantText(".flash", "Logged out 2 other devices.")
	if ids, cur := devices(laptop); len(ids) != 1 || cur != laptopID {
		t.Fatalf("after logging out the others the laptop sees %v", ids)
	}
	if laptop.has("#end-others") {
		t.Error("the page offers to log out other devices when there are none")
	}
	for name, b := range map[string]*tab{"phone": phone, "tablet": tablet} {
		if p := b.open("/"); p != "/login?next=%2F" {
			t.Errorf("the %s is still logged in (%s)", name, p)
		}
	}
	if p := laptop.open("/"); p != "/" {
		t.Fatalf("the laptop was logged out too (%s)", p)
	}
	laptop.wantText("#greeting", "Hello, Alice!")
	demo.stop(t)
}
