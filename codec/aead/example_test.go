package aead_test

import (
	"fmt"

	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/codec/aead"
)

// Encrypt session data with a new key while the old one still decrypts
// what it encrypted (a rotation). With the Manager, set
// Settings.EncryptionKeys instead: it wraps the engine's codec the same way.
func Example() {
	oldKey := []byte("an-old-secret-of-at-least-32-bytes-0001")
	newKey := []byte("a-new-secret-of-at-least-32-bytes-00002")
	inner := codec.Signed{Key: "the SECRET_KEY"}

	before, _ := aead.New(inner, nil, oldKey)
	stored, _ := before.Encode(codec.NewDict(map[string]any{"user": "ann"}))

	rotated, err := aead.New(inner, nil, newKey, oldKey) // the first key encrypts
	if err != nil {
		panic(err)
	}
	d, err := rotated.Decode(stored)
	fmt.Println(d.Map()["user"], err)

	// After the old key is removed, its sessions read as corrupt.
	after, _ := aead.New(inner, nil, newKey)
	_, err = after.Decode(stored)
	fmt.Println(err != nil)
	// Output:
	// ann <nil>
	// true
}
