package sessions

import (
	"github.com/sessionkit/sessions/internal/textutil"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// redacted replaces a secret in a redacted config string.
const redacted = "xxxxx"

// maxRedactDepth bounds the nesting of URLs in parameters that Redact
// follows; anything deeper is hidden whole.
const maxRedactDepth = 8

// Redact returns a config string with every secret replaced by "xxxxx",
// safe for logs, errors and pages. It hides:
//
//   - the password of a URL's user information (postgres://app:xxxxx@db/app);
//   - the values of parameters whose names say they are secret (password,
//     pass, pwd, sslpassword, sentinel_password, secret, token, api_key,
//     credential...), in URLs and in key=value strings such as
//     PostgreSQL's "host=db password=xxxxx";
//   - the password of a MySQL DSN (app:xxxxx@tcp(db:3306)/app);
//   - all of the above in URLs nested in parameters, at any depth, whether
//     percent-encoded once, twice or not at all
//     (cached-db:?cache=redis%3A%2F%2F%3Axxxxx%40cache%2F0).
//
// A string that is not a well-formed URL is reduced to its scheme
// ("postgres://…"): a password with an unescaped '%', '#', '/' or '?'
// makes a URL unparsable or moves part of the password into the host,
// path or fragment, where it cannot be told apart. Usernames, hosts,
// paths and other parameters are kept.
func Redact(config string) string {
	var r redactor
	return r.redact(config, 0)
}

// quoteConfig returns the config string, redacted by [Redact], quoted and
// cut to about textutil.MaxQuote characters, for error messages.
func quoteConfig(config string) string { return textutil.Quote(Redact(config)) }

// redactError returns err with every secret of the config strings (as
// [Redact] finds them, in their raw and percent-encoded forms) removed from
// its text, and every part of a config string longer than [textutil.MaxQuote] cut
// short. errors.Is and errors.As see the original error. Open applies it
// to every error an engine's opener returns, with the config string and
// the settings' DatabaseURL and CacheURL.
func redactError(err error, configs ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	out := scrub(msg, configs)
	if out == msg {
		return err
	}
	return &redactedError{msg: out, err: err}
}

// redactedError is an error whose text had secrets removed.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// minScrub is the shortest secret removed from error texts: shorter ones
// would turn the text into noise, and are no secret anyway.
const minScrub = 4

// scrub removes the secrets of the configs from text and cuts the long
// parts of the configs short.
func scrub(text string, configs []string) string {
	type repl struct{ old, new string }
	var rs []repl
	long := false
	for _, c := range configs {
		if c == "" {
			continue
		}
		long = long || len(c) > textutil.MaxQuote
		var r redactor
		r.redact(c, 0)
		for _, s := range r.secrets {
			for _, f := range encodings(s) {
				if len(f) >= minScrub {
					rs = append(rs, repl{f, redacted})
				}
			}
		}
		for _, s := range r.scrubAlways {
			if s != "" {
				rs = append(rs, repl{s, redacted})
			}
		}
		for _, p := range longParts(c) {
			rs = append(rs, repl{p, textutil.Shorten(p)})
		}
	}
	// Longest first, so that a secret inside a long part is still found
	// in the part's shortened form.
	slices.SortStableFunc(rs, func(a, b repl) int { return len(b.old) - len(a.old) })
	for _, r := range rs {
		if strings.Contains(text, r.old) {
			text = strings.ReplaceAll(text, r.old, r.new)
		}
	}
	if long {
		// What an engine made of a long part (a cleaned path, an
		// absolute one) is not the part itself: cut every long word.
		text = longWord.ReplaceAllStringFunc(text, textutil.Shorten)
	}
	return text
}

// longWord matches a run of non-space characters well over textutil.MaxQuote.
var longWord = regexp.MustCompile(`\S{240,}`)

// encodings returns the forms a secret may take in a text: raw,
// percent-encoded as a query value, a path segment or user information,
// and encoded twice.
func encodings(s string) []string {
	out := []string{s, url.QueryEscape(s), url.PathEscape(s), strings.TrimPrefix(url.UserPassword("", s).String(), ":"),
		url.QueryEscape(url.QueryEscape(s)), url.PathEscape(url.PathEscape(s)), strconv.Quote(s)}
	slices.Sort(out)
	return slices.Compact(out)
}

// longParts returns the parts of a config string longer than textutil.MaxQuote:
// the whole, the host, path and opaque part, and the parameters' names
// and values, raw and decoded.
func longParts(c string) []string {
	if len(c) <= textutil.MaxQuote {
		return nil
	}
	parts := []string{c}
	if u, err := url.Parse(c); err == nil {
		parts = append(parts, u.Host, u.Path, u.EscapedPath(), u.Opaque, u.RawQuery)
		for _, pair := range strings.Split(u.RawQuery, "&") {
			k, v, _ := strings.Cut(pair, "=")
			parts = append(parts, k, v)
			if d, err := url.QueryUnescape(k); err == nil {
				parts = append(parts, d)
			}
			if d, err := url.QueryUnescape(v); err == nil {
				parts = append(parts, d)
			}
		}
	}
	var out []string
	for _, p := range parts {
		if len(p) > textutil.MaxQuote {
			out = append(out, p)
		}
	}
	return out
}

// redactor redacts config strings and remembers the secrets it hid.
type redactor struct {
	secrets     []string
	scrubAlways []string // removed from error texts however short
	hidden      int      // how many things were hidden (secrets or unparsable parts)
}

func (r *redactor) secret(s string) {
	if s != "" {
		r.secrets = append(r.secrets, s)
	}
	r.hidden++
}

// redact returns s redacted. depth is the nesting level.
func (r *redactor) redact(s string, depth int) string {
	if s == "" {
		return s
	}
	if depth > maxRedactDepth {
		r.secret(s)
		return "…"
	}
	hidden := r.hidden
	out, scheme := r.structural(s, depth)
	if r.hidden > hidden {
		return out
	}
	// A string without a scheme may be a URL encoded once more than its
	// place needs (a double-encoded parameter): decode it and look again.
	// A '+' is a space in a query, a plus sign elsewhere: try both.
	if scheme == "" && strings.Contains(s, "%") {
		for _, unescape := range []func(string) (string, error){url.PathUnescape, url.QueryUnescape} {
			d, err := unescape(s)
			if err != nil || d == s {
				continue
			}
			var inner redactor
			rd := inner.redact(d, depth+1)
			if inner.hidden > 0 {
				r.secrets = append(r.secrets, inner.secrets...)
				r.scrubAlways = append(r.scrubAlways, inner.scrubAlways...)
				r.hidden += inner.hidden
				return rd
			}
		}
	}
	return s
}

// kvSecret finds the secret values of key=value strings: PostgreSQL's
// "host=db password=pw", ADO's "Server=db;Password=pw", and such inside
// other values. The key must start the string or follow a space, a tab or
// a ';'; the value is single- or double-quoted, or runs to the next space
// or ';'.
var kvSecret = regexp.MustCompile(`(?i)(^|[\s;])([a-z0-9_.-]*(?:pass|pwd|secret|token|credential|api_?key|private_?key|access_?key)[a-z0-9_.-]*\s*=\s*)('(?:[^'\\]|\\.)*'?|"(?:[^"\\]|\\.)*"?|[^\s;]*)`)

// structural redacts s as a URL (or a key=value string) and returns the
// result and the URL's scheme.
func (r *redactor) structural(s string, depth int) (out, scheme string) {
	if kvSecret.MatchString(s) {
		s = kvSecret.ReplaceAllStringFunc(s, func(m string) string {
			sub := kvSecret.FindStringSubmatch(m)
			v := sub[3]
			if v == "" {
				return m
			}
			if len(v) >= 2 && (v[0] == '\'' || v[0] == '"') && v[len(v)-1] == v[0] {
				r.secret(v[1 : len(v)-1])
			}
			r.secret(v)
			return sub[1] + sub[2] + redacted
		})
	}
	afterKV := r.hidden
	schemeOnly := func(sch string) string {
		r.hidden++
		// The host and user of a URL hidden whole may hold the start
		// of a password (postgres://u:12?x=ab@h: host "u:12").
		if _, rest, ok := strings.Cut(s, "://"); ok {
			if i := strings.IndexAny(rest, "/?#"); i >= 0 {
				rest = rest[:i]
			}
			r.scrubAlways = append(r.scrubAlways, rest)
		}
		if sch == "" || len(s) <= len(sch) {
			return "…"
		}
		if strings.HasPrefix(s[len(sch)+1:], "//") {
			return sch + "://…"
		}
		return sch + ":…"
	}
	u, err := url.Parse(s)
	if err != nil {
		return schemeOnly(leadingScheme(s)), ""
	}
	scheme = u.Scheme
	// A '#' in a config string is a fragment no engine takes, or a
	// password's '#' that moved the rest of the password there.
	if u.Fragment != "" || strings.Contains(s, "#") {
		return schemeOnly(scheme), scheme
	}
	authority := u.Host != "" || u.User != nil
	// After a host, an '@' in the path is a password with an unescaped
	// '/' (redis://:12/ab@h: host ":12", path "/ab@h"): hide it all.
	if authority && strings.Contains(u.EscapedPath(), "@") {
		return schemeOnly(scheme), scheme
	}
	c := *u
	if c.User != nil {
		if pw, ok := c.User.Password(); ok {
			r.secret(pw)
			if raw := rawPassword(s); raw != pw {
				r.secret(raw)
			}
			c.User = url.UserPassword(c.User.Username(), redacted)
		}
	}
	// A MySQL DSN "user:pw@tcp(host)/db" parses as scheme "user" and
	// opaque "pw@tcp(host)/db".
	if i := strings.LastIndex(c.Opaque, "@"); i >= 0 {
		r.secret(c.Opaque[:i])
		if d, err := url.PathUnescape(c.Opaque[:i]); err == nil {
			r.secret(d)
		}
		c.Opaque = redacted + c.Opaque[i:]
	}
	if c.RawQuery != "" {
		q, whole := r.query(c.RawQuery, authority, depth)
		if whole {
			return schemeOnly(scheme), scheme
		}
		c.RawQuery = q
	}
	if r.hidden == afterKV {
		return s, scheme
	}
	return c.String(), scheme
}

// query redacts a raw query. whole reports a query that shows the URL's
// user information was split by an unescaped '?' in a password.
func (r *redactor) query(raw string, authority bool, depth int) (out string, whole bool) {
	pairs := strings.Split(raw, "&")
	afterSecret := false
	for i, pair := range pairs {
		if pair == "" {
			continue
		}
		k, v, hasValue := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			r.secret(pair)
			pairs[i] = "…"
			afterSecret = false
			continue
		}
		if authority && strings.Contains(key, "@") {
			r.secret(pair)
			return "", true
		}
		if !hasValue && afterSecret {
			// An '&' in a secret value: the rest of it looks like a
			// parameter without a value.
			r.secret(key)
			r.secret(k)
			pairs[i] = redacted
			continue
		}
		if secretName(key) {
			afterSecret = true
			if v != "" {
				r.secret(v)
				if d, err := url.QueryUnescape(v); err == nil {
					r.secret(d)
				}
				pairs[i] = k + "=" + redacted
			}
			continue
		}
		afterSecret = false
		val, err := url.QueryUnescape(v)
		if err != nil {
			r.secret(v)
			pairs[i] = k + "=…"
			continue
		}
		// After a host, an '@' in a value that is no URL is a password
		// with an unescaped '?' (postgres://u:12?x=ab@h/db).
		if authority && strings.Contains(val, "@") && !strings.Contains(val, "://") {
			r.secret(val)
			return "", true
		}
		hidden := r.hidden
		rv := r.redact(val, depth+1)
		if r.hidden > hidden {
			pairs[i] = k + "=" + queryEscape(rv)
		}
	}
	return strings.Join(pairs, "&"), false
}

// queryEscape escapes a redacted value for a query, keeping the ellipsis
// of hidden parts readable.
func queryEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "%E2%80%A6", "…")
}

// secretName reports whether a parameter's name says its value is secret.
func secretName(name string) bool {
	n := strings.NewReplacer("_", "", "-", "", ".", "").Replace(strings.ToLower(name))
	for _, w := range []string{"pass", "pwd", "secret", "token", "credential", "apikey", "privatekey", "accesskey", "auth", "signature"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// leadingScheme returns the URL scheme s starts with ("postgres" of
// "postgres://..."), or "" when it does not start with one.
func leadingScheme(s string) string {
	i := strings.IndexByte(s, ':')
	if i <= 0 {
		return ""
	}
	for j := 0; j < i; j++ {
		c := s[j]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case j > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return ""
		}
	}
	return s[:i]
}

// rawPassword returns the password of a URL's user information as written
// (before percent-decoding), or "".
func rawPassword(s string) string {
	_, rest, ok := strings.Cut(s, "://")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return ""
	}
	_, pw, _ := strings.Cut(rest[:at], ":")
	return pw
}
