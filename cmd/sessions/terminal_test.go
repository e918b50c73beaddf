package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/sessionkit/sessions/internal/testservers"
)

// Progress is drawn only on a terminal: never into a pipe, a regular file
// or a buffer (a script's log), and on a terminal device it is.
func TestTerminalDetection(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for name, out := range map[string]io.Writer{"pipe": w, "file": f, "buffer": &bytes.Buffer{}} {
		if terminal(out) {
			t.Errorf("%s taken for a terminal", name)
		}
	}
	// A pseudo-terminal's master side is a terminal device.
	pty, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		if testservers.Require() { // CI: the positive case must run
			t.Fatalf("no pseudo-terminal to check the positive case: %v", err)
		}
		t.Skipf("no pseudo-terminal to check the positive case: %v", err)
	}
	defer pty.Close()
	if !terminal(pty) {
		t.Error("a pseudo-terminal is not taken for a terminal")
	}
}
