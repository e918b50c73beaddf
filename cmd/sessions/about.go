package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/codec"
)

// setting is one row of the about panel's settings table.
type setting struct{ Name, Value string }

// aboutData is the data of the about panel.
type aboutData struct {
	EngineName  string
	Describe    string
	Config      string
	DataDir     string
	SecretFrom  string
	ClientSide  bool
	Settings    []setting
	KeyPrefix   string
	HasSession  bool
	ExpiryAge   int64
	ExpiryDate  string
	AtClose     bool
	DecodedJSON string
	Raw         string
	Binary      bool // Raw is a hex dump
	RawNote     string
	Codec       string
	Metrics     bool // the live counts are served (/metrics)
}

// aboutPage shows the engine, the cookie settings, and the visitor's
// session as Django sees it: the decoded dict, and the string in the
// store (signed, base64 JSON) when the format is Django's signed JSON.
func (s *shop) aboutPage(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	st := s.m.Settings()
	desc := s.m.Describe()
	d := aboutData{
		EngineName: desc.Name,
		Describe:   desc.Where,
		ClientSide: desc.ClientSide,
		Config:     s.info.Config,
		DataDir:    s.info.DataDir,
		SecretFrom: s.info.SecretFrom,
		Codec:      desc.Codec,
		Metrics:    s.metrics != nil,
	}
	d.Settings = cookieSettings(st)

	// The session as loaded for this request, before this page changes
	// anything in it.
	data, err := sessionJSON(sess, true)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	d.DecodedJSON = string(data)
	d.HasSession = sess.Key() != ""
	d.ExpiryAge = int64(sess.ExpiryAge() / time.Second)
	d.ExpiryDate = sess.ExpiryDate().UTC().Format(time.RFC3339)
	d.AtClose = sess.ExpireAtBrowserClose()
	if key := sess.Key(); key != "" {
		if d.ClientSide {
			d.Raw = key
			d.RawNote = "the cookie's value"
		} else {
			d.KeyPrefix = key[:min(8, len(key))] + "…"
			raw, _, err := s.m.Inspect(r.Context(), key)
			switch {
			case err != nil:
				d.RawNote = "could not read it again: " + err.Error()
			case utf8.Valid(raw) && !bytes.ContainsAny(raw, "\x00"):
				d.Raw = string(raw)
				d.RawNote = "session_data as stored"
			default:
				d.Raw, d.Binary = hexDump(raw, 512), true
				d.RawNote = fmt.Sprintf("%d bytes in a binary format (%s), as Django's cache engines store a pickled dict", len(raw), d.Codec)
			}
		}
	}
	s.render(w, r, http.StatusOK, "about", "About", "about", d)
}

// hexDump writes up to limit bytes of b as xxd does: offset, hex, text.
func hexDump(b []byte, limit int) string {
	var out strings.Builder
	for off := 0; off < len(b) && off < limit; off += 16 {
		line := b[off:min(off+16, len(b))]
		fmt.Fprintf(&out, "%08x: ", off)
		for i := range 16 {
			switch {
			case i < len(line):
				fmt.Fprintf(&out, "%02x", line[i])
			default:
				out.WriteString("  ")
			}
			if i%2 == 1 {
				out.WriteByte(' ')
			}
		}
		out.WriteByte(' ')
		for _, c := range line {
			if c < 0x20 || c > 0x7e {
				c = '.'
			}
			out.WriteByte(c)
		}
		out.WriteByte('\n')
	}
	if len(b) > limit {
		fmt.Fprintf(&out, "… %d more bytes", len(b)-limit)
	}
	return strings.TrimRight(out.String(), "\n")
}

// cookieSettings lists the session settings under Django's names.
func cookieSettings(st sessions.Settings) []setting {
	dom := "None (host-only)"
	if st.CookieDomain != "" {
		dom = strconv.Quote(st.CookieDomain)
	}
	py := func(b bool) string {
		if b {
			return "True"
		}
		return "False"
	}
	return []setting{
		{"SESSION_ENGINE", sessions.Redact(st.Engine)},
		{"SESSION_COOKIE_NAME", strconv.Quote(st.CookieName)},
		{"SESSION_COOKIE_AGE", fmt.Sprintf("%d (%s)", int64(st.CookieAge/time.Second), humanDuration("en", st.CookieAge))},
		{"SESSION_COOKIE_DOMAIN", dom},
		{"SESSION_COOKIE_PATH", strconv.Quote(st.CookiePath)},
		{"SESSION_COOKIE_SECURE", py(st.CookieSecure)},
		{"SESSION_COOKIE_HTTPONLY", py(st.CookieHTTPOnly)},
		{"SESSION_COOKIE_SAMESITE", sameSiteName(st.CookieSameSite)},
		{"SESSION_SAVE_EVERY_REQUEST", py(st.SaveEveryRequest)},
		{"SESSION_EXPIRE_AT_BROWSER_CLOSE", py(st.ExpireAtBrowserClose)},
	}
}

// sameSiteName writes a SameSite mode as Django's setting spells it.
func sameSiteName(s http.SameSite) string {
	switch s {
	case http.SameSiteLaxMode:
		return `"Lax"`
	case http.SameSiteStrictMode:
		return `"Strict"`
	case http.SameSiteNoneMode:
		return `"None"`
	}
	return "False"
}

// sessionJSON returns the session's data as Python's json.dumps writes it
// (keys in order), indented if asked.
func sessionJSON(sess *sessions.Session, indent bool) ([]byte, error) {
	d := &codec.Dict{}
	for k, v := range sess.All() {
		d.Set(k, v)
	}
	if err := sess.Err(); err != nil {
		return nil, err
	}
	return dictJSON(d, indent)
}

// dictJSON encodes d as Python does, indented with two spaces if asked
// (when the JSON is standard; NaN and Infinity stay on one line).
func dictJSON(d *codec.Dict, indent bool) ([]byte, error) {
	b, err := codec.MarshalPython(d)
	if err != nil || !indent || d.Len() == 0 {
		return b, err
	}
	var out bytes.Buffer
	if json.Indent(&out, b, "", "  ") != nil {
		return b, nil
	}
	return out.Bytes(), nil
}
