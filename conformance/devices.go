package conformance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionkit/sessions"
)

// deviceStoreCases check the metadata of sessions.UserIndexer entries.
func deviceStoreCases() []storeCase {
	return []storeCase{
		{name: "UserIndexMeta", quick: true, reason: "UserIndexer: an entry's metadata and expiry come back as written; an empty meta keeps the stored one, a new one replaces it; an earlier expiry keeps the later one; RemoveUserSessions forgets it; users are isolated", run: storeUserIndexMeta},
	}
}

// deviceCases check the device list (DeviceSettings, Manager.UserSessions,
// DeleteSession, DeleteUserExcept) through a Manager.
func deviceCases() []managerCase {
	return []managerCase{
		{name: "Devices/List", serverOnly: true, reason: "UserSessions lists a user's sessions newest first, with the browser, address and times recorded at login; never another user's, a logged-out or an expired one (UserIndexer engines)", run: caseDevicesList},
		{name: "Devices/CycleKey", serverOnly: true, reason: "CycleKey moves a session's index entry to the new key with its metadata; the creation time stays", run: caseDevicesCycleKey},
		{name: "Devices/LastSeen", serverOnly: true, reason: "last seen is recorded at most once per Devices.Refresh, in the index entry only: the session data and the entry's expiry stay", run: caseDevicesLastSeen},
		{name: "Devices/IdleRefreshMovesEntry", serverOnly: true, reason: "an idle refresh by a read-only request moves the index entry's expiry with the session's, so DeleteUser still finds a session kept alive by reads", run: caseDevicesIdleRefresh},
		{name: "Devices/DeleteSession", serverOnly: true, reason: "DeleteSession ends one session of the user, record and index entry, and no other; its next request has no session, a request in flight gets ErrInterrupted; another user's ID or an unknown one is ErrNotFound", run: caseDeleteSession},
		{name: "Devices/DeleteUserExcept", serverOnly: true, reason: "DeleteUserExcept ends every session of the user but the given one; a login of the same user racing it is either ended or still listed, never alive and unlisted", run: caseDeleteUserExcept},
	}
}

// entryKeys returns the keys of index entries.
func entryKeys(entries []sessions.UserEntry) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.Key
	}
	return out
}

// deviceIDs returns the IDs of devices, in order.
func deviceIDs(devs []sessions.Device) []string {
	out := make([]string, len(devs))
	for i, d := range devs {
		out[i] = d.ID
	}
	return out
}

func storeUserIndexMeta(t tb, ev *env) {
	ix, ok := ev.e.(sessions.UserIndexer)
	if !ok {
		t.Skipf("the engine does not implement UserIndexer")
	}
	tol := expiryTolerance(ev)
	alice, bob := "alice-"+sessions.NewKey()[:8], "bob-"+sessions.NewKey()[:8]
	k1, k2 := sessions.NewKey(), sessions.NewKey()
	find := func(user, key string) (sessions.UserEntry, bool) {
		t.Helper()
		entries, err := ix.UserSessions(ev.ctx, user)
		noErr(t, "UserSessions", err)
		for _, e := range entries {
			if e.Key == key {
				return e, true
			}
		}
		return sessions.UserEntry{}, false
	}
	check := func(label, user, key, meta string, exp time.Time) {
		t.Helper()
		e, ok := find(user, key)
		switch {
		case !ok:
			t.Fatalf("%s: the entry is not listed", label)
		case string(e.Meta) != meta:
			t.Fatalf("%s: metadata %q, want %q", label, e.Meta, meta)
		case e.Expiry.Sub(exp).Abs() > tol:
			t.Fatalf("%s: expiry %v, want %v (resolution %v)", label, e.Expiry, exp, tol)
		}
	}
	// Every printable ASCII character, quotes and backslashes included,
	// up to the 512 bytes the Manager may write.
	var b strings.Builder
	for b.Len() < 512 {
		b.WriteByte(byte(' ' + b.Len()%95))
	}
	m1, m2, m3 := `{"c":1712345678901,"ua":"Firefox 126 on Linux"}`, b.String(), `{"c":2}`
	exp1 := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	noErr(t, "AddUserSession with metadata", ix.AddUserSession(ev.ctx, alice, k1, []byte(m1), exp1))
	check("after AddUserSession", alice, k1, m1, exp1)
	noErr(t, "AddUserSession without metadata", ix.AddUserSession(ev.ctx, alice, k2, nil, exp1))
	check("a new entry without metadata", alice, k2, "", exp1)

	exp2 := exp1.Add(time.Hour)
	noErr(t, "AddUserSession moving the expiry", ix.AddUserSession(ev.ctx, alice, k1, nil, exp2))
	check("an empty meta keeps the stored one", alice, k1, m1, exp2)
	// Two saves of one session upsert its entry in either order: an
	// earlier expiry must not replace a later one, or the entry lapses
	// while the session lives and DeleteUser misses it.
	noErr(t, "AddUserSession with an earlier expiry", ix.AddUserSession(ev.ctx, alice, k1, []byte{}, exp1))
	check("an earlier expiry keeps the later one, an empty meta the stored one", alice, k1, m1, exp2)
	noErr(t, "AddUserSession replacing the metadata", ix.AddUserSession(ev.ctx, alice, k1, []byte(m2), exp1))
	check("a new meta replaces the stored one, an earlier expiry keeps the later one", alice, k1, m2, exp2)
	exp3 := exp2.Add(time.Hour)
	noErr(t, "AddUserSession moving the expiry again", ix.AddUserSession(ev.ctx, alice, k1, nil, exp3))
	check("a later expiry replaces the stored one", alice, k1, m2, exp3)

	// Another user's entry under the same key is another entry.
	noErr(t, "AddUserSession for another user", ix.AddUserSession(ev.ctx, bob, k1, []byte(m3), exp1))
	check("another user's entry", bob, k1, m3, exp1)
	check("the first user's entry after another user's", alice, k1, m2, exp3)

	// A removed entry takes its metadata with it.
	noErr(t, "RemoveUserSessions", ix.RemoveUserSessions(ev.ctx, alice, []string{k1}))
	if _, ok := find(alice, k1); ok {
		t.Fatalf("a removed entry is still listed")
	}
	check("the other user's entry after a removal", bob, k1, m3, exp1)
	noErr(t, "AddUserSession after RemoveUserSessions", ix.AddUserSession(ev.ctx, alice, k1, nil, exp1))
	check("an entry added again after its removal", alice, k1, "", exp1)

	// An expired entry is not listed, metadata or not.
	k3 := sessions.NewKey()
	noErr(t, "AddUserSession expired", ix.AddUserSession(ev.ctx, alice, k3, []byte(m3), time.Now().Add(-time.Minute)))
	if _, ok := find(alice, k3); ok {
		t.Fatalf("an expired entry with metadata is listed")
	}
	noErr(t, "RemoveUserSessions", ix.RemoveUserSessions(ev.ctx, alice, []string{k1, k2, k3}))
	noErr(t, "RemoveUserSessions", ix.RemoveUserSessions(ev.ctx, bob, []string{k1}))
}

// clock is a Manager clock the case moves forward.
type clock struct{ off atomic.Int64 }

func (c *clock) now() time.Time                { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) advance(d time.Duration)       { c.off.Add(int64(d)) }
func (c *clock) settings(s *sessions.Settings) { s.Clock = c.now }

// deviceRequest runs one request of a browser (user agent ua, address
// addr) through m, with the session cookie key ("" for none); fn runs in
// the handler. It returns the response and the session's key at the end
// of the handler.
func (c *mgr) deviceRequest(m *sessions.Manager, key, ua, addr string, fn func(r *http.Request, s *sessions.Session)) (*http.Response, string) {
	c.t.Helper()
	req := httptest.NewRequestWithContext(c.ctx, "GET", "http://example.com/", nil)
	req.Header.Set("User-Agent", ua)
	req.RemoteAddr = addr
	if key != "" {
		req.AddCookie(&http.Cookie{Name: m.Settings().CookieName, Value: key})
	}
	var after string
	rec := httptest.NewRecorder()
	m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessions.FromContext(r.Context())
		if fn != nil {
			fn(r, s)
		}
		after = s.Key()
	})).ServeHTTP(rec, req)
	return rec.Result(), after
}

// login logs user in from a browser: a session is created, cycled and
// bound, as a login view does. It returns the session's key.
func (c *mgr) login(m *sessions.Manager, user, ua, addr string) string {
	c.t.Helper()
	var err error
	res, key := c.deviceRequest(m, "", ua, addr, func(r *http.Request, s *sessions.Session) {
		s.Set("cart", []any{"x"})
		if err = s.CycleKey(r.Context()); err == nil {
			err = m.BindUser(r.Context(), s, user)
		}
	})
	if err != nil || res.StatusCode != 200 || key == "" {
		c.t.Fatalf("login of %s: %v, status %d", user, err, res.StatusCode)
	}
	return key
}

const (
	uaFirefox = "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0"
	uaIPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
	uaChrome  = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36"
)

func skipWithoutIndex(c *mgr) {
	if _, ok := c.engine.(sessions.UserIndexer); !ok {
		c.t.Skip("the engine does not implement UserIndexer")
	}
}

func devicesOn(s *sessions.Settings) { s.Devices.Enabled = true }

func caseDevicesList(c *mgr) {
	skipWithoutIndex(c)
	var clk clock
	m := c.manager(func(s *sessions.Settings) { devicesOn(s); clk.settings(s) })
	t0 := clk.now()
	laptop := c.login(m, "ann", uaFirefox, "203.0.113.7:51234")
	clk.advance(time.Minute)
	phone := c.login(m, "ann", uaIPhone, "[2001:db8:1234:5678::1]:443")
	clk.advance(time.Minute)
	desk := c.login(m, "ann", uaChrome, "198.51.100.20:1000")
	other := c.login(m, "bob", uaChrome, "198.51.100.21:1000")

	devs, err := m.UserSessions(c.ctx, "ann")
	if err != nil {
		c.t.Fatalf("UserSessions: %v", err)
	}
	want := []string{m.DeviceID(desk), m.DeviceID(phone), m.DeviceID(laptop)}
	if got := deviceIDs(devs); !slices.Equal(got, want) {
		c.t.Fatalf("UserSessions(ann) = %d sessions %v, want her 3 newest first", len(got), got)
	}
	wantMeta := []struct {
		ua, ip  string
		created time.Time
	}{
		{"Chrome 125 on Windows", "198.51.100.0/24", t0.Add(2 * time.Minute)},
		{"Safari 17 on iOS", "2001:db8:1234::/48", t0.Add(time.Minute)},
		{"Firefox 126 on Linux", "203.0.113.0/24", t0},
	}
	for i, d := range devs {
		w := wantMeta[i]
		if d.UserAgent != w.ua || d.IP != w.ip {
			c.t.Errorf("device %d: %q from %q, want %q from %q", i, d.UserAgent, d.IP, w.ua, w.ip)
		}
		if d.CreatedAt.Sub(w.created).Abs() > time.Second || !d.LastSeen.Equal(d.CreatedAt) {
			c.t.Errorf("device %d: created %v, last seen %v; want both about %v", i, d.CreatedAt, d.LastSeen, w.created)
		}
		if exp := w.created.Add(m.Settings().CookieAge); d.Expires.Sub(exp).Abs() > 2*time.Second+c.h.Caps.TTLResolution {
			c.t.Errorf("device %d: expires %v, want about %v", i, d.Expires, exp)
		}
		if strings.Contains(fmt.Sprintf("%+v", d), laptop) || strings.Contains(fmt.Sprintf("%+v", d), phone) || strings.Contains(fmt.Sprintf("%+v", d), desk) {
			c.t.Errorf("device %d shows a session key", i)
		}
	}
	if devs, err := m.UserSessions(c.ctx, "bob"); err != nil || !slices.Equal(deviceIDs(devs), []string{m.DeviceID(other)}) {
		c.t.Errorf("UserSessions(bob) = %d sessions, %v; want his one", len(devs), err)
	}

	// A session logged out (by Flush, as Django's logout does) is not
	// listed, whatever its index entry says.
	_, _ = c.deviceRequest(m, laptop, uaFirefox, "203.0.113.7:51234", func(r *http.Request, s *sessions.Session) {
		if err := s.Flush(r.Context()); err != nil {
			c.t.Errorf("Flush: %v", err)
		}
	})
	if devs, err := m.UserSessions(c.ctx, "ann"); err != nil || !slices.Equal(deviceIDs(devs), want[:2]) {
		c.t.Errorf("after logging the laptop out UserSessions(ann) = %d sessions, %v; want the 2 others", len(devs), err)
	}

	// Without metadata (DeviceSettings off), the list still works.
	plain := c.manager(nil)
	if devs, err := plain.UserSessions(c.ctx, "ann"); err != nil || len(devs) != 2 {
		c.t.Errorf("UserSessions without DeviceSettings = %d sessions, %v", len(devs), err)
	}
	unrecorded := c.login(plain, "cy", uaFirefox, "203.0.113.7:1")
	if devs, err := m.UserSessions(c.ctx, "cy"); err != nil || len(devs) != 1 || devs[0].ID != m.DeviceID(unrecorded) || !devs[0].CreatedAt.IsZero() || devs[0].UserAgent != "" {
		c.t.Errorf("a session bound without DeviceSettings: %+v, %v; want it listed without metadata", devs, err)
	}

	// An expired session is not listed.
	short := c.manager(func(s *sessions.Settings) { devicesOn(s); s.CookieAge = time.Second })
	c.login(short, "dee", uaFirefox, "203.0.113.7:1")
	time.Sleep(1100*time.Millisecond + 2*c.h.Caps.TTLResolution)
	if devs, err := m.UserSessions(c.ctx, "dee"); err != nil || len(devs) != 0 {
		c.t.Errorf("an expired session: UserSessions = %d sessions, %v; want none", len(devs), err)
	}
}

func caseDevicesCycleKey(c *mgr) {
	skipWithoutIndex(c)
	var clk clock
	m := c.manager(func(s *sessions.Settings) { devicesOn(s); clk.settings(s) })
	key := c.login(m, "ann", uaFirefox, "203.0.113.7:1")
	before, err := m.UserSessions(c.ctx, "ann")
	if err != nil || len(before) != 1 {
		c.t.Fatalf("UserSessions = %d, %v", len(before), err)
	}
	clk.advance(time.Hour)
	_, cycled := c.deviceRequest(m, key, uaFirefox, "203.0.113.7:1", func(r *http.Request, s *sessions.Session) {
		if err := s.CycleKey(r.Context()); err != nil {
			c.t.Errorf("CycleKey: %v", err)
		}
	})
	after, err := m.UserSessions(c.ctx, "ann")
	if err != nil || len(after) != 1 || cycled == key || after[0].ID != m.DeviceID(cycled) {
		c.t.Fatalf("after CycleKey UserSessions = %d sessions, %v; want the new key's", len(after), err)
	}
	if !after[0].CreatedAt.Equal(before[0].CreatedAt) || after[0].UserAgent != before[0].UserAgent || after[0].IP != before[0].IP {
		c.t.Errorf("CycleKey changed the metadata: %+v, was %+v", after[0], before[0])
	}
	if !after[0].LastSeen.After(before[0].LastSeen) {
		c.t.Errorf("CycleKey did not record the request: last seen %v, was %v", after[0].LastSeen, before[0].LastSeen)
	}
}

// counting returns the engine wrapped to count the calls of each
// operation.
func counting(e sessions.Engine) (sessions.Engine, func(op string) int) {
	var mu sync.Mutex
	n := map[string]int{}
	w := wrapEngine(e, func(c call) error {
		mu.Lock()
		n[c.op]++
		mu.Unlock()
		return nil
	})
	return w, func(op string) int {
		mu.Lock()
		defer mu.Unlock()
		return n[op]
	}
}

func caseDevicesLastSeen(c *mgr) {
	skipWithoutIndex(c)
	var clk clock
	e, calls := counting(c.eng())
	m := c.managerOver(e, func(s *sessions.Settings) {
		devicesOn(s)
		clk.settings(s)
		s.Devices.Refresh = 10 * time.Minute
	})
	key := c.login(m, "ann", uaFirefox, "203.0.113.7:1")
	raw, _, err := m.Inspect(c.ctx, key)
	if err != nil {
		c.t.Fatal(err)
	}
	devs, err := m.UserSessions(c.ctx, "ann")
	if err != nil || len(devs) != 1 {
		c.t.Fatalf("UserSessions = %d, %v", len(devs), err)
	}
	first := devs[0]
	read := func(ua string) {
		c.t.Helper()
		res, _ := c.deviceRequest(m, key, ua, "198.51.100.9:2", func(r *http.Request, s *sessions.Session) {
			if s.Get("cart") == nil {
				c.t.Error("the session lost its data")
			}
		})
		if res.StatusCode != 200 {
			c.t.Fatalf("a request answered %d", res.StatusCode)
		}
	}
	// Within Refresh: no index write at all.
	writes := func() int { return calls("Update") + calls("Swap") + calls("Touch") + calls("Create") }
	adds, wrote := calls("AddUserSession"), writes()
	for range 5 {
		clk.advance(time.Minute)
		read(uaFirefox)
	}
	if n := calls("AddUserSession") - adds; n != 0 {
		c.t.Errorf("5 requests within Devices.Refresh wrote the index %d times, want 0", n)
	}
	// Past it: one write, with the new time and the request's browser.
	clk.advance(6 * time.Minute)
	read(uaChrome)
	read(uaChrome)
	if n := calls("AddUserSession") - adds; n != 1 {
		c.t.Errorf("2 requests after Devices.Refresh wrote the index %d times, want 1", n)
	}
	devs, err = m.UserSessions(c.ctx, "ann")
	if err != nil || len(devs) != 1 {
		c.t.Fatalf("UserSessions = %d, %v", len(devs), err)
	}
	d := devs[0]
	if d.LastSeen.Sub(first.LastSeen) < 10*time.Minute || !d.CreatedAt.Equal(first.CreatedAt) {
		c.t.Errorf("last seen %v (was %v), created %v (was %v); want last seen 11 minutes later, created unchanged", d.LastSeen, first.LastSeen, d.CreatedAt, first.CreatedAt)
	}
	if d.UserAgent != "Chrome 125 on Windows" || d.IP != "198.51.100.0/24" {
		c.t.Errorf("after the refresh: %q from %q, want the last request's browser and network", d.UserAgent, d.IP)
	}
	if d.Expires.Sub(first.Expires).Abs() > time.Second+c.h.Caps.TTLResolution {
		c.t.Errorf("recording last seen moved the entry's expiry from %v to %v", first.Expires, d.Expires)
	}
	if n := writes() - wrote; n != 0 {
		c.t.Errorf("read-only requests wrote the session %d times", n)
	}
	if now, _, err := m.Inspect(c.ctx, key); err != nil || !sameData(m, now, raw) {
		c.t.Errorf("recording last seen changed the session data (%v)", err)
	}
}

// sameData reports whether a and b, two stored forms of a session as
// Manager.Inspect gives them, hold the same data. An engine may keep one
// session in more than one form (cached_db gives the cache's copy or,
// while an install is under way, the database row), so the bytes are not
// compared; the decoded data are, in their JSON form, which does not
// tell an integer from the same number as a float.
func sameData(m *sessions.Manager, a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	da, errA := m.Codec().Decode(a)
	db, errB := m.Codec().Decode(b)
	if errA != nil || errB != nil {
		return false
	}
	ja, errA := json.Marshal(da.Map())
	jb, errB := json.Marshal(db.Map())
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

func caseDevicesIdleRefresh(c *mgr) {
	skipWithoutIndex(c)
	for _, devices := range []bool{false, true} {
		var clk clock
		m := c.manager(func(s *sessions.Settings) {
			s.Devices.Enabled = devices
			clk.settings(s)
			s.IdleTimeout = time.Hour
			s.IdleRefresh = time.Minute
		})
		user := fmt.Sprint("ann-", devices)
		key := c.login(m, user, uaFirefox, "203.0.113.7:1")
		// Reads keep the session alive past its first idle expiry.
		for range 3 {
			clk.advance(40 * time.Minute)
			c.deviceRequest(m, key, uaFirefox, "203.0.113.7:1", func(r *http.Request, s *sessions.Session) { s.Get("cart") })
		}
		devs, err := m.UserSessions(c.ctx, user)
		if err != nil || len(devs) != 1 {
			c.t.Fatalf("devices %v: UserSessions = %d sessions, %v", devices, len(devs), err)
		}
		if want := clk.now().Add(time.Hour); devs[0].Expires.Before(want.Add(-2*time.Second - c.h.Caps.TTLResolution)) {
			c.t.Errorf("devices %v: the index entry expires %v, before the session (about %v): it would drop out of the index while the session lives", devices, devs[0].Expires, want)
		}
		if n, err := m.DeleteUser(c.ctx, user); err != nil || n != 1 {
			c.t.Errorf("devices %v: DeleteUser = %d, %v", devices, n, err)
		}
	}
}

func caseDeleteSession(c *mgr) {
	skipWithoutIndex(c)
	m := c.manager(devicesOn)
	laptop := c.login(m, "ann", uaFirefox, "203.0.113.7:1")
	phone := c.login(m, "ann", uaIPhone, "203.0.113.8:1")
	bobs := c.login(m, "bob", uaChrome, "203.0.113.9:1")
	inFlight := m.Load(c.ctx, phone)
	inFlight.Get("cart")

	if err := m.DeleteSession(c.ctx, "ann", m.DeviceID(bobs)); !errors.Is(err, sessions.ErrNotFound) {
		c.t.Errorf("DeleteSession of another user's session: %v, want ErrNotFound", err)
	}
	if err := m.DeleteSession(c.ctx, "ann", "0123456789abcdef01234567"); !errors.Is(err, sessions.ErrNotFound) {
		c.t.Errorf("DeleteSession of an unknown ID: %v, want ErrNotFound", err)
	}
	if err := m.DeleteSession(c.ctx, "ann", ""); !errors.Is(err, sessions.ErrNotFound) {
		c.t.Errorf("DeleteSession of an empty ID: %v, want ErrNotFound", err)
	}
	if err := m.DeleteSession(c.ctx, "ann", m.DeviceID(phone)); err != nil {
		c.t.Fatalf("DeleteSession: %v", err)
	}
	if ok, _ := m.Exists(c.ctx, phone); ok {
		c.t.Error("the ended session is still stored")
	}
	entries, err := c.eng().(sessions.UserIndexer).UserSessions(c.ctx, "ann")
	if err != nil || !slices.Equal(entryKeys(entries), []string{laptop}) {
		c.t.Errorf("after DeleteSession the index of ann holds %d entries, %v; want the laptop's only", len(entries), err)
	}
	for _, k := range []string{laptop, bobs} {
		if ok, _ := m.Exists(c.ctx, k); !ok {
			c.t.Error("DeleteSession ended another session")
		}
	}
	if devs, err := m.UserSessions(c.ctx, "bob"); err != nil || len(devs) != 1 {
		c.t.Errorf("bob's sessions after ann's DeleteSession: %d, %v", len(devs), err)
	}
	// The ended session's next request has no session, and its cookie
	// is deleted; a request that loaded it before cannot bring it back.
	res, _ := c.deviceRequest(m, phone, uaIPhone, "203.0.113.8:1", func(r *http.Request, s *sessions.Session) {
		if s.Get("cart") != nil || s.Get(sessions.BoundUserKey) != nil {
			c.t.Error("the ended session's next request still has its data")
		}
	})
	if ck := sessionCookie(res, "sessionid"); res.StatusCode != 200 || ck == nil || ck.MaxAge >= 0 {
		c.t.Errorf("the ended session's next request: status %d, cookie %v; want 200 deleting the cookie", res.StatusCode, ck)
	}
	inFlight.Set("late", true)
	if err := inFlight.Save(c.ctx); !errors.Is(err, sessions.ErrInterrupted) {
		c.t.Errorf("saving a request of the ended session: %v, want ErrInterrupted", err)
	}
	if err := m.DeleteSession(c.ctx, "ann", m.DeviceID(phone)); !errors.Is(err, sessions.ErrNotFound) {
		c.t.Errorf("DeleteSession again: %v, want ErrNotFound", err)
	}
}

func caseDeleteUserExcept(c *mgr) {
	skipWithoutIndex(c)
	m := c.manager(devicesOn)
	bobs := c.login(m, "bob", uaChrome, "203.0.113.9:1")
	for round := range 4 {
		keep := c.login(m, "ann", uaFirefox, "203.0.113.7:1")
		var others []string
		for range 3 {
			others = append(others, c.login(m, "ann", uaIPhone, "203.0.113.8:1"))
		}
		// Logins of ann land while the others are logged out.
		const racers, perRacer = 3, 4
		start := make(chan struct{})
		var wg sync.WaitGroup
		var mu sync.Mutex
		var raced []string
		var errs []error
		for range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for range perRacer {
					s := m.NewSession(c.ctx)
					s.Set("cart", []any{"y"})
					err := m.BindUser(c.ctx, s, "ann")
					mu.Lock()
					if err != nil {
						errs = append(errs, err)
					} else {
						raced = append(raced, s.Key())
					}
					mu.Unlock()
				}
			}()
		}
		var n int
		var derr error
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			n, derr = m.DeleteUserExcept(c.ctx, "ann", keep)
		}()
		close(start)
		wg.Wait()
		if derr != nil || len(errs) > 0 {
			c.t.Fatalf("round %d: DeleteUserExcept: %v; logins: %v", round, derr, errors.Join(errs...))
		}
		if n < len(others) {
			c.t.Errorf("round %d: DeleteUserExcept ended %d sessions, want at least the %d others", round, n, len(others))
		}
		devs, err := m.UserSessions(c.ctx, "ann")
		if err != nil {
			c.t.Fatal(err)
		}
		listed := deviceIDs(devs)
		if ok, _ := m.Exists(c.ctx, keep); !ok || !slices.Contains(listed, m.DeviceID(keep)) {
			c.t.Errorf("round %d: the kept session was ended or unlisted", round)
		}
		for _, k := range others {
			if ok, _ := m.Exists(c.ctx, k); ok {
				c.t.Errorf("round %d: another session of the user survived", round)
			}
		}
		for _, k := range raced {
			ok, err := m.Exists(c.ctx, k)
			if err != nil {
				c.t.Fatal(err)
			}
			if ok && !slices.Contains(listed, m.DeviceID(k)) {
				c.t.Errorf("round %d: a login racing DeleteUserExcept is alive but no longer listed: no later log-out would find it", round)
			}
		}
		if ok, _ := m.Exists(c.ctx, bobs); !ok {
			c.t.Fatalf("round %d: another user's session was ended", round)
		}
		if _, err := m.DeleteUser(c.ctx, "ann"); err != nil {
			c.t.Fatal(err)
		}
	}
	if devs, err := m.UserSessions(c.ctx, "bob"); err != nil || len(devs) != 1 {
		c.t.Errorf("bob's sessions: %d, %v", len(devs), err)
	}
}
