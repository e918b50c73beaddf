package conformance_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/conformance"
)

// inPlace is a file engine that rewrites a session's file in place, in
// small pieces: a crash in the middle leaves it torn.
type inPlace struct{ dir string }

func (s inPlace) path(key string) string { return filepath.Join(s.dir, key) }

func (s inPlace) Load(ctx context.Context, key string) ([]byte, error) {
	b, err := os.ReadFile(s.path(key))
	if os.IsNotExist(err) {
		return nil, sessions.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	head, data, _ := strings.Cut(string(b), "\n")
	exp, err := strconv.ParseInt(head, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("torn header %.20q", head)
	}
	if time.Now().UnixNano() >= exp {
		return nil, sessions.ErrNotFound
	}
	return []byte(data), nil
}

func (s inPlace) write(key string, data []byte, exp time.Time) error {
	f, err := os.OpenFile(s.path(key), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	b := append([]byte(strconv.FormatInt(exp.UnixNano(), 10)+"\n"), data...)
	for len(b) > 0 {
		n := min(len(b), 1024)
		if _, err := f.Write(b[:n]); err != nil {
			return err
		}
		b = b[n:]
		time.Sleep(200 * time.Microsecond)
	}
	return nil
}

func (s inPlace) Create(ctx context.Context, key string, data []byte, exp time.Time) error {
	if _, err := s.Load(ctx, key); err == nil {
		return sessions.ErrExists
	}
	return s.write(key, data, exp)
}

func (s inPlace) Update(ctx context.Context, key string, data []byte, exp time.Time) error {
	if _, err := s.Load(ctx, key); err != nil {
		return err
	}
	return s.write(key, data, exp)
}

func (s inPlace) Delete(ctx context.Context, key string) error {
	if err := os.Remove(s.path(key)); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

func (inPlace) Close() error { return nil }

// TestTornWriteHelper runs RunCrash over inPlace when TestRunCrashCatchesTornWrites
// asks for it.
func TestTornWriteHelper(t *testing.T) {
	if os.Getenv("CONFORMANCE_TORN_HELPER") == "" {
		t.Skip("helper of TestRunCrashCatchesTornWrites")
	}
	conformance.RunCrash(t, conformance.CrashHarness{
		Open:   func(dir string) (sessions.Engine, error) { return inPlace{dir}, nil },
		Rounds: 30,
	})
}

// RunCrash fails on an engine whose writes a crash can tear, whether the
// crash leaves a session's file with other bytes or unreadable (a torn
// header).
func TestRunCrashCatchesTornWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestTornWriteHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), "CONFORMANCE_TORN_HELPER=1")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "neither its old nor its new value") {
		t.Fatalf("RunCrash passed an engine that writes in place (%v):\n%s", err, out)
	}
}
