package memstore_test

import (
	"context"
	"testing"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/memstore"
	"github.com/sessionkit/sessions/conformance"
	"github.com/sessionkit/sessions/internal/aeadtest"
)

// TestEncrypted runs the Manager suite and the encryption cases with
// Settings.EncryptionKeys. The store is process memory: what it holds is
// what Load returns.
func TestEncrypted(t *testing.T) {
	aeadtest.Run(t, aeadtest.Target{
		Harness: conformance.Harness{New: func(t *testing.T) sessions.Backend {
			s := memstore.New(nil)
			t.Cleanup(func() { s.Close() })
			return s
		}},
		Stored: func(t *testing.T, e sessions.Backend, key string) [][]byte {
			b, err := e.(sessions.Engine).Load(context.Background(), key)
			if err != nil {
				t.Fatalf("stored copy: %v", err)
			}
			return [][]byte{b}
		},
	})
}
