package testservers

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Redis is a redis-server child process without persistence (no RDB
// snapshots, no AOF): a restarted server starts empty.
type Redis struct {
	// Addr is "127.0.0.1:port".
	Addr string
	// Port is the TCP port.
	Port int
	// Socket is the path of the server's unix socket.
	Socket string
	// Dir is the server's temp dir (working dir, log file redis.log).
	Dir string

	proc *process
	tb   testing.TB // for Start failures; nil for the shared server
}

// redisArgs are the arguments every redis-server here runs with.
func redisArgs(port int, dir string) []string {
	return []string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", dir,
		"--daemonize", "no",
		"--logfile", "", // stdout, which goes to the log file
		"--unixsocket", filepath.Join(dir, "redis.sock"),
		"--unixsocketperm", "700",
		"--enable-debug-command", "local", // DEBUG SLEEP etc. for fault tests
	}
}

func startRedis(extra ...string) (*Redis, error) {
	bin, err := lookBinary("redis-server")
	if err != nil {
		return nil, err
	}
	dir, err := makeDir("redis")
	if err != nil {
		return nil, err
	}
	ps, proc, err := startOnFreePorts(1, func(ps []int) (*process, func() error, error) {
		args := append(redisArgs(ps[0], dir), extra...)
		p := &process{name: "redis-server", path: bin, args: args, dir: dir, logPath: filepath.Join(dir, "redis.log")}
		return p, func() error { return redisReady(addr(ps[0]), p.pid()) }, nil
	})
	if err != nil {
		removeDir(dir)
		return nil, err
	}
	return &Redis{Addr: addr(ps[0]), Port: ps[0], Socket: filepath.Join(dir, "redis.sock"), Dir: dir, proc: proc}, nil
}

// StartRedis starts a redis-server on a free loopback port. It is stopped
// and its dir removed in t.Cleanup. Without the binary, or when the server
// cannot start, t is skipped (failed with [Require]).
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	r, err := startRedis()
	if err != nil {
		fail(t, err)
	}
	r.tb = t
	t.Cleanup(r.close)
	return r
}

// StartRedisDurable is StartRedis with an append-only file synced on
// every write, so that Stop (SIGKILL) and Start lose no acknowledged
// write: for fault soaks that count lost writes.
func StartRedisDurable(t testing.TB) *Redis {
	t.Helper()
	r, err := startRedis("--appendonly", "yes", "--appendfsync", "always")
	if err != nil {
		fail(t, err)
	}
	r.tb = t
	t.Cleanup(r.close)
	return r
}

// StartRedisReplica starts a redis-server that replicates the master at
// masterAddr ("127.0.0.1:port", a server or a [Proxy] in front of one), on
// a free loopback port, and waits until its link to the master is up. It
// is stopped and its dir removed in t.Cleanup; Pause, Resume, Stop and
// Start work as for [StartRedis].
func StartRedisReplica(t testing.TB, masterAddr string) *Redis {
	t.Helper()
	host, port, err := net.SplitHostPort(masterAddr)
	if err != nil {
		t.Fatalf("testservers: StartRedisReplica: %v", err)
	}
	// A master waits 5 s by default for more replicas before a full sync:
	// this one syncs at once, and so does the replica once promoted.
	// (Not for the Cluster's nodes, whose failovers it made flaky.)
	if _, err := redisDo(masterAddr, "CONFIG", "SET", "repl-diskless-sync-delay", "0"); err != nil {
		fail(t, fmt.Errorf("redis master %s: %v", masterAddr, err))
	}
	r, err := startRedis("--replicaof", host, port, "--repl-diskless-sync-delay", "0")
	if err != nil {
		fail(t, err)
	}
	r.tb = t
	t.Cleanup(r.close)
	for deadline := time.Now().Add(ReadyTimeout); ; time.Sleep(20 * time.Millisecond) {
		// Up on the replica's side, and online on the master's (it has
		// loaded the master's data and acknowledges writes: WAIT counts it).
		info, err := redisDo(r.Addr, "INFO", "replication")
		if err == nil && strings.Contains(info, "master_link_status:up") {
			m, merr := redisDo(masterAddr, "INFO", "replication")
			if merr == nil && strings.Contains(m, ",port="+strconv.Itoa(r.Port)+",state=online,") {
				// A replica fresh from its first sync may answer the
				// master's GETACK only at its next periodic ACK, a
				// second later: wait until a write is acknowledged at
				// once, as WAIT would count it.
				got, werr := redisDoAll(masterAddr, []string{"SET", "sessionkit:testservers:replica", "1"}, []string{"WAIT", "1", "100"})
				if werr == nil && len(got) == 2 && got[1] != "0" {
					return r
				}
				merr = werr
			}
			info, err = m, merr
		}
		if time.Now().After(deadline) {
			fail(t, fmt.Errorf("redis replica %s: link to master %s not up after %v: %v\n%s", r.Addr, masterAddr, ReadyTimeout, err, indent(info)))
			return r
		}
	}
}

// URL returns "redis://127.0.0.1:port/0".
func (r *Redis) URL() string { return "redis://" + r.Addr + "/0" }

// Stop kills the server with SIGKILL (a crash, as far as clients can tell)
// and waits until the process is gone. Stopping a stopped server does
// nothing.
func (r *Redis) Stop() { r.proc.stop(syscall.SIGKILL, 0) }

// Start starts a stopped server again on the same port and waits until it
// answers. It starts empty. Starting a running server does nothing. A
// failure fails the test that started the server.
func (r *Redis) Start() {
	if r.proc.running() {
		return
	}
	if err := r.proc.startAndWait(func() error { return redisReady(r.Addr, r.proc.pid()) }); err != nil {
		restartFailed(r.tb, err)
	}
}

// Pause freezes the server with SIGSTOP: it keeps its port and the
// kernel still accepts connections and buffers what clients send, but it
// answers nothing until Resume (a hung or silent server, for deadline
// tests). Stop, Start and the test's cleanup work on a paused server.
func (r *Redis) Pause() { r.proc.pause() }

// Resume lets a paused server run again with SIGCONT; it then answers
// what was sent meanwhile.
func (r *Redis) Resume() { r.proc.signal(syscall.SIGCONT) }

func (r *Redis) close() {
	r.proc.stop(syscall.SIGKILL, 0)
	removeDir(r.Dir)
}

var sharedRedis struct {
	once sync.Once
	r    *Redis
	err  error
}

// SharedRedis returns a redis-server that is started once per test binary
// (on first use) and shared by every caller. It is never stopped
// explicitly: the parent-death signal kills it when the test binary exits,
// and a later run removes its dir. Tests using it must keep their data
// apart (their own key prefixes; never FLUSHALL) and must not Stop or Start
// it. Without the binary, t is skipped (failed with [Require]).
func SharedRedis(t testing.TB) *Redis {
	t.Helper()
	sharedRedis.once.Do(func() { sharedRedis.r, sharedRedis.err = startRedis() })
	if sharedRedis.err != nil {
		fail(t, sharedRedis.err)
	}
	return sharedRedis.r
}

// --- cluster -----------------------------------------------------------------

// RedisCluster is a Redis Cluster of masters only (no replicas), each node a
// redis-server child without persistence (with an append-only file synced
// on every write when started with [StartRedisClusterDurable]). Stopping a
// node for longer than the node timeout (2 s) puts the cluster in the fail
// state until the node is back.
type RedisCluster struct {
	// Addrs are the nodes' "127.0.0.1:port" addresses.
	Addrs []string
	// Ports are the nodes' client ports; BusPorts their cluster bus ports.
	Ports, BusPorts []int
	// Dir is the cluster's temp dir; node i lives in Dir/node<i>.
	Dir string

	nodes []*process
	tb    testing.TB
}

// ClusterNodeTimeout is the cluster-node-timeout the nodes run with.
const ClusterNodeTimeout = 2 * time.Second

func startRedisCluster(masters, replicas int, extra ...string) (*RedisCluster, error) {
	if masters < 1 {
		return nil, fmt.Errorf("redis cluster: need at least 1 master, got %d", masters)
	}
	if replicas > 0 && masters < 3 {
		return nil, fmt.Errorf("redis cluster: replicas need at least 3 masters (redis-cli --cluster create), got %d", masters)
	}
	bin, err := lookBinary("redis-server")
	if err != nil {
		return nil, err
	}
	cli := ""
	if masters >= 3 { // redis-cli --cluster create refuses fewer than 3 masters
		if cli, err = lookBinary("redis-cli"); err != nil {
			return nil, err
		}
	}
	dir, err := makeDir("redis-cluster")
	if err != nil {
		return nil, err
	}
	c := &RedisCluster{Dir: dir}
	ok := false
	defer func() {
		if !ok {
			c.close()
		}
	}()
	for i := range masters * (1 + replicas) {
		nd := filepath.Join(dir, "node"+strconv.Itoa(i))
		if err := os.Mkdir(nd, 0o755); err != nil {
			return nil, err
		}
		ps, proc, err := startOnFreePorts(2, func(ps []int) (*process, func() error, error) {
			args := append(redisArgs(ps[0], nd),
				"--cluster-enabled", "yes",
				"--cluster-port", strconv.Itoa(ps[1]),
				"--cluster-config-file", filepath.Join(nd, "nodes.conf"),
				"--cluster-node-timeout", strconv.Itoa(int(ClusterNodeTimeout/time.Millisecond)),
			)
			args = append(args, extra...)
			p := &process{name: "redis-server (cluster node " + strconv.Itoa(i) + ")", path: bin, args: args, dir: nd, logPath: filepath.Join(nd, "redis.log")}
			return p, func() error { return redisReady(addr(ps[0]), p.pid()) }, nil
		})
		if err != nil {
			return nil, err
		}
		c.Addrs = append(c.Addrs, addr(ps[0]))
		c.Ports = append(c.Ports, ps[0])
		c.BusPorts = append(c.BusPorts, ps[1])
		c.nodes = append(c.nodes, proc)
	}
	if cli != "" {
		args := append([]string{"--cluster", "create"}, c.Addrs...)
		args = append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
		if _, err := runTool(ReadyTimeout, nil, dir, cli, args...); err != nil {
			return nil, fmt.Errorf("redis cluster: %w", err)
		}
	} else if err := c.createByHand(); err != nil {
		return nil, err
	}
	if err := c.waitOK(); err != nil {
		return nil, err
	}
	if err := c.waitReplicasSynced(); err != nil {
		return nil, err
	}
	ok = true
	return c, nil
}

// waitReplicasSynced waits until every replica node's link to its master
// is up (a replica that never synced cannot take over).
func (c *RedisCluster) waitReplicasSynced() error {
	deadline := time.Now().Add(ReadyTimeout)
	for i, a := range c.Addrs {
		for {
			info, err := redisDo(a, "INFO", "replication")
			if err == nil && (strings.Contains(info, "role:master") || strings.Contains(info, "master_link_status:up")) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("redis cluster: replica node %d (%s) not synced after %v: %v\n%s", i, a, ReadyTimeout, err, indent(info))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// createByHand splits the slots over the nodes and joins them, for clusters
// too small for redis-cli --cluster create.
func (c *RedisCluster) createByHand() error {
	n := len(c.Addrs)
	for i, a := range c.Addrs {
		lo, hi := i*16384/n, (i+1)*16384/n-1
		if _, err := redisDo(a, "CLUSTER", "ADDSLOTSRANGE", strconv.Itoa(lo), strconv.Itoa(hi)); err != nil {
			return fmt.Errorf("redis cluster: ADDSLOTSRANGE on %s: %w", a, err)
		}
	}
	for i := 1; i < n; i++ {
		if _, err := redisDo(c.Addrs[0], "CLUSTER", "MEET", "127.0.0.1", strconv.Itoa(c.Ports[i]), strconv.Itoa(c.BusPorts[i])); err != nil {
			return fmt.Errorf("redis cluster: MEET %s: %w", c.Addrs[i], err)
		}
	}
	return nil
}

// waitOK waits until every node reports cluster_state:ok and knows every
// other node.
func (c *RedisCluster) waitOK() error {
	deadline := time.Now().Add(ReadyTimeout)
	want := "cluster_known_nodes:" + strconv.Itoa(len(c.Addrs))
	for {
		var err error
		for i, a := range c.Addrs {
			var info string
			info, err = redisDo(a, "CLUSTER", "INFO")
			if err == nil && (!strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, want)) {
				err = fmt.Errorf("node %d (%s) not ok yet:\n%s", i, a, indent(info))
			}
			if err != nil {
				break
			}
		}
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis cluster not ok after %v: %v", ReadyTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// clusterFor starts a cluster (see startRedisCluster) stopped in
// t.Cleanup, or fails (skips) t.
func clusterFor(t testing.TB, masters, replicas int, extra ...string) *RedisCluster {
	t.Helper()
	c, err := startRedisCluster(masters, replicas, extra...)
	if err != nil {
		fail(t, err)
	}
	c.tb = t
	t.Cleanup(c.close)
	return c
}

// StartRedisCluster starts a Redis Cluster of the given number of masters
// (no replicas) on free loopback ports, each node with its own cluster bus
// port (--cluster-port), and waits until every node reports
// cluster_state:ok. It is stopped and its dir removed in t.Cleanup.
// Without the binaries, or when it cannot start, t is skipped (failed with
// [Require]).
func StartRedisCluster(t testing.TB, masters int) *RedisCluster {
	t.Helper()
	return clusterFor(t, masters, 0)
}

// StartRedisClusterDurable is StartRedisCluster with every node keeping
// an append-only file synced on every write (as [StartRedisDurable]), so
// that StopNode (SIGKILL) and StartNode lose no acknowledged write: the
// node rejoins with its slots and its data. For fault soaks that count
// lost writes.
func StartRedisClusterDurable(t testing.TB, masters int) *RedisCluster {
	t.Helper()
	return clusterFor(t, masters, 0, "--appendonly", "yes", "--appendfsync", "always")
}

// StartRedisClusterReplicas is StartRedisCluster with one replica per
// master (so 2*masters nodes; at least 3 masters), each synced with its
// master before it returns: when a master dies, the cluster promotes its
// replica (after [ClusterNodeTimeout] and an election).
func StartRedisClusterReplicas(t testing.TB, masters int) *RedisCluster {
	t.Helper()
	return clusterFor(t, masters, 1)
}

// URL returns "redis+cluster://127.0.0.1:p1,127.0.0.1:p2,...".
func (c *RedisCluster) URL() string { return "redis+cluster://" + strings.Join(c.Addrs, ",") }

// StopNode kills node i with SIGKILL and waits until it is gone.
func (c *RedisCluster) StopNode(i int) { c.nodes[i].stop(syscall.SIGKILL, 0) }

// PauseNode freezes node i with SIGSTOP (see [Redis.Pause]).
func (c *RedisCluster) PauseNode(i int) { c.nodes[i].pause() }

// ResumeNode lets the paused node i run again with SIGCONT.
func (c *RedisCluster) ResumeNode(i int) { c.nodes[i].signal(syscall.SIGCONT) }

// StartNode starts the stopped node i again on the same ports with its
// nodes.conf (so it rejoins with its slots, but without data unless the
// cluster is durable). It waits
// until the node answers and, when every node is running, until every node
// reports cluster_state:ok again. A failure fails the test.
func (c *RedisCluster) StartNode(i int) {
	p := c.nodes[i]
	if !p.running() {
		if err := p.startAndWait(func() error { return redisReady(c.Addrs[i], p.pid()) }); err != nil {
			restartFailed(c.tb, err)
			return
		}
	}
	for _, n := range c.nodes {
		if !n.running() {
			return
		}
	}
	if err := c.waitOK(); err != nil {
		restartFailed(c.tb, err)
	}
}

func (c *RedisCluster) close() {
	for _, n := range c.nodes {
		n.stop(syscall.SIGKILL, 0)
	}
	removeDir(c.Dir)
}

// --- sentinel ----------------------------------------------------------------

// RedisSentinel is a Redis master monitored by one Sentinel process (quorum
// 1, down-after 1 s). There are no replicas, so no failover can happen.
type RedisSentinel struct {
	// MasterName is the name the master is monitored under: "mymaster".
	MasterName string
	// SentinelAddrs are the sentinels' "127.0.0.1:port" addresses.
	SentinelAddrs []string
	// Master is the monitored server.
	Master *Redis
	// Dir is the sentinel's temp dir (sentinel.conf, sentinel.log).
	Dir string

	sentinel *process
}

func startRedisSentinel() (*RedisSentinel, error) {
	bin, err := lookBinary("redis-server")
	if err != nil {
		return nil, err
	}
	master, err := startRedis()
	if err != nil {
		return nil, err
	}
	dir, err := makeDir("redis-sentinel")
	if err != nil {
		master.close()
		return nil, err
	}
	const name = "mymaster"
	conf := filepath.Join(dir, "sentinel.conf")
	ps, proc, err := startOnFreePorts(1, func(ps []int) (*process, func() error, error) {
		// Sentinel rewrites its config file (sentinel myid, known
		// sentinels), so it must be a writable file of its own.
		text := fmt.Sprintf("port %d\nbind 127.0.0.1\ndaemonize no\ndir %s\nlogfile \"\"\n"+
			"sentinel monitor %s 127.0.0.1 %d 1\n"+
			"sentinel down-after-milliseconds %s 1000\n"+
			"sentinel failover-timeout %s 5000\n",
			ps[0], dir, name, master.Port, name, name)
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			return nil, nil, err
		}
		p := &process{name: "redis-sentinel", path: bin, args: []string{conf, "--sentinel"}, dir: dir, logPath: filepath.Join(dir, "sentinel.log")}
		a := addr(ps[0])
		return p, func() error {
			if err := redisReady(a, p.pid()); err != nil {
				return err
			}
			got, err := redisDo(a, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", name)
			if err != nil {
				return err
			}
			if want := "127.0.0.1\n" + strconv.Itoa(master.Port); got != want {
				return fmt.Errorf("sentinel reports master %q, want %q", got, want)
			}
			return nil
		}, nil
	})
	if err != nil {
		master.close()
		removeDir(dir)
		return nil, err
	}
	return &RedisSentinel{MasterName: name, SentinelAddrs: []string{addr(ps[0])}, Master: master, Dir: dir, sentinel: proc}, nil
}

// StartRedisSentinel starts a Redis master and one Sentinel monitoring it
// as "mymaster", on free loopback ports, and waits until the sentinel
// reports the master's address. Both are stopped and their dirs removed in
// t.Cleanup. Master.Stop and Master.Start work as for [StartRedis]. Without
// the binary, or when they cannot start, t is skipped (failed with
// [Require]).
func StartRedisSentinel(t testing.TB) *RedisSentinel {
	t.Helper()
	s, err := startRedisSentinel()
	if err != nil {
		fail(t, err)
	}
	s.Master.tb = t
	t.Cleanup(s.close)
	return s
}

// URL returns "redis+sentinel://mymaster@127.0.0.1:port/0" (several
// sentinels are separated by commas).
func (s *RedisSentinel) URL() string {
	return "redis+sentinel://" + s.MasterName + "@" + strings.Join(s.SentinelAddrs, ",") + "/0"
}

func (s *RedisSentinel) close() {
	s.sentinel.stop(syscall.SIGKILL, 0)
	removeDir(s.Dir)
	s.Master.close()
}
