package sessions_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/memstore"
	"github.com/sessionkit/sessions/internal/testutil"
)

// failingStore fails every operation with an error from the "driver".
type failingStore struct{ *memstore.Store }

var errDriver = errors.New("connection refused")

func (failingStore) Update(context.Context, string, []byte, time.Time) error { return errDriver }
func (failingStore) Swap(context.Context, string, []byte, []byte, time.Time) error {
	return errDriver
}

// No log line and no error carries a full session key or the secret.
func TestNoKeyOrSecretInLogsAndErrors(t *testing.T) {
	ctx := context.Background()
	var logs bytes.Buffer
	st := testutil.Settings()
	st.SecretKey = "s3cr3t-value-that-must-not-leak"
	st.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var handled error
	st.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) { handled = err; w.WriteHeader(500) }
	store := memstore.New(nil)
	m, _ := sessions.New(failingStore{store}, st)

	good, _ := sessions.New(store, st)
	s := good.NewSession(ctx)
	s.Set("a", 1)
	s.Save(ctx)
	key := s.Key()
	corrupt := sessions.NewKey()
	store.Create(ctx, corrupt, []byte("tampered:data:sig"), time.Now().Add(time.Hour))

	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sessions.FromContext(r.Context()).Set("b", 2)
	}))
	for _, k := range []string{key, corrupt} {
		req := httptest.NewRequest("GET", "/", nil)
		req.AddCookie(&http.Cookie{Name: "sessionid", Value: k})
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	if handled == nil {
		t.Fatal("the store failure did not reach the error handler")
	}
	for _, text := range []string{logs.String(), handled.Error()} {
		for _, secret := range []string{key, corrupt, st.SecretKey} {
			if strings.Contains(text, secret) {
				t.Errorf("leaked %s… in %q", secret[:6], text)
			}
		}
	}
	if !strings.Contains(logs.String(), "Session data corrupted") {
		t.Errorf("the tampered session was not logged: %s", logs.String())
	}
}

// hangingLoad is a store whose Load answers only when its context ends.
type hangingLoad struct{ *memstore.Store }

func (hangingLoad) Load(ctx context.Context, key string) ([]byte, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// A client that goes away while its request loads the session ends the
// load with its context's cancellation. That is the client's doing, not
// the store's: it is logged at Debug, not as a store failure; at Warn,
// with the wait, when the load had waited 100 ms or more (a store that
// hangs until clients give up); while a store that fails the same way on
// a request whose context is alive (here, one that reports cancellation
// on its own) still logs an error.
func TestClientGoneIsNotLoggedAsStoreFailure(t *testing.T) {
	ctx := context.Background()
	store := memstore.New(nil)
	good, _ := sessions.New(store, testutil.Settings())
	s := good.NewSession(ctx)
	s.Set("user", 1)
	if err := s.Save(ctx); err != nil {
		t.Fatal(err)
	}

	serve := func(t *testing.T, e sessions.Engine, cancelAfter time.Duration) (string, *httptest.ResponseRecorder) {
		t.Helper()
		var logs bytes.Buffer
		st := testutil.Settings()
		st.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		m, err := sessions.New(e, st)
		if err != nil {
			t.Fatal(err)
		}
		h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sessions.FromContext(r.Context()).Has("user")
		}))
		rctx, stop := context.WithCancel(ctx)
		switch {
		case cancelAfter == 0:
			stop() // the client went away before the handler read its session
		case cancelAfter > 0:
			time.AfterFunc(cancelAfter, stop) // ... while the load waited
		}
		defer stop()
		req := httptest.NewRequestWithContext(rctx, "GET", "/", nil)
		req.AddCookie(&http.Cookie{Name: "sessionid", Value: s.Key()})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return logs.String(), rec
	}

	t.Run("client gone", func(t *testing.T) {
		logs, rec := serve(t, store, 0)
		if strings.Contains(logs, "level=ERROR") {
			t.Errorf("a client that went away was logged as an error:\n%s", logs)
		}
		if !strings.Contains(logs, "level=DEBUG") || !strings.Contains(logs, "context canceled") {
			t.Errorf("the cancelled load was not logged at Debug:\n%s", logs)
		}
		if rec.Code != http.StatusInternalServerError {
			t.Errorf("status %d, want 500 (the session could not be loaded)", rec.Code)
		}
	})
	t.Run("client gone while the store hangs", func(t *testing.T) {
		logs, _ := serve(t, hangingLoad{store}, 150*time.Millisecond)
		if strings.Contains(logs, "level=ERROR") || !strings.Contains(logs, "level=WARN") ||
			!strings.Contains(logs, "the store was slow to answer") || !strings.Contains(logs, "waited=") {
			t.Errorf("a client that gave up on a hanging store was not logged as a warning with the wait:\n%s", logs)
		}
	})
	t.Run("store fails", func(t *testing.T) {
		logs, _ := serve(t, failingLoad{store, fmt.Errorf("driver: %w", context.Canceled)}, -1)
		if !strings.Contains(logs, "level=ERROR") || !strings.Contains(logs, "session store failed") {
			t.Errorf("a store failure on a live request was not logged as an error:\n%s", logs)
		}
	})
}
