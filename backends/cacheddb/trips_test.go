package cacheddb_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/backends/cacheddb"
	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/codec/pickle"
	"github.com/sessionkit/sessions/internal/djcache"
	"github.com/sessionkit/sessions/internal/testservers"
	"github.com/sessionkit/sessions/internal/testutil"
)

// dbCalls wraps a database engine (sqlstore) and counts its reads and
// writes: the database round trips of the store above it.
type dbCalls struct {
	sessions.Engine
	loads, swaps atomic.Int64
}

func (c *dbCalls) Load(ctx context.Context, key string) ([]byte, error) {
	c.loads.Add(1)
	return c.Engine.Load(ctx, key)
}

func (c *dbCalls) LoadExpiry(ctx context.Context, key string) ([]byte, time.Time, error) {
	c.loads.Add(1)
	return c.Engine.(sessions.ExpiryReader).LoadExpiry(ctx, key)
}

func (c *dbCalls) Swap(ctx context.Context, key string, old, data []byte, exp time.Time) error {
	c.swaps.Add(1)
	return c.Engine.(sessions.Swapper).Swap(ctx, key, old, data, exp)
}

func (c *dbCalls) Touch(ctx context.Context, key string, exp time.Time) error {
	return c.Engine.(sessions.Toucher).Touch(ctx, key, exp)
}

func (c *dbCalls) reset() { c.loads.Store(0); c.swaps.Store(0) }

// tripRig is a Manager over cached_db with Redis in front of SQLite, the
// database's calls counted.
type tripRig struct {
	st    sessions.Engine
	cache sessions.Engine
	db    *dbCalls
	m     *sessions.Manager
}

func newTripRig(t *testing.T) *tripRig {
	r := testservers.SharedRedis(t)
	return newTripRigOver(t, openEngine(t, r.URL()+fmt.Sprintf("?key_prefix=rt%d&logical_prefix=", seq.Add(1))+url.QueryEscape(cacheddb.LogicalPrefix)))
}

// newTripRigOver is newTripRig over the cache engine given.
func newTripRigOver(t *testing.T, cache sessions.Engine) *tripRig {
	db := &dbCalls{Engine: openEngine(t, sqliteURL(t))}
	st, err := cacheddb.New(cache, db, dbOptions())
	if err != nil {
		t.Fatal(err)
	}
	m, err := sessions.New(st, testutil.Settings())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return &tripRig{st: st, cache: cache, db: db, m: m}
}

// readWrite is one read-write request: load, change, save.
func (r *tripRig) readWrite(t *testing.T, key, k string, v int) {
	t.Helper()
	ctx := context.Background()
	s := r.m.Load(ctx, key)
	if s.Key() != key {
		t.Fatal("session not found")
	}
	s.Set(k, v)
	if err := s.Save(ctx); err != nil {
		t.Fatalf("save: %v", err)
	}
	cacheddb.WaitInstalls(t, r.st) // its copy, installed after Save returned
}

func (r *tripRig) get(t *testing.T, key, k string) string {
	t.Helper()
	return fmt.Sprint(r.m.Load(context.Background(), key).Get(k))
}

// A read-write request on a session the cache holds costs one database
// round trip, the compare-and-swap of the row, as Django's cached_db's
// update does: the cache's copy carries the row's bytes, so the row is
// not read first.
func TestReadWriteSkipsTheRowRead(t *testing.T) {
	ctx := context.Background()
	r := newTripRig(t)
	key := r.savedSession(t, ctx)
	for i := 1; i <= 3; i++ {
		r.db.reset()
		r.readWrite(t, key, "n", i)
		if l, w := r.db.loads.Load(), r.db.swaps.Load(); l != 0 || w != 1 {
			t.Errorf("read-write %d: %d database reads and %d swaps, want 0 and 1", i, l, w)
		}
	}
	// After an eviction, the refill's copy serves the next write alike.
	if err := r.cache.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if got := r.get(t, key, "n"); got != "3" {
		t.Fatalf("after the eviction: n = %v", got)
	}
	r.db.reset()
	r.readWrite(t, key, "n", 4)
	if l, w := r.db.loads.Load(), r.db.swaps.Load(); l != 0 || w != 1 {
		t.Errorf("read-write after a refill: %d database reads and %d swaps, want 0 and 1", l, w)
	}
	// What the cache holds still reads as the session alone, with
	// Django's pickle reader and the cache engine's own codec.
	b, err := r.cache.Load(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]codec.Codec{"cache engine": r.cache.(sessions.Codecer).Codec(testutil.Settings()), "store": r.m.Codec()} {
		d, err := c.Decode(b)
		if err != nil {
			t.Fatalf("%s decodes the cache's copy: %v", name, err)
		}
		if d.Len() != 1 || fmt.Sprint(d.Map()["n"]) != "4" {
			t.Errorf("%s reads the cache's copy as %v", name, d.Map())
		}
	}
}

// A copy Django wrote (a pickle alone) still compares against the row;
// a row changed since the copy was made is a conflict that the Manager
// merges, never a lost update.
func TestReadWriteWithoutTheRowsBytes(t *testing.T) {
	ctx := context.Background()
	r := newTripRig(t)
	key := r.savedSession(t, ctx)
	d := codec.NewDict(map[string]any{"n": 0})
	plain, err := pickle.Codec{}.Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cache.Update(ctx, key, plain, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	r.db.reset()
	r.readWrite(t, key, "n", 1)
	if l, w := r.db.loads.Load(), r.db.swaps.Load(); l != 1 || w != 1 {
		t.Errorf("read-write of Django's copy: %d database reads and %d swaps, want 1 and 1", l, w)
	}
	if got := r.get(t, key, "n"); got != "1" {
		t.Errorf("n = %v, want 1", got)
	}

	// The row changes under a request that loaded the copy.
	s1 := r.m.Load(ctx, key)
	s1.Get("n")
	other, err := sessions.New(r.db.Engine, testutil.Settings())
	if err != nil {
		t.Fatal(err)
	}
	s2 := other.Load(ctx, key)
	s2.Set("m", 7)
	if err := s2.Save(ctx); err != nil {
		t.Fatal(err)
	}
	s1.Set("n", 2)
	if err := s1.Save(ctx); err != nil {
		t.Fatal(err)
	}
	if n, m := r.get(t, key, "n"), r.get(t, key, "m"); n != "2" || m != "7" {
		t.Errorf("after a concurrent change: n = %v, m = %v, want 2 and 7", n, m)
	}
}

// A copy that fits in the cache only without the row's bytes is stored
// without them, by a write and by a refill: the session stays cached,
// and its writes read the row first.
func TestCopyTooLargeWithTheRow(t *testing.T) {
	ctx := context.Background()
	big := strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyz", 100) // 3,600 bytes
	d := codec.NewDict(map[string]any{"big": big})
	p, err := pickle.Codec{}.Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	row, err := sessions.DefaultCodec(testutil.Settings()).Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	// Room for the pickle and its key (under 200 bytes), not for the row.
	limit := len(p) + 300
	if len(row) < 400 {
		t.Fatalf("the row is only %d bytes", len(row))
	}
	mc := testservers.SharedMemcached(t)
	r := newTripRigOver(t, openEngine(t, fmt.Sprintf("memcached://%s?key_prefix=tl%d&max_item_size=%d&logical_prefix=%s", mc.Addr, seq.Add(1), limit, url.QueryEscape(cacheddb.LogicalPrefix))))
	m, st, cache, db := r.m, r.st, r.cache, r.db
	s := m.NewSession(ctx)
	s.Set("big", big)
	if err := s.Save(ctx); err != nil {
		t.Fatal(err)
	}
	cacheddb.WaitInstalls(t, st)
	key := s.Key()
	cached := func(what string) {
		t.Helper()
		b, err := cache.Load(ctx, key)
		if err != nil {
			t.Fatalf("%s: nothing cached: %v", what, err)
		}
		if _, _, ok := djcache.SplitRow(b); ok {
			t.Errorf("%s: the copy holds the row, over the limit", what)
		}
		if d, err := (pickle.Codec{}).Decode(b); err != nil || d.Map()["big"] != big {
			t.Errorf("%s: the copy reads as %v, %v", what, d, err)
		}
	}
	cached("create")
	for i := 1; i <= 2; i++ {
		db.reset()
		r.readWrite(t, key, "n", i)
		if l, w := db.loads.Load(), db.swaps.Load(); l != 1 || w != 1 {
			t.Errorf("read-write %d: %d database reads and %d swaps, want 1 and 1", i, l, w)
		}
		cached("read-write")
	}
	if err := cache.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if got := r.get(t, key, "n"); got != "2" {
		t.Fatalf("after the eviction: n = %v", got)
	}
	cached("refill")
}

// A copy whose row's bytes are not the row's (it was rewritten since with
// the same session, or they do not verify) still reads, from the pickle,
// and its write compares the decoded sessions instead.
func TestCopyWithOtherRowBytes(t *testing.T) {
	ctx := context.Background()
	r := newTripRig(t)
	s := r.m.NewSession(ctx)
	s.Set("n", 5)
	if err := s.Save(ctx); err != nil {
		t.Fatal(err)
	}
	cacheddb.WaitInstalls(t, r.st)
	key := s.Key()
	p, err := pickle.Codec{}.Encode(codec.NewDict(map[string]any{"n": 5}))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cache.Update(ctx, key, djcache.AppendRow(p, []byte("e30:1tQxyz:bogus")), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := r.get(t, key, "n"); got != "5" {
		t.Fatalf("n = %v, want 5", got)
	}
	r.db.reset()
	r.readWrite(t, key, "n", 6)
	if l, w := r.db.loads.Load(), r.db.swaps.Load(); l != 1 || w != 2 {
		t.Errorf("%d database reads and %d swaps, want 1 and 2 (the swap against the copy's row, then against the row read)", l, w)
	}
	if got := r.get(t, key, "n"); got != "6" {
		t.Errorf("n = %v, want 6", got)
	}
}

// With Options.PlainCopies (plain_copies=true), for a cache shared with
// v0.1.0 processes, the copies are the pickle alone, and a read-write
// request reads the row first.
func TestPlainCopies(t *testing.T) {
	ctx := context.Background()
	r := testservers.SharedRedis(t)
	cacheURL := r.URL() + fmt.Sprintf("?key_prefix=pc%d&logical_prefix=", seq.Add(1)) + url.QueryEscape(cacheddb.LogicalPrefix)
	cache := openEngine(t, cacheURL)
	m, err := sessions.Open(ctx, "cached-db:?cache="+url.QueryEscape(cacheURL)+"&db="+url.QueryEscape(sqliteURL(t))+"&plain_copies=true", testutil.Settings())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	s := m.NewSession(ctx)
	s.Set("n", 1)
	if err := s.Save(ctx); err != nil {
		t.Fatal(err)
	}
	m.Close() // waits for the copy's install
	b, err := cache.Load(ctx, s.Key())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (pickle.Codec{}).Decode(b); err != nil {
		t.Errorf("the copy is not a pickle alone: %v", err)
	}

	db := &dbCalls{Engine: openEngine(t, sqliteURL(t))}
	o := dbOptions()
	o.PlainCopies = true
	st, err := cacheddb.New(cache, db, o)
	if err != nil {
		t.Fatal(err)
	}
	pm, err := sessions.New(st, testutil.Settings())
	if err != nil {
		t.Fatal(err)
	}
	rig := &tripRig{st: st, cache: cache, db: db, m: pm}
	s = pm.NewSession(ctx)
	s.Set("n", 1)
	if err := s.Save(ctx); err != nil {
		t.Fatal(err)
	}
	cacheddb.WaitInstalls(t, st)
	db.reset()
	rig.readWrite(t, s.Key(), "n", 2)
	if l, w := db.loads.Load(), db.swaps.Load(); l != 1 || w != 1 {
		t.Errorf("read-write: %d database reads and %d swaps, want 1 and 1", l, w)
	}
	b, _ = cache.Load(ctx, s.Key())
	if _, _, ok := djcache.SplitRow(b); ok {
		t.Error("the copy holds the row")
	}
}

// savedSession saves a new session {"n": 0} and waits for its copy to be
// in the cache, and returns its key.
func (r *tripRig) savedSession(t *testing.T, ctx context.Context) string {
	t.Helper()
	s := r.m.NewSession(ctx)
	s.Set("n", 0)
	if err := s.Save(ctx); err != nil {
		t.Fatal(err)
	}
	cacheddb.WaitInstalls(t, r.st)
	return s.Key()
}

// The cache's copy of a large session that a request read one value of
// and changed another is, in Django's pickle, the session the row holds:
// the pickle writes the unread values from the row's JSON text without
// building them (codec/pickle), and Django reads the pickle, which this
// store's own reads skip for the row's bytes.
func TestCopyOfAPartialEditMatchesTheRow(t *testing.T) {
	ctx := context.Background()
	r := newTripRig(t)
	s := r.m.NewSession(ctx)
	cart := make([]any, 300)
	for i := range cart {
		cart[i] = map[string]any{"sku": fmt.Sprintf("SKU-%d", i%50), "qty": i % 9, "tags": []any{"Zoë", i%2 == 0, nil}}
	}
	s.Update(map[string]any{"user": "ann", "cart": cart, "big": int64(1) << 62, "long": strings.Repeat("ü", 20000)})
	if err := s.Save(ctx); err != nil {
		t.Fatal(err)
	}
	cacheddb.WaitInstalls(t, r.st)
	key := s.Key()
	if r.get(t, key, "user") != "ann" {
		t.Fatal("session not found")
	}
	r.readWrite(t, key, "n", 1)
	b, err := r.cache.Load(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := djcache.SplitRow(b); !ok {
		t.Fatal("the cache's copy carries no row bytes")
	}
	copied, err := pickle.Codec{}.Decode(djcache.StripRow(b))
	if err != nil {
		t.Fatalf("Django's pickle reader refuses the copy: %v", err)
	}
	row, err := r.m.Codec().Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	cj, _ := codec.MarshalPython(copied)
	rj, _ := codec.MarshalPython(row)
	if string(cj) != string(rj) || row.Len() != 5 {
		t.Errorf("the copy's pickle holds %.300s\nthe row holds %.300s", cj, rj)
	}
}
