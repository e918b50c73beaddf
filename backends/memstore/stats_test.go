package memstore_test

import (
	"testing"

	"github.com/sessionkit/sessions/backends/memstore"
	"github.com/sessionkit/sessions/internal/counttest"
)

func TestCount(t *testing.T) {
	s := memstore.New(nil)
	t.Cleanup(func() { s.Close() })
	counttest.Check(t, s)
}
