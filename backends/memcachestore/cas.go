package memcachestore

import (
	"crypto/sha256"
	"sync"
)

// casCache remembers the CAS id of recent loads, keyed by session key,
// with a digest of the value loaded, so that the Swap of a request that
// loaded the session needs no second gets. It is bounded: when full it
// starts over.
type casCache struct {
	mu sync.Mutex
	m  map[string]casEntry
}

type casEntry struct {
	id  uint64
	sum [sha256.Size]byte
}

const casCacheSize = 4096

func (c *casCache) remember(key string, id uint64, value []byte) {
	e := casEntry{id: id, sum: sha256.Sum256(value)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= casCacheSize {
		c.m = make(map[string]casEntry)
	}
	c.m[key] = e
}

// take returns the remembered CAS id of key if the value loaded then was
// old, and forgets it.
func (c *casCache) take(key string, old []byte) (uint64, bool) {
	c.mu.Lock()
	e, ok := c.m[key]
	delete(c.m, key)
	c.mu.Unlock()
	if !ok || e.sum != sha256.Sum256(old) {
		return 0, false
	}
	return e.id, true
}

func (c *casCache) forget(key string) {
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
}

func (c *casCache) clear() {
	c.mu.Lock()
	c.m = nil
	c.mu.Unlock()
}
