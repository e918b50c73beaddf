package main

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/sessionkit/sessions"
)

const (
	uaFirefox = "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0"
	uaChrome  = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36"
	uaSafari  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)

// newDevicesShop returns a shop over config with session metadata on, as
// the demo runs.
func newDevicesShop(t *testing.T, config string) (*shop, *sessions.Manager) {
	t.Helper()
	st := testSettings()
	st.Devices.Enabled = true
	m, err := sessions.Open(context.Background(), config, st)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	s, err := newShop(m, shopOptions{Users: testUsers, Info: shopInfo{Config: config}})
	if err != nil {
		t.Fatal(err)
	}
	return s, m
}

// fromBrowser makes every request to h come from a browser ua at addr.
func fromBrowser(h http.Handler, ua, addr string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set("User-Agent", ua)
		r.RemoteAddr = addr
		h.ServeHTTP(w, r)
	})
}

var deviceRowRE = regexp.MustCompile(`<tr class="device" id="device-([0-9a-f]+)" data-current="(true|false)">\s*<td>([^<]*)`)

// deviceRow is a line of the devices page.
type deviceRow struct {
	id      string
	current bool
	browser string
}

// devicesOf returns the lines of the devices page b sees.
func devicesOf(t *testing.T, b *browser) []deviceRow {
	t.Helper()
	r := b.get("/devices")
	wantStatus(t, r, http.StatusOK)
	var rows []deviceRow
	for _, m := range deviceRowRE.FindAllStringSubmatch(r.body, -1) {
		rows = append(rows, deviceRow{id: m[1], current: m[2] == "true", browser: strings.TrimSpace(m[3])})
	}
	return rows
}

// TestDevicesPage: a user logged in from two browsers sees both on the
// devices page, this one marked; ending the other logs it out; "log out
// my other devices" ends every other, and nothing of another user.
func TestDevicesPage(t *testing.T) {
	s, m := newDevicesShop(t, "memory:")
	h := s.Handler()
	laptop := newBrowser(t, fromBrowser(h, uaFirefox, "203.0.113.7:5000"))
	desk := newBrowser(t, fromBrowser(h, uaChrome, "198.51.100.20:6000"))
	laptop.login("alice", true)
	desk.login("alice", true)

	rows := devicesOf(t, laptop)
	if len(rows) != 2 {
		t.Fatalf("the devices page lists %d sessions, want 2: %+v", len(rows), rows)
	}
	// Newest first: the desk logged in last.
	if rows[0].current || rows[0].browser != "Chrome 125 on Windows" || !rows[1].current || rows[1].browser != "Firefox 126 on Linux" {
		t.Fatalf("devices %+v; want the desk's Chrome, then this Firefox marked", rows)
	}
	if rows[1].id != m.DeviceID(laptop.key()) || rows[0].id != m.DeviceID(desk.key()) {
		t.Fatalf("the device IDs are not the sessions'")
	}
	r := laptop.get("/devices")
	wantBody(t, r, `id="this-device"`, "203.0.113.0/24", "198.51.100.0/24", `id="end-`+rows[0].id+`"`, `id="end-others"`)
	if strings.Contains(r.body, laptop.key()) || strings.Contains(r.body, desk.key()) || strings.Contains(r.body, `id="end-`+rows[1].id+`"`) {
		t.Fatal("the devices page shows a session key, or offers to end this session")
	}

	// Another user cannot end alice's session with its ID.
	bob := newBrowser(t, fromBrowser(h, uaSafari, "192.0.2.9:1"))
	bob.login("bob", true)
	r = bob.post("/devices/end", url.Values{"id": {rows[0].id}})
	wantStatus(t, r, http.StatusSeeOther)
	if ok, _ := m.Exists(context.Background(), desk.key()); !ok {
		t.Fatal("bob ended alice's session")
	}
	wantBody(t, bob.get("/devices"), "That session had already ended.")

	// Ending this session from the list is the logout page's job.
	r = laptop.post("/devices/end", url.Values{"id": {rows[1].id}})
	if wantStatus(t, r, http.StatusSeeOther); r.Header.Get("Location") != "/logout" {
		t.Fatalf("ending this session: Location %q, want /logout", r.Header.Get("Location"))
	}

	// End the desk: its next request is logged out.
	r = laptop.post("/devices/end", url.Values{"id": {rows[0].id}})
	if wantStatus(t, r, http.StatusSeeOther); r.Header.Get("Location") != "/devices" {
		t.Fatalf("Location %q", r.Header.Get("Location"))
	}
	wantBody(t, laptop.get("/devices"), "The session was ended: that device is logged out.")
	if rows := devicesOf(t, laptop); len(rows) != 1 || !rows[0].current {
		t.Fatalf("after ending the desk: %+v; want this one only", rows)
	}
	r = desk.get("/")
	if wantStatus(t, r, http.StatusFound); !strings.HasPrefix(r.Header.Get("Location"), "/login") {
		t.Fatalf("the ended session's next request: Location %q, want the login page", r.Header.Get("Location"))
	}

	// Log out my other devices.
	desk.login("alice", true)
	phone := newBrowser(t, fromBrowser(h, uaSafari, "[2001:db8::1]:443"))
	phone.login("alice", false)
	if rows := devicesOf(t, laptop); len(rows) != 3 {
		t.Fatalf("%d devices, want 3", len(rows))
	}
	r = laptop.post("/devices/others", nil)
	wantStatus(t, r, http.StatusSeeOther)
	wantBody(t, laptop.get("/devices"), "Logged out 2 other devices.")
	for _, b := range []*browser{desk, phone} {
		if r := b.get("/"); r.StatusCode != http.StatusFound {
			t.Errorf("another device is still logged in: status %d", r.StatusCode)
		}
	}
	if r := laptop.get("/"); r.StatusCode != http.StatusOK {
		t.Errorf("this device was logged out: status %d", r.StatusCode)
	}
	if rows := devicesOf(t, bob); len(rows) != 1 {
		t.Errorf("bob's devices after alice's log-out of others: %d, want his 1", len(rows))
	}
	if ok, _ := m.Exists(context.Background(), bob.key()); !ok {
		t.Error("alice's log-out of her other devices ended bob's session")
	}
}

// TestDevicesPageAnonymous: the devices page and its forms need a login.
func TestDevicesPageAnonymous(t *testing.T) {
	s, _ := newDevicesShop(t, "memory:")
	b := newBrowser(t, s.Handler())
	r := b.get("/devices")
	if wantStatus(t, r, http.StatusFound); !strings.HasPrefix(r.Header.Get("Location"), "/login") {
		t.Fatalf("Location %q", r.Header.Get("Location"))
	}
	for _, p := range []string{"/devices/end", "/devices/others"} {
		if r := b.post(p, url.Values{"id": {"00"}}); r.StatusCode != http.StatusFound {
			t.Errorf("anonymous POST %s: status %d, want a redirect to the login page", p, r.StatusCode)
		}
	}
}

// TestDevicesPageWithoutIndex: on the signed-cookie engine, which keeps
// no user index, login works and the page says it cannot list sessions.
func TestDevicesPageWithoutIndex(t *testing.T) {
	s, _ := newDevicesShop(t, "signed-cookies:")
	b := newBrowser(t, s.Handler())
	b.login("alice", true)
	wantBody(t, b.get("/devices"), `id="devices-unsupported"`)
}
