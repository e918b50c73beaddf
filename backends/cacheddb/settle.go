package cacheddb

// Installs after the response: how a write's last cache step leaves the
// request's path (see Consistency in the package documentation).

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// installs tracks the writes whose copy is being installed in the
// background: at most one goroutine per write, each bounded by the write
// timeout, so there is no queue to grow.
type installs struct {
	n      atomic.Int64 // pending installs, so loads skip the lock when none
	mu     sync.Mutex
	keys   map[string]*keyInstalls
	wg     sync.WaitGroup
	closed bool
	// last is the copy of the latest install that succeeded, of the key
	// lastKey: a load that found its claim just before the swap landed
	// returns it (see pendingCopy).
	last    *pendingCopy
	lastKey string
}

// keyInstalls are the pending installs of one key; done is closed when
// the last one ends.
type keyInstalls struct {
	n    int
	done chan struct{}
	// copies maps the claim of a pending install (its marker, as stored)
	// to the copy it installs, from just before its swap until the
	// install ends (see pendingCopy).
	copies map[string]*pendingCopy
}

// pendingCopy is the copy that a write's install swaps for its claim.
// While the cache holds that claim as the write stored it, no other write
// has begun its database step since (it would have replaced the claim
// first), so the database holds this write, of which the copy is the
// cache's form: a load that finds the claim returns the copy (see
// Store.Load), until the session's expiry. Only the install itself puts
// its token back after its claim was replaced or removed (verify,
// release), in a claim that may be byte for byte the same: lost is set
// before it can, and a copy lost is never returned. Its fields are
// guarded by installs.mu.
type pendingCopy struct {
	marker []byte
	cb     []byte
	expiry time.Time
	lost   bool
}

// publish records cb, expiring at expiry, as the copy that c's install
// is about to swap in, when c's install runs in the background.
func (b *installs) publish(c *claim, cb []byte, expiry time.Time) {
	if !c.background {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	k := b.keys[c.key]
	if k == nil {
		return
	}
	if p := k.copies[string(c.marker)]; p != nil {
		p.cb, p.expiry = cb, expiry
		return
	}
	if k.copies == nil {
		k.copies = make(map[string]*pendingCopy)
	}
	k.copies[string(c.marker)] = &pendingCopy{marker: c.marker, cb: cb, expiry: expiry}
}

// lose marks c's copy lost, before the install puts anything else in the
// cache (see pendingCopy).
func (b *installs) lose(c *claim) {
	b.withCopy(c, func(k *keyInstalls, p *pendingCopy) {
		p.lost = true
		delete(k.copies, string(c.marker))
	})
}

// withCopy runs f under b.mu with c's published copy, if c's install
// runs in the background and has one.
func (b *installs) withCopy(c *claim, f func(*keyInstalls, *pendingCopy)) {
	if !c.background {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if k := b.keys[c.key]; k != nil {
		if p := k.copies[string(c.marker)]; p != nil {
			f(k, p)
		}
	}
}

// pendingCopies returns the copies of key's pending installs, for a load
// to match the claim it may find against (see copyFor): taken before the
// load reads the cache, they serve it even if their installs end
// meanwhile.
func (b *installs) pendingCopies(key string) []*pendingCopy {
	if b.n.Load() == 0 {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	k := b.keys[key]
	if k == nil || len(k.copies) == 0 {
		return nil
	}
	ps := make([]*pendingCopy, 0, len(k.copies))
	for _, p := range k.copies {
		ps = append(ps, p)
	}
	return ps
}

// copyFor returns a copy of the copy being installed over the claim
// found in the cache entry of key (one of seen, taken before the cache
// was read, one published since, or the last installed), or nil when
// found is not the claim of one of this process's installs, or the copy
// was lost or has expired.
func (b *installs) copyFor(key string, found []byte, seen []*pendingCopy) []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := (*pendingCopy)(nil)
	for _, q := range seen {
		if bytes.Equal(q.marker, found) {
			p = q
		}
	}
	if k := b.keys[key]; p == nil && k != nil {
		p = k.copies[string(found)]
	}
	if p == nil && b.last != nil && b.lastKey == key && bytes.Equal(b.last.marker, found) {
		p = b.last
	}
	if p == nil || p.lost || !time.Now().Before(p.expiry) {
		return nil
	}
	return bytes.Clone(p.cb)
}

// installed notes that c's install succeeded: its copy becomes the
// store's last.
func (b *installs) installed(c *claim) {
	b.withCopy(c, func(_ *keyInstalls, p *pendingCopy) {
		b.last, b.lastKey = p, c.key
	})
}

// forget drops c's copy when its install is over (and not lost: a load
// that took it before reading the cache may still return it).
func (b *installs) forget(c *claim) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if k := b.keys[c.key]; k != nil {
		delete(k.copies, string(c.marker))
	}
}

// settle ends a write whose database step succeeded by swapping its claim
// for the new copy (data in the database's format; nil: none, the claim
// is released): after the write returns, unless Options.SyncInstall is
// set or the store is closing. The claim keeps readers on the database
// until then, so they see the write.
func (s *Store) settle(ctx context.Context, c *claim, data []byte, expiry time.Time) error {
	return s.later(ctx, c, func(ctx context.Context) error { return s.finish(ctx, c, data, expiry) }, func() { data = bytes.Clone(data) })
}

// later runs install, the last cache step of the write claimed by c: now
// with ctx when installs are synchronous, else in a goroutine on a
// context detached from the request's, bounded by the write timeout.
// keep is called first in that case, to copy what install uses of the
// caller's.
func (s *Store) later(ctx context.Context, c *claim, install func(context.Context) error, keep func()) error {
	if s.syncInstall {
		return install(ctx)
	}
	b := &s.bg
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return install(ctx)
	}
	if b.keys == nil {
		b.keys = make(map[string]*keyInstalls)
	}
	k := b.keys[c.key]
	if k == nil {
		k = &keyInstalls{done: make(chan struct{})}
		b.keys[c.key] = k
	}
	k.n++
	b.n.Add(1)
	b.wg.Add(1)
	c.background = true
	b.mu.Unlock()
	if keep != nil {
		keep()
	}
	go func() {
		defer b.wg.Done()
		ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.writeTimeout)
		err := s.runInstall(ictx, install)
		cancel()
		b.forget(c)
		if err != nil {
			// The write was acknowledged; what the synchronous install
			// would have returned to the request is logged (never the
			// key). The claim keeps readers on the database until it
			// expires, unless it was lost (see Consistency).
			s.log.LogAttrs(ictx, slog.LevelError, "cached_db: after a write, its copy could not be installed in the cache", slog.String("error", err.Error()))
		}
		b.mu.Lock()
		if k.n--; k.n == 0 {
			delete(b.keys, c.key)
			close(k.done)
		}
		b.n.Add(-1)
		b.mu.Unlock()
	}()
	return nil
}

// runInstall runs install, turning a panic into an error: in the
// background no handler recovers it, and it would end the process.
func (s *Store) runInstall(ctx context.Context, install func(context.Context) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("cached_db: the install panicked: %v", p)
		}
	}()
	return install(ctx)
}

// awaitInstalls waits for this process's pending installs of key, within
// ctx and at most ReadTimeout (a stalled cache must not hold up loads): a
// request that follows a write of the same session then finds the new
// copy, not the write's claim, which would send a load to the database
// and make a write take the overlapping writes' path. It reports whether
// there were any.
func (s *Store) awaitInstalls(ctx context.Context, key string) bool {
	b := &s.bg
	if b.n.Load() == 0 {
		return false
	}
	b.mu.Lock()
	k := b.keys[key]
	b.mu.Unlock()
	if k == nil {
		return false
	}
	t := time.NewTimer(s.readTimeout)
	defer t.Stop()
	select {
	case <-k.done:
	case <-ctx.Done():
	case <-t.C:
	}
	return true
}

// closeInstalls makes later installs synchronous and waits for the
// pending ones (each bounded by the write timeout).
func (s *Store) closeInstalls() {
	s.bg.mu.Lock()
	s.bg.closed = true
	s.bg.mu.Unlock()
	s.bg.wg.Wait()
}
