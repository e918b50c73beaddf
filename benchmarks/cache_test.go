package benchmarks

import (
	"context"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/bradfitz/gomemcache/memcache"
	"github.com/redis/go-redis/v9"
	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/codec/pickle"
	"github.com/sessionkit/sessions/internal/testservers"
)

func pickled(b *testing.B) []byte {
	v, err := pickle.Codec{}.Encode(codec.NewDict(baseData(0)))
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// redisFloor: one GET (read-only); GET + SET PX (read-write).
func redisFloor(b *testing.B, c redis.UniversalClient) {
	ctx := context.Background()
	key := ":1:django.contrib.sessions.cache" + sessions.NewKey()
	c.Set(ctx, key, pickled(b), time.Hour)
	b.Run("read", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Get(ctx, key).Bytes(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("write", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v, err := c.Get(ctx, key).Bytes()
			if err != nil {
				b.Fatal(err)
			}
			if err := c.Set(ctx, key, v, time.Hour).Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// casScript is the check-and-set a no-lost-update write needs: compare
// the stored bytes, then SET PX (what redisstore's Swap runs).
var casScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
if cur ~= ARGV[1] then return -1 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`)

// redisFloorCAS: GET + the check-and-set script, the floor of a write
// that cannot lose a concurrent update.
func redisFloorCAS(b *testing.B, c redis.UniversalClient) {
	ctx := context.Background()
	key := ":1:django.contrib.sessions.cache" + sessions.NewKey()
	c.Set(ctx, key, pickled(b), time.Hour)
	b.Run("write", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v, err := c.Get(ctx, key).Bytes()
			if err != nil {
				b.Fatal(err)
			}
			if err := casScript.Run(ctx, c, []string{key}, v, v, 3600000).Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkRedis(b *testing.B) {
	r := testservers.SharedRedis(b)
	b.Run("ours", func(b *testing.B) {
		oursPair(b, openManager(b, r.URL()+"?key_prefix=bench"+sessions.NewKey()[:6]), baseData(0))
	})
	b.Run("scs", func(b *testing.B) {
		c := redis.NewClient(&redis.Options{Addr: r.Addr})
		defer c.Close()
		sm := scs.New()
		sm.Store = goredisstore.New(c)
		scsPair(b, sm)
	})
	b.Run("floor", func(b *testing.B) {
		c := redis.NewClient(&redis.Options{Addr: r.Addr})
		defer c.Close()
		redisFloor(b, c)
	})
	b.Run("floor-cas", func(b *testing.B) {
		c := redis.NewClient(&redis.Options{Addr: r.Addr})
		defer c.Close()
		redisFloorCAS(b, c)
	})
}

func BenchmarkRedisCluster(b *testing.B) {
	c := testservers.StartRedisCluster(b, 3)
	b.Run("ours", func(b *testing.B) {
		oursPair(b, openManager(b, c.URL()), baseData(0))
	})
	b.Run("floor", func(b *testing.B) {
		cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
		defer cc.Close()
		redisFloor(b, cc)
	})
}

func BenchmarkMemcached(b *testing.B) {
	m1, m2 := testservers.SharedMemcached(b), testservers.StartMemcached(b)
	b.Run("ours", func(b *testing.B) {
		oursPair(b, openManager(b, "memcached://"+m1.Addr+","+m2.Addr+"?key_prefix=b"+sessions.NewKey()[:6]), baseData(0))
	})
	b.Run("floor", func(b *testing.B) {
		c := memcache.New(m1.Addr, m2.Addr)
		key := ":1:django.contrib.sessions.cache" + sessions.NewKey()
		c.Set(&memcache.Item{Key: key, Value: pickled(b), Flags: 1, Expiration: 3600})
		b.Run("read", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Get(key); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("write", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				it, err := c.Get(key)
				if err != nil {
					b.Fatal(err)
				}
				if err := c.Set(&memcache.Item{Key: key, Value: it.Value, Flags: 1, Expiration: 3600}); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// BenchmarkCachedDB: Redis in front of SQLite. The floor is what Django's
// cached_db does: a cache GET (read-only); a cache GET, the row UPDATE and
// a cache SET (read-write).
func BenchmarkCachedDB(b *testing.B) {
	r := testservers.SharedRedis(b)
	dir := b.TempDir()
	b.Run("ours", func(b *testing.B) {
		cache := r.URL() + "?key_prefix=cdb" + sessions.NewKey()[:6]
		db := "sqlite://" + filepath.Join(dir, "cdb.sqlite3") + "?create_table=true"
		oursPair(b, openManager(b, "cached-db:?cache="+url.QueryEscape(cache)+"&db="+url.QueryEscape(db)), baseData(0))
	})
	b.Run("floor", func(b *testing.B) {
		c := redis.NewClient(&redis.Options{Addr: r.Addr})
		defer c.Close()
		ctx := context.Background()
		be, err := sessions.OpenEngine(ctx, "sqlite://"+filepath.Join(dir, "floor.sqlite3")+"?create_table=true", settings())
		if err != nil {
			b.Fatal(err)
		}
		e := be.(sessions.Engine)
		defer e.Close()
		key := sessions.NewKey()
		ck := ":1:django.contrib.sessions.cached_db" + key
		e.Create(ctx, key, encoded(b), time.Now().Add(time.Hour))
		c.Set(ctx, ck, pickled(b), time.Hour)
		b.Run("read", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Get(ctx, ck).Bytes(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("write", func(b *testing.B) {
			data := encoded(b)
			b.ReportAllocs()
			for b.Loop() {
				v, err := c.Get(ctx, ck).Bytes()
				if err != nil {
					b.Fatal(err)
				}
				if err := e.Update(ctx, key, data, time.Now().Add(time.Hour)); err != nil {
					b.Fatal(err)
				}
				if err := c.Set(ctx, ck, v, time.Hour).Err(); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}
