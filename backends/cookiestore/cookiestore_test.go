package cookiestore_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/cookiestore"
	"github.com/sessionkit/sessions/conformance"
	"github.com/sessionkit/sessions/internal/testutil"
)

func newStore(t *testing.T) sessions.Backend {
	return cookiestore.New(nil)
}

func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Harness{New: newStore, Caps: conformance.Capabilities{ClientSide: true}})
}

func TestManagerConformance(t *testing.T) {
	conformance.RunManager(t, conformance.Harness{New: newStore, Caps: conformance.Capabilities{ClientSide: true}})
}

// E6 from the reference: Django's signed cookie for {"cart": [1, 2, 3]}
// signed at 1700000000 with SECRET_KEY "django_tests_secret_key".
const djangoE6 = "eyJjYXJ0IjpbMSwyLDNdfQ:1r31eq:OwYVvZMYmBQW7_Y-9qOeI-_Id-sSxRElzWQy4V_VSaM"

func managerAt(t *testing.T, now time.Time) *sessions.Manager {
	st := cookiestore.New(&cookiestore.Options{Now: func() time.Time { return now }})
	m, err := sessions.New(st, testutil.Settings())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestReadsDjangoCookie(t *testing.T) {
	m := managerAt(t, time.Unix(1700000000+1209600, 0))
	s := m.Load(context.Background(), djangoE6)
	cart, ok := sessions.Get[[]int](s, "cart")
	if !ok || len(cart) != 3 || cart[2] != 3 {
		t.Fatalf("cart = %v (%v)", s.Get("cart"), ok)
	}
}

func TestStaleCookieRejected(t *testing.T) {
	// One second past SESSION_COOKIE_AGE the cookie is stale (Django: {}).
	m := managerAt(t, time.Unix(1700000000+1209601, 0))
	if s := m.Load(context.Background(), djangoE6); s.Len() != 0 {
		t.Fatal("stale cookie accepted")
	}
}

func TestWritesDjangoFormat(t *testing.T) {
	m := managerAt(t, time.Unix(1700000000, 0))
	s := m.NewSession(context.Background())
	s.Set("cart", []any{1, 2, 3})
	if err := s.Save(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.Key() != djangoE6 {
		t.Fatalf("cookie %s\nwant   %s", s.Key(), djangoE6)
	}
}

func TestTooLargeThroughMiddleware(t *testing.T) {
	var got error
	st := testutil.Settings()
	st.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) { got = err; w.WriteHeader(500) }
	m, err := sessions.New(newStore(t), st)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Random-looking data does not compress below the limit.
		var b strings.Builder
		for i := range 3000 {
			b.WriteString(sessions.NewKey()[:2])
			_ = i
		}
		sessions.FromContext(r.Context()).Set("blob", b.String())
	})).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 500 || !errors.Is(got, sessions.ErrTooLarge) {
		t.Fatalf("status %d, error %v", rec.Code, got)
	}
	if rec.Header().Get("Set-Cookie") != "" {
		t.Fatal("an oversized cookie was sent")
	}
}

func TestOpenFromConfig(t *testing.T) {
	for _, cfg := range []string{"signed-cookies:", "signed_cookies", "django.contrib.sessions.backends.signed_cookies"} {
		m, err := sessions.Open(context.Background(), cfg, testutil.Settings())
		if err != nil {
			t.Fatalf("%s: %v", cfg, err)
		}
		if m.Describe().Name != cookiestore.Scheme {
			t.Errorf("%s opened %s", cfg, m.Describe().Name)
		}
	}
	if _, err := sessions.Open(context.Background(), "signed-cookies:?x=1", testutil.Settings()); !errors.Is(err, sessions.ErrBadConfig) {
		t.Errorf("unknown parameter accepted: %v", err)
	}
}
