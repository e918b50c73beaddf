package testservers

import (
	"net/url"
	"runtime"
	"strings"
	"testing"

	"github.com/sessionkit/sessions/conformance"
)

// Proxied returns rawURL with every host:port of its authority (one, or
// several separated by commas as in "memcached://h1:p1,h2:p2") replaced
// by a [Proxy] in front of it, and those proxies.
func Proxied(t testing.TB, rawURL string) (string, []*Proxy) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatalf("testservers: Proxied: %v", err)
	}
	var hosts []string
	var proxies []*Proxy
	for _, h := range strings.Split(u.Host, ",") {
		p := NewProxy(t, h)
		proxies = append(proxies, p)
		hosts = append(hosts, p.Addr())
	}
	u.Host = strings.Join(hosts, ",")
	return u.String(), proxies
}

// Fault returns a conformance.Fault that cuts, stalls and restores every
// proxy at once, and counts the connections this process holds open to
// the busiest of them (Fault.Conns, from Proxy.ClientConns); the caller
// sets Timeout and MaxConns.
func Fault(name string, readsSurvive bool, proxies ...*Proxy) conformance.Fault {
	each := func(f func(*Proxy)) func() {
		return func() {
			for _, p := range proxies {
				f(p)
			}
		}
	}
	return conformance.Fault{
		Name:         name,
		Cut:          each((*Proxy).Cut),
		Stall:        each((*Proxy).Stall),
		Restore:      each((*Proxy).Restore),
		ReadsSurvive: readsSurvive,
		Conns: func() int {
			most := 0
			for _, p := range proxies {
				most = max(most, p.ClientConns())
			}
			return most
		},
	}
}

// ReplicatedRedis starts a Redis master with one replica and returns the
// master's URL behind a [Proxy], and a conformance.Fault named name that
// cuts, stalls and restores that proxy, with a failover as Lag and
// Promote: Lag stalls the replication link (a second proxy) while the
// master serves; Promote cuts that link (what the replica had not
// received never arrives), makes the replica the master, stops the old
// master, starts a replica of the new one (as a failover's topology comes
// back) and moves the first proxy to the new master. The caller sets
// Timeout and MaxConns.
func ReplicatedRedis(t *testing.T, name string, readsSurvive bool) (string, conformance.Fault) {
	t.Helper()
	master := StartRedis(t)
	link := NewProxy(t, master.Addr)
	replica := StartRedisReplica(t, link.Addr())
	u, proxies := Proxied(t, master.URL())
	f := Fault(name, readsSurvive, proxies...)
	f.Lag = link.Stall
	f.Promote = func() {
		link.Cut()
		if _, err := redisDo(replica.Addr, "REPLICAOF", "NO", "ONE"); err != nil {
			t.Errorf("testservers: REPLICAOF NO ONE: %v", err)
		}
		master.Stop()
		StartRedisReplica(t, replica.Addr)
		for _, p := range proxies {
			p.Retarget(replica.Addr)
		}
	}
	return u, f
}

// GoRedisStallConns is the Fault.MaxConns of a Redis engine on go-redis's
// default pool: go-redis's PoolSize (ten per CPU) bounds the calls that
// hold a connection at once, not the connections (its documentation: "new
// connections will be allocated in excess of PoolSize", unless
// MaxActiveConns is set); a connection dialed for a call that gave up
// joins the pool. Against a stalled server 96 calls reached 32 of a pool
// of 20 on a busy machine, so the bound is twice the pool, still under
// the calls the case makes. With pipelines (wait_replicas), go-redis's
// pipeline pool adds its 10.
func GoRedisStallConns(pipelines bool) int {
	n := 2 * 10 * runtime.GOMAXPROCS(0)
	if pipelines {
		n += 10
	}
	return n
}
