package djangoauth_test

import (
	"context"
	"fmt"

	"github.com/sessionkit/sessions"
	_ "github.com/sessionkit/sessions/backends/memstore"
	"github.com/sessionkit/sessions/djangoauth"
)

// A Go service logs users in and out of sessions a Django app shares:
// the same three keys as django.contrib.auth's login, the same session
// auth hash, so that Django's get_user accepts the Go login (and Go
// accepts Django's). A password change logs out every other session.
func Example() {
	ctx := context.Background()
	settings := sessions.DefaultSettings()
	settings.SecretKey = "django-insecure-example-key" // Django's SECRET_KEY
	m, err := sessions.Open(ctx, "memory:", settings)  // the store the Django app uses, in practice
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	auth := djangoauth.New(settings)

	// auth_user.password of user 42, as Django's user table holds it.
	passwords := map[string]string{"42": "pbkdf2_sha256$600000$salt$hash="}
	lookup := func(ctx context.Context, id string) (string, bool, error) {
		p, ok := passwords[id]
		return p, ok, nil
	}

	s := m.NewSession(ctx)
	if err := auth.Login(ctx, s, "42", passwords["42"], ""); err != nil {
		fmt.Println(err)
		return
	}
	m.Save(ctx, s)
	fmt.Println(s.Get(djangoauth.UserIDKey), s.Get(djangoauth.BackendKey))
	fmt.Println(s.Get(djangoauth.HashKey)) // Django 4.2's get_session_auth_hash() for that password

	// A later request: who is logged in?
	id, ok, err := auth.User(ctx, m.Load(ctx, s.Key()), lookup)
	fmt.Println(id, ok, err)

	// The password changes (in Django or in Go): this session no longer
	// validates and is flushed, as Django's get_user does.
	passwords["42"] = "pbkdf2_sha256$600000$salt$new="
	later := m.Load(ctx, s.Key())
	_, ok, err = auth.User(ctx, later, lookup)
	fmt.Println(ok, err, later.Len())
	// Output:
	// 42 django.contrib.auth.backends.ModelBackend
	// 1cd32a260e8a6afbe7d60516c4740b40b1cfa57dbfb3a386a4ed5b58701f8424
	// 42 true <nil>
	// false <nil> 0
}

// SessionAuthHash is Django's AbstractBaseUser.get_session_auth_hash.
func ExampleSessionAuthHash() {
	fmt.Println(djangoauth.SessionAuthHash("pbkdf2_sha256$600000$salt$hash=", "django-insecure-example-key"))
	// Output: 1cd32a260e8a6afbe7d60516c4740b40b1cfa57dbfb3a386a4ed5b58701f8424
}
