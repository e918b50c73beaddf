package filestore

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
	crashDirEnv  = "FILESTORE_CRASH_DIR"
	crashKeysEnv = "FILESTORE_CRASH_KEYS"
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
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("helper process of TestCrashSafety")
	}
	keys := strings.Split(os.Getenv(crashKeysEnv), ",")
	s, err := New(Options{Dir: dir, Codec: testCodec})
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
		exp := time.Now().Add(time.Hour)
		switch i % 4 {
		case 0:
			err = s.Update(ctx, key, next, exp)
		case 1, 2:
			err = s.Swap(ctx, key, cur, next, exp)
		case 3:
			err = s.Touch(ctx, key, exp)
		}
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(2)
		}
	}
	os.Exit(0)
}

// TestCrashSafety kills a process that is rewriting sessions at random
// moments, many times, and checks that every session file holds either
// its old or its new value, never a torn or empty one, and that the store
// works normally afterwards.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	ctx := context.Background()
	dir := newDir(t)
	s, err := New(Options{Dir: dir, Codec: testCodec})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	keys := make([]string, 6)
	for i := range keys {
		keys[i] = sessions.NewKey()
		a, _ := crashValues(keys[i])
		if err := s.Create(ctx, keys[i], a, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	state := func() []string {
		var out []string
		for _, k := range keys {
			got, err := os.ReadFile(s.Path(k))
			if err != nil {
				t.Fatalf("session file: %v", err)
			}
			a, b := crashValues(k)
			switch {
			case bytes.Equal(got, a):
				out = append(out, "A")
			case bytes.Equal(got, b):
				out = append(out, "B")
			default:
				t.Fatalf("session file holds %d bytes that are neither value: torn write", len(got))
			}
			if loaded, err := s.Load(ctx, k); err != nil || !bytes.Equal(loaded, got) {
				t.Fatalf("Load after crash: %v", err)
			}
		}
		return out
	}
	const rounds = 50
	changes := 0
	prev := state()
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashKeysEnv+"="+strings.Join(keys, ","))
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
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("round %d: child ended by itself (%v)", round, err)
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
	// The store works normally: List sees exactly the sessions (leftover
	// temporary files are not sessions), DeleteExpired removes nothing.
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
	if n, err := s.DeleteExpired(ctx); n != 0 || err != nil {
		t.Fatalf("DeleteExpired after crashes = %d, %v", n, err)
	}
	for _, k := range keys {
		a, _ := crashValues(k)
		if err := s.Update(ctx, k, a, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	temps := 0
	for _, n := range listDir(t, dir) {
		if strings.Contains(n, "_out_") {
			temps++
		}
	}
	t.Logf("%d rounds, sessions changed in %d, %d leftover temporary files", rounds, changes, temps)
}
