package sessions_test

import (
	"bytes"
	"context"
	"errors"
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
