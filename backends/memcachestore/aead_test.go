package memcachestore_test

import (
	"testing"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/memcachestore"
	"github.com/sessionkit/sessions/internal/aeadtest"
	"github.com/sessionkit/sessions/internal/testservers"
)

// TestEncrypted runs the Manager suite and the encryption cases with
// Settings.EncryptionKeys over Django's pickle format (unsigned without
// encryption); the stored copy is read with a get of the client.
func TestEncrypted(t *testing.T) {
	m := testservers.SharedMemcached(t)
	aeadtest.Run(t, aeadtest.Target{
		Harness: harness("memcached://" + m.Addr),
		Stored: func(t *testing.T, e sessions.Backend, key string) [][]byte {
			s := e.(*memcachestore.Store)
			it, err := s.Client().Get(s.Key(key))
			if err != nil {
				t.Fatalf("get: %v", err)
			}
			return [][]byte{it.Value}
		},
	})
}
