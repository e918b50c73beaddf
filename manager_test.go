package sessions_test

import (
	"context"
	"errors"
	"slices"
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
