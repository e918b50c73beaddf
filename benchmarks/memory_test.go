package benchmarks

import (
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/sessionkit/sessions"
	ourmem "github.com/sessionkit/sessions/backends/memstore"
)

func newMemoryManager(tb testing.TB) *sessions.Manager {
	m, err := sessions.New(ourmem.New(nil), settings())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { m.Close() })
	return m
}

func newSCSMemory() *scs.SessionManager {
	sm := scs.New()
	sm.Store = memstore.NewWithCleanupInterval(time.Hour)
	return sm
}

func BenchmarkMemory(b *testing.B) {
	b.Run("ours", func(b *testing.B) {
		oursPair(b, newMemoryManager(b), sessionData())
	})
	b.Run("scs", func(b *testing.B) {
		scsPair(b, newSCSMemory())
	})
}
