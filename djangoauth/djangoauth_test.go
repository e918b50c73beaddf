package djangoauth_test

import (
	"context"
	"testing"

	"github.com/sessionkit/sessions/backends/memstore"
	"github.com/sessionkit/sessions/djangoauth"
	"github.com/sessionkit/sessions/internal/testutil"
)

const secret = "django_tests_secret_key"

func TestSessionAuthHashVector(t *testing.T) {
	// Verified with Django 5.2.18 (reference section 7.9).
	got := djangoauth.SessionAuthHash("pbkdf2_sha256$870000$abc$def=", secret)
	if got != "1d0b48a672817f43a6423410a672c7c15c4e54ac97b7a65917eced3c1a63eab0" {
		t.Errorf("hash = %s", got)
	}
}

var users = map[string]string{"1": "pbkdf2_sha256$870000$abc$def=", "2": "pbkdf2_sha256$870000$xyz$uvw="}

func lookup(ctx context.Context, id string) (string, bool, error) {
	pw, ok := users[id]
	return pw, ok, nil
}

func TestLoginCyclesKeyAndUserValidates(t *testing.T) {
	ctx := context.Background()
	m := testutil.Manager(t, memstore.New(nil))
	a := &djangoauth.Auth{SecretKey: secret}
	s := m.NewSession(ctx)
	s.Set("cart", []any{"apple"})
	s.Save(ctx)
	anon := s.Key()
	if err := a.Login(ctx, s, "1", users["1"], ""); err != nil {
		t.Fatal(err)
	}
	s.Save(ctx)
	if s.Key() == anon {
		t.Error("login did not cycle the key")
	}
	if !s.Has("cart") {
		t.Error("login lost the anonymous cart (Django keeps it)")
	}
	r := m.Load(ctx, s.Key())
	id, ok, err := a.User(ctx, r, lookup)
	if err != nil || !ok || id != "1" {
		t.Fatalf("User = %q %v %v", id, ok, err)
	}
	if r.Get(djangoauth.BackendKey) != djangoauth.ModelBackend {
		t.Errorf("backend %v", r.Get(djangoauth.BackendKey))
	}
}

func TestLoginSameUserKeepsKeyOtherUserFlushes(t *testing.T) {
	ctx := context.Background()
	m := testutil.Manager(t, memstore.New(nil))
	a := &djangoauth.Auth{SecretKey: secret}
	s := m.NewSession(ctx)
	a.Login(ctx, s, "1", users["1"], "")
	s.Set("cart", []any{"apple"})
	s.Save(ctx)
	k := s.Key()
	a.Login(ctx, s, "1", users["1"], "")
	if s.Key() != k {
		t.Error("re-login of the same user changed the key (Django does not)")
	}
	a.Login(ctx, s, "2", users["2"], "")
	if s.Has("cart") || s.Get(djangoauth.UserIDKey) != "2" {
		t.Error("login as another user did not flush")
	}
}

func TestPasswordChangeLogsOutOtherSessions(t *testing.T) {
	ctx := context.Background()
	m := testutil.Manager(t, memstore.New(nil))
	a := &djangoauth.Auth{SecretKey: secret}
	s := m.NewSession(ctx)
	a.Login(ctx, s, "1", users["1"], "")
	s.Save(ctx)
	other := m.NewSession(ctx)
	a.Login(ctx, other, "1", users["1"], "")
	other.Save(ctx)

	newPW := "pbkdf2_sha256$870000$new$pw="
	changed := func(ctx context.Context, id string) (string, bool, error) { return newPW, true, nil }
	if err := a.UpdateSessionAuthHash(ctx, s, newPW); err != nil {
		t.Fatal(err)
	}
	s.Save(ctx)
	if _, ok, _ := a.User(ctx, m.Load(ctx, s.Key()), changed); !ok {
		t.Error("the session that changed the password was logged out")
	}
	o := m.Load(ctx, other.Key())
	if _, ok, _ := a.User(ctx, o, changed); ok {
		t.Error("another session survived the password change")
	}
	if o.Len() != 0 || o.Key() != "" {
		t.Error("the stale session was not flushed")
	}
}

func TestFallbackKeyUpgradesHash(t *testing.T) {
	ctx := context.Background()
	m := testutil.Manager(t, memstore.New(nil))
	old := &djangoauth.Auth{SecretKey: "old"}
	s := m.NewSession(ctx)
	old.Login(ctx, s, "1", users["1"], "")
	s.Save(ctx)
	key := s.Key()
	rotated := &djangoauth.Auth{SecretKey: secret, SecretKeyFallbacks: []string{"old"}}
	r := m.Load(ctx, key)
	id, ok, err := rotated.User(ctx, r, lookup)
	if !ok || id != "1" || err != nil {
		t.Fatalf("User = %v %v %v", id, ok, err)
	}
	if r.Key() == key || r.Get(djangoauth.HashKey) != djangoauth.SessionAuthHash(users["1"], secret) {
		t.Error("fallback login not upgraded (cycle key and new hash)")
	}
	if _, ok, _ := (&djangoauth.Auth{SecretKey: secret}).User(ctx, m.Load(ctx, key), lookup); ok {
		t.Error("old hash accepted without fallback")
	}
}

func TestUnknownBackendOrUser(t *testing.T) {
	ctx := context.Background()
	m := testutil.Manager(t, memstore.New(nil))
	a := &djangoauth.Auth{SecretKey: secret}
	s := m.NewSession(ctx)
	a.Login(ctx, s, "1", users["1"], "myapp.backends.Custom")
	if _, ok, _ := a.User(ctx, s, lookup); ok {
		t.Error("unconfigured backend accepted")
	}
	s2 := m.NewSession(ctx)
	a.Login(ctx, s2, "99", "x", "")
	if _, ok, _ := a.User(ctx, s2, lookup); ok || s2.Len() == 0 {
		t.Error("missing user: not anonymous, or session flushed (Django keeps it)")
	}
	if err := a.Logout(ctx, s2); err != nil || s2.Len() != 0 {
		t.Error("logout")
	}
}
