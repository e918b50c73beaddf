package sqlstore_test

import (
	"context"
	"testing"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/sqlstore"
	"github.com/sessionkit/sessions/internal/aeadtest"
)

// TestEncryptedSQLite runs the Manager suite and the encryption cases with
// Settings.EncryptionKeys on SQLite; the stored copy is read from the
// table with a query of its own.
func TestEncryptedSQLite(t *testing.T) {
	b := backends[0]
	aeadtest.Run(t, aeadtest.Target{
		Harness: harness(b),
		Stored: func(t *testing.T, e sessions.Backend, key string) [][]byte {
			s := e.(*sqlstore.Store)
			var data string
			q := "SELECT session_data FROM " + s.Table() + " WHERE session_key = " + ph(b.dialect, 1)
			if err := raw(s).QueryRowContext(context.Background(), q, key).Scan(&data); err != nil {
				t.Fatalf("reading the row: %v", err)
			}
			return [][]byte{[]byte(data)}
		},
	})
}
