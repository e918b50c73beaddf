package conformance_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/memstore"
	"github.com/sessionkit/sessions/conformance"
)

// A third-party engine runs the suite from its own test file.
func ExampleRun() {
	_ = func(t *testing.T) {
		h := conformance.Harness{
			New: func(t *testing.T) sessions.Backend {
				e := memstore.New(nil) // your engine, over a fresh isolated store
				t.Cleanup(func() { e.Close() })
				return e
			},
		}
		conformance.Run(t, h)        // the storage contract
		conformance.RunManager(t, h) // Django's session and middleware behaviour

		// The Manager's path for an engine without optional interfaces.
		base := h
		base.New = func(t *testing.T) sessions.Backend {
			return conformance.BaseOnly(h.New(t).(sessions.Engine))
		}
		conformance.RunManager(t, base)
	}
}

// An engine that keeps its sessions on disk proves that a process killed
// in the middle of a write leaves every session old or new.
func ExampleRunCrash() {
	_ = func(t *testing.T) {
		conformance.RunCrash(t, conformance.CrashHarness{
			Open: func(dir string) (sessions.Engine, error) {
				return memstore.New(nil), nil // your engine, over the store in dir
			},
		})
	}
}

// Check verifies a live engine from a program, for example at start-up.
func ExampleCheck() {
	err := conformance.Check(context.Background(), memstore.New(nil))
	fmt.Println("check passed:", err == nil)
	// Output: check passed: true
}
