package memcachestore

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/sessionkit/sessions/internal/testservers"
)

func testLanes(t *testing.T, addr string, timeout time.Duration) *lanes {
	t.Helper()
	var sl memcache.ServerList
	if err := sl.SetServers(addr); err != nil {
		t.Fatal(err)
	}
	p := &lanes{sel: &sl, timeout: timeout, max: 4}
	t.Cleanup(func() { p.close() })
	return p
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
	l := p.get()
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
	l := p.get()
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
