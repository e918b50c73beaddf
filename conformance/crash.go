package conformance

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
)

// CrashHarness tells [RunCrash] how to open an engine over a store on
// disk.
type CrashHarness struct {
	// Open opens the engine over the store in dir, an empty directory the
	// suite made. The parent test and the child process both call it
	// with the same dir, the parent again after every crash: the engine
	// must open the store a killed process left behind.
	Open func(dir string) (sessions.Engine, error)
	// Check, when set, inspects the store after each crash with the
	// engine open, beyond the suite's own check of every record (for
	// example a consistency check of the file format, or the raw files).
	// keys are the sessions the child rewrites. It is called a last time
	// with purged set, after DeleteExpired (when the engine has it)
	// removed every expired record.
	Check func(t *testing.T, e sessions.Engine, keys []string, purged bool)
	// Rounds is how many times a child is started and killed (default
	// 50).
	Rounds int
}

// The environment of the child process of RunCrash.
const (
	crashTestEnv = "SESSIONS_CRASH_TEST" // the name of the test to act as the child of
	crashDirEnv  = "SESSIONS_CRASH_DIR"
	crashKeysEnv = "SESSIONS_CRASH_KEYS"
)

// RunCrash kills a process that is rewriting sessions through the engine
// at random moments, many times, and checks after each kill that the
// store opens and that every session holds either its old or its new
// value, never a torn, empty or missing one; and at the end that the
// store works normally: List sees exactly the sessions (leftover
// temporary files or pages are not sessions), DeleteExpired keeps them,
// and each can be updated again. The child rewrites with Update, Swap and
// Touch where the engine has them, and churns short-lived records that
// DeleteExpired removes.
//
// The child is the test binary itself, run again with only the calling
// test selected (and an environment variable that makes RunCrash act as
// the child), so whatever the test does before calling RunCrash runs in
// the child too.
func RunCrash(t *testing.T, h CrashHarness) {
	if os.Getenv(crashTestEnv) == t.Name() {
		crashChild(h)
		return
	}
	t.Helper()
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	if h.Open == nil {
		t.Fatal("conformance: CrashHarness.Open is nil")
	}
	rounds := h.Rounds
	if rounds <= 0 {
		rounds = 50
	}
	ctx := context.Background()
	dir := t.TempDir()
	open := func() sessions.Engine {
		t.Helper()
		e, err := h.Open(dir)
		if err != nil {
			t.Fatalf("open the store: %v", err)
		}
		return e
	}
	keys := make([]string, 6)
	e := open()
	for i := range keys {
		keys[i] = sessions.NewKey()
		a, _ := crashValues(keys[i])
		if err := e.Create(ctx, keys[i], a, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	e.Close()
	state := func() []string {
		t.Helper()
		e := open()
		defer e.Close()
		var out []string
		for i, k := range keys {
			got, err := e.Load(ctx, k)
			if err != nil {
				t.Fatalf("session %d cannot be loaded after a crash, so it holds neither its old nor its new value (a torn write?): %v", i, err)
			}
			a, b := crashValues(k)
			switch {
			case bytes.Equal(got, a):
				out = append(out, "A")
			case bytes.Equal(got, b):
				out = append(out, "B")
			default:
				t.Fatalf("session %d holds %d bytes that are neither its old nor its new value: a torn write", i, len(got))
			}
		}
		if h.Check != nil {
			h.Check(t, e, keys, false)
		}
		return out
	}
	changes := 0
	prev := state()
	for round := range rounds {
		crashRound(t, round, dir, keys)
		cur := state()
		if !slices.Equal(cur, prev) {
			changes++
		}
		prev = cur
	}
	if changes == 0 {
		t.Fatal("the child never changed a session: the test proves nothing")
	}
	e = open()
	defer e.Close()
	listed := func(when string) {
		t.Helper()
		l, ok := e.(sessions.Lister)
		if !ok {
			return
		}
		var got []string
		if err := l.List(ctx, func(k string) bool { got = append(got, k); return true }); err != nil {
			t.Fatalf("List %s: %v", when, err)
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(keys))
		if !slices.Equal(got, want) {
			t.Fatalf("List %s: %d keys, want the %d sessions", when, len(got), len(want))
		}
	}
	listed("after the crashes")
	d, purges := e.(sessions.ExpiredDeleter)
	if purges {
		if _, err := d.DeleteExpired(ctx); err != nil {
			t.Fatalf("DeleteExpired after the crashes: %v", err)
		}
		listed("after DeleteExpired")
	}
	for i, k := range keys {
		a, _ := crashValues(k)
		if err := e.Update(ctx, k, a, time.Now().Add(time.Hour)); err != nil {
			t.Fatalf("Update of session %d after the crashes: %v", i, err)
		}
		if got, err := e.Load(ctx, k); err != nil || !bytes.Equal(got, a) {
			t.Fatalf("Load of session %d after its Update: %s, %v", i, short(got), err)
		}
	}
	if h.Check != nil {
		h.Check(t, e, keys, purges)
	}
	t.Logf("%d rounds, sessions changed in %d", rounds, changes)
}

// crashValues are the two values each key alternates between: different
// sizes, several pages each, so a torn write cannot pass for either.
func crashValues(key string) (a, b []byte) {
	a = []byte("A:" + key + ":" + strings.Repeat("a", 5000) + ":end")
	b = []byte("B:" + key + ":" + strings.Repeat("b", 21000) + ":end")
	return a, b
}

// crashRound starts a child that rewrites the sessions, and kills it
// after a random moment.
func crashRound(t *testing.T, round int, dir string, keys []string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run="+runPattern(t.Name()), "-test.count=1")
	cmd.Env = append(os.Environ(), crashTestEnv+"="+t.Name(), crashDirEnv+"="+dir, crashKeysEnv+"="+strings.Join(keys, ","))
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
		t.Fatalf("round %d: the child said %q", round, line)
	}
	time.Sleep(time.Duration(2+rand.IntN(40)) * time.Millisecond)
	cmd.Process.Kill()
	err = cmd.Wait()
	if runtime.GOOS != "windows" && cmd.ProcessState.Exited() {
		t.Fatalf("round %d: the child ended by itself before it was killed (%v)", round, err)
	}
}

// runPattern returns the -test.run pattern that selects exactly the test
// named name.
func runPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

// crashChild is the child of RunCrash: it rewrites the sessions through
// the engine until it is killed, and never returns.
func crashChild(h CrashHarness) {
	fail := func(err error) {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	keys := strings.Split(os.Getenv(crashKeysEnv), ",")
	e, err := h.Open(os.Getenv(crashDirEnv))
	if err != nil {
		fail(err)
	}
	sw, _ := e.(sessions.Swapper)
	to, _ := e.(sessions.Toucher)
	purge, _ := e.(sessions.ExpiredDeleter)
	ctx := context.Background()
	fmt.Println("ready")
	deadline := time.Now().Add(20 * time.Second) // killed long before
	for i := 0; time.Now().Before(deadline); i++ {
		key := keys[rand.IntN(len(keys))]
		a, b := crashValues(key)
		cur, err := e.Load(ctx, key)
		if err != nil {
			fail(err)
		}
		next := a
		if bytes.Equal(cur, a) {
			next = b
		}
		exp := time.Now().Add(time.Duration(1+rand.IntN(60)) * time.Minute)
		switch i % 5 {
		case 0:
			err = e.Update(ctx, key, next, exp)
		case 1, 2:
			if sw != nil {
				err = sw.Swap(ctx, key, cur, next, exp)
			} else {
				err = e.Update(ctx, key, next, exp)
			}
		case 3:
			if to != nil {
				err = to.Touch(ctx, key, exp)
			} else {
				err = e.Update(ctx, key, cur, exp)
			}
		case 4:
			// Churn: short-lived sessions created and purged.
			err = e.Create(ctx, sessions.NewKey(), next, time.Now().Add(-time.Second))
			if err == nil && purge != nil {
				_, err = purge.DeleteExpired(ctx)
			}
		}
		if err != nil {
			fail(err)
		}
	}
	os.Exit(0)
}
