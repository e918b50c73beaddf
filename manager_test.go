package sessions_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/memstore"
	"github.com/sessionkit/sessions/internal/testutil"
)

func TestMergeOnConflict(t *testing.T) {
	ctx := context.Background()
	m := testutil.Manager(t, memstore.New(nil))
	base := m.NewSession(ctx)
	base.Update(map[string]any{"keep": 1, "drop": 2, "both": "old"})
	base.Save(ctx)
	key := base.Key()

	s1 := m.Load(ctx, key)
	s2 := m.Load(ctx, key)
	s1.Len()
	s2.Len()
	s2.Set("theirs", true)
	s2.Set("both", "theirs")
	if err := s2.Save(ctx); err != nil {
		t.Fatal(err)
	}
	s1.Set("mine", true)
	s1.Delete("drop")
	s1.Set("both", "mine")
	if err := s1.Save(ctx); err != nil {
		t.Fatal(err)
	}
	got := m.Load(ctx, key)
	keys := got.Keys()
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"both", "keep", "mine", "theirs"}) || got.Get("both") != "mine" {
		t.Errorf("merged keys %v both=%v", keys, got.Get("both"))
	}
}

func TestClearWinsAsAWhole(t *testing.T) {
	ctx := context.Background()
	m := testutil.Manager(t, memstore.New(nil))
	base := m.NewSession(ctx)
	base.Update(map[string]any{"a": 1})
	base.Save(ctx)
	s1 := m.Load(ctx, base.Key())
	s2 := m.Load(ctx, base.Key())
	s1.Len()
	s2.Set("b", 2)
	s2.Save(ctx)
	s1.Clear()
	s1.Set("c", 3)
	if err := s1.Save(ctx); err != nil {
		t.Fatal(err)
	}
	if keys := m.Load(ctx, base.Key()).Keys(); !slices.Equal(keys, []string{"c"}) {
		t.Errorf("keys %v, want [c]", keys)
	}
}

type failingLoad struct {
	*memstore.Store
	err error
}

func (f failingLoad) Load(ctx context.Context, key string) ([]byte, error) { return nil, f.err }

func TestLoadFailureIsNotSaved(t *testing.T) {
	ctx := context.Background()
	store := memstore.New(nil)
	good, _ := sessions.New(store, testutil.Settings())
	key := good.NewSession(ctx)
	key.Set("x", 1)
	key.Save(ctx)

	down := errors.New("connection refused")
	m, _ := sessions.New(failingLoad{store, down}, testutil.Settings())
	s := m.Load(ctx, key.Key())
	s.Set("y", 2)
	if err := s.Save(ctx); !errors.Is(err, down) {
		t.Fatalf("Save = %v, want the load error", err)
	}
	if !errors.Is(s.Err(), down) {
		t.Errorf("Err = %v", s.Err())
	}
	if got := good.Load(ctx, key.Key()); got.Has("y") || !got.Has("x") {
		t.Error("a session that failed to load was overwritten")
	}
}

func TestSaveWithPastExpiryDeletes(t *testing.T) {
	ctx := context.Background()
	m := testutil.Manager(t, memstore.New(nil))
	s := m.NewSession(ctx)
	s.Set("x", 1)
	s.Save(ctx)
	key := s.Key()
	s.SetExpiry(-10 * time.Second)
	if err := s.Save(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Key() != "" {
		t.Error("expired session kept its key")
	}
	if ok, _ := m.Exists(ctx, key); ok {
		t.Error("expired session still stored")
	}
}

func TestClosedManager(t *testing.T) {
	ctx := context.Background()
	m := testutil.Manager(t, memstore.New(nil))
	s := m.NewSession(ctx)
	s.Set("x", 1)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx); !errors.Is(err, sessions.ErrClosed) {
		t.Errorf("Save after Close = %v", err)
	}
	if _, err := m.ClearExpired(ctx); !errors.Is(err, sessions.ErrClosed) {
		t.Errorf("ClearExpired after Close = %v", err)
	}
	if m.Close() != nil {
		t.Error("second Close")
	}
}

func TestClearExpired(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	store := memstore.New(&memstore.Options{Now: func() time.Time { return now }})
	st := testutil.Settings()
	st.Clock = func() time.Time { return now }
	m, _ := sessions.New(store, st)
	for i := range 3 {
		s := m.NewSession(ctx)
		s.Set("i", i)
		s.SetExpiry(time.Duration(i+1) * time.Minute)
		s.Save(ctx)
	}
	now = now.Add(150 * time.Second)
	n, err := m.ClearExpired(ctx)
	if err != nil || n != 2 {
		t.Errorf("ClearExpired = %d, %v; want 2", n, err)
	}
}

func TestBindUserUnsupported(t *testing.T) {
	ctx := context.Background()
	m, err := sessions.Open(ctx, "signed-cookies:", testutil.Settings())
	if err != nil {
		t.Fatal(err)
	}
	if err := m.BindUser(ctx, m.NewSession(ctx), "ann"); !errors.Is(err, sessions.ErrUnsupported) {
		t.Errorf("BindUser on signed cookies: %v", err)
	}
	if _, err := m.DeleteUser(ctx, "ann"); !errors.Is(err, sessions.ErrUnsupported) {
		t.Errorf("DeleteUser on signed cookies: %v", err)
	}
	mm := testutil.Manager(t, memstore.New(nil))
	if err := mm.BindUser(ctx, mm.NewSession(ctx), ""); !errors.Is(err, sessions.ErrInvalidKey) {
		t.Errorf("empty user ID: %v", err)
	}
}

func TestEmptyRecordIsEmptySession(t *testing.T) {
	ctx := context.Background()
	store := memstore.New(nil)
	key := sessions.NewKey()
	store.Create(ctx, key, []byte{}, time.Now().Add(time.Hour))
	m, _ := sessions.New(store, testutil.Settings())
	s := m.Load(ctx, key)
	if s.Len() != 0 || s.Key() != key || s.Err() != nil {
		t.Fatalf("empty record: len %d, key kept %v, err %v", s.Len(), s.Key() == key, s.Err())
	}
	s.Set("a", 1)
	if err := s.Save(ctx); err != nil || s.Key() != key {
		t.Fatalf("save over the placeholder: %v", err)
	}
}

// TestSessionContext: the context the middleware gives a request (and
// NewContext's) carries the session through derived contexts, answers
// every other key as its parent does, and ends when its parent ends.
func TestSessionContext(t *testing.T) {
	m := testutil.Manager(t, memstore.New(nil))
	type otherKey struct{}
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), otherKey{}, "other"))
	defer cancel()
	check := func(name string, ctx context.Context, s *sessions.Session) {
		t.Helper()
		derived, stop := context.WithTimeout(context.WithoutCancel(ctx), time.Hour)
		defer stop()
		for _, c := range []context.Context{ctx, derived} {
			if got := sessions.FromContext(c); got != s || s == nil {
				t.Errorf("%s: FromContext = %p, want %p", name, got, s)
			}
			if c.Value(otherKey{}) != "other" {
				t.Errorf("%s: another key's value is lost", name)
			}
		}
		if !strings.Contains(fmt.Sprint(ctx), "WithValue") {
			t.Errorf("%s: the context names itself %q", name, fmt.Sprint(ctx))
		}
	}
	s := m.NewSession(parent)
	ctx := sessions.NewContext(parent, s)
	check("NewContext", ctx, s)
	child, stopChild := context.WithCancel(ctx)
	defer stopChild()
	ended := make(chan struct{})
	context.AfterFunc(ctx, func() { close(ended) })

	var seen *sessions.Session
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = sessions.FromContext(r.Context())
		check("the middleware's", r.Context(), seen)
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil).WithContext(parent))
	if seen == nil {
		t.Fatal("the handler saw no session")
	}
	cancel()
	for name, done := range map[string]<-chan struct{}{"a child of NewContext's": child.Done(), "AfterFunc on NewContext's": ended} {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Errorf("%s context did not end with its parent", name)
		}
	}
}
