package sessions_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/memstore"
	"github.com/sessionkit/sessions/internal/testutil"
)

type countingTouch struct {
	*memstore.Store
	touches atomic.Int64
	writes  atomic.Int64
}

func (c *countingTouch) Touch(ctx context.Context, key string, exp time.Time) error {
	c.touches.Add(1)
	return c.Store.Touch(ctx, key, exp)
}

func (c *countingTouch) Swap(ctx context.Context, key string, old, data []byte, exp time.Time) error {
	c.writes.Add(1)
	return c.Store.Swap(ctx, key, old, data, exp)
}

func TestIdleTimeout(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	store := &countingTouch{Store: memstore.New(&memstore.Options{Now: clock})}
	st := testutil.Settings()
	st.IdleTimeout = 30 * time.Minute
	st.Clock = clock
	m, err := sessions.New(store, st)
	if err != nil {
		t.Fatal(err)
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessions.FromContext(r.Context())
		if r.URL.Path == "/login" {
			s.Set("user", "ann")
			return
		}
		if s.Get("user") == nil {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	do := func(path, cookie string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", path, nil)
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: "sessionid", Value: cookie})
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	key := do("/login", "").Result().Cookies()[0].Value

	// Active every 20 minutes for three hours: stays logged in, far past
	// the idle timeout, with one Touch per request and no rewrite.
	for range 9 {
		now = now.Add(20 * time.Minute)
		if rec := do("/", key); rec.Code != 200 {
			t.Fatalf("logged out while active at %v", now)
		}
	}
	if n := store.touches.Load(); n != 9 {
		t.Errorf("%d touches, want 9", n)
	}
	if n := store.writes.Load(); n != 0 {
		t.Errorf("%d data writes for read-only requests", n)
	}
	// Requests closer together than IdleRefresh (3 min) do not touch.
	before := store.touches.Load()
	for range 5 {
		now = now.Add(10 * time.Second)
		do("/", key)
	}
	if n := store.touches.Load() - before; n != 0 {
		t.Errorf("%d touches within the refresh interval", n)
	}
	// Idle for 31 minutes: gone.
	now = now.Add(31 * time.Minute)
	if rec := do("/", key); rec.Code != http.StatusUnauthorized {
		t.Fatalf("still logged in after the idle timeout: %d", rec.Code)
	}
}

func TestIdleTimeoutValidation(t *testing.T) {
	st := testutil.Settings()
	st.IdleTimeout = time.Millisecond
	if _, err := sessions.New(memstore.New(nil), st); err == nil {
		t.Error("sub-second idle timeout accepted")
	}
}
