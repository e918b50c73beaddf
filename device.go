package sessions

import (
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/sessionkit/sessions/signing"
)

// DeviceSettings turn on session metadata ([Settings].Devices): beside
// each entry of the user index ([Manager.BindUser]), the Manager records
// when the session was bound (the login), when it was last seen, a short
// summary of the browser ("Firefox 126 on Linux") and the client's
// address, kept as IP says. [Manager.UserSessions] lists them, a "your
// devices" page. The metadata lives in the engine's own store, next to
// the index entry; the session data stay exactly Django's. It needs an
// engine with a [UserIndexer]; sessions no user is bound to get none.
//
// Privacy: a browser summary and an address are personal data in many
// jurisdictions. The trade-off is between what a user can recognise and
// what the store reveals: a full address lets a user spot a login that
// is not theirs, and tells whoever reads the store (a leak, an operator,
// a subpoena) where each user was; a truncated one still tells home from
// abroad while naming a network rather than a line; a hash only says
// "same address as before"; none keeps nothing. The metadata are kept no
// longer than the session (the index entry expires with it), shown only
// to their user, and the address is truncated by default. Say in your
// privacy notice what you keep.
type DeviceSettings struct {
	// Enabled turns the metadata on. Default false.
	Enabled bool
	// IP says how much of the client's address is kept:
	//
	//   - "truncate" (the default, ""): its network, IPv4 /24 and IPv6
	//     /48 ("203.0.113.0/24"), enough to tell home from office, not
	//     enough to single out a household's line;
	//   - "hash": a keyed hash of the whole address (HMAC with
	//     SecretKey): equal addresses compare equal, and a reader of the
	//     store without the secret learns nothing more; with the secret,
	//     an IPv4 hash can be reversed by trying all 2^32 addresses;
	//   - "full": the whole address, the most useful and the most
	//     personal;
	//   - "none": no address.
	IP string
	// ForwardedHops says where the address comes from. Zero (the
	// default) takes the TCP peer (http.Request.RemoteAddr), right when
	// clients connect directly. Behind n reverse proxies that each append
	// to X-Forwarded-For, set n: the address is then the n-th entry from
	// the right, the one the outermost proxy saw. Set it only behind such
	// proxies: any client can send X-Forwarded-For, and with too large
	// an n it would choose its own address. A session from
	// [Manager.Begin] alone (a framework adapter) has no TCP peer: its
	// address comes from X-Forwarded-For, or is not recorded.
	ForwardedHops int
	// Refresh is the least time between two updates of a session's "last
	// seen" by one process, at least one second. Zero means IdleRefresh
	// when IdleTimeout is set, else five minutes; with IdleTimeout, a
	// Refresh shorter than IdleRefresh counts as IdleRefresh. An update
	// writes the index entry only, never the session data, and only on
	// a request that uses the session: never a write per request.
	Refresh time.Duration
}

// defaultSeenRefresh is DeviceSettings.Refresh without an idle timeout.
const defaultSeenRefresh = 5 * time.Minute

// maxMeta is the largest metadata blob the Manager gives a UserIndexer
// (see UserIndexer).
const maxMeta = 512

// validate checks the device settings.
func (d DeviceSettings) validate() []string {
	var errs []string
	switch d.IP {
	case "", "truncate", "hash", "full", "none":
	default:
		errs = append(errs, `Devices.IP must be "truncate", "hash", "full" or "none"`)
	}
	if d.ForwardedHops < 0 || d.Refresh < 0 {
		errs = append(errs, "Devices.ForwardedHops and Devices.Refresh must not be negative")
	}
	if d.Refresh > 0 && d.Refresh < time.Second {
		errs = append(errs, "Devices.Refresh must be at least one second (or zero for the default)")
	}
	return errs
}

// Device is one session of a user, as [Manager.UserSessions] lists it.
// The times, the browser and the address are zero when no metadata was
// recorded (DeviceSettings off when the session was bound).
type Device struct {
	// ID identifies the session without revealing its key: a keyed hash
	// of the key (see [Manager.DeviceID]). It is not secret: a page may
	// show it and send it back to [Manager.DeleteSession].
	ID string
	// CreatedAt is when the session was bound to the user (the login);
	// CycleKey keeps it.
	CreatedAt time.Time
	// LastSeen is when a request last used the session, to within
	// DeviceSettings.Refresh.
	LastSeen time.Time
	// UserAgent summarises the browser: family, major version and
	// operating system ("Firefox 126 on Linux").
	UserAgent string
	// IP is the client's address as DeviceSettings.IP keeps it.
	IP string
	// Expires is when the session ends unless it is used or saved again:
	// the latest expiry a save gave it (the user index never moves an
	// expiry back, see UserIndexer), so a session whose expiry a later
	// SetExpiry shortened ends earlier than this.
	Expires time.Time
}

// deviceMeta is the metadata blob stored beside an index entry: compact
// JSON, times in Unix milliseconds.
type deviceMeta struct {
	Created int64  `json:"c,omitempty"`
	Seen    int64  `json:"s,omitempty"`
	UA      string `json:"ua,omitempty"`
	IP      string `json:"ip,omitempty"`
}

func (d deviceMeta) encode() []byte {
	b, _ := json.Marshal(d) // plain fields: cannot fail
	return b
}

// decodeMeta reads a metadata blob; anything unreadable counts as none.
func decodeMeta(b []byte) deviceMeta {
	var d deviceMeta
	if len(b) > 0 && json.Unmarshal(b, &d) != nil {
		return deviceMeta{}
	}
	return d
}

func msTime(ms int64) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// deviceIDSalt and ipHashSalt key the hashes of the session key and of
// addresses with SecretKey.
const (
	deviceIDSalt = "sessionkit.devices.id"
	ipHashSalt   = "sessionkit.devices.ip"
)

// DeviceID returns the ID [Manager.UserSessions] gives the session under
// key: the first 96 bits of an HMAC-SHA256 of the key, keyed with
// SecretKey, in hex. It cannot be turned back into the key (nor tried
// against guessed keys without the secret), so a page can show it and
// post it back without exposing the session; compare it with a [Device]'s
// ID to mark the current session. Rotating SecretKey changes every ID.
func (m *Manager) DeviceID(key string) string {
	if key == "" {
		return ""
	}
	return hex.EncodeToString(signing.SaltedHMAC(deviceIDSalt, key, m.s.SecretKey)[:12])
}

// client is what the middleware learned about the request a session came
// with, for its metadata.
type client struct {
	ua, ip string
}

// client returns what the request of s tells about the client, read
// once, as the device settings say; nil for a session that did not come
// from Begin or the middleware. Callers hold s.mu.
func (s *Session) client() *client {
	if s.cl == nil && s.hdr != nil {
		m := s.m
		s.cl = &client{ua: summarizeUA(s.hdr.Get("User-Agent")), ip: m.keepIP(requestAddr(s.hdr, s.peer, m.s.Devices.ForwardedHops))}
	}
	return s.cl
}

// requestAddr returns the client's address: the TCP peer, or the hops-th
// entry from the right of X-Forwarded-For.
func requestAddr(h http.Header, peer string, hops int) netip.Addr {
	if hops > 0 {
		var hopsSeen []string
		for _, v := range h.Values("X-Forwarded-For") {
			for _, f := range strings.Split(v, ",") {
				hopsSeen = append(hopsSeen, strings.TrimSpace(f))
			}
		}
		if len(hopsSeen) >= hops {
			if a, err := netip.ParseAddr(hopsSeen[len(hopsSeen)-hops]); err == nil {
				return a.Unmap().WithZone("")
			}
		}
		return netip.Addr{}
	}
	if ap, err := netip.ParseAddrPort(peer); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	if a, err := netip.ParseAddr(peer); err == nil {
		return a.Unmap().WithZone("")
	}
	return netip.Addr{}
}

// keepIP returns what DeviceSettings.IP keeps of a.
func (m *Manager) keepIP(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	switch m.s.Devices.IP {
	case "none":
		return ""
	case "full":
		return a.String()
	case "hash":
		return "#" + hex.EncodeToString(signing.SaltedHMAC(ipHashSalt, a.String(), m.s.SecretKey)[:8])
	}
	bits := 24
	if a.Is6() {
		bits = 48
	}
	p, _ := a.Prefix(bits)
	return p.String()
}

// maxUASummary bounds a browser summary.
const maxUASummary = 64

// uaBrowsers are the browser families summarizeUA recognises, in the
// order it tries them: a browser built on another names both in its
// User-Agent (Edge says Chrome and Safari too), so the more specific
// token comes first. name "" takes the name of the preceding rule's
// family from the token itself.
var uaBrowsers = []struct{ token, name string }{
	{"Edg/", "Edge"}, {"EdgA/", "Edge"}, {"EdgiOS/", "Edge"}, {"Edge/", "Edge"},
	{"OPR/", "Opera"}, {"OPiOS/", "Opera"}, {"Opera/", "Opera"},
	{"SamsungBrowser/", "Samsung Internet"},
	{"YaBrowser/", "Yandex Browser"},
	{"Vivaldi/", "Vivaldi"},
	{"FxiOS/", "Firefox"}, {"Firefox/", "Firefox"},
	{"HeadlessChrome/", "Headless Chrome"},
	{"CriOS/", "Chrome"}, {"Chromium/", "Chromium"}, {"Chrome/", "Chrome"},
	{"Version/", "Safari"}, // Safari's version; checked for "Safari/" below
	{"MSIE ", "Internet Explorer"},
	{"curl/", "curl"}, {"Wget/", "Wget"}, {"python-requests/", "Python Requests"},
	{"Go-http-client/", "Go HTTP client"}, {"okhttp/", "OkHttp"},
}

// uaSystems are the operating systems summarizeUA recognises, in order.
var uaSystems = []struct{ token, name string }{
	{"Windows Phone", "Windows Phone"}, {"Windows", "Windows"},
	{"iPhone", "iOS"}, {"iPad", "iPadOS"}, {"iPod", "iOS"},
	{"Android", "Android"}, {"CrOS", "ChromeOS"},
	{"Macintosh", "macOS"}, {"Mac OS X", "macOS"},
	{"Linux", "Linux"}, {"FreeBSD", "FreeBSD"},
}

// summarizeUA turns a User-Agent header into a short summary: the
// browser family with its major version and the operating system,
// "Firefox 126 on Linux". It is a small table of the common browsers,
// not a full parser: anything else is named by its first product token
// ("Lynx 2"), or "Unknown browser". The result is at most 64 printable
// ASCII characters.
func summarizeUA(ua string) string {
	if ua == "" {
		return ""
	}
	if len(ua) > 1024 {
		ua = ua[:1024]
	}
	browser := ""
	for _, b := range uaBrowsers {
		i := strings.Index(ua, b.token)
		if i < 0 || (b.name == "Safari" && !strings.Contains(ua, "Safari/")) {
			continue
		}
		browser = b.name
		if v := leadingDigits(ua[i+len(b.token):]); v != "" {
			browser += " " + v
		}
		break
	}
	if browser == "" && strings.Contains(ua, "Trident/7.") {
		browser = "Internet Explorer 11"
	}
	if browser == "" {
		// The first product token: "Lynx/2.9.0" gives "Lynx 2".
		tok, _, _ := strings.Cut(ua, " ")
		name, ver, _ := strings.Cut(tok, "/")
		switch {
		case name == "Mozilla" || sanitizeUA(name) == "":
			browser = "Unknown browser"
		default:
			browser = sanitizeUA(name)
			if len(browser) > 32 {
				browser = browser[:32]
			}
			if v := leadingDigits(ver); v != "" {
				browser += " " + v
			}
		}
	}
	for _, s := range uaSystems {
		if strings.Contains(ua, s.token) {
			browser += " on " + s.name
			break
		}
	}
	if len(browser) > maxUASummary {
		browser = browser[:maxUASummary]
	}
	return browser
}

// leadingDigits returns the digits s starts with (at most 6).
func leadingDigits(s string) string {
	n := 0
	for n < len(s) && n < 6 && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return s[:n]
}

// sanitizeUA keeps letters, digits, '.', '-' and '_' of a product name.
func sanitizeUA(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			return r
		}
		return -1
	}, s)
}
