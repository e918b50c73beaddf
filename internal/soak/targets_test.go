package soak

import (
	"io"
	"log"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/sessionkit/sessions/internal/testservers"
)

// redisParams keep a Redis client's calls short, so that an outage gives
// errors, not hung requests, and take no retries: the soak counts what
// the application sees.
const redisParams = "max_retries=-1&dial_timeout=250ms&read_timeout=500ms&write_timeout=500ms&pool_timeout=500ms"

// proxyFaults are the partitions a proxy in front of a server makes while
// the server keeps its data: every connection reset (cut), and traffic
// stopped on open connections (stall).
func proxyFaults(p *testservers.Proxy) []fault {
	return []fault{
		{name: "cut", inject: p.Cut, heal: p.Restore},
		{name: "stall", inject: p.Stall, heal: p.Restore},
	}
}

func targets() []target {
	return []target{
		{name: "redis", setup: func(t *testing.T) rig {
			r := testservers.StartRedisDurable(t)
			p := testservers.NewProxy(t, r.Addr)
			return rig{
				configs: []string{"redis://" + p.Addr() + "/0?" + redisParams},
				faults: append([]fault{
					{name: "kill", inject: r.Stop, heal: r.Start},
					{name: "pause", inject: r.Pause, heal: r.Resume},
				}, proxyFaults(p)...),
			}
		}},
		{name: "cluster", setup: func(t *testing.T) rig {
			// No replicas: while a master is down its slots fail (all
			// slots, once the others mark it failed after the node
			// timeout); it comes back with its data (durable nodes).
			c := testservers.StartRedisClusterDurable(t, 3)
			return rig{
				configs: []string{c.URL() + "?" + redisParams},
				faults: []fault{
					{name: "kill master", inject: func() { c.StopNode(0) }, heal: func() { c.StartNode(0) }, outage: time.Second},
					// StartNode of a running node waits for the cluster to be ok.
					{name: "pause master", inject: func() { c.PauseNode(1) }, heal: func() { c.ResumeNode(1); c.StartNode(1) }, outage: time.Second},
					// Past the node timeout the other masters mark it
					// failed, and the whole cluster refuses requests.
					{name: "kill master", inject: func() { c.StopNode(2) }, heal: func() { c.StartNode(2) }, outage: testservers.ClusterNodeTimeout + 2*time.Second},
				},
			}
		}},
		{name: "memcached", setup: func(t *testing.T) rig {
			m := testservers.StartMemcached(t)
			p := testservers.NewProxy(t, m.Addr)
			return rig{
				configs: []string{"memcached://" + p.Addr() + "?timeout=500ms"},
				faults: append([]fault{
					{name: "pause", inject: m.Pause, heal: m.Resume},
					// memcached keeps nothing on disk: a restart forgets
					// every session by design.
					{name: "kill (wipes)", inject: m.Stop, heal: m.Start, wipes: true},
				}, proxyFaults(p)...),
			}
		}},
		{name: "postgres", setup: func(t *testing.T) rig {
			pg := testservers.StartPostgresDurable(t)
			u, ps := testservers.Proxied(t, pg.URL()+"&create_table=true&max_open_conns=16&conn_max_lifetime=30s")
			return rig{
				configs: []string{u},
				faults:  append([]fault{{name: "kill", inject: pg.Kill, heal: pg.Start}}, proxyFaults(ps[0])...),
			}
		}},
		{name: "mariadb", setup: func(t *testing.T) rig {
			// The driver logs every connection the outage breaks.
			_ = mysql.SetLogger(log.New(io.Discard, "", 0))
			md := testservers.StartMariaDBDurable(t)
			u, ps := testservers.Proxied(t, md.URL()+"?create_table=true&max_open_conns=16&conn_max_lifetime=30s")
			return rig{
				configs: []string{u},
				faults:  append([]fault{{name: "kill", inject: md.Kill, heal: md.Start}}, proxyFaults(ps[0])...),
			}
		}},
		{name: "sqlite", setup: func(t *testing.T) rig {
			// No server: the application restarts instead (its Manager
			// is closed and a new one opened on the same file).
			return rig{
				configs: []string{"sqlite://" + filepath.Join(t.TempDir(), "soak.sqlite3") + "?create_table=true"},
				faults:  []fault{appRestart},
			}
		}},
		{name: "file", setup: func(t *testing.T) rig {
			return rig{configs: []string{"file://" + t.TempDir()}, faults: []fault{appRestart}}
		}},
		{name: "bolt", setup: func(t *testing.T) rig {
			// One process per file: the restart closes the file and
			// opens it again.
			return rig{configs: []string{"bolt://" + filepath.Join(t.TempDir(), "soak.db")}, faults: []fault{appRestart}}
		}},
		{name: "cached_db", setup: func(t *testing.T) rig {
			// Two application processes share a Redis cache and a
			// PostgreSQL database. App 0 reaches the cache through a
			// proxy, app 1 directly: a partition of the cache cuts off
			// one process while the other keeps writing. Both reach the
			// database through one proxy.
			cache := testservers.StartRedis(t) // no persistence: a restart empties it, by design harmless
			pg := testservers.StartPostgresDurable(t)
			cp := testservers.NewProxy(t, cache.Addr)
			dbURL, dps := testservers.Proxied(t, pg.URL()+"&create_table=true&max_open_conns=16&conn_max_lifetime=30s")
			cfg := func(cacheAddr string) string {
				return "cached-db:?cache=" + url.QueryEscape("redis://"+cacheAddr+"/0?"+redisParams) + "&db=" + url.QueryEscape(dbURL)
			}
			dp := dps[0]
			return rig{
				configs: []string{cfg(cp.Addr()), cfg(cache.Addr)},
				faults: []fault{
					{name: "cache cut (app 0)", inject: cp.Cut, heal: cp.Restore, apps: []int{0}},
					{name: "db cut", inject: dp.Cut, heal: dp.Restore},
					{name: "cache stall (app 0)", inject: cp.Stall, heal: cp.Restore, apps: []int{0}},
					{name: "cache pause", inject: cache.Pause, heal: cache.Resume},
					{name: "db stall", inject: dp.Stall, heal: dp.Restore},
					{name: "cache restart (empty)", inject: cache.Stop, heal: cache.Start},
					{name: "db kill", inject: pg.Kill, heal: pg.Start},
				},
				short: []int{0, 1},
			}
		}},
	}
}
