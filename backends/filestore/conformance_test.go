package filestore_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/filestore"
	"github.com/sessionkit/sessions/conformance"
)

func newDir(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "sessions")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

func open(t *testing.T, dir string) *filestore.Store {
	s, err := filestore.New(filestore.Options{Dir: dir, Codec: sessions.DefaultCodec(sessions.Settings{SecretKey: conformance.SecretKey})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var harness = conformance.Harness{
	New: func(t *testing.T) sessions.Backend { return open(t, newDir(t)) },
	NewPair: func(t *testing.T) (sessions.Backend, sessions.Backend) {
		dir := newDir(t)
		return open(t, dir), open(t, dir)
	},
	// ext4, XFS, Btrfs and tmpfs keep nanosecond modification times.
	Caps: conformance.Capabilities{TTLResolution: 0},
}

func TestConformance(t *testing.T) { conformance.Run(t, harness) }

func TestManagerConformance(t *testing.T) { conformance.RunManager(t, harness) }
