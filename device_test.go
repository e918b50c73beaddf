package sessions_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/memstore"
	"github.com/sessionkit/sessions/internal/testutil"
)

// deviceRig is a Manager with DeviceSettings over a memory store, on a
// clock the test moves.
type deviceRig struct {
	t   *testing.T
	mu  sync.Mutex
	now time.Time
	m   *sessions.Manager
}

func newDeviceRig(t *testing.T, set func(*sessions.Settings)) *deviceRig {
	r := &deviceRig{t: t, now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	st := testutil.Settings()
	st.Devices.Enabled = true
	st.Clock = r.clock
	if set != nil {
		set(&st)
	}
	m, err := sessions.New(memstore.New(&memstore.Options{Now: r.clock}), st)
	if err != nil {
		t.Fatal(err)
	}
	r.m = m
	return r
}

func (r *deviceRig) clock() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.now
}

func (r *deviceRig) advance(d time.Duration) {
	r.mu.Lock()
	r.now = r.now.Add(d)
	r.mu.Unlock()
}

// request runs a request from addr with the cookie key; fn runs in the
// handler. It returns the session key at its end.
func (r *deviceRig) request(key, addr string, hdr http.Header, fn func(r *http.Request, s *sessions.Session)) string {
	r.t.Helper()
	req := httptest.NewRequest("GET", "/", nil)
	req.RemoteAddr = addr
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0")
	for k, v := range hdr {
		req.Header[k] = v
	}
	if key != "" {
		req.AddCookie(&http.Cookie{Name: "sessionid", Value: key})
	}
	var after string
	r.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s := sessions.FromContext(req.Context())
		if fn != nil {
			fn(req, s)
		}
		after = s.Key()
	})).ServeHTTP(httptest.NewRecorder(), req)
	return after
}

func (r *deviceRig) login(addr string, hdr http.Header) string {
	r.t.Helper()
	return r.request("", addr, hdr, func(req *http.Request, s *sessions.Session) {
		s.Set("x", 1)
		if err := r.m.BindUser(req.Context(), s, "ann"); err != nil {
			r.t.Fatal(err)
		}
	})
}

func (r *deviceRig) device() sessions.Device {
	r.t.Helper()
	devs, err := r.m.UserSessions(context.Background(), "ann")
	if err != nil || len(devs) != 1 {
		r.t.Fatalf("UserSessions = %d, %v", len(devs), err)
	}
	return devs[0]
}

// TestDevicesLastSeenNotBeforeIdleRefresh: with an idle timeout, "last
// seen" is recorded no more often than IdleRefresh, even when
// Devices.Refresh asks for less.
func TestDevicesLastSeenNotBeforeIdleRefresh(t *testing.T) {
	r := newDeviceRig(t, func(s *sessions.Settings) {
		s.IdleTimeout = time.Hour
		s.IdleRefresh = 10 * time.Minute
		s.Devices.Refresh = time.Minute
	})
	key := r.login("203.0.113.7:1", nil)
	first := r.device().LastSeen
	for range 4 {
		r.advance(2 * time.Minute)
		r.request(key, "203.0.113.7:1", nil, func(_ *http.Request, s *sessions.Session) { s.Get("x") })
	}
	if got := r.device().LastSeen; !got.Equal(first) {
		t.Errorf("last seen moved to %v within IdleRefresh of %v", got, first)
	}
	r.advance(3 * time.Minute)
	r.request(key, "203.0.113.7:1", nil, func(_ *http.Request, s *sessions.Session) { s.Get("x") })
	if got := r.device().LastSeen; !got.Equal(r.clock().Truncate(time.Millisecond)) {
		t.Errorf("last seen %v after IdleRefresh, want %v", got, r.clock())
	}
}

func TestDevicesRefreshValidation(t *testing.T) {
	st := testutil.Settings()
	st.Devices.Enabled = true
	st.Devices.Refresh = time.Millisecond
	if _, err := sessions.New(memstore.New(nil), st); err == nil || !strings.Contains(err.Error(), "Devices.Refresh") {
		t.Errorf("a Devices.Refresh of 1ms: %v, want an error naming it", err)
	}
}

// TestDevicesIP: what each DeviceSettings.IP mode keeps of the address,
// from the TCP peer or X-Forwarded-For.
func TestDevicesIP(t *testing.T) {
	xff := http.Header{"X-Forwarded-For": {"10.9.9.9, 198.51.100.77", "192.0.2.1"}}
	for _, tc := range []struct {
		mode string
		hops int
		addr string
		hdr  http.Header
		want string
	}{
		{"", 0, "203.0.113.7:51234", nil, "203.0.113.0/24"},
		{"truncate", 0, "[2001:db8:1234:5678::1]:443", nil, "2001:db8:1234::/48"},
		{"truncate", 0, "[::ffff:203.0.113.7]:1", nil, "203.0.113.0/24"},
		{"full", 0, "203.0.113.7:51234", nil, "203.0.113.7"},
		{"none", 0, "203.0.113.7:51234", nil, ""},
		{"full", 0, "203.0.113.7:1", xff, "203.0.113.7"}, // no hops: the header is not trusted
		{"full", 1, "203.0.113.7:1", xff, "192.0.2.1"},
		{"full", 2, "203.0.113.7:1", xff, "198.51.100.77"},
		{"full", 9, "203.0.113.7:1", xff, ""},
		{"full", 1, "203.0.113.7:1", http.Header{"X-Forwarded-For": {"not an address"}}, ""},
	} {
		r := newDeviceRig(t, func(s *sessions.Settings) { s.Devices.IP = tc.mode; s.Devices.ForwardedHops = tc.hops })
		r.login(tc.addr, tc.hdr)
		if got := r.device().IP; got != tc.want {
			t.Errorf("IP %q, hops %d, from %s %v: %q, want %q", tc.mode, tc.hops, tc.addr, tc.hdr, got, tc.want)
		}
	}
	// hash: equal addresses give equal values, which show neither the
	// address nor its network, and depend on the secret.
	hashed := func(secret, addr string) string {
		r := newDeviceRig(t, func(s *sessions.Settings) { s.Devices.IP = "hash"; s.SecretKey = secret })
		r.login(addr, nil)
		return r.device().IP
	}
	a := hashed("secret-one-0123456789abcdefghijklmnopqrstuvwxyz", "203.0.113.7:1")
	b := hashed("secret-one-0123456789abcdefghijklmnopqrstuvwxyz", "203.0.113.7:2")
	c := hashed("secret-one-0123456789abcdefghijklmnopqrstuvwxyz", "203.0.113.8:1")
	d := hashed("secret-two-0123456789abcdefghijklmnopqrstuvwxyz", "203.0.113.7:1")
	if a == "" || a != b || a == c || a == d || strings.Contains(a, "203") {
		t.Errorf("hashed addresses: %q %q %q %q; want equal for one address and secret only, showing nothing of it", a, b, c, d)
	}
}
