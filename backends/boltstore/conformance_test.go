package boltstore_test

import (
	"path/filepath"
	"testing"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/boltstore"
	"github.com/sessionkit/sessions/conformance"
	"go.etcd.io/bbolt"
)

var harness = conformance.Harness{
	New: func(t *testing.T) sessions.Backend {
		s, err := boltstore.Open(filepath.Join(t.TempDir(), "sessions.db"), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	},
	// bbolt locks its file: two instances share one *bbolt.DB.
	NewPair: func(t *testing.T) (sessions.Backend, sessions.Backend) {
		db, err := bbolt.Open(filepath.Join(t.TempDir(), "sessions.db"), 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		a, err := boltstore.New(db, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := boltstore.New(db, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close(); b.Close() })
		return a, b
	},
	Caps: conformance.Capabilities{TTLResolution: 0},
}

func TestConformance(t *testing.T) { conformance.Run(t, harness) }

func TestManagerConformance(t *testing.T) { conformance.RunManager(t, harness) }
