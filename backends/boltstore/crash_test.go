package boltstore

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/conformance"
)

// TestCrashSafety kills a process that is rewriting sessions at random
// moments, many times (conformance.RunCrash), and checks besides that
// after each kill the file passes bbolt's consistency check and has a
// consistent expiry index, and after the purge holds the sessions only.
func TestCrashSafety(t *testing.T) {
	conformance.RunCrash(t, conformance.CrashHarness{
		// The killed child's lock is gone: the file opens at once.
		Open: func(dir string) (sessions.Engine, error) {
			return Open(filepath.Join(dir, "sessions.db"), &Options{Timeout: 5 * time.Second})
		},
		Check: func(t *testing.T, e sessions.Engine, keys []string, purged bool) {
			n := checkIndex(t, e.(*Store).DB(), defaultBucket)
			if purged && n != len(keys) {
				t.Fatalf("%d records after the purge, want %d", n, len(keys))
			}
		},
	})
}
