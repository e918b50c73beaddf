package filestore

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
)

const usersRaceDirEnv = "FILESTORE_USERS_RACE_DIR"

// churnUser adds a fresh key for userID, checks that it is listed and
// removes it again, emptying the user's directory (which is then
// removed), until stop is closed. It returns the first failure.
func churnUser(s *Store, userID string, stop <-chan struct{}) error {
	ctx := context.Background()
	for {
		select {
		case <-stop:
			return nil
		default:
		}
		k := sessions.NewKey()
		if err := s.AddUserSession(ctx, userID, k, nil, time.Now().Add(time.Hour)); err != nil {
			return fmt.Errorf("AddUserSession: %w", err)
		}
		got, err := s.UserSessions(ctx, userID)
		if err != nil {
			return fmt.Errorf("UserSessions: %w", err)
		}
		if !slices.Contains(entryKeys(got), k) {
			return fmt.Errorf("a key added while the user's directory was being removed is not listed (%d keys listed)", len(got))
		}
		if err := s.RemoveUserSessions(ctx, userID, []string{k}); err != nil {
			return fmt.Errorf("RemoveUserSessions: %w", err)
		}
	}
}

// TestUsersRaceHelper is the child of TestUserDirRemovedWhileAdding: it
// churns one user's index until its standard input closes.
func TestUsersRaceHelper(t *testing.T) {
	dir := os.Getenv(usersRaceDirEnv)
	if dir == "" {
		t.Skip("helper process of TestUserDirRemovedWhileAdding")
	}
	s, err := New(Options{Dir: dir, Codec: testCodec})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	stop := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(stop)
	}()
	fmt.Println("ready")
	if err := churnUser(s, "ann", stop); err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	os.Exit(0)
}

// TestUserDirRemovedWhileAdding: a user's directory is removed when its
// last entry goes; another process (and goroutines of this one, through
// another store) adding an entry for the same user at that moment must
// neither fail nor lose the entry.
func TestUserDirRemovedWhileAdding(t *testing.T) {
	dir := newDir(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestUsersRaceHelper$")
	cmd.Env = append(os.Environ(), usersRaceDirEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := bufio.NewScanner(stdout)
	if !out.Scan() || out.Text() != "ready" {
		stdin.Close()
		cmd.Wait()
		t.Fatalf("helper did not start: %q", out.Text())
	}
	var childOut []string
	childDone := make(chan struct{})
	go func() {
		defer close(childDone)
		for out.Scan() {
			childOut = append(childOut, out.Text())
		}
	}()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		s, err := New(Options{Dir: dir, Codec: testCodec})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		wg.Go(func() { errs[i] = churnUser(s, "ann", stop) })
	}
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wg.Wait()
	stdin.Close()
	<-childDone
	werr := cmd.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error("this process:", err)
		}
	}
	if werr != nil {
		t.Errorf("the other process: %v: %s", werr, strings.Join(childOut, "\n"))
	}
	// Every entry went again: the directory is gone, or empty.
	s := newStore(t, func(o *Options) { o.Dir = dir })
	if got, err := s.UserSessions(context.Background(), "ann"); err != nil || len(got) != 0 {
		t.Errorf("after the churn: %d keys, %v; want none", len(got), err)
	}
	if ents, err := os.ReadDir(path.Join(dir, userDir("ann"))); err == nil && len(ents) > 0 {
		t.Errorf("the user's directory still holds %d entries", len(ents))
	}
}

// TestPurgeSparesEntriesBeingAdded: DeleteExpired (in another store over
// the directory) never takes an entry being added, which must not show up
// with a provisional modification time that looks expired.
func TestPurgeSparesEntriesBeingAdded(t *testing.T) {
	ctx := context.Background()
	stores := sharedStores(t, 2)
	a, b := stores[0], stores[1]
	stop := make(chan struct{})
	var purgeErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := b.DeleteExpired(ctx); err != nil {
				purgeErr = err
				return
			}
		}
	})
	var added []string
	for range 400 {
		k := sessions.NewKey()
		if err := a.AddUserSession(ctx, "bob", k, nil, hour()); err != nil {
			t.Errorf("AddUserSession during DeleteExpired: %v", err)
			break
		}
		added = append(added, k)
	}
	close(stop)
	wg.Wait()
	if purgeErr != nil {
		t.Fatal("DeleteExpired:", purgeErr)
	}
	entries, err := a.UserSessions(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	got := entryKeys(entries)
	slices.Sort(got)
	slices.Sort(added)
	if !slices.Equal(got, added) {
		t.Errorf("%d keys listed after adds during DeleteExpired, want the %d added", len(got), len(added))
	}
}

// TestUserTempFiles: AddUserSession leaves no temporary file behind, and
// DeleteExpired removes one left by a crash once it is staleTempAge old
// but not one being written now.
func TestUserTempFiles(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	k := sessions.NewKey()
	if err := s.AddUserSession(ctx, "cy", k, nil, hour()); err != nil {
		t.Fatal(err)
	}
	udir := path.Join(s.Dir(), userDir("cy"))
	if names := listDir(t, udir); !slices.Equal(names, []string{k}) {
		t.Fatalf("user directory holds %d names, want only the entry", len(names))
	}
	old := "entry" + tempMarker + strconv.FormatInt(time.Now().Add(-staleTempAge-time.Minute).Unix(), 36) + ".1"
	fresh := "entry" + tempMarker + strconv.FormatInt(time.Now().Unix(), 36) + ".2"
	for _, n := range []string{old, fresh} {
		if err := os.WriteFile(path.Join(udir, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		// Its provisional time looks expired.
		past := time.Now().Add(-2 * staleTempAge)
		if err := os.Chtimes(path.Join(udir, n), past, past); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.DeleteExpired(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{k, fresh}
	slices.Sort(want)
	if names := listDir(t, udir); !slices.Equal(names, want) {
		t.Errorf("after DeleteExpired the user directory holds %q, want the entry and the fresh temporary file", names)
	}
	if got, err := s.UserSessions(ctx, "cy"); err != nil || len(got) != 1 || got[0].Key != k {
		t.Errorf("UserSessions = %d keys, %v; want the entry only", len(got), err)
	}
}

// entryKeys returns the keys of index entries.
func entryKeys(entries []sessions.UserEntry) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.Key
	}
	return out
}
