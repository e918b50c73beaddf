package migrate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/memstore"
	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/codec/pickle"
	"github.com/sessionkit/sessions/internal/testutil"
)

// pauser stops a goroutine at one chosen call until the test releases it.
type pauser struct {
	at      atomic.Int64 // the call (1-based) to stop at; 0: none
	calls   atomic.Int64
	reached chan struct{}
	release chan struct{}
}

func newPauser() *pauser {
	return &pauser{reached: make(chan struct{}), release: make(chan struct{})}
}

// arm makes the n-th next call stop.
func (p *pauser) arm(n int64) {
	p.calls.Store(0)
	p.at.Store(n)
}

// wait returns once the armed call has stopped; a call that never comes
// fails the test (the interleaving did not happen).
func (p *pauser) wait(t *testing.T) {
	t.Helper()
	select {
	case <-p.reached:
	case <-time.After(10 * time.Second):
		t.Fatal("the paused call never came")
	}
}

func (p *pauser) hit() {
	if p == nil || p.at.Load() == 0 {
		return
	}
	if p.calls.Add(1) == p.at.Load() {
		p.at.Store(0)
		p.reached <- struct{}{}
		<-p.release
	}
}

// hooked is an in-memory store whose reads and deletes can be paused
// after they return, to force an interleaving.
type hooked struct {
	*memstore.Store
	reads, deletes *pauser
	pickle         bool // stores Django's pickle, as a cache engine
}

func newHooked(pickleFormat bool) *hooked {
	return &hooked{Store: memstore.New(nil), reads: newPauser(), deletes: newPauser(), pickle: pickleFormat}
}

func (h *hooked) Load(ctx context.Context, key string) ([]byte, error) {
	b, err := h.Store.Load(ctx, key)
	h.reads.hit()
	return b, err
}

func (h *hooked) LoadExpiry(ctx context.Context, key string) ([]byte, time.Time, error) {
	b, exp, err := h.Store.LoadExpiry(ctx, key)
	h.reads.hit()
	return b, exp, err
}

func (h *hooked) Delete(ctx context.Context, key string) error {
	err := h.Store.Delete(ctx, key)
	h.deletes.hit()
	return err
}

func (h *hooked) Codec(st sessions.Settings) codec.Codec {
	if h.pickle {
		return pickle.Codec{MaxSize: st.MaxDataSize}
	}
	return nil
}

// rawLive reports whether e holds a live record under key (a claim
// included).
func rawLive(t *testing.T, e sessions.Engine, key string) bool {
	t.Helper()
	_, err := e.Load(context.Background(), key)
	if err != nil && !errors.Is(err, sessions.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

func hour() time.Time { return time.Now().Add(time.Hour) }

// encoded returns a session holding values in the format of codec c.
func encoded(t *testing.T, c codec.Codec, values map[string]any) []byte {
	t.Helper()
	b, err := c.Encode(codec.NewDict(values))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func signed() codec.Codec { return sessions.DefaultCodec(testSettings()) }

// TestMigrateLoadRacingDelete pauses a load that is moving a session from
// the old store at each of its reads of the old store (before it claims
// the key in the new store, and after), runs a Delete to completion
// meanwhile, then lets the load finish: the acknowledged delete must
// leave no copy in either store.
func TestMigrateLoadRacingDelete(t *testing.T) {
	for _, at := range []int64{1, 2} {
		t.Run(fmt.Sprintf("PausedAtOldRead%d", at), func(t *testing.T) {
			ctx := context.Background()
			src, dst := newHooked(false), memstore.New(nil)
			st := newMigrating(t, src, dst, nil)
			k := sessions.NewKey()
			data := encoded(t, signed(), map[string]any{"user": "alice"})
			if err := src.Create(ctx, k, data, hour()); err != nil {
				t.Fatal(err)
			}
			src.reads.arm(at)
			type result struct {
				b   []byte
				err error
			}
			done := make(chan result, 1)
			go func() {
				b, err := st.Load(ctx, k)
				done <- result{b, err}
			}()
			src.reads.wait(t)
			if err := st.Delete(ctx, k); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			close(src.reads.release)
			r := <-done
			if r.err != nil && !errors.Is(r.err, sessions.ErrNotFound) {
				t.Fatalf("the load racing the delete failed: %v", r.err)
			}
			if r.err == nil && !bytes.Equal(r.b, data) {
				t.Fatalf("the load returned %q", r.b)
			}
			if rawLive(t, src, k) || rawLive(t, dst, k) {
				t.Fatalf("an acknowledged delete left a copy (old store %v, new store %v)", rawLive(t, src, k), rawLive(t, dst, k))
			}
			if _, err := st.Load(ctx, k); !errors.Is(err, sessions.ErrNotFound) {
				t.Fatalf("after the delete, Load = %v", err)
			}
		})
	}
}

// TestMigrateDeleteRacingLoad pauses a Delete after its first step
// (whichever store it deletes from first) while a load runs to the end,
// then lets the delete finish: the load must not leave a copy behind.
func TestMigrateDeleteRacingLoad(t *testing.T) {
	ctx := context.Background()
	src, dst := newHooked(false), newHooked(false)
	dst.deletes = src.deletes // the first delete of either store stops
	st := newMigrating(t, src, dst, nil)
	k := sessions.NewKey()
	if err := src.Create(ctx, k, encoded(t, signed(), map[string]any{"a": 1}), hour()); err != nil {
		t.Fatal(err)
	}
	src.deletes.arm(1)
	done := make(chan error, 1)
	go func() { done <- st.Delete(ctx, k) }()
	src.deletes.wait(t)
	if _, err := st.Load(ctx, k); err != nil && !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("a load while the delete is half done: %v", err)
	}
	close(src.deletes.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if rawLive(t, src, k) || rawLive(t, dst, k) {
		t.Fatal("the delete left a copy: the load moved the session behind it")
	}
}

// TestMigrateLoadRacingMove pauses a load after it found nothing in the
// new store, while another request moves the session (and deletes the old
// copy): the paused load must still find the session, not log the user
// out.
func TestMigrateLoadRacingMove(t *testing.T) {
	ctx := context.Background()
	src, dst := newHooked(false), newHooked(false)
	st := newMigrating(t, src, dst, nil)
	k := sessions.NewKey()
	data := encoded(t, signed(), map[string]any{"a": 1})
	if err := src.Create(ctx, k, data, hour()); err != nil {
		t.Fatal(err)
	}
	dst.reads.arm(1)
	done := make(chan error, 1)
	go func() {
		got, err := st.Load(ctx, k)
		if err == nil && !bytes.Equal(got, data) {
			err = fmt.Errorf("got %q", got)
		}
		done <- err
	}()
	dst.reads.wait(t)
	other := newMigrating(t, src, dst.Store, nil) // another process, unhooked
	if _, err := other.Load(ctx, k); err != nil {
		t.Fatal(err)
	}
	if rawLive(t, src, k) {
		t.Fatal("the other load did not move the session")
	}
	close(dst.reads.release)
	if err := <-done; err != nil {
		t.Fatalf("the load racing a move: %v", err)
	}
}

// TestMigrateWriteRacingDelete pauses an Update (which moves the session
// with its new data) after it claimed the key and read the old store, runs
// a Delete meanwhile: the update must fail with ErrNotFound (the Manager's
// ErrInterrupted) and store nothing.
func TestMigrateWriteRacingDelete(t *testing.T) {
	for _, op := range []string{"Update", "Swap", "Touch"} {
		t.Run(op, func(t *testing.T) {
			ctx := context.Background()
			src, dst := newHooked(false), memstore.New(nil)
			st := newMigrating(t, src, dst, nil)
			k := sessions.NewKey()
			old := encoded(t, signed(), map[string]any{"v": 1})
			if err := src.Create(ctx, k, old, hour()); err != nil {
				t.Fatal(err)
			}
			// Read 1 is find's, read 2 the move's (with the claim in place).
			src.reads.arm(2)
			done := make(chan error, 1)
			go func() {
				nw := encoded(t, signed(), map[string]any{"v": 2})
				switch op {
				case "Update":
					done <- st.Update(ctx, k, nw, hour())
				case "Swap":
					done <- st.Swap(ctx, k, old, nw, hour())
				default:
					done <- st.Touch(ctx, k, hour().Add(time.Hour))
				}
			}()
			src.reads.wait(t)
			if err := st.Delete(ctx, k); err != nil {
				t.Fatal(err)
			}
			close(src.reads.release)
			if err := <-done; !errors.Is(err, sessions.ErrNotFound) {
				t.Fatalf("%s racing a delete: %v, want ErrNotFound", op, err)
			}
			if rawLive(t, src, k) || rawLive(t, dst, k) {
				t.Fatalf("%s brought back a deleted session", op)
			}
		})
	}
}

// TestMigrateWriteWinsOverMove: a write that lands while a load is moving
// the session is never overwritten by the load's (older) copy.
func TestMigrateWriteWinsOverMove(t *testing.T) {
	ctx := context.Background()
	src, dst := newHooked(false), memstore.New(nil)
	st := newMigrating(t, src, dst, nil)
	k := sessions.NewKey()
	old := encoded(t, signed(), map[string]any{"v": 1})
	nw := encoded(t, signed(), map[string]any{"v": 2})
	if err := src.Create(ctx, k, old, hour()); err != nil {
		t.Fatal(err)
	}
	src.reads.arm(2) // the load, claim in place, has read the old copy
	done := make(chan []byte, 1)
	go func() {
		b, err := st.Load(ctx, k)
		if err != nil {
			t.Error(err)
		}
		done <- b
	}()
	src.reads.wait(t)
	if err := st.Swap(ctx, k, old, nw, hour()); err != nil {
		t.Fatalf("Swap while a load moves the session: %v", err)
	}
	close(src.reads.release)
	if got := <-done; !bytes.Equal(got, nw) {
		t.Errorf("the load returned %q, want the newer write", got)
	}
	if got, _ := dst.Load(ctx, k); !bytes.Equal(got, nw) {
		t.Fatalf("the new store holds %q, want the write's data", got)
	}
	if rawLive(t, src, k) {
		t.Fatal("the old copy was kept after the move")
	}
}

// TestMigrateSwapOnOldStore defines Swap of a session only in the old
// store: the session moves with the new data if the old copy still holds
// what the request loaded (byte for byte, or the same session in the other
// format), else ErrConflict and nothing changes.
func TestMigrateSwapOnOldStore(t *testing.T) {
	ctx := context.Background()
	src, dst := newHooked(true), memstore.New(nil) // pickle to signed JSON
	st := newMigrating(t, src, dst, nil)
	pk := pickle.Codec{}
	k := sessions.NewKey()
	old := encoded(t, pk, map[string]any{"cart": []any{"apple"}})
	if err := src.Create(ctx, k, old, hour()); err != nil {
		t.Fatal(err)
	}
	// A request that loaded the session converted (read through while
	// another request was moving it) holds signed JSON.
	loaded := encoded(t, signed(), map[string]any{"cart": []any{"apple"}})
	stale := encoded(t, signed(), map[string]any{"cart": []any{"pear"}})
	if err := st.Swap(ctx, k, stale, loaded, hour()); !errors.Is(err, sessions.ErrConflict) {
		t.Fatalf("Swap from a stale session: %v, want ErrConflict", err)
	}
	if !rawLive(t, src, k) || rawLive(t, dst, k) {
		t.Fatal("a conflicting Swap moved the session")
	}
	nw := encoded(t, signed(), map[string]any{"cart": []any{"apple", "pear"}})
	if err := st.Swap(ctx, k, loaded, nw, hour()); err != nil {
		t.Fatalf("Swap from the converted session: %v", err)
	}
	if got, _ := dst.Load(ctx, k); !bytes.Equal(got, nw) || rawLive(t, src, k) {
		t.Fatalf("after the Swap the new store holds %q (old store live: %v)", got, rawLive(t, src, k))
	}
	// And from the old copy's own bytes.
	k2 := sessions.NewKey()
	if err := src.Create(ctx, k2, old, hour()); err != nil {
		t.Fatal(err)
	}
	if err := st.Swap(ctx, k2, old, nw, hour()); err != nil {
		t.Fatalf("Swap from the old copy's bytes: %v", err)
	}
	if got, _ := dst.Load(ctx, k2); !bytes.Equal(got, nw) {
		t.Fatalf("the new store holds %q", got)
	}
}

// TestMigrateDeadMover: a claim left by a mover that died (never swapped)
// does not hide the session: loads read the old store meanwhile, a write
// replaces the claim, and once it expires loads move the session again.
func TestMigrateDeadMover(t *testing.T) {
	ctx := context.Background()
	src, dst := newHooked(false), memstore.New(nil)
	st := newMigrating(t, src, dst, &Options{ClaimTimeout: 100 * time.Millisecond})
	data := encoded(t, signed(), map[string]any{"v": 1})
	k1, k2 := sessions.NewKey(), sessions.NewKey()
	for _, k := range []string{k1, k2} {
		if err := src.Create(ctx, k, data, hour()); err != nil {
			t.Fatal(err)
		}
		if err := dst.Create(ctx, k, newClaim(), time.Now().Add(100*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := st.Load(ctx, k1); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Load beside a dead claim: %q, %v", got, err)
	}
	if !rawLive(t, src, k1) {
		t.Fatal("a load moved a session another mover had claimed")
	}
	nw := encoded(t, signed(), map[string]any{"v": 2})
	if err := st.Update(ctx, k2, nw, hour()); err != nil {
		t.Fatalf("Update beside a dead claim: %v", err)
	}
	if got, _ := dst.Load(ctx, k2); !bytes.Equal(got, nw) || rawLive(t, src, k2) {
		t.Fatal("the write did not move the session")
	}
	time.Sleep(150 * time.Millisecond)
	if got, err := st.Load(ctx, k1); err != nil || !bytes.Equal(got, data) || rawLive(t, src, k1) {
		t.Fatalf("after the dead claim expired, Load = %q, %v (old copy live: %v)", got, err, rawLive(t, src, k1))
	}
}

// TestMigrateKeepsExpiry: a moved session keeps its expiry, a session
// that expired in the old store is not moved, and a moved session whose
// expiry is then shortened does not come back from the old store.
func TestMigrateKeepsExpiry(t *testing.T) {
	ctx := context.Background()
	src, dst := memstore.New(nil), memstore.New(nil)
	st := newMigrating(t, src, dst, nil)
	exp := time.Now().Add(37 * time.Minute)
	k := sessions.NewKey()
	data := encoded(t, signed(), map[string]any{"v": 1})
	if err := src.Create(ctx, k, data, exp); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Load(ctx, k); err != nil {
		t.Fatal(err)
	}
	if _, got, err := dst.LoadExpiry(ctx, k); err != nil || !got.Equal(exp) {
		t.Fatalf("moved with expiry %v (%v), want %v", got, err, exp)
	}
	dead := sessions.NewKey()
	if err := src.Create(ctx, dead, data, time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Load(ctx, dead); !errors.Is(err, sessions.ErrNotFound) || rawLive(t, dst, dead) {
		t.Fatalf("an expired session: %v", err)
	}
	// The application shortens the expiry (SetExpiry, an idle timeout):
	// when the new record expires, the session is gone, not revived
	// from the old store.
	if err := st.Swap(ctx, k, data, data, time.Now().Add(50*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if _, err := st.Load(ctx, k); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("a session expired in the new store came back: %v", err)
	}
}

// TestMigrateUserIndex: a bound session moved from the old store gets its
// entry in the new store's index, and DeleteUser ends the user's sessions
// in both stores, those never moved included.
func TestMigrateUserIndex(t *testing.T) {
	ctx := context.Background()
	src, dst := memstore.New(nil), memstore.New(nil)
	m, err := sessions.New(newMigrating(t, src, dst, nil).engine(), testSettings())
	if err != nil {
		t.Fatal(err)
	}
	bound := encoded(t, signed(), map[string]any{"v": 1, sessions.BoundUserKey: "alice"})
	moved, stays := sessions.NewKey(), sessions.NewKey()
	for _, k := range []string{moved, stays} {
		if err := src.Create(ctx, k, bound, hour()); err != nil {
			t.Fatal(err)
		}
		if err := src.AddUserSession(ctx, "alice", k, []byte(`{"c":`+fmt.Sprint(len(k))+`}`), hour()); err != nil {
			t.Fatal(err)
		}
	}
	if m.Load(ctx, moved).Get("v") == nil {
		t.Fatal("the session did not load")
	}
	if keys, _ := dst.UserSessions(ctx, "alice"); len(keys) != 1 || keys[0].Key != moved || string(keys[0].Meta) != `{"c":32}` {
		t.Fatalf("the new store's index after the move: %+v, want the moved session with its metadata", keys)
	}
	// A session of the user created after the migration started.
	s := m.NewSession(ctx)
	s.Set("v", 2)
	if err := m.BindUser(ctx, s, "alice"); err != nil {
		t.Fatal(err)
	}
	n, err := m.DeleteUser(ctx, "alice")
	if err != nil || n != 3 {
		t.Fatalf("DeleteUser = %d, %v; want 3 sessions ended", n, err)
	}
	for _, k := range []string{moved, stays, s.Key()} {
		if rawLive(t, src, k) || rawLive(t, dst, k) {
			t.Fatal("DeleteUser left a session of the user")
		}
	}
	for _, ix := range []sessions.UserIndexer{src, dst} {
		if keys, _ := ix.UserSessions(ctx, "alice"); len(keys) != 0 {
			t.Fatalf("an index still lists %d sessions of the user", len(keys))
		}
	}
}

// TestMigrateConverts: a pickled session of a cache engine reads back
// through a Manager over a migration to signed JSON, is stored in the new
// store as Django's db engine stores it, and the other way round.
func TestMigrateConverts(t *testing.T) {
	ctx := context.Background()
	values := map[string]any{"cart": []any{"apple", "pear"}, "n": 3, "big": int64(1) << 60, "nested": map[string]any{"x": nil, "y": true}}
	for _, fromPickle := range []bool{true, false} {
		t.Run(fmt.Sprintf("fromPickle=%v", fromPickle), func(t *testing.T) {
			src, dst := newHooked(fromPickle), newHooked(!fromPickle)
			srcCodec, dstCodec := codec.Codec(pickle.Codec{}), signed()
			if !fromPickle {
				srcCodec, dstCodec = dstCodec, srcCodec
			}
			m, err := sessions.New(newMigrating(t, src, dst, nil).engine(), testSettings())
			if err != nil {
				t.Fatal(err)
			}
			k := sessions.NewKey()
			if err := src.Create(ctx, k, encoded(t, srcCodec, values), hour()); err != nil {
				t.Fatal(err)
			}
			s := m.Load(ctx, k)
			if s.Err() != nil || s.Len() != len(values) {
				t.Fatalf("load: %d values, %v", s.Len(), s.Err())
			}
			raw, err := dst.Load(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			d, err := dstCodec.Decode(raw)
			if err != nil {
				t.Fatalf("the moved session is not in the new store's format: %v", err)
			}
			want, _ := codec.MarshalPython(codec.NewDict(values))
			got, _ := codec.MarshalPython(d)
			if string(got) != string(want) {
				t.Fatalf("moved %s, want %s", got, want)
			}
			s.Set("n", 4)
			if err := s.Save(ctx); err != nil {
				t.Fatal(err)
			}
			if n, _ := sessions.Get[int](m.Load(ctx, k), "n"); n != 4 {
				t.Fatalf("after a save, n = %d", n)
			}
		})
	}
}

// TestMigrateUndecodable: a session the settings cannot decode (a wrong
// secret key, corrupt data) is served as it is, for the Manager to drop,
// and stays in the old store; it is not copied into the new store in the
// wrong format.
func TestMigrateUndecodable(t *testing.T) {
	ctx := context.Background()
	src, dst := newHooked(true), memstore.New(nil)
	st := newMigrating(t, src, dst, nil)
	k := sessions.NewKey()
	junk := []byte("\x80\x04not a pickle")
	if err := src.Create(ctx, k, junk, hour()); err != nil {
		t.Fatal(err)
	}
	if got, err := st.Load(ctx, k); err != nil || !bytes.Equal(got, junk) {
		t.Fatalf("Load = %q, %v", got, err)
	}
	if rawLive(t, dst, k) {
		t.Fatal("undecodable data was copied into the new store")
	}
}

// TestMigrateConcurrent runs loads, writes and deletes of sessions that
// start in the old store from many goroutines, and checks that every
// acknowledged delete left no copy and every other session ended in the
// new store only, with the last acknowledged write.
func TestMigrateConcurrent(t *testing.T) {
	ctx := context.Background()
	src, dst := memstore.New(nil), memstore.New(nil)
	engines := []*store{newMigrating(t, src, dst, nil), newMigrating(t, src, dst, nil)} // two processes
	const n = 200
	keys := make([]string, n)
	for i := range keys {
		keys[i] = sessions.NewKey()
		if err := src.Create(ctx, keys[i], []byte(fmt.Sprint("v0-", i)), hour()); err != nil {
			t.Fatal(err)
		}
	}
	deleted := make([]atomic.Bool, n)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			st := engines[w%2]
			for i, k := range keys {
				switch (i + w) % 4 {
				case 0:
					if _, err := st.Load(ctx, k); err != nil && !errors.Is(err, sessions.ErrNotFound) {
						t.Error(err)
					}
				case 1:
					err := st.Update(ctx, k, []byte(fmt.Sprint("w", w, "-", i)), hour())
					if err != nil && !errors.Is(err, sessions.ErrNotFound) {
						t.Error(err)
					}
				case 2:
					if err := st.Touch(ctx, k, hour()); err != nil && !errors.Is(err, sessions.ErrNotFound) {
						t.Error(err)
					}
				case 3:
					if i%3 == 0 {
						if err := st.Delete(ctx, k); err != nil {
							t.Error(err)
						}
						deleted[i].Store(true)
					}
				}
			}
		})
	}
	wg.Wait()
	for _, st := range engines {
		st.cleanups.Wait()
	}
	for i, k := range keys {
		inSrc, inDst := rawLive(t, src, k), rawLive(t, dst, k)
		switch {
		case deleted[i].Load() && (inSrc || inDst):
			t.Fatalf("session %d: deleted, but a copy is left (old %v, new %v)", i, inSrc, inDst)
		case !deleted[i].Load() && !(inSrc || inDst):
			t.Fatalf("session %d: lost", i)
		case inSrc && inDst:
			t.Fatalf("session %d: in both stores", i)
		}
		if inDst {
			if b, _ := dst.Load(ctx, k); isClaim(b) {
				t.Fatalf("session %d: a claim was left", i)
			}
		}
	}
}

// cancelAfterInstall is a new store that cancels the request right after
// a move installed a session (as a client going away would), and whose
// index, like a network store's, refuses a cancelled context.
type cancelAfterInstall struct {
	*memstore.Store
	cancel context.CancelFunc
}

func (c cancelAfterInstall) Swap(ctx context.Context, key string, old, data []byte, exp time.Time) error {
	err := c.Store.Swap(ctx, key, old, data, exp)
	if err == nil && isClaim(old) && !isClaim(data) {
		c.cancel()
	}
	return err
}

func (c cancelAfterInstall) AddUserSession(ctx context.Context, userID, key string, meta []byte, exp time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return c.Store.AddUserSession(ctx, userID, key, meta, exp)
}

// TestMigrateIndexSurvivesInterruption: a bound session that a move
// installs in the new store has its entry in the new store's index even
// when the request ends right after the install.
func TestMigrateIndexSurvivesInterruption(t *testing.T) {
	src := memstore.New(nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dst := cancelAfterInstall{memstore.New(nil), cancel}
	st := newMigrating(t, src, dst, nil)
	k := sessions.NewKey()
	if err := src.Create(context.Background(), k, encoded(t, signed(), map[string]any{sessions.BoundUserKey: "alice"}), hour()); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Load(ctx, k); err != nil {
		t.Fatal(err)
	}
	if !rawLive(t, dst, k) {
		t.Fatal("the session was not moved")
	}
	st.cleanups.Wait()
	if keys, _ := dst.UserSessions(context.Background(), "alice"); len(keys) != 1 {
		t.Fatalf("the new store's index lists %d sessions of the user, want the moved one", len(keys))
	}
	if rawLive(t, src, k) {
		t.Fatal("the old copy was not deleted in the background after the request ended")
	}
}

// TestMigrateUnconvertibleServed: a session the old engine holds but the
// new engine's format cannot (an integer of more digits than Python's
// json reads, in a Django cache session) is served from the old store,
// its user still logged in, and a save that cannot be written in the
// new format fails with an error naming the value, not as a logout.
func TestMigrateUnconvertibleServed(t *testing.T) {
	ctx := context.Background()
	from, to := redisKind.url(t), sqliteKind.url(t)
	old := testutil.Open(t, from, testutil.Quiet)
	s := old.NewSession(ctx)
	huge, _ := new(big.Int).SetString(strings.Repeat("7", codec.MaxIntDigits+1), 10)
	s.Update(map[string]any{"_auth_user_id": "42", "score": huge})
	if err := s.Save(ctx); err != nil {
		t.Fatal(err)
	}
	m := testutil.Open(t, "migrate:?from="+url.QueryEscape(from)+"&to="+url.QueryEscape(to), testutil.Quiet)
	l := m.Load(ctx, s.Key())
	if l.Err() != nil || l.Get("_auth_user_id") != "42" {
		t.Fatalf("through the migration: user %v, error %v; want the session as the old engine holds it", l.Get("_auth_user_id"), l.Err())
	}
	if got, ok := l.Get("score").(*big.Int); !ok || got.Cmp(huge) != 0 {
		t.Errorf("score = %T, want the integer", l.Get("score"))
	}
	l.Set("n", 1)
	if err := l.Save(ctx); !errors.Is(err, codec.ErrUnencodable) {
		t.Errorf("saving it in the new format: %v, want ErrUnencodable", err)
	}
	if l := m.Load(ctx, s.Key()); l.Get("_auth_user_id") != "42" {
		t.Errorf("after the failed save: user %v, error %v", l.Get("_auth_user_id"), l.Err())
	}
}
