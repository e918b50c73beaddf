package redisstore_test

import (
	"context"
	"testing"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/redisstore"
	"github.com/sessionkit/sessions/internal/aeadtest"
	"github.com/sessionkit/sessions/internal/testservers"
)

func storedRedis(t *testing.T, e sessions.Backend, key string) [][]byte {
	s := e.(*redisstore.Store)
	b, err := s.Client().Get(context.Background(), s.Key(key)).Bytes()
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	return [][]byte{b}
}

// TestEncrypted runs the Manager suite and the encryption cases with
// Settings.EncryptionKeys over Django's pickle format (unsigned without
// encryption) and over signed JSON; the stored copy is read with a GET.
func TestEncrypted(t *testing.T) {
	url := testservers.SharedRedis(t).URL()
	t.Run("Pickle", func(t *testing.T) {
		aeadtest.Run(t, aeadtest.Target{Harness: harness(url), Stored: storedRedis})
	})
	t.Run("JSON", func(t *testing.T) {
		aeadtest.Run(t, aeadtest.Target{Harness: harness(url, "format", "json"), Stored: storedRedis})
	})
}
