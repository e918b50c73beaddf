package memstore_test

import (
	"testing"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/memstore"
	"github.com/sessionkit/sessions/conformance"
)

func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Harness{
		New: func(t *testing.T) sessions.Backend {
			s := memstore.New(nil)
			t.Cleanup(func() { s.Close() })
			return s
		},
		NewPair: func(t *testing.T) (sessions.Backend, sessions.Backend) {
			s := memstore.New(nil)
			return s, s
		},
	})
}

func TestManagerConformance(t *testing.T) {
	conformance.RunManager(t, conformance.Harness{
		New: func(t *testing.T) sessions.Backend {
			s := memstore.New(nil)
			t.Cleanup(func() { s.Close() })
			return s
		},
	})
}
