package cacheddb

import (
	"testing"
	"time"

	"github.com/sessionkit/sessions"
)

// WaitInstalls waits until the store under e has no write's copy left to
// install in the background.
func WaitInstalls(tb testing.TB, e sessions.Engine) {
	tb.Helper()
	var s *Store
	switch x := e.(type) {
	case *Store:
		s = x
	case noSwap:
		s = x.withoutSwap.(*Store)
	default:
		tb.Fatalf("WaitInstalls: %T is not a cached_db store", e)
	}
	for deadline := time.Now().Add(10 * time.Second); s.bg.n.Load() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatal("a write's copy is still being installed after 10 s")
		}
	}
}
