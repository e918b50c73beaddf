package boltstore_test

import (
	"testing"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/boltstore"
	"github.com/sessionkit/sessions/internal/aeadtest"
	"go.etcd.io/bbolt"
)

// TestEncrypted runs the Manager suite and the encryption cases with
// Settings.EncryptionKeys; the stored copy is read from the bucket in a
// transaction of its own (an 8-byte expiry, then the data).
func TestEncrypted(t *testing.T) {
	aeadtest.Run(t, aeadtest.Target{
		Harness: harness,
		Stored: func(t *testing.T, e sessions.Backend, key string) [][]byte {
			var out []byte
			err := e.(*boltstore.Store).DB().View(func(tx *bbolt.Tx) error {
				if v := tx.Bucket([]byte("sessions")).Get([]byte(key)); len(v) > 8 {
					out = append(out, v[8:]...)
				}
				return nil
			})
			if err != nil || out == nil {
				t.Fatalf("reading the record: %v (found: %v)", err, out != nil)
			}
			return [][]byte{out}
		},
	})
}
