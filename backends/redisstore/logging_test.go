package redisstore_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/internal/testutil"
)

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// captureStderr points file descriptor 2 at a pipe while f runs and
// returns what was written to it: whatever writes to stderr (go-redis's
// default logger holds os.Stderr) ends up there.
func captureStderr(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved, err := syscall.Dup(2)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	done := make(chan struct{})
	go func() {
		io.Copy(&out, r)
		close(done)
	}()
	if err := syscall.Dup3(int(w.Fd()), 2, 0); err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			syscall.Dup3(saved, 2, 0)
			syscall.Close(saved)
			w.Close()
		}()
		f()
	}()
	<-done
	r.Close()
	return out.String()
}

// refusingAddr returns a loopback address where nothing listens.
func refusingAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := l.Addr().String()
	l.Close()
	return a
}

// waitFor polls until cond holds or 3 s pass.
func waitFor(cond func() bool) bool {
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// TestGoRedisLogsToSettingsLogger (issue 13.11): go-redis's "failed to
// dial" line goes to Settings.Logger, not to stderr, without the password;
// with two Managers each gets the lines of its own server.
func TestGoRedisLogsToSettingsLogger(t *testing.T) {
	const password = "s3cr3t-Pa55word"
	ctx := context.Background()
	addrA, addrB := refusingAddr(t), refusingAddr(t)
	var logA, logB syncBuffer
	open := func(addr string, log *syncBuffer) *sessions.Manager {
		st := testutil.QuietSettings()
		st.Logger = slog.New(slog.NewTextHandler(log, nil))
		m, err := sessions.Open(ctx, "redis://app:"+password+"@"+addr+"/0?max_retries=-1&dialer_retries=1", st)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	stderr := captureStderr(t, func() {
		a, b := open(addrA, &logA), open(addrB, &logB)
		defer a.Close()
		defer b.Close()
		for _, m := range []*sessions.Manager{a, b} {
			if _, err := m.Backend().(sessions.Engine).Load(ctx, sessions.NewKey()); err == nil {
				t.Error("Load from a server that refuses connections worked")
			}
		}
		waitFor(func() bool {
			return strings.Contains(logA.String(), "failed to dial") && strings.Contains(logB.String(), "failed to dial")
		})
	})
	t.Logf("logger A: %s", logA.String())
	for _, tc := range []struct {
		name       string
		log        string
		own, other string
	}{
		{"A", logA.String(), addrA, addrB},
		{"B", logB.String(), addrB, addrA},
	} {
		if !strings.Contains(tc.log, "failed to dial") || !strings.Contains(tc.log, tc.own) || !strings.Contains(tc.log, "level=WARN") {
			t.Errorf("logger %s did not get go-redis's failed dial to %s:\n%s", tc.name, tc.own, tc.log)
		}
		if strings.Contains(tc.log, tc.other) {
			t.Errorf("logger %s got the other Manager's line (%s):\n%s", tc.name, tc.other, tc.log)
		}
		if strings.Contains(tc.log, password) {
			t.Errorf("logger %s shows the password:\n%s", tc.name, tc.log)
		}
	}
	if strings.Contains(stderr, "failed to dial") || strings.Contains(stderr, password) {
		t.Errorf("go-redis wrote to stderr:\n%s", stderr)
	}
}
