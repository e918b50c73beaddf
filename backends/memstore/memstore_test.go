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

// TestManagerConformanceBaseOnly runs the Manager over the memory engine
// with every optional interface hidden: the path of an engine that
// implements only sessions.Engine (no Swapper, Toucher, ExpiryReader,
// ExpiredDeleter, Lister or UserIndexer), as a minimal third-party
// engine does.
func TestManagerConformanceBaseOnly(t *testing.T) {
	conformance.RunManager(t, conformance.Harness{
		New: func(t *testing.T) sessions.Backend {
			s := memstore.New(nil)
			t.Cleanup(func() { s.Close() })
			return conformance.BaseOnly(s)
		},
	})
}
