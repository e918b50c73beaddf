package cacheddb_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/cacheddb"
	"github.com/sessionkit/sessions/internal/testservers"
	"github.com/sessionkit/sessions/internal/testutil"
)

// heldCache is a cache engine whose installs (swaps of a writer's claim
// for a copy) wait, while held, until they are let go.
type heldCache struct {
	sessions.Engine
	mu      sync.Mutex
	gate    chan struct{} // nil: not held
	waiting chan struct{} // receives when an install starts waiting
}

func (h *heldCache) hold() {
	h.mu.Lock()
	h.gate, h.waiting = make(chan struct{}), make(chan struct{}, 16)
	h.mu.Unlock()
}

func (h *heldCache) letGo() {
	h.mu.Lock()
	if h.gate != nil {
		close(h.gate)
		h.gate = nil
	}
	h.mu.Unlock()
}

// install reports whether a swap of old for data installs a writer's copy.
func install(old, data []byte) bool {
	const claim = "sessionkit-cached_db:"
	return bytes.Contains(old, []byte(claim+"w:")) && !bytes.Contains(data, []byte(claim))
}

func (h *heldCache) Swap(ctx context.Context, key string, old, data []byte, exp time.Time) error {
	h.mu.Lock()
	gate, waiting := h.gate, h.waiting
	h.mu.Unlock()
	if gate != nil && install(old, data) {
		waiting <- struct{}{}
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return h.Engine.(sessions.Swapper).Swap(ctx, key, old, data, exp)
}

// heldRig is two app processes sharing one Redis and one SQLite file:
// a writes through a cache whose installs can be held back, b reads.
type heldRig struct {
	cache *heldCache
	a, b  *sessions.Manager
	sta   sessions.Engine
}

func newHeldRig(t *testing.T, o func(*cacheddb.Options)) *heldRig {
	r := testservers.SharedRedis(t)
	cacheURL := r.URL() + fmt.Sprintf("?key_prefix=held%d&logical_prefix=", seq.Add(1)) + url.QueryEscape(cacheddb.LogicalPrefix)
	db := sqliteURL(t)
	h := &heldRig{cache: &heldCache{Engine: openEngine(t, cacheURL)}}
	t.Cleanup(h.cache.letGo) // before the engines close
	var err error
	oa := dbOptions()
	if o != nil {
		o(oa)
	}
	if h.sta, err = cacheddb.New(h.cache, openEngine(t, db), oa); err != nil {
		t.Fatal(err)
	}
	stb, err := cacheddb.New(openEngine(t, cacheURL), openEngine(t, db), dbOptions())
	if err != nil {
		t.Fatal(err)
	}
	if h.a, err = sessions.New(h.sta, testutil.Settings()); err != nil {
		t.Fatal(err)
	}
	if h.b, err = sessions.New(stb, testutil.Settings()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.a.Close(); h.b.Close() })
	return h
}

// saveWithin saves s and fails unless Save returns within d.
func saveWithin(t *testing.T, s *sessions.Session, d time.Duration) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.Save(context.Background()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("save: %v", err)
		}
	case <-time.After(d):
		t.Fatalf("the save did not return within %v while its copy's install was held back: the install is in the request's path", d)
	}
}

func getN(t *testing.T, m *sessions.Manager, key string) string {
	t.Helper()
	s := m.Load(context.Background(), key)
	if s.Key() != key {
		t.Fatalf("session not found")
	}
	return fmt.Sprint(s.Get("n"))
}

// A write returns before its copy is installed in the cache; until the
// install lands, both its own process and another one read the write's
// data (the write's claim sends them to the database). Close waits for
// the install.
func TestWriteReturnsBeforeItsInstall(t *testing.T) {
	ctx := context.Background()
	h := newHeldRig(t, nil)
	s := h.a.NewSession(ctx)
	s.Set("n", 1)
	if err := s.Save(ctx); err != nil {
		t.Fatal(err)
	}
	key := s.Key()
	cacheddb.WaitInstalls(t, h.sta)
	if got := getN(t, h.b, key); got != "1" {
		t.Fatalf("n = %s before the write", got)
	}
	for n := 2; n <= 3; n++ {
		h.cache.hold()
		s = h.a.Load(ctx, key)
		s.Set("n", n)
		saveWithin(t, s, 5*time.Second)
		select {
		case <-h.cache.waiting:
		case <-time.After(5 * time.Second):
			t.Fatal("no install reached the cache")
		}
		want := fmt.Sprint(n)
		if got := getN(t, h.b, key); got != want {
			t.Errorf("write %d: another process reads n = %s while the install is held back", n, got)
		}
		if got := getN(t, h.a, key); got != want {
			t.Errorf("write %d: the writer's process reads n = %s while the install is held back", n, got)
		}
		h.cache.letGo()
		cacheddb.WaitInstalls(t, h.sta)
		// Installed: the other process reads the copy, not the database.
		b, err := h.cache.Engine.Load(ctx, key)
		if err != nil || strings.Contains(string(b), "sessionkit-cached_db:") {
			t.Fatalf("write %d: after the install the cache holds %q (%v), not the copy", n, b, err)
		}
		if got := getN(t, h.b, key); got != want {
			t.Errorf("write %d: after the install n = %s", n, got)
		}
	}

	// Close waits for a pending install.
	h.cache.hold()
	s = h.a.Load(ctx, key)
	s.Set("n", 4)
	saveWithin(t, s, 5*time.Second)
	<-h.cache.waiting
	closed := make(chan struct{})
	go func() { h.sta.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while an install was pending")
	case <-time.After(100 * time.Millisecond):
	}
	h.cache.letGo()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return after the install")
	}
	if got := getN(t, h.b, key); got != "4" {
		t.Errorf("after Close: n = %s", got)
	}
}

// With Options.SyncInstall, a write returns only after its install.
func TestSyncInstall(t *testing.T) {
	ctx := context.Background()
	h := newHeldRig(t, func(o *cacheddb.Options) { o.SyncInstall = true })
	s := h.a.NewSession(ctx)
	s.Set("n", 1)
	if err := s.Save(ctx); err != nil {
		t.Fatal(err)
	}
	h.cache.hold()
	s = h.a.Load(ctx, s.Key())
	s.Set("n", 2)
	done := make(chan error, 1)
	go func() { done <- s.Save(ctx) }()
	<-h.cache.waiting
	select {
	case <-done:
		t.Fatal("the save returned before its install")
	case <-time.After(100 * time.Millisecond):
	}
	h.cache.letGo()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if b, err := h.cache.Engine.Load(ctx, s.Key()); err != nil || strings.Contains(string(b), "sessionkit-cached_db:") {
		t.Fatalf("after the save the cache holds %q (%v), not the copy", b, err)
	}
}

// The cache fails right after a write's database step, so its copy's
// install in the background fails: the write is acknowledged and reads
// stay correct, in its process (from the database while the cache is
// out) and in another process that still reaches the cache (the write's
// claim sends it to the database); once the cache is back, nothing stale
// is served.
func TestInstallFails(t *testing.T) {
	for _, cache := range []string{"redis", "memcached"} {
		for _, fault := range []string{"cut", "stall"} {
			t.Run(cache+"/"+fault, func(t *testing.T) {
				addr, mkURL := cacheServer(t, cache)
				db := sqliteURL(t)
				a, b := newRig(t, addr, mkURL, db), newRig(t, addr, mkURL, db)
				key := a.login(t)
				holds(b, key, 1)(t)
				a.waitCacheUsable(t)
				strike := a.proxy.Cut
				if fault == "stall" {
					strike = a.proxy.Stall
				}
				a.db.arm("swap", strike)
				if code, body, _ := a.do("/incr", key); code != http.StatusOK || body != "ann 2" {
					t.Fatalf("write: %d %q, want it acknowledged", code, body)
				}
				holds(b, key, 2)(t)
				b.consistent(t, key, "the other process, right after the write")
				cacheddb.WaitInstalls(t, a.st) // the install has failed
				if c := b.cacheState(t, key); c != "" {
					t.Errorf("after the failed install the cache holds the session %q, want the write's claim", c)
				}
				holds(a, key, 2)(t)
				holds(b, key, 2)(t)
				a.proxy.Restore()
				a.waitCacheUsable(t)
				a.consistent(t, key, "after the outage")
				holds(a, key, 2)(t)
				holds(b, key, 2)(t)
			})
		}
	}
}

// The write's claim is lost (evicted, or the cache restarted empty)
// after the write returned and before its install: another process
// refills the cache from the database, which holds the write; the late
// install then finds its claim gone and leaves nothing stale.
func TestInstallAfterTheClaimIsLost(t *testing.T) {
	ctx := context.Background()
	h := newHeldRig(t, nil)
	key := heldSecondWrite(t, h)
	if err := h.cache.Engine.Delete(ctx, key); err != nil { // the claim is evicted
		t.Fatal(err)
	}
	if got := getN(t, h.b, key); got != "2" { // refills the cache
		t.Fatalf("after the eviction another process reads n = %s", got)
	}
	afterLateInstall(t, h, key, "2")
}

// A load in the writer's own process, while the write's install is on
// its way, does not wait for it: the cache still holds the write's
// claim, untouched, so the database holds the write, and the load
// returns the copy being installed. A write from that load then finds
// the copy installed and installs its own (it took no overlapping
// writes' path).
func TestLoadDuringItsProcessInstall(t *testing.T) {
	ctx := context.Background()
	h := newHeldRig(t, func(o *cacheddb.Options) { o.ReadTimeout = 5 * time.Second })
	key := heldSecondWrite(t, h)
	start := time.Now()
	s := h.a.Load(ctx, key)
	got := fmt.Sprint(s.Get("n")) // loads
	if d := time.Since(start); d > time.Second {
		t.Errorf("a load in the writer's process took %v: it waited for the write's install", d)
	}
	if got != "2" {
		t.Fatalf("the writer's process reads n = %s while the install is on its way", got)
	}
	h.cache.letGo()
	s.Set("n", 3)
	if err := s.Save(ctx); err != nil {
		t.Fatal(err)
	}
	cacheddb.WaitInstalls(t, h.sta)
	b, err := h.cache.Engine.Load(ctx, key)
	if err != nil || strings.Contains(string(b), "sessionkit-cached_db:") {
		t.Fatalf("after the next write the cache holds %q (%v), not its copy", b, err)
	}
	for _, m := range []*sessions.Manager{h.a, h.b} {
		if got := getN(t, m, key); got != "3" {
			t.Errorf("after the next write n = %s", got)
		}
	}
}

// Another process's write replaces the claim of a write whose install
// is on its way: the writer's process must then read the later write,
// not the copy it is installing, before and after its install runs.
func TestLoadAfterAnOverlappingWriteElsewhere(t *testing.T) {
	ctx := context.Background()
	h := newHeldRig(t, nil)
	key := heldSecondWrite(t, h)
	sb := h.b.Load(ctx, key)
	if got := fmt.Sprint(sb.Get("n")); got != "2" {
		t.Fatalf("the other process reads n = %s after the write", got)
	}
	sb.Set("n", 3)
	if err := sb.Save(ctx); err != nil {
		t.Fatal(err)
	}
	if got := getN(t, h.a, key); got != "3" {
		t.Errorf("while its install is held back, the writer's process reads n = %s after a later write elsewhere", got)
	}
	afterLateInstall(t, h, key, "3")
}

// The copy of an install that is on its way serves loads only until the
// session's expiry, even while the write's claim outlives it.
func TestLoadDuringItsProcessInstallExpires(t *testing.T) {
	ctx := context.Background()
	h := newHeldRig(t, nil)
	key := savedHeld(t, h)
	expiry := time.Now().Add(300 * time.Millisecond)
	if err := h.sta.(sessions.Toucher).Touch(ctx, key, expiry); err != nil {
		t.Fatal(err)
	}
	<-h.cache.waiting
	if _, err := h.sta.Load(ctx, key); err != nil {
		t.Fatalf("before its expiry: %v", err)
	}
	time.Sleep(time.Until(expiry) + 50*time.Millisecond)
	if b, err := h.sta.Load(ctx, key); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("after its expiry the load gives %q, %v; want ErrNotFound", b, err)
	}
	h.cache.letGo()
}

// savedHeld saves a session holding n = 1 through h.a, waits for its
// install, then holds the cache's next swap back; it returns the key.
func savedHeld(t *testing.T, h *heldRig) string {
	t.Helper()
	ctx := context.Background()
	s := h.a.NewSession(ctx)
	s.Set("n", 1)
	if err := s.Save(ctx); err != nil {
		t.Fatal(err)
	}
	cacheddb.WaitInstalls(t, h.sta)
	h.cache.hold()
	return s.Key()
}

// heldSecondWrite is savedHeld, then a second write (n = 2) through h.a,
// whose install is held back: it returns once that install waits.
func heldSecondWrite(t *testing.T, h *heldRig) string {
	t.Helper()
	key := savedHeld(t, h)
	s := h.a.Load(context.Background(), key)
	s.Set("n", 2)
	saveWithin(t, s, 5*time.Second)
	<-h.cache.waiting
	return key
}

// afterLateInstall lets the held install go, waits for it, and checks
// that both processes then read n = want.
func afterLateInstall(t *testing.T, h *heldRig, key, want string) {
	t.Helper()
	h.cache.letGo()
	cacheddb.WaitInstalls(t, h.sta)
	for _, m := range []*sessions.Manager{h.a, h.b, h.a} {
		if got := getN(t, m, key); got != want {
			t.Errorf("after the late install n = %s, want %s", got, want)
		}
	}
}
