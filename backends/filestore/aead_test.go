package filestore_test

import (
	"os"
	"testing"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/filestore"
	"github.com/sessionkit/sessions/internal/aeadtest"
)

// TestEncrypted runs the Manager suite and the encryption cases with
// Settings.EncryptionKeys; the stored copy is the session file's content.
// (The engine's codec, for Django's _session_expiry, cannot read encrypted
// data; the expiry then comes from the file's time, which the engine sets
// from the Manager's absolute expiry.)
func TestEncrypted(t *testing.T) {
	aeadtest.Run(t, aeadtest.Target{
		Harness: harness,
		Stored: func(t *testing.T, e sessions.Backend, key string) [][]byte {
			b, err := os.ReadFile(e.(*filestore.Store).Path(key))
			if err != nil {
				t.Fatalf("reading the session file: %v", err)
			}
			return [][]byte{b}
		},
	})
}
