package cookiestore_test

import (
	"testing"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/conformance"
	"github.com/sessionkit/sessions/internal/aeadtest"
)

// TestEncrypted runs the Manager suite and the encryption cases with
// Settings.EncryptionKeys: the cookie value itself is what the browser
// (and anyone who sees the cookie) holds.
func TestEncrypted(t *testing.T) {
	aeadtest.Run(t, aeadtest.Target{
		Harness: conformance.Harness{New: newStore, Caps: conformance.Capabilities{ClientSide: true}},
		Stored: func(t *testing.T, e sessions.Backend, key string) [][]byte {
			return [][]byte{[]byte(key)}
		},
	})
}
