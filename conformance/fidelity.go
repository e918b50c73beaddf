package conformance

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/sessionkit/sessions"
)

// fidelityCases hold the middleware to Django's timing: an explicit Save
// reaches the client, and a change made after the response started is
// saved or reported, never dropped.
func fidelityCases() []managerCase {
	return []managerCase{
		{name: "ExplicitSaveSendsCookie", reason: "Save of a new session marks it modified, so the middleware sends its cookie (Django's create())", run: caseExplicitSaveSendsCookie},
		{name: "ExplicitSaveNoOrphans", serverOnly: true, reason: "'save to get a key' on every request reuses the key the client got, leaving no orphan record", run: caseExplicitSaveNoOrphans},
		{name: "LateChangeSaved", streaming: true, serverOnly: true, reason: "a change made after the response started, to a session whose key the client holds, is saved when the handler returns", run: caseLateChangeSaved},
		{name: "LateChangeNeedingCookieReported", streaming: true, reason: "a change after the response started that needs a new cookie is not saved and is reported with ErrResponseStarted to the error handler and the log", run: caseLateChangeReported},
		{name: "LateCycleKeyReported", streaming: true, serverOnly: true, reason: "CycleKey after the response started cannot reach the client: reported with ErrResponseStarted", run: caseLateCycleReported},
		{name: "LateFlushSilent", streaming: true, serverOnly: true, reason: "Flush after the response started deletes the record; the client's stale cookie names nothing, so nothing is reported", run: caseLateFlush},
		{name: "BufferedLateChange", buffered: true, reason: "BufferedHandler holds the response, so a change after Write still sets the cookie, as in Django", run: caseBufferedLateChange},
		{name: "UndecodableDataDropsKey", serverOnly: true, reason: "stored data that cannot be decoded give an empty session without its key, so a save goes under a new key instead of overwriting the record (a deliberate difference: Django keeps the key)", run: caseUndecodableDropsKey},
		{name: "DeletionCookieKeepsSecure", cookieOnly: true, reason: "the deletion cookie carries Secure when CookieSecure is set (a deliberate difference: Django adds it only for __Secure-/__Host- names and SameSite=None)", run: caseDeletionCookieSecure},
		{name: "DuplicateCookieTakesLast", cookieOnly: true, reason: "a request with the session cookie twice (a host-only and a Domain cookie, two paths) uses the last, as Django's parse_cookie: both sides of a shared login see the same session, and a stale first cookie does not get the valid one deleted", run: caseDuplicateCookieTakesLast},
		{name: "HijackFailureKeepsRules", reason: "a Hijack that fails (HTTP/2, a writer without it) changes nothing: the response the handler sends instead carries the cookie and is saved by the rules", run: caseHijackFailureKeepsRules},
		{name: "HijackSavesChanges", serverOnly: true, reason: "after a Hijack (a WebSocket upgrade) no header carries a cookie: a change made before or after it, to a session whose key the client holds, is saved; one that needs a new cookie is logged as after a started response, never dropped silently", run: caseHijackSavesChanges},
		{name: "ClientGoneStillSaves", serverOnly: true, reason: "a change the handler made is saved when the handler returns although the client went away meanwhile (net/http cancelled the request's context), as Django saves it: the work the request did (an order placed) and its session (the cart emptied) do not part", run: caseClientGoneStillSaves},
		{name: "BufferedKeepsResponse", buffered: true, reason: "BufferedHandler sends the handler's status, headers and body unchanged, after the cookie rules", run: caseBufferedKeepsResponse},
	}
}

func caseExplicitSaveSendsCookie(c *mgr) {
	m := c.manager(nil)
	var key string
	res := c.serve(m, func(w http.ResponseWriter, r *http.Request) {
		s := sessions.FromContext(r.Context())
		if err := s.Save(r.Context()); err != nil {
			c.t.Errorf("Save: %v", err)
		}
		if !s.Modified() {
			c.t.Error("Save of a new session left it unmodified")
		}
		key = s.Key()
	}, "")
	ck := c.sent(res)
	// A client-side session is sealed again at the end of the request
	// (a new nonce or timestamp): any value will do.
	if ck == nil || ck.Value == "" || (!c.client && ck.Value != key) {
		c.t.Fatalf("Set-Cookie %q, want the saved key", c.raw(res))
	}
	if !c.client {
		if ok, err := m.Exists(c.ctx, key); !ok || err != nil {
			c.t.Errorf("Exists(saved key) = %v, %v", ok, err)
		}
	}
}

func caseExplicitSaveNoOrphans(c *mgr) {
	m := c.manager(nil)
	h := func(w http.ResponseWriter, r *http.Request) {
		s := sessions.FromContext(r.Context())
		if s.Key() == "" {
			if err := s.Save(r.Context()); err != nil {
				c.t.Errorf("Save: %v", err)
			}
		}
		io.WriteString(w, s.Key())
	}
	res := c.serve(m, h, "")
	first, _ := io.ReadAll(res.Body)
	ck := c.sent(res)
	if ck == nil || ck.Value != string(first) {
		c.t.Fatalf("first request: Set-Cookie %q, body %q", c.raw(res), first)
	}
	for range 3 {
		res = c.serve(m, h, ck.Value)
		again, _ := io.ReadAll(res.Body)
		if string(again) != ck.Value {
			c.t.Errorf("a later request saved a new session %q instead of using %q", again, ck.Value)
		}
	}
}

// lateManager returns a Manager whose error handler records what it got.
func (c *mgr) lateManager() (*sessions.Manager, *[]error) {
	var mu sync.Mutex
	var got []error
	m := c.manager(func(s *sessions.Settings) {
		s.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, err)
		}
	})
	return m, &got
}

func caseLateChangeSaved(c *mgr) {
	m, errs := c.lateManager()
	key := c.saved(m, map[string]any{"cart": "a"})
	res := c.serve(m, func(w http.ResponseWriter, r *http.Request) {
		s := sessions.FromContext(r.Context())
		s.Get("cart")
		io.WriteString(w, "streaming...")
		w.(http.Flusher).Flush()
		s.Set("cart", "ab")
	}, key)
	if res.StatusCode != 200 || len(*errs) != 0 {
		c.t.Errorf("status %d, errors %v", res.StatusCode, *errs)
	}
	if v := m.Load(c.ctx, key).Get("cart"); v != "ab" {
		c.t.Errorf("stored cart = %v, want the late change %q", v, "ab")
	}
}

func caseLateChangeReported(c *mgr) {
	m, errs := c.lateManager()
	var key string
	c.serve(m, func(w http.ResponseWriter, r *http.Request) {
		s := sessions.FromContext(r.Context())
		io.WriteString(w, "body first")
		s.Set("cart", "a")
		key = s.Key()
	}, "")
	if len(*errs) != 1 || !errors.Is((*errs)[0], sessions.ErrResponseStarted) {
		c.t.Fatalf("error handler got %v, want one error matching ErrResponseStarted", *errs)
	}
	if !strings.Contains(c.logs.String(), "after the response started") {
		c.t.Errorf("not logged: %q", c.logs.String())
	}
	if key != "" && !c.client {
		c.t.Errorf("a new session was stored under %q although its cookie could not be sent", key)
	}
}

func caseLateCycleReported(c *mgr) {
	m, errs := c.lateManager()
	key := c.saved(m, map[string]any{"x": 1})
	c.serve(m, func(w http.ResponseWriter, r *http.Request) {
		s := sessions.FromContext(r.Context())
		io.WriteString(w, "body first")
		if err := s.CycleKey(r.Context()); err != nil {
			c.t.Errorf("CycleKey: %v", err)
		}
	}, key)
	if len(*errs) != 1 || !errors.Is((*errs)[0], sessions.ErrResponseStarted) {
		c.t.Errorf("error handler got %v, want one error matching ErrResponseStarted", *errs)
	}
}

func caseLateFlush(c *mgr) {
	m, errs := c.lateManager()
	key := c.saved(m, map[string]any{"x": 1})
	c.serve(m, func(w http.ResponseWriter, r *http.Request) {
		s := sessions.FromContext(r.Context())
		io.WriteString(w, "body first")
		if err := s.Flush(r.Context()); err != nil {
			c.t.Errorf("Flush: %v", err)
		}
	}, key)
	if len(*errs) != 0 {
		c.t.Errorf("error handler got %v", *errs)
	}
	if ok, _ := m.Exists(c.ctx, key); ok {
		c.t.Error("the flushed session still exists")
	}
}

func caseBufferedLateChange(c *mgr) {
	m, errs := c.lateManager()
	req := httptest.NewRequest("GET", "http://example.com/", nil)
	rec := httptest.NewRecorder()
	c.handler(m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessions.FromContext(r.Context())
		io.WriteString(w, "body first")
		s.Set("cart", "a")
	}), true).ServeHTTP(rec, req)
	res := rec.Result()
	ck := c.sent(res)
	if ck == nil || ck.Value == "" || len(*errs) != 0 {
		c.t.Fatalf("Set-Cookie %q, errors %v: want the session's cookie", c.raw(res), *errs)
	}
	if v := m.Load(c.ctx, ck.Value).Get("cart"); v != "a" {
		c.t.Errorf("stored cart = %v", v)
	}
	if body, _ := io.ReadAll(res.Body); string(body) != "body first" {
		c.t.Errorf("body %q", body)
	}
}

func caseBufferedKeepsResponse(c *mgr) {
	m := c.manager(nil)
	req := httptest.NewRequest("GET", "http://example.com/", nil)
	rec := httptest.NewRecorder()
	c.handler(m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Before", "1")
		w.WriteHeader(http.StatusTeapot)
		io.WriteString(w, "part 1, ")
		w.Header().Set("X-After", "2") // still in time: nothing was sent
		io.Copy(w, strings.NewReader("part 2"))
		sessions.FromContext(r.Context()).Set("k", "v")
	}), true).ServeHTTP(rec, req)
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusTeapot || string(body) != "part 1, part 2" || res.Header.Get("X-Before") != "1" || res.Header.Get("X-After") != "2" {
		c.t.Errorf("status %d body %q headers %v", res.StatusCode, body, res.Header)
	}
	if c.sent(res) == nil || !c.varies(res) {
		c.t.Errorf("no session cookie or Vary: %v", res.Header)
	}
}

func caseUndecodableDropsKey(c *mgr) {
	m := c.manager(nil)
	key := sessions.NewKey()
	if err := c.eng().Create(c.ctx, key, []byte("bad:encoded:value"), time.Now().Add(time.Hour)); err != nil {
		c.t.Fatal(err)
	}
	s := m.Load(c.ctx, key)
	if s.Len() != 0 || s.Key() != "" {
		c.t.Fatalf("undecodable data: %d keys, key %q; want an empty session without the key", s.Len(), s.Key())
	}
	s.Set("x", "1")
	if err := s.Save(c.ctx); err != nil {
		c.t.Fatal(err)
	}
	if s.Key() == key {
		c.t.Error("the save overwrote the undecodable record under its key")
	}
}

func caseDeletionCookieSecure(c *mgr) {
	m := c.manager(func(s *sessions.Settings) { s.CookieSecure = true })
	key := c.saved(m, map[string]any{"x": 1})
	res := c.serve(m, func(w http.ResponseWriter, r *http.Request) {
		sessions.FromContext(r.Context()).Flush(r.Context())
	}, key)
	ck := c.sent(res)
	if ck == nil || ck.MaxAge >= 0 || !ck.Secure {
		c.t.Errorf("deletion cookie %q, want one with Secure", c.raw(res))
	}
}

func caseDuplicateCookieTakesLast(c *mgr) {
	m := c.manager(nil)
	name := m.Settings().CookieName
	first, last := c.saved(m, map[string]any{"who": "first"}), c.saved(m, map[string]any{"who": "last"})
	for _, tc := range []struct {
		label   string
		headers []string
	}{
		{"one header", []string{name + "=" + first + "; " + name + "=" + last}},
		{"two headers", []string{name + "=" + first, name + "=" + last}},
		{"a stale first cookie", []string{name + "=" + strings.Repeat("z", 32) + "; " + name + "=" + last}},
		{"another cookie between", []string{name + "=" + first + "; csrftoken=x; " + name + "=" + last}},
	} {
		req := httptest.NewRequest("GET", "http://example.com/", nil)
		for _, h := range tc.headers {
			req.Header.Add("Cookie", h)
		}
		var got any
		rec := httptest.NewRecorder()
		c.handler(m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got = sessions.FromContext(r.Context()).Get("who")
		}), false).ServeHTTP(rec, req)
		if got != "last" {
			c.t.Errorf("%s: the view saw the session of %v, want the last cookie's (Django's request.COOKIES keeps the last)", tc.label, got)
		}
		if ck := c.sent(rec.Result()); ck != nil && (ck.Value == "" || ck.MaxAge < 0) {
			c.t.Errorf("%s: a deletion cookie %q for a valid session", tc.label, c.raw(rec.Result()))
		}
	}
}

func caseHijackFailureKeepsRules(c *mgr) {
	m := c.manager(nil)
	var key string
	res := c.serve(m, func(w http.ResponseWriter, r *http.Request) {
		s := sessions.FromContext(r.Context())
		s.Set("cart", "a")
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
			c.t.Skip("the framework hijacked a connection the test cannot")
		}
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "no upgrade")
		key = s.Key()
	}, "")
	if res.StatusCode != http.StatusOK {
		c.t.Fatalf("status %d, want 200", res.StatusCode)
	}
	ck := c.sent(res)
	if ck == nil || ck.Value == "" {
		c.t.Fatalf("the response after a failed Hijack carries no cookie (%q): the new session is lost", c.raw(res))
	}
	if !c.client && m.Load(c.ctx, ck.Value).Get("cart") != "a" {
		c.t.Errorf("the response after a failed Hijack sent a key (%q) whose session is not stored", key)
	}
}

func caseHijackSavesChanges(c *mgr) {
	m := c.manager(nil)
	key := c.saved(m, map[string]any{"a": "1"})
	for _, tc := range []struct {
		label string
		key   string
	}{{"the client holds the key", key}, {"a new session", ""}} {
		done := make(chan struct{})
		var hijackErr error
		var newKey string
		app := c.handler(m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s := sessions.FromContext(r.Context())
			s.Get("a")
			s.Set("b", "2")
			conn, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				hijackErr = err
				return
			}
			defer conn.Close()
			brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
			brw.Flush()
			s.Set("c", "3") // while the connection is the handler's
			newKey = s.Key()
		}), false)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer close(done)
			app.ServeHTTP(w, r)
		}))
		req, _ := http.NewRequestWithContext(c.ctx, "GET", srv.URL, nil)
		c.sendKey(m, req, tc.key)
		res, err := srv.Client().Do(req)
		if err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
		<-done
		srv.Close()
		if hijackErr != nil {
			c.t.Skipf("the framework cannot hijack: %v", hijackErr)
		}
		if err != nil {
			c.t.Fatalf("%s: %v", tc.label, err)
		}
		if tc.key != "" {
			got := m.Load(c.ctx, tc.key)
			if got.Get("b") != "2" || got.Get("c") != "3" {
				c.t.Errorf("%s: after the Hijack the stored session holds b = %v, c = %v: changes dropped", tc.label, got.Get("b"), got.Get("c"))
			}
			continue
		}
		if newKey != "" && m.Load(c.ctx, newKey).Has("b") {
			c.t.Errorf("%s: stored under %q although no cookie could carry its key", tc.label, newKey)
		}
		if !strings.Contains(c.logs.String(), "after the response started") {
			c.t.Errorf("%s: the change that needed a cookie was dropped without a log line: %q", tc.label, c.logs.String())
		}
	}
}

func caseClientGoneStillSaves(c *mgr) {
	m := c.manager(nil)
	key := c.saved(m, map[string]any{"cart": "full"})
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	req := httptest.NewRequest("POST", "http://example.com/", nil).WithContext(ctx)
	c.serveReq(m, func(w http.ResponseWriter, r *http.Request) {
		sessions.FromContext(r.Context()).Set("cart", "ordered")
		cancel() // the client goes away before the response
	}, req, key)
	if got := m.Load(c.ctx, key).Get("cart"); got != "ordered" {
		c.t.Errorf("the stored cart is %v: the change of a request whose client went away was dropped (log: %q)", got, c.logs.String())
	}
}
