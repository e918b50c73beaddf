package signing_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/sessionkit/sessions/signing"
)

// Sign a value as Django's Signer does: the value, a colon, and a
// signature Django's Signer(key=SECRET_KEY).unsign accepts. The outputs
// below are what Django 4.2 prints for the same calls.
func ExampleSigner() {
	s := signing.Signer{Key: "django-insecure-example-key"}
	signed := s.Sign("hello")
	fmt.Println(signed)

	v, err := s.Unsign(signed)
	fmt.Println(v, err)
	_, err = s.Unsign("hello:forged")
	fmt.Println(errors.Is(err, signing.ErrBadSignature))

	// A salt keeps signatures for one purpose from being replayed for
	// another (Signer(key=..., salt="newsletter")).
	fmt.Println(signing.Signer{Key: "django-insecure-example-key", Salt: "newsletter"}.Sign("ann@example.com"))
	// Output:
	// hello:alg43sZ1KFNzCVm17-5xwFXqgtxy-ea3UusBmtJI_2w
	// hello <nil>
	// true
	// ann@example.com:yG3EtMV_tw9_wBLAHPxVqjqz9JQ0dCB9MkvQxEMTpVk
}

// Dumps and Loads are Django's signing.dumps and signing.loads: JSON,
// base64, a timestamp and a signature. Django's
// signing.loads(value, key=SECRET_KEY, max_age=3600) reads this value,
// and Loads reads Django's; with the clock at 2030-01-01 Django 4.2
// writes exactly these bytes.
func ExampleDumps() {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	o := signing.Options{
		Key:    "django-insecure-example-key",
		MaxAge: time.Hour,
		Now:    func() time.Time { return now },
	}
	value, err := signing.Dumps(map[string]any{"cart": []any{"mug"}, "user": "42"}, o)
	fmt.Println(value, err)

	v, err := signing.Loads(value, o)
	fmt.Println(v, err)

	now = now.Add(2 * time.Hour) // past MaxAge
	_, err = signing.Loads(value, o)
	fmt.Println(errors.Is(err, signing.ErrSignatureExpired))
	// Output:
	// eyJjYXJ0IjpbIm11ZyJdLCJ1c2VyIjoiNDIifQ:248kOu:G7yrRkh22YxEuLKvs30Slwmc14cp6sVS4hUnhiwo9Sw <nil>
	// map[cart:[mug] user:42] <nil>
	// true
}
