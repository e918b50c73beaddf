package boltstore

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
)

const (
	crashPathEnv = "BOLTSTORE_CRASH_PATH"
	crashKeysEnv = "BOLTSTORE_CRASH_KEYS"
)

// The two values each key alternates between: different sizes, several
// pages each, so a torn write cannot pass for either.
func crashValues(key string) (a, b []byte) {
	a = []byte("A:" + key + ":" + strings.Repeat("a", 5000) + ":end")
	b = []byte("B:" + key + ":" + strings.Repeat("b", 21000) + ":end")
	return a, b
}

// TestHelperProcess is the child of TestCrashSafety: it rewrites sessions
// through the engine until it is killed.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv(crashPathEnv)
	if path == "" {
		t.Skip("helper process of TestCrashSafety")
	}
	keys := strings.Split(os.Getenv(crashKeysEnv), ",")
	s, err := Open(path, &Options{Timeout: 5 * time.Second})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	ctx := context.Background()
	fmt.Println("ready")
	deadline := time.Now().Add(20 * time.Second) // killed long before
	for i := 0; time.Now().Before(deadline); i++ {
		key := keys[rand.IntN(len(keys))]
		a, b := crashValues(key)
		cur, err := s.Load(ctx, key)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(2)
		}
		next := a
		if bytes.Equal(cur, a) {
			next = b
		}
		exp := time.Now().Add(time.Duration(1+rand.IntN(60)) * time.Minute)
		switch i % 5 {
		case 0:
			err = s.Update(ctx, key, next, exp)
		case 1, 2:
			err = s.Swap(ctx, key, cur, next, exp)
		case 3:
			err = s.Touch(ctx, key, exp)
		case 4:
			// Churn: short-lived sessions created and purged.
			err = s.Create(ctx, sessions.NewKey(), next, time.Now().Add(-time.Second))
			if err == nil {
				_, err = s.DeleteExpired(ctx)
			}
		}
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(2)
		}
	}
	os.Exit(0)
}

// TestCrashSafety kills a process that is rewriting sessions at random
// moments, many times, and checks after each kill that the file opens
// cleanly, passes bbolt's consistency check, has a consistent expiry
// index, and holds for every session either its old or its new value.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	ctx := context.Background()
	path := newPath(t)
	keys := make([]string, 6)
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range keys {
		keys[i] = sessions.NewKey()
		a, _ := crashValues(keys[i])
		if err := s.Create(ctx, keys[i], a, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	state := func() []string {
		// The killed child's lock is gone: the file opens at once.
		s, err := Open(path, &Options{Timeout: 2 * time.Second})
		if err != nil {
			t.Fatalf("reopen after crash: %v", err)
		}
		defer s.Close()
		checkIndex(t, s.DB(), defaultBucket)
		var out []string
		for _, k := range keys {
			got, err := s.Load(ctx, k)
			if err != nil {
				t.Fatalf("Load after crash: %v", err)
			}
			a, b := crashValues(k)
			switch {
			case bytes.Equal(got, a):
				out = append(out, "A")
			case bytes.Equal(got, b):
				out = append(out, "B")
			default:
				t.Fatalf("session holds %d bytes that are neither value", len(got))
			}
		}
		return out
	}
	const rounds = 50
	changes := 0
	prev := state()
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashPathEnv+"="+path, crashKeysEnv+"="+strings.Join(keys, ","))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(out).ReadString('\n')
		if strings.TrimSpace(line) != "ready" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("round %d: child said %q", round, line)
		}
		time.Sleep(time.Duration(2+rand.IntN(40)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("round %d: child ended by itself", round)
		}
		cur := state()
		if !slices.Equal(cur, prev) {
			changes++
		}
		prev = cur
	}
	if changes == 0 {
		t.Fatal("the child never changed a session: the test proves nothing")
	}
	s, err = Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var listed []string
	if err := s.List(ctx, func(k string) bool { listed = append(listed, k); return true }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(listed)
	want := slices.Clone(keys)
	slices.Sort(want)
	if !slices.Equal(listed, want) {
		t.Fatalf("List after crashes: %d keys, want %d", len(listed), len(want))
	}
	if _, err := s.DeleteExpired(ctx); err != nil {
		t.Fatal(err)
	}
	if n := checkIndex(t, s.DB(), defaultBucket); n != len(keys) {
		t.Fatalf("%d records after purge, want %d", n, len(keys))
	}
	t.Logf("%d rounds, sessions changed in %d", rounds, changes)
}
