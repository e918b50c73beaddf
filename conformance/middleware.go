package conformance

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/codec"
)

// middlewareCases are Django's SessionMiddlewareTests and the rules this
// module adds to the middleware.
func middlewareCases() []managerCase {
	return []managerCase{
		{name: "SecureSessionCookie", cookieOnly: true, reason: "CookieSecure sets Secure (test_secure_session_cookie)", run: caseSecureSessionCookie},
		{name: "HTTPOnlySessionCookie", cookieOnly: true, reason: "HttpOnly is set by default (test_httponly_session_cookie)", run: caseHTTPOnlySessionCookie},
		{name: "SameSiteSessionCookie", cookieOnly: true, reason: "CookieSameSite Strict renders SameSite=Strict (test_samesite_session_cookie)", run: caseSameSiteSessionCookie},
		{name: "NoHTTPOnlySessionCookie", cookieOnly: true, reason: "CookieHTTPOnly false omits HttpOnly (test_no_httponly_session_cookie)", run: caseNoHTTPOnlySessionCookie},
		{name: "SessionSaveOn5xx", reason: "a 500 or 503 response saves nothing and sets no cookie (test_session_save_on_500, test_session_save_on_5xx)", run: caseSessionSaveOn5xx},
		{name: "SessionUpdateErrorRedirect", serverOnly: true, reason: "a view that creates a session with Save and then deletes its record gets 400 with Django's message (test_session_update_error_redirect, ported literally)", run: caseSessionUpdateErrorRedirect},
		{name: "SessionDeletedDuringRequest", serverOnly: true, reason: "a loaded session deleted by another request and then changed answers 400", run: caseSessionDeletedDuringRequest},
		{name: "SessionDeleteOnEnd", reason: "Flush with an incoming cookie sends the deletion cookie and Vary: Cookie (test_session_delete_on_end)", run: caseSessionDeleteOnEnd},
		{name: "FailedFlushKeepsKey", serverOnly: true, reason: "a Flush whose delete fails returns the error and keeps the key, as Django's flush (its delete raises before the key is dropped): no deletion cookie is sent while the session is still stored, so the user can log out again; a view that goes on (2xx) saves the emptied session under the key", run: caseFailedFlushKeepsKey},
		{name: "SessionDeleteOnEndCustomDomainPath", cookieOnly: true, reason: "the deletion cookie carries the configured Domain and Path (test_session_delete_on_end_with_custom_domain_and_path)", run: caseSessionDeleteOnEndCustomDomainPath},
		{name: "FlushEmptyWithoutCookie", reason: "Flush without an incoming cookie sets no cookie but adds Vary: Cookie (test_flush_empty_without_session_cookie_doesnt_set_cookie)", run: caseFlushEmptyWithoutCookie},
		{name: "SaveEveryRequestRenews", reason: "SaveEveryRequest re-sends the cookie of an untouched non-empty session, with Vary: Cookie (CVE-2026-35192)", run: caseSaveEveryRequestRenews},
		{name: "EmptySessionSaved", serverOnly: true, reason: "a session emptied with Delete keeps its key, is saved empty and its cookie re-sent (test_empty_session_saved)", run: caseEmptySessionSaved},
		{name: "UntouchedNoCookieNoVary", reason: "a request that never touches the session gets neither Set-Cookie nor Vary", run: caseUntouchedNoCookieNoVary},
		{name: "ReadOnlyVaryOnly", reason: "reading the session adds Vary: Cookie but saves nothing and sets no cookie", run: caseReadOnlyVaryOnly},
		{name: "NewSessionCookie", reason: "a new session's cookie has the key, Max-Age = cookie age, Expires, Path=/, HttpOnly, SameSite=Lax", run: caseNewSessionCookie},
		{name: "UnknownKeyNotAdopted", serverOnly: true, reason: "a well-formed but unknown key from the client is replaced by a fresh one (no session fixation)", run: caseUnknownKeyNotAdopted},
		{name: "BadCookieReadDeletesCookie", reason: "a malformed, tampered or unknown cookie that the view reads gives an empty session and a deletion cookie, never an error", run: caseBadCookieReadDeletesCookie},
		{name: "BadCookieUntouched", reason: "a bogus cookie of 8 or more characters on a request that never touches the session changes nothing", run: caseBadCookieUntouched},
		{name: "ShortCookieIsNoKey", reason: "a cookie shorter than 8 characters is no key at all (Django's _validate_session_key): an untouched request gets the deletion cookie and Vary: Cookie", run: caseShortCookieIsNoKey},
		{name: "SaveEveryRequestBogusCookie", reason: "with SaveEveryRequest a bogus or unknown cookie creates no stored empty session (Django's bug, ticket #25489) and is deleted", run: caseSaveEveryRequestBogusCookie},
		{name: "BrowserCloseCookie", cookieOnly: true, reason: "a browser-close session's cookie has neither Max-Age nor Expires", run: caseBrowserCloseCookie},
		{name: "CustomExpiryCookie", cookieOnly: true, reason: "a custom expiry sets the cookie's Max-Age", run: caseCustomExpiryCookie},
		{name: "CookieBeforeBody", reason: "the cookie is written before the body even when the handler never calls WriteHeader", run: caseCookieBeforeBody},
		{name: "ResponseControllerFlush", streaming: true, reason: "http.ResponseController flushing works through the middleware and commits the cookie first", run: caseResponseControllerFlush},
		{name: "VaryMerged", reason: "Vary: Cookie is appended to an existing Vary, once", run: caseVaryMerged},
		{name: "UnencodableValue", reason: "a value JSON cannot encode fails the save with a clear error to the error handler, not a silent loss", run: caseUnencodableValue},
		{name: "StoreFailureErrorHandler", serverOnly: true, reason: "a store that fails sends the request to Settings.ErrorHandler, with the handler's own response discarded", run: caseStoreFailureErrorHandler},
		{name: "ClearThenCycleKeyOfDeadKey", serverOnly: true, reason: "Clear then CycleKey, with a cookie naming no live session (unknown, expired or deleted) that the request never loaded, stores the request's own data under a new key and sends its cookie, as Django: a never-loaded session brings nothing back", run: caseClearThenCycleKeyOfDeadKey},
		{name: "MarkModifiedIsNoAccess", reason: "MarkModified is Django's `session.modified = True`: it does not mark the session accessed, so on a new, empty session the response has neither a cookie nor Vary: Cookie; on a stored session it saves and sends the cookie (with Vary, as every cookie)", run: caseMarkModifiedIsNoAccess},
		{name: "CycleKeyOfEmptySession", reason: "CycleKey stores the session at once, as Django's cycle_key (create() server-side, save() on signed cookies): a new, empty session, or one just flushed, gets a cookie naming an empty session, not none or a deletion cookie", run: caseCycleKeyOfEmptySession},
		{name: "LoginCycle", serverOnly: true, reason: "CycleKey in a login request issues a new cookie; the old key no longer loads", run: caseLoginCycle},
		{name: "LargeSessionTooLarge", reason: "a session over MaxDataSize fails with ErrTooLarge at save, reported to the error handler", run: caseLargeSessionTooLarge},
	}
}

func caseSecureSessionCookie(c *mgr) {
	m := c.manager(func(s *sessions.Settings) { s.CookieSecure = true })
	res := c.serve(m, func(w http.ResponseWriter, r *http.Request) { sessions.FromContext(r.Context()).Set("hello", "world") }, "")
	if ck := c.sent(res); ck == nil || !ck.Secure {
		c.t.Errorf("cookie %v", c.raw(res))
	}
}

func caseHTTPOnlySessionCookie(c *mgr) {
	res := c.serve(c.manager(nil), func(w http.ResponseWriter, r *http.Request) { sessions.FromContext(r.Context()).Set("hello", "world") }, "")
	if ck := c.sent(res); ck == nil || !ck.HttpOnly {
		c.t.Errorf("cookie %v", c.raw(res))
	}
}

func caseSameSiteSessionCookie(c *mgr) {
	m := c.manager(func(s *sessions.Settings) { s.CookieSameSite = http.SameSiteStrictMode })
	res := c.serve(m, func(w http.ResponseWriter, r *http.Request) { sessions.FromContext(r.Context()).Set("hello", "world") }, "")
	if !strings.Contains(c.raw(res), "SameSite=Strict") {
		c.t.Errorf("cookie %v", c.raw(res))
	}
}

func caseNoHTTPOnlySessionCookie(c *mgr) {
	m := c.manager(func(s *sessions.Settings) { s.CookieHTTPOnly = false })
	res := c.serve(m, func(w http.ResponseWriter, r *http.Request) { sessions.FromContext(r.Context()).Set("hello", "world") }, "")
	if raw := c.raw(res); raw == "" || strings.Contains(raw, "HttpOnly") {
		c.t.Errorf("cookie %v", raw)
	}
}

func caseSessionSaveOn5xx(c *mgr) {
	m := c.manager(nil)
	key := c.saved(m, map[string]any{"x": 1})
	for _, code := range []int{500, 503} {
		res := c.serve(m, func(w http.ResponseWriter, r *http.Request) {
			sessions.FromContext(r.Context()).Set("hello", "world")
			w.WriteHeader(code)
		}, key)
		if c.raw(res) != "" {
			c.t.Errorf("%d: cookie set", code)
		}
		if !c.client && m.Load(c.ctx, key).Has("hello") {
			c.t.Errorf("%d: session saved", code)
		}
	}
}

func caseSessionUpdateErrorRedirect(c *mgr) {
	m := c.manager(nil)
	res := c.serve(m, func(w http.ResponseWriter, r *http.Request) {
		s := sessions.FromContext(r.Context())
		// request.session.save(must_create=True); request.session.delete()
		if err := s.Save(r.Context()); err != nil {
			c.t.Errorf("Save: %v", err)
		}
		if err := c.eng().Delete(r.Context(), s.Key()); err != nil {
			c.t.Errorf("Delete: %v", err)
		}
		io.WriteString(w, "handler body")
	}, "")
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 400 || !strings.Contains(string(body), "logged out in a concurrent request") {
		c.t.Errorf("status %d body %q, want 400 with Django's SessionInterrupted message", res.StatusCode, body)
	}
	if strings.Contains(string(body), "handler body") {
		c.t.Error("the handler's body leaked into the 400 response")
	}
}

func caseSessionDeletedDuringRequest(c *mgr) {
	m := c.manager(nil)
	key := c.saved(m, map[string]any{"x": 1})
	res := c.serve(m, func(w http.ResponseWriter, r *http.Request) {
		s := sessions.FromContext(r.Context())
		s.Get("x")
		c.eng().Delete(c.ctx, key) // another request logs out
		s.Set("foo", "bar")
	}, key)
	if res.StatusCode != 400 {
		c.t.Errorf("status %d, want 400", res.StatusCode)
	}
}

func caseSessionDeleteOnEnd(c *mgr) {
	m := c.manager(nil)
	key := c.saved(m, map[string]any{"x": 1})
	res := c.serve(m, func(w http.ResponseWriter, r *http.Request) { sessions.FromContext(r.Context()).Flush(r.Context()) }, key)
	if ck := c.sent(res); ck == nil || ck.Value != "" || ck.MaxAge >= 0 {
		c.t.Errorf("%q, want the key dropped", c.raw(res))
	}
	if c.token == "" {
		raw := c.raw(res)
		for _, want := range []string{"sessionid=;", "Path=/", "Expires=Thu, 01 Jan 1970 00:00:00 GMT", "Max-Age=0", "SameSite=Lax"} {
			if !strings.Contains(raw+";", want) {
				c.t.Errorf("deletion cookie %q lacks %q", raw, want)
			}
		}
	}
	if !c.varies(res) {
		c.t.Error("no Vary: Cookie")
	}
}

// caseFailedFlushKeepsKey: a logout whose delete fails (the store is
// down) must not tell the browser to forget a session the store keeps: a
// stolen cookie would stay valid while the user, without it, could not
// log out again.
func caseFailedFlushKeepsKey(c *mgr) {
	errDown := errors.New("injected: the store is down")
	m := c.managerOver(wrapEngine(c.eng(), func(cl call) error {
		if cl.op == "Delete" {
			return errDown
		}
		return nil
	}), nil)
	for _, status := range []int{http.StatusInternalServerError, http.StatusOK} {
		key := c.saved(m, map[string]any{"user": "alice"})
		var ferr error
		var after string
		res := c.serve(m, func(w http.ResponseWriter, r *http.Request) {
			s := sessions.FromContext(r.Context())
			s.Get("user")
			ferr = s.Flush(r.Context())
			after = s.Key()
			w.WriteHeader(status)
		}, key)
		if !errors.Is(ferr, errDown) {
			c.t.Fatalf("status %d: Flush with a failing delete: %v, want the store's error", status, ferr)
		}
		if after != key {
			c.t.Errorf("status %d: a failed Flush dropped the session key (Key() = %q)", status, after)
		}
		if ck := c.sent(res); ck != nil && (ck.Value == "" || ck.MaxAge < 0) {
			c.t.Errorf("status %d: a failed Flush sent a deletion cookie %q while the session is still stored", status, c.raw(res))
		}
		stored := m.Load(c.ctx, key)
		switch {
		case status >= 500 && stored.Get("user") != "alice":
			c.t.Errorf("status %d: the stored session changed (user = %v): a 5xx saves nothing", status, stored.Get("user"))
		case status < 500 && stored.Has("user"):
			c.t.Errorf("status %d: the session still holds user = %v: a view going on after a failed Flush saves the emptied session under its key", status, stored.Get("user"))
		}
	}
}

func caseSessionDeleteOnEndCustomDomainPath(c *mgr) {
	m := c.manager(func(s *sessions.Settings) { s.CookieDomain = ".example.local"; s.CookiePath = "/example/" })
	key := c.saved(m, map[string]any{"x": 1})
	req := httptest.NewRequest("GET", "http://www.example.local/example/", nil)
	res := c.serveReq(m, func(w http.ResponseWriter, r *http.Request) { sessions.FromContext(r.Context()).Flush(r.Context()) }, req, key)
	raw := c.raw(res)
	if !strings.Contains(raw, "Domain=example.local") || !strings.Contains(raw, "Path=/example/") || !strings.Contains(raw, "Max-Age=0") {
		c.t.Errorf("deletion cookie %q", raw)
	}
}

func caseFlushEmptyWithoutCookie(c *mgr) {
	res := c.serve(c.manager(nil), func(w http.ResponseWriter, r *http.Request) { sessions.FromContext(r.Context()).Flush(r.Context()) }, "")
	if c.raw(res) != "" || !c.varies(res) {
		c.t.Errorf("Set-Cookie %q Vary %v", c.raw(res), res.Header.Values("Vary"))
	}
}

func caseSaveEveryRequestRenews(c *mgr) {
	m := c.manager(func(s *sessions.Settings) { s.SaveEveryRequest = true })
	key := c.saved(m, map[string]any{"x": 1})
	res := c.serve(m, func(w http.ResponseWriter, r *http.Request) {}, key)
	ck := c.sent(res)
	if ck == nil || !c.varies(res) {
		c.t.Fatalf("cookie %q vary %v", c.raw(res), res.Header.Values("Vary"))
	}
	if !c.client && ck.Value != key {
		c.t.Error("SaveEveryRequest changed the key")
	}
	if r := m.Load(c.ctx, ck.Value); fmt.Sprint(r.Get("x")) != "1" {
		c.t.Error("data lost by the renewal")
	}
}

func caseEmptySessionSaved(c *mgr) {
	m := c.manager(nil)
	key := c.saved(m, map[string]any{"foo": "bar"})
	res := c.serve(m, func(w http.ResponseWriter, r *http.Request) { sessions.FromContext(r.Context()).Delete("foo") }, key)
	ck := c.sent(res)
	if ck == nil || ck.Value != key || !c.varies(res) {
		c.t.Fatalf("cookie %q", c.raw(res))
	}
	if ok, _ := m.Exists(c.ctx, key); !ok {
		c.t.Error("emptied session not stored")
	}
}

func caseUntouchedNoCookieNoVary(c *mgr) {
	res := c.serve(c.manager(nil), func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi") }, "")
	if len(res.Header.Values("Set-Cookie")) > 0 || c.raw(res) != "" || c.varies(res) {
		c.t.Errorf("headers %v", res.Header)
	}
}

func caseReadOnlyVaryOnly(c *mgr) {
	m := c.manager(nil)
	key := c.saved(m, map[string]any{"x": 1})
	res := c.serve(m, func(w http.ResponseWriter, r *http.Request) { sessions.FromContext(r.Context()).Get("x") }, key)
	if c.raw(res) != "" || !c.varies(res) {
		c.t.Errorf("headers %v", res.Header)
	}
}

func caseNewSessionCookie(c *mgr) {
	m := c.manager(nil)
	res := c.serve(m, func(w http.ResponseWriter, r *http.Request) { sessions.FromContext(r.Context()).Set("hello", "world") }, "")
	ck := c.sent(res)
	if ck == nil {
		c.t.Fatal("no cookie")
	}
	if c.token == "" && (ck.MaxAge != int(sessions.DefaultCookieAge/time.Second) || ck.Expires.IsZero() || ck.Path != "/" || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode) {
		c.t.Errorf("cookie %q", c.raw(res))
	}
	if !c.client && (len(ck.Value) != sessions.KeyLength || !sessions.ValidKey(ck.Value)) {
		c.t.Errorf("key %q is not 32 characters of [a-z0-9]", ck.Value)
	}
	if r := m.Load(c.ctx, ck.Value); r.Get("hello") != "world" {
		c.t.Error("not stored")
	}
}

func caseUnknownKeyNotAdopted(c *mgr) {
	m := c.manager(nil)
	planted := sessions.NewKey()
	res := c.serve(m, func(w http.ResponseWriter, r *http.Request) { sessions.FromContext(r.Context()).Set("user", "alice") }, planted)
	ck := c.sent(res)
	if ck == nil || ck.Value == planted || ck.Value == "" {
		c.t.Fatalf("cookie %q", c.raw(res))
	}
	if ok, _ := m.Exists(c.ctx, planted); ok {
		c.t.Error("the planted key was stored")
	}
}

func caseBadCookieReadDeletesCookie(c *mgr) {
	m := c.manager(nil)
	good := c.saved(m, map[string]any{"x": 1})
	bad := []string{"garbage!!", sessions.NewKey(), "a", strings.Repeat("z", 5000), good[:len(good)-1] + flip(good[len(good)-1]),
		"eyJhIjoxfQ:1r31eq:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", ".eJzLSM3JyQcABiwCFQ:0:x", "e30:zzzzzzzzzzzzzzzzz:x"}
	for _, v := range bad {
		res := c.serve(m, func(w http.ResponseWriter, r *http.Request) {
			if n := sessions.FromContext(r.Context()).Len(); n != 0 {
				c.t.Errorf("cookie %.20q loaded %d keys", v, n)
			}
		}, v)
		if res.StatusCode != 200 {
			c.t.Errorf("cookie %.20q: status %d", v, res.StatusCode)
		}
		ck := c.sent(res)
		if ck == nil || ck.Value != "" || ck.MaxAge >= 0 {
			c.t.Errorf("cookie %.20q: Set-Cookie %q, want a deletion", v, c.raw(res))
		}
	}
}

func caseBadCookieUntouched(c *mgr) {
	res := c.serve(c.manager(nil), func(w http.ResponseWriter, r *http.Request) {}, "garbage!garbage")
	if len(res.Header.Values("Set-Cookie")) > 0 || c.raw(res) != "" || c.varies(res) {
		c.t.Errorf("headers %v", res.Header)
	}
}

func caseShortCookieIsNoKey(c *mgr) {
	m := c.manager(nil)
	for _, v := range []string{"a", "garbage", "1234567"} {
		if k := m.Load(c.ctx, v).Key(); k != "" {
			c.t.Errorf("Load(%q).Key() = %q, want none", v, k)
		}
		res := c.serve(m, func(w http.ResponseWriter, r *http.Request) {}, v)
		ck := c.sent(res)
		if ck == nil || ck.Value != "" || ck.MaxAge >= 0 || !c.varies(res) {
			c.t.Errorf("cookie %q: Set-Cookie %q, Vary %q; want a deletion and Vary: Cookie", v, c.raw(res), res.Header.Values("Vary"))
		}
	}
}

func caseSaveEveryRequestBogusCookie(c *mgr) {
	m := c.manager(func(s *sessions.Settings) { s.SaveEveryRequest = true })
	for _, v := range []string{sessions.NewKey(), "garbage"} {
		res := c.serve(m, func(w http.ResponseWriter, r *http.Request) {}, v)
		ck := c.sent(res)
		if ck != nil && ck.Value != "" {
			c.t.Errorf("cookie %.20q: a new session was created: %q", v, c.raw(res))
		}
	}
	if l, ok := c.engine.(sessions.Lister); ok && !c.client {
		n := 0
		l.List(c.ctx, func(string) bool { n++; return true })
		if n != 0 {
			c.t.Errorf("%d sessions stored", n)
		}
	}
}

func caseBrowserCloseCookie(c *mgr) {
	m := c.manager(func(s *sessions.Settings) { s.ExpireAtBrowserClose = true })
	res := c.serve(m, func(w http.ResponseWriter, r *http.Request) { sessions.FromContext(r.Context()).Set("a", 1) }, "")
	raw := c.raw(res)
	if raw == "" || strings.Contains(raw, "Max-Age") || strings.Contains(raw, "Expires") {
		c.t.Errorf("cookie %q", raw)
	}
	m2 := c.manager(nil)
	res = c.serve(m2, func(w http.ResponseWriter, r *http.Request) { sessions.FromContext(r.Context()).SetExpiry(0) }, "")
	raw = c.raw(res)
	if raw == "" || strings.Contains(raw, "Max-Age") {
		c.t.Errorf("SetExpiry(0) cookie %q", raw)
	}
}

func caseCustomExpiryCookie(c *mgr) {
	res := c.serve(c.manager(nil), func(w http.ResponseWriter, r *http.Request) {
		sessions.FromContext(r.Context()).SetExpiry(3600 * time.Second)
	}, "")
	if ck := c.sent(res); ck == nil || ck.MaxAge != 3600 {
		c.t.Errorf("cookie %q", c.raw(res))
	}
}

func caseCookieBeforeBody(c *mgr) {
	m := c.manager(nil)
	srv := httptest.NewServer(c.handler(m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sessions.FromContext(r.Context()).Set("a", 1)
		io.WriteString(w, "body")
	}), false))
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if c.sent(res) == nil || string(body) != "body" {
		c.t.Errorf("cookie %q body %q", c.raw(res), body)
	}
}

func caseResponseControllerFlush(c *mgr) {
	m := c.manager(nil)
	rec := httptest.NewRecorder()
	c.handler(m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sessions.FromContext(r.Context()).Set("a", 1)
		if err := http.NewResponseController(w).Flush(); err != nil {
			c.t.Errorf("Flush: %v", err)
		}
		io.WriteString(w, "after flush")
	}), false).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if res := rec.Result(); !rec.Flushed || c.sent(res) == nil {
		c.t.Errorf("flushed=%v %q", rec.Flushed, c.raw(res))
	}
}

func caseVaryMerged(c *mgr) {
	res := c.serve(c.manager(nil), func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Vary", "Accept-Encoding, "+strings.ToLower(c.varyName()))
		sessions.FromContext(r.Context()).Set("a", 1)
	}, "")
	if v := res.Header.Values("Vary"); len(v) != 1 || v[0] != "Accept-Encoding, "+strings.ToLower(c.varyName()) {
		c.t.Errorf("Vary %v", v)
	}
	res = c.serve(c.manager(nil), func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Vary", "Accept-Encoding")
		sessions.FromContext(r.Context()).Set("a", 1)
	}, "")
	if v := res.Header.Values("Vary"); len(v) != 1 || v[0] != "Accept-Encoding, "+c.varyName() {
		c.t.Errorf("Vary %v", v)
	}
}

func caseUnencodableValue(c *mgr) {
	var got error
	m := c.manager(func(s *sessions.Settings) {
		s.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) { got = err; w.WriteHeader(500) }
	})
	res := c.serve(m, func(w http.ResponseWriter, r *http.Request) {
		sessions.FromContext(r.Context()).Set("ch", make(chan int))
	}, "")
	if res.StatusCode != 500 || !errors.Is(got, codec.ErrUnencodable) || !strings.Contains(fmt.Sprint(got), `"ch"`) {
		c.t.Errorf("status %d error %v", res.StatusCode, got)
	}
}

func caseStoreFailureErrorHandler(c *mgr) {
	var got error
	e, down := failing(c.eng())
	m := c.managerOver(e, func(s *sessions.Settings) {
		s.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) { got = err; w.WriteHeader(503) }
	})
	key := c.saved(m, map[string]any{"x": 1})
	down.Store(true)
	res := c.serve(m, func(w http.ResponseWriter, r *http.Request) {
		sessions.FromContext(r.Context()).Get("x")
		io.WriteString(w, "secret page")
	}, key)
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 503 || !errors.Is(got, errStoreDown) || strings.Contains(string(body), "secret") {
		c.t.Errorf("status %d error %v body %q", res.StatusCode, got, body)
	}
}

func caseLoginCycle(c *mgr) {
	m := c.manager(nil)
	res := c.serve(m, func(w http.ResponseWriter, r *http.Request) { sessions.FromContext(r.Context()).Set("cart", []any{1}) }, "")
	first := c.sent(res).Value
	res = c.serve(m, func(w http.ResponseWriter, r *http.Request) {
		s := sessions.FromContext(r.Context())
		if err := s.CycleKey(r.Context()); err != nil {
			c.t.Error(err)
		}
		s.Set("_auth_user_id", "1")
	}, first)
	second := c.sent(res)
	if second == nil || second.Value == first {
		c.t.Fatalf("cookie %q", c.raw(res))
	}
	if m.Load(c.ctx, first).Len() != 0 {
		c.t.Error("old key still loads")
	}
	if r := m.Load(c.ctx, second.Value); r.Get("_auth_user_id") != "1" || r.Get("cart") == nil {
		c.t.Errorf("new session holds %v", r.Keys())
	}
}

func caseLargeSessionTooLarge(c *mgr) {
	var got error
	m := c.manager(func(s *sessions.Settings) {
		s.MaxDataSize = 1000
		s.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) { got = err; w.WriteHeader(500) }
	})
	c.serve(m, func(w http.ResponseWriter, r *http.Request) {
		sessions.FromContext(r.Context()).Set("blob", strings.Repeat("x", 2000))
	}, "")
	if !errors.Is(got, sessions.ErrTooLarge) {
		c.t.Errorf("error %v, want ErrTooLarge", got)
	}
}

func caseClearThenCycleKeyOfDeadKey(c *mgr) {
	m := c.manager(nil)
	deleted := c.saved(m, map[string]any{"x": 1})
	if err := m.Load(c.ctx, deleted).Flush(c.ctx); err != nil {
		c.t.Fatal(err)
	}
	for _, tc := range []struct{ label, key string }{
		{"an unknown key", sessions.NewKey()},
		{"a deleted session's key", deleted},
	} {
		var cerr error
		res := c.serve(m, func(w http.ResponseWriter, r *http.Request) {
			s := sessions.FromContext(r.Context())
			s.Clear()
			s.Set("user", "alice")
			cerr = s.CycleKey(r.Context())
		}, tc.key)
		if cerr != nil {
			c.t.Errorf("%s: Clear then CycleKey: %v, want success (Django creates a new session)", tc.label, cerr)
			continue
		}
		ck := c.sent(res)
		if res.StatusCode != http.StatusOK || ck == nil || ck.Value == "" || ck.Value == tc.key {
			c.t.Errorf("%s: status %d, cookie %q: want 200 and a new key", tc.label, res.StatusCode, c.raw(res))
			continue
		}
		if got := m.Load(c.ctx, ck.Value).Get("user"); got != "alice" {
			c.t.Errorf("%s: the new key's session holds user = %v", tc.label, got)
		}
		if m.Load(c.ctx, tc.key).Has("user") {
			c.t.Errorf("%s: the old key now loads a session", tc.label)
		}
	}
}

func caseMarkModifiedIsNoAccess(c *mgr) {
	m := c.manager(nil)
	var accessed bool
	res := c.serve(m, func(w http.ResponseWriter, r *http.Request) {
		s := sessions.FromContext(r.Context())
		s.MarkModified()
		accessed = s.Accessed()
	}, "")
	if accessed {
		c.t.Error("MarkModified marked the session accessed (Django's modified = True does not)")
	}
	if ck := c.sent(res); ck != nil || c.varies(res) {
		c.t.Errorf("a new session only marked modified: %q, Vary %q; want neither (empty, not accessed)", c.raw(res), res.Header.Values("Vary"))
	}
	key := c.saved(m, map[string]any{"x": 1})
	res = c.serve(m, func(w http.ResponseWriter, r *http.Request) {
		sessions.FromContext(r.Context()).MarkModified()
	}, key)
	if ck := c.sent(res); ck == nil || ck.Value == "" || !c.varies(res) {
		c.t.Errorf("a stored session marked modified: %q, Vary %q; want its cookie and Vary", c.raw(res), res.Header.Values("Vary"))
	}
}

func caseCycleKeyOfEmptySession(c *mgr) {
	m := c.manager(nil)
	key := c.saved(m, map[string]any{"x": 1})
	for _, tc := range []struct{ label, key string }{{"a new session", ""}, {"a flushed session", key}} {
		res := c.serve(m, func(w http.ResponseWriter, r *http.Request) {
			s := sessions.FromContext(r.Context())
			if tc.key != "" {
				if err := s.Flush(r.Context()); err != nil {
					c.t.Errorf("Flush: %v", err)
				}
			}
			if err := s.CycleKey(r.Context()); err != nil {
				c.t.Errorf("%s: CycleKey: %v", tc.label, err)
			}
			if s.IsEmpty() {
				c.t.Errorf("%s: after CycleKey the session is empty (no key): Django's cycle_key stores it", tc.label)
			}
		}, tc.key)
		ck := c.sent(res)
		if ck == nil || ck.Value == "" || ck.MaxAge < 0 {
			c.t.Errorf("%s: CycleKey sent %q, want a cookie naming an empty session", tc.label, c.raw(res))
			continue
		}
		if ck.Value == tc.key {
			c.t.Errorf("%s: the cookie keeps the old key", tc.label)
		}
		if got := m.Load(c.ctx, ck.Value); got.Len() != 0 || got.Key() == "" {
			c.t.Errorf("%s: the cookie's session: %d entries, key %q; want an empty stored session", tc.label, got.Len(), got.Key())
		}
	}
}
