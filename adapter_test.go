package sessions_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/memstore"
	"github.com/sessionkit/sessions/internal/testutil"
)

// cookieHeader is a request header carrying the session cookie key.
func cookieHeader(key string) http.Header {
	h := http.Header{}
	if key != "" {
		h.Set("Cookie", "sessionid="+key)
	}
	return h
}

// storedKey returns the key of a stored session holding cart=a.
func storedKey(t *testing.T, m *sessions.Manager) string {
	t.Helper()
	s := m.NewSession(context.Background())
	s.Set("cart", "a")
	if err := s.Save(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s.Key()
}

// Begin reads the key from the cookie or the token header; Finish saves
// and adds the cookie and Vary to the header it is given, as Handler.
func TestBeginFinish(t *testing.T) {
	ctx := context.Background()
	m := testutil.Manager(t, memstore.New(nil))
	key := storedKey(t, m)
	s := m.Begin(ctx, cookieHeader(key))
	if s.Get("cart") != "a" {
		t.Fatalf("Begin did not load the cookie's session: %v", s.Keys())
	}
	s.Set("cart", "b")
	h := http.Header{"Vary": {"Accept-Encoding"}}
	if err := m.Finish(ctx, s, 200, h); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h.Get("Set-Cookie"), "sessionid="+key+";") || h.Get("Vary") != "Accept-Encoding, Cookie" {
		t.Errorf("header %v", h)
	}
	if m.Load(ctx, key).Get("cart") != "b" {
		t.Error("not saved")
	}

	// The token header, Bearer form.
	st := testutil.Settings()
	st.TokenHeader = "Authorization"
	mt, _ := sessions.New(memstore.New(nil), st)
	tk := storedKey(t, mt)
	if s := mt.Begin(ctx, http.Header{"Authorization": {"Bearer " + tk}}); s.Get("cart") != "a" {
		t.Error("Begin did not read the Bearer token")
	}
	if s := mt.Begin(ctx, http.Header{"Authorization": {"Basic " + tk}}); s.Len() != 0 {
		t.Error("Begin took a Basic credential for a session key")
	}
}

// Finish for a status of 500 or more saves nothing and sends no cookie,
// and a later call (the handler's late change) does nothing either.
func TestFinish5xx(t *testing.T) {
	ctx := context.Background()
	m := testutil.Manager(t, memstore.New(nil))
	key := storedKey(t, m)
	s := m.Begin(ctx, cookieHeader(key))
	s.Set("cart", "b")
	h := http.Header{}
	if err := m.Finish(ctx, s, 503, h); err != nil || h.Get("Set-Cookie") != "" {
		t.Fatalf("Finish(503) = %v, header %v", err, h)
	}
	s.Set("cart", "c")
	if err := m.Finish(ctx, s, 0, nil); err != nil {
		t.Errorf("late Finish after a 503: %v", err)
	}
	if v := m.Load(ctx, key).Get("cart"); v != "a" {
		t.Errorf("cart = %v, saved for a 5xx response", v)
	}
}

// A session deleted meanwhile makes Finish fail with ErrInterrupted;
// ServeError then replaces the response (its header too) with a 400.
func TestFinishInterruptedServeError(t *testing.T) {
	ctx := context.Background()
	m := testutil.Manager(t, memstore.New(nil))
	key := storedKey(t, m)
	s := m.Begin(ctx, cookieHeader(key))
	s.Get("cart")
	m.Load(ctx, key).Flush(ctx)
	s.Set("cart", "b")
	rec := httptest.NewRecorder()
	rec.Header().Set("X-Secret", "1")
	err := m.Finish(ctx, s, 200, rec.Header())
	if !errors.Is(err, sessions.ErrInterrupted) {
		t.Fatalf("Finish = %v, want ErrInterrupted", err)
	}
	m.ServeError(rec, httptest.NewRequest("GET", "/", nil), err)
	if rec.Code != 400 || rec.Header().Get("X-Secret") != "" || rec.Header().Get("Set-Cookie") != "" || !strings.Contains(rec.Body.String(), "concurrent request") {
		t.Errorf("status %d header %v body %q", rec.Code, rec.Header(), rec.Body)
	}
}

// A store failure goes to Settings.ErrorHandler through ServeError; an
// error matching ErrResponseStarted (the response is under way) only
// reaches the error handler, which writes to the body, never a status.
func TestServeErrorHandler(t *testing.T) {
	var got []error
	st := testutil.QuietSettings()
	st.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		got = append(got, err)
		io.WriteString(w, "handled")
	}
	m, _ := sessions.New(memstore.New(nil), st)
	failure := &sessions.Error{Op: "update", Engine: "memory", Err: errDriver}
	rec := httptest.NewRecorder()
	rec.Header().Set("X-Secret", "1")
	m.ServeError(rec, httptest.NewRequest("GET", "/", nil), failure)
	if len(got) != 1 || got[0] != failure || rec.Header().Get("X-Secret") != "" || rec.Body.String() != "handled" {
		t.Errorf("errors %v header %v body %q", got, rec.Header(), rec.Body)
	}

	// Without an error handler, a plain 500.
	m = testutil.Manager(t, memstore.New(nil), testutil.Quiet)
	rec = httptest.NewRecorder()
	m.ServeError(rec, httptest.NewRequest("GET", "/", nil), failure)
	if rec.Code != 500 {
		t.Errorf("status %d, want 500", rec.Code)
	}

	// Under way: the header is left alone.
	got = nil
	m, _ = sessions.New(memstore.New(nil), st)
	rec = httptest.NewRecorder()
	rec.Header().Set("X-Kept", "1")
	late := &sessions.Error{Op: "save", Err: sessions.ErrResponseStarted}
	m.ServeError(rec, httptest.NewRequest("GET", "/", nil), late)
	if len(got) != 1 || rec.Header().Get("X-Kept") != "1" {
		t.Errorf("errors %v header %v", got, rec.Header())
	}
}

// A late change to a session the client holds is saved by a second
// Finish; one that needs a new cookie is not, and is reported.
func TestFinishLate(t *testing.T) {
	ctx := context.Background()
	m := testutil.Manager(t, memstore.New(nil), testutil.Quiet)
	key := storedKey(t, m)
	s := m.Begin(ctx, cookieHeader(key))
	s.Get("cart")
	if err := m.Finish(ctx, s, 200, http.Header{}); err != nil {
		t.Fatal(err)
	}
	s.Set("cart", "late")
	if err := m.Finish(ctx, s, 0, nil); err != nil {
		t.Fatal(err)
	}
	if v := m.Load(ctx, key).Get("cart"); v != "late" {
		t.Errorf("cart = %v, want the late change", v)
	}

	s = m.Begin(ctx, http.Header{})
	if err := m.Finish(ctx, s, 200, http.Header{}); err != nil {
		t.Fatal(err)
	}
	s.Set("cart", "new")
	if err := m.Finish(ctx, s, 0, nil); !errors.Is(err, sessions.ErrResponseStarted) {
		t.Errorf("late change of a new session: %v, want ErrResponseStarted", err)
	}
}

// A late change whose save fails reaches the error handler as an error
// matching ErrResponseStarted, so that the handler does not try to
// answer with a status, and its cause.
func TestLateSaveFailureIsResponseStarted(t *testing.T) {
	store := memstore.New(nil)
	var got []error
	st := testutil.QuietSettings()
	st.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) { got = append(got, err) }
	m, _ := sessions.New(failingStore{store}, st)
	key := storedKey(t, testutil.Manager(t, store))
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(&http.Cookie{Name: "sessionid", Value: key})
	m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessions.FromContext(r.Context())
		s.Get("cart")
		io.WriteString(w, "streaming")
		s.Set("cart", "late")
	})).ServeHTTP(httptest.NewRecorder(), req)
	if len(got) != 1 || !errors.Is(got[0], sessions.ErrResponseStarted) || !errors.Is(got[0], errDriver) {
		t.Errorf("error handler got %v, want one error matching ErrResponseStarted and the store's", got)
	}
}

// An adapter for a framework that decides the response's status after
// its middleware returned: Begin when the request comes in, Finish with
// the final status and header just before they are sent, ServeError in
// place of the response if Finish fails.
func ExampleManager_Begin() {
	st := sessions.DefaultSettings()
	st.SecretKey = "change-me-to-a-long-random-string"
	m, _ := sessions.New(memstore.New(nil), st)

	ctx := context.Background()
	req := httptest.NewRequest("GET", "/", nil) // the framework's request, as net/http headers
	s := m.Begin(ctx, req.Header)
	s.Set("cart", "book") // the handler, given sessions.NewContext(ctx, s)

	status, header := 200, http.Header{} // the framework's response, about to be sent
	if err := m.Finish(ctx, s, status, header); err != nil {
		rec := httptest.NewRecorder()
		m.ServeError(rec, req, err) // sent instead
		return
	}
	fmt.Println(strings.HasPrefix(header.Get("Set-Cookie"), "sessionid="), header.Get("Vary"))
	// Output: true Cookie
}
