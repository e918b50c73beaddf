package memcachestore

import (
	"context"
	"errors"
	"net"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/internal/testservers"
)

func testLanes(t *testing.T, addr string, timeout time.Duration) *lanes {
	t.Helper()
	var sl memcache.ServerList
	if err := sl.SetServers(addr); err != nil {
		t.Fatal(err)
	}
	p := &lanes{sel: &sl, timeout: timeout, maxIdle: 4, maxConns: 4, wait: time.Second}
	t.Cleanup(func() { p.close() })
	return p
}

func mustGet(t *testing.T, p *lanes) *lane {
	t.Helper()
	l, err := p.get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// waitInterrupted waits until l's current call has been interrupted.
func waitInterrupted(t *testing.T, l *lane) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		l.mu.Lock()
		done := l.interrupted
		l.mu.Unlock()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the lane's call was not interrupted")
		}
	}
}

// TestLaneInterruptHolds: gomemcache sets a connection's deadline again
// before each command and each line of a reply; once the call is
// interrupted, those deadlines must stay expired, or an interruption
// that lands between two of them would be undone and the call would wait
// for the client's timeout (10 s here) on a frozen server.
func TestLaneInterruptHolds(t *testing.T) {
	srv := testservers.StartMemcached(t)
	p := testLanes(t, srv.Addr, 10*time.Second)
	l := mustGet(t, p)
	ctx, cancel := context.WithCancel(context.Background())
	var took time.Duration
	err := l.run(ctx, func() error {
		if _, err := l.c.Get("k"); !errors.Is(err, memcache.ErrCacheMiss) { // leaves a connection in the lane's pool
			return err
		}
		srv.Pause()
		defer srv.Resume()
		cancel()
		waitInterrupted(t, l)
		start := time.Now()
		_, err := l.c.Get("k") // takes that connection and sets its deadline after the interruption
		took = time.Since(start)
		return err
	})
	if !errors.Is(err, os.ErrDeadlineExceeded) || took > 5*time.Second {
		t.Errorf("a command after its call's interruption: %v after %v; want a timeout at once", err, took.Round(time.Millisecond))
	}
}

// TestLaneLateInterrupt: an interruption meant for a call that has
// returned must not touch the lane's next call.
func TestLaneLateInterrupt(t *testing.T) {
	p := testLanes(t, testservers.SharedMemcached(t).Addr, 10*time.Second)
	key := "sessionkit-lane-" + time.Now().Format("150405.000000000")
	l := mustGet(t, p)
	if err := l.run(context.Background(), func() error { return l.c.Set(&memcache.Item{Key: key, Value: []byte("v"), Expiration: 60}) }); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var gen uint64
	l.run(ctx, func() error {
		gen = l.gen
		cancel()
		waitInterrupted(t, l)
		return nil
	})
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	err := l.run(ctx2, func() error {
		l.interrupt(gen) // the first call's, late
		it, err := l.c.Get(key)
		if err == nil && string(it.Value) != "v" {
			t.Errorf("Get: %q", it.Value)
		}
		return err
	})
	if err != nil {
		t.Errorf("the next call on the lane: %v", err)
	}
	p.put(l)
}

// TestLanesBound: at most maxConns lanes exist; a call beyond them waits
// for one to be given back, first come first served, and gives up after
// the pool's wait with a timeout, or when its context ends; Close fails
// the waiting calls and every later one.
func TestLanesBound(t *testing.T) {
	var sl memcache.ServerList
	if err := sl.SetServers("127.0.0.1:1"); err != nil {
		t.Fatal(err)
	}
	p := &lanes{sel: &sl, timeout: time.Second, maxIdle: 1, maxConns: 2, wait: 100 * time.Millisecond}
	a, b := mustGet(t, p), mustGet(t, p)

	start := time.Now()
	_, err := p.get(context.Background())
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("a third call with 2 lanes busy: %v; want a timeout (net.Error, os.ErrDeadlineExceeded)", err)
	}
	if took := time.Since(start); took < 100*time.Millisecond || took > 2*time.Second {
		t.Errorf("it gave up after %v; want the pool's wait, 100ms", took)
	}

	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	if _, err := p.get(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("a waiting call whose context ends: %v, want context.Canceled", err)
	}

	// Two waiting calls get the lanes given back, the older first.
	p.wait = 5 * time.Second
	got := make(chan string, 2)
	for _, name := range []string{"first", "second"} {
		go func() {
			l, err := p.get(context.Background())
			if err != nil {
				got <- err.Error()
				return
			}
			got <- name
			p.put(l)
		}()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			p.mu.Lock()
			n := len(p.waiters)
			p.mu.Unlock()
			if n == map[string]int{"first": 1, "second": 2}[name] {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the %s call is not waiting", name)
			}
		}
	}
	p.put(a)
	if g := <-got; g != "first" {
		t.Errorf("the lane given back went to %q, want the call that waited longest", g)
	}
	if g := <-got; g != "second" {
		t.Errorf("then %q", g)
	}
	p.mu.Lock()
	made, free := p.made, len(p.free)
	p.mu.Unlock()
	if made != 2 || free != 1 {
		t.Errorf("%d lanes, %d free; want 2 and 1 (b still busy; max idle 1)", made, free)
	}

	// Close fails a waiting call and every later one.
	c := mustGet(t, p) // the free one
	waited := make(chan error, 1)
	go func() { _, err := p.get(context.Background()); waited <- err }()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		p.mu.Lock()
		n := len(p.waiters)
		p.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the call is not waiting")
		}
	}
	p.close()
	if err := <-waited; !errors.Is(err, sessions.ErrClosed) {
		t.Errorf("a call waiting at Close: %v, want ErrClosed", err)
	}
	if _, err := p.get(context.Background()); !errors.Is(err, sessions.ErrClosed) {
		t.Errorf("a call after Close: %v, want ErrClosed", err)
	}
	p.put(b)
	p.put(c)
	if p.made != 0 {
		t.Errorf("%d lanes left after Close and the busy ones given back", p.made)
	}
}

// TestLanesNoneLost: a lane given back to a call that gives up waiting at
// that very moment (its pool_timeout, or its context) must not be lost.
// put handed the lane over after releasing the pool's lock, so a waiter
// that gave up in between found nothing and returned, and the lane sat in
// its channel for good: still counted against max_conns, never used
// again, until every lane was lost and each call failed with "all
// connections busy". Many short calls on two lanes with waits of a few
// microseconds hit that window; afterwards every lane must be back.
func TestLanesNoneLost(t *testing.T) {
	var sl memcache.ServerList
	if err := sl.SetServers("127.0.0.1:1"); err != nil { // never dialled: the calls hold lanes, no more
		t.Fatal(err)
	}
	p := &lanes{sel: &sl, timeout: time.Second, maxIdle: 2, maxConns: 2, wait: 20 * time.Microsecond}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 5000 {
				l, err := p.get(context.Background())
				if err != nil {
					continue // busy: gave up waiting
				}
				runtime.Gosched()
				p.put(l)
			}
		})
	}
	wg.Wait()
	p.mu.Lock()
	made, free, waiting := p.made, len(p.free), len(p.waiters)
	p.mu.Unlock()
	if made != free || waiting != 0 {
		t.Fatalf("with every call done: %d lanes exist, %d free, %d calls waiting; %d lanes were lost", made, free, waiting, made-free)
	}
	for range 2 { // and both can be had
		if _, err := p.get(context.Background()); err != nil {
			t.Fatalf("a lane of an idle pool: %v", err)
		}
	}
}
