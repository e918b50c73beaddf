package filestore

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/conformance"
)

// TestCrashSafety kills a process that is rewriting sessions at random
// moments, many times (conformance.RunCrash), and checks besides that
// every session file holds exactly what Load returns.
func TestCrashSafety(t *testing.T) {
	conformance.RunCrash(t, conformance.CrashHarness{
		Open: func(dir string) (sessions.Engine, error) { return New(Options{Dir: dir, Codec: testCodec}) },
		Check: func(t *testing.T, e sessions.Engine, keys []string, purged bool) {
			s := e.(*Store)
			for _, k := range keys {
				raw, err := os.ReadFile(s.Path(k))
				if err != nil {
					t.Fatalf("session file: %v", err)
				}
				if loaded, err := s.Load(context.Background(), k); err != nil || !bytes.Equal(loaded, raw) {
					t.Fatalf("the session file holds %d bytes, Load returns %d (%v)", len(raw), len(loaded), err)
				}
			}
			if purged {
				temps := 0
				for _, n := range listDir(t, filepath.Dir(s.Path(keys[0]))) {
					if strings.Contains(n, "_out_") {
						temps++
					}
				}
				t.Logf("%d leftover temporary files", temps)
			}
		},
	})
}
