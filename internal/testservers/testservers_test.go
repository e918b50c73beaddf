package testservers

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	code := m.Run()
	var dirs []string
	if r := sharedRedis.r; r != nil {
		dirs = append(dirs, r.Dir)
	}
	if mc := sharedMemcached.m; mc != nil {
		dirs = append(dirs, mc.Dir)
	}
	if p := sharedPostgres.p; p != nil {
		dirs = append(dirs, p.Dir)
	}
	if md := sharedMariaDB.m; md != nil {
		dirs = append(dirs, md.Dir)
	}
	StopShared()
	for _, d := range dirs {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			fmt.Fprintf(os.Stderr, "StopShared left %s behind (%v)\n", d, err)
			code = 1
		}
	}
	os.Exit(code)
}

// timed logs how long f took.
func timed(t *testing.T, what string, f func()) {
	t.Helper()
	start := time.Now()
	f()
	t.Logf("%s: %v", what, time.Since(start).Round(time.Millisecond))
}

func mustRedis(t *testing.T, a string, args ...string) string {
	t.Helper()
	s, err := redisDo(a, args...)
	if err != nil {
		t.Fatalf("%s %v: %v", a, args, err)
	}
	return s
}

func wantRefused(t *testing.T, a string) {
	t.Helper()
	if c, err := net.DialTimeout("tcp", a, time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after Stop", a)
	}
}

func TestRedis(t *testing.T) {
	t.Parallel()
	var r *Redis
	timed(t, "StartRedis", func() { r = StartRedis(t) })
	if want := "redis://127.0.0.1:" + strconv.Itoa(r.Port) + "/0"; r.URL() != want {
		t.Errorf("URL() = %q, want %q", r.URL(), want)
	}
	if got := mustRedis(t, r.Addr, "PING"); got != "PONG" {
		t.Fatalf("PING = %q", got)
	}
	mustRedis(t, r.Addr, "SET", "k", "v")
	if got := mustRedis(t, r.Addr, "GET", "k"); got != "v" {
		t.Fatalf("GET k = %q", got)
	}
	if got := mustRedis(t, r.Addr, "CONFIG", "GET", "bind"); got != "bind\n127.0.0.1" {
		t.Errorf("CONFIG GET bind = %q", got)
	}
	if got := mustRedis(t, r.Addr, "CONFIG", "GET", "save"); got != "save\n" {
		t.Errorf("CONFIG GET save = %q", got)
	}
	oldPID := r.proc.pid()
	timed(t, "Redis.Stop", r.Stop)
	wantRefused(t, r.Addr)
	r.Stop() // no-op
	timed(t, "Redis.Start", r.Start)
	if r.proc.pid() == oldPID {
		t.Errorf("same PID %d after restart", oldPID)
	}
	if got := mustRedis(t, r.Addr, "GET", "k"); got != "" {
		t.Errorf("GET k after restart = %q, want nothing (no persistence)", got)
	}
	mustRedis(t, r.Addr, "SET", "k", "v2")
	if got := mustRedis(t, r.Addr, "GET", "k"); got != "v2" {
		t.Fatalf("GET k = %q", got)
	}
}

// clusterSetGet sets key on the node that owns its slot, following a MOVED
// redirect from node 0, and reads it back.
func clusterSetGet(t *testing.T, c *RedisCluster, key, val string) {
	t.Helper()
	a := c.Addrs[0]
	_, err := redisDo(a, "SET", key, val)
	if e, ok := err.(respError); ok && strings.HasPrefix(string(e), "MOVED ") {
		f := strings.Fields(string(e))
		a = f[2]
		_, err = redisDo(a, "SET", key, val)
	}
	if err != nil {
		t.Fatalf("SET %s: %v", key, err)
	}
	if got := mustRedis(t, a, "GET", key); got != val {
		t.Fatalf("GET %s on %s = %q", key, a, got)
	}
}

func TestRedisCluster(t *testing.T) {
	t.Parallel()
	var c *RedisCluster
	timed(t, "StartRedisCluster(3)", func() { c = StartRedisCluster(t, 3) })
	if len(c.Addrs) != 3 {
		t.Fatalf("Addrs = %v", c.Addrs)
	}
	if want := "redis+cluster://" + strings.Join(c.Addrs, ","); c.URL() != want || strings.Count(c.URL(), "127.0.0.1:") != 3 {
		t.Errorf("URL() = %q", c.URL())
	}
	for i, a := range c.Addrs {
		info := mustRedis(t, a, "CLUSTER", "INFO")
		for _, want := range []string{"cluster_state:ok", "cluster_slots_ok:16384", "cluster_known_nodes:3", "cluster_size:3"} {
			if !strings.Contains(info, want) {
				t.Errorf("node %d: CLUSTER INFO lacks %q:\n%s", i, want, info)
			}
		}
		if c.BusPorts[i] == c.Ports[i]+10000 || c.BusPorts[i] == c.Ports[i] {
			t.Errorf("node %d: bus port %d not chosen separately", i, c.BusPorts[i])
		}
	}
	redirected := 0
	for i := range 20 {
		key := fmt.Sprintf("key%d", i)
		if _, err := redisDo(c.Addrs[0], "GET", key); err != nil {
			redirected++
		}
		clusterSetGet(t, c, key, "v"+key)
	}
	if redirected == 0 {
		t.Errorf("no key of 20 was redirected: slots are not spread")
	}
	timed(t, "StopNode+StartNode", func() {
		c.StopNode(2)
		wantRefused(t, c.Addrs[2])
		c.StartNode(2)
	})
	if info := mustRedis(t, c.Addrs[2], "CLUSTER", "INFO"); !strings.Contains(info, "cluster_state:ok") {
		t.Errorf("node 2 after restart:\n%s", info)
	}
	clusterSetGet(t, c, "after-restart", "x")
}

// TestRedisClusterDurable: a killed node of a durable cluster comes back
// with its slots and its data.
func TestRedisClusterDurable(t *testing.T) {
	t.Parallel()
	var c *RedisCluster
	timed(t, "StartRedisClusterDurable(3)", func() { c = StartRedisClusterDurable(t, 3) })
	for i, a := range c.Addrs {
		if got := mustRedis(t, a, "CONFIG", "GET", "appendfsync"); got != "appendfsync\nalways" {
			t.Errorf("node %d: CONFIG GET appendfsync = %q", i, got)
		}
	}
	for i := range 20 {
		clusterSetGet(t, c, fmt.Sprintf("key%d", i), fmt.Sprintf("v%d", i))
	}
	for n := range c.Addrs {
		timed(t, fmt.Sprintf("StopNode(%d)+StartNode(%d)", n, n), func() {
			c.StopNode(n)
			wantRefused(t, c.Addrs[n])
			c.StartNode(n)
		})
	}
	for i := range 20 {
		key, want := fmt.Sprintf("key%d", i), fmt.Sprintf("v%d", i)
		a := c.Addrs[0]
		got, err := redisDo(a, "GET", key)
		if e, ok := err.(respError); ok && strings.HasPrefix(string(e), "MOVED ") {
			got, err = redisDo(strings.Fields(string(e))[2], "GET", key)
		}
		if err != nil || got != want {
			t.Errorf("GET %s after every node restarted = %q, %v; want %q", key, got, err, want)
		}
	}
}

func TestRedisClusterSmall(t *testing.T) {
	t.Parallel()
	var c *RedisCluster
	timed(t, "StartRedisCluster(1)", func() { c = StartRedisCluster(t, 1) })
	info := mustRedis(t, c.Addrs[0], "CLUSTER", "INFO")
	if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_slots_ok:16384") {
		t.Fatalf("CLUSTER INFO:\n%s", info)
	}
	clusterSetGet(t, c, "k", "v")
}

func TestRedisSentinel(t *testing.T) {
	t.Parallel()
	var s *RedisSentinel
	timed(t, "StartRedisSentinel", func() { s = StartRedisSentinel(t) })
	if want := "redis+sentinel://mymaster@" + s.SentinelAddrs[0] + "/0"; s.URL() != want {
		t.Errorf("URL() = %q, want %q", s.URL(), want)
	}
	got := mustRedis(t, s.SentinelAddrs[0], "SENTINEL", "GET-MASTER-ADDR-BY-NAME", s.MasterName)
	if want := strings.Replace(s.Master.Addr, ":", "\n", 1); got != want {
		t.Errorf("master addr = %q, want %q", got, want)
	}
	mustRedis(t, s.Master.Addr, "SET", "k", "v")
	if got := mustRedis(t, s.Master.Addr, "GET", "k"); got != "v" {
		t.Errorf("GET k = %q", got)
	}
	if got := mustRedis(t, s.Master.Addr, "ROLE"); !strings.HasPrefix(got, "master") {
		t.Errorf("ROLE = %q", got)
	}
}

// memcachedCmd sends one text-protocol request and returns the response
// up to and including its final line (STORED, END, ...).
func memcachedCmd(t *testing.T, a, req string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", a, time.Second)
	if err != nil {
		t.Fatalf("memcached %s: %v", a, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	var out strings.Builder
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("memcached %s %q: %v (read %q)", a, req, err, out.String())
		}
		out.WriteString(line)
		switch strings.TrimSpace(line) {
		case "STORED", "NOT_STORED", "END", "ERROR", "DELETED", "NOT_FOUND":
			return out.String()
		}
	}
}

func TestMemcached(t *testing.T) {
	t.Parallel()
	var m1, m2 *Memcached
	timed(t, "StartMemcached x2", func() { m1, m2 = StartMemcached(t), StartMemcached(t) })
	if m1.Addr == m2.Addr {
		t.Fatalf("two memcached on %s", m1.Addr)
	}
	if got := memcachedCmd(t, m1.Addr, "set k 0 0 2\r\nv1\r\n"); got != "STORED\r\n" {
		t.Fatalf("set on m1 = %q", got)
	}
	if got := memcachedCmd(t, m2.Addr, "set k 0 0 2\r\nv2\r\n"); got != "STORED\r\n" {
		t.Fatalf("set on m2 = %q", got)
	}
	if got := memcachedCmd(t, m1.Addr, "get k\r\n"); got != "VALUE k 0 2\r\nv1\r\nEND\r\n" {
		t.Errorf("get on m1 = %q", got)
	}
	if got := memcachedCmd(t, m2.Addr, "get k\r\n"); got != "VALUE k 0 2\r\nv2\r\nEND\r\n" {
		t.Errorf("get on m2 = %q", got)
	}
	timed(t, "Memcached.Stop", m1.Stop)
	wantRefused(t, m1.Addr)
	if got := memcachedCmd(t, m2.Addr, "get k\r\n"); got != "VALUE k 0 2\r\nv2\r\nEND\r\n" {
		t.Errorf("get on m2 while m1 is down = %q", got)
	}
	timed(t, "Memcached.Start", m1.Start)
	if got := memcachedCmd(t, m1.Addr, "get k\r\n"); got != "END\r\n" {
		t.Errorf("get on m1 after restart = %q, want a miss", got)
	}
	if got := memcachedCmd(t, m1.Addr, "set k 0 0 2\r\nv3\r\n"); got != "STORED\r\n" {
		t.Fatalf("set on m1 after restart = %q", got)
	}
	if got := memcachedCmd(t, m1.Addr, "get k\r\n"); got != "VALUE k 0 2\r\nv3\r\nEND\r\n" {
		t.Errorf("get on m1 after restart = %q", got)
	}
}

func mustSQL(t *testing.T, run func(db, q string) (string, error), db, q string) string {
	t.Helper()
	out, err := run(db, q)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	var p *Postgres
	timed(t, "StartPostgres", func() { p = StartPostgres(t) })
	if want := "postgres://postgres@127.0.0.1:" + strconv.Itoa(p.Port) + "/sessions?sslmode=disable"; p.URL() != want {
		t.Errorf("URL() = %q, want %q", p.URL(), want)
	}
	if got := mustSQL(t, p.SQL, "sessions", "select 1"); got != "1" {
		t.Fatalf("select 1 = %q", got)
	}
	if got := mustSQL(t, p.SQL, "sessions", "show fsync"); got != "off" {
		t.Errorf("fsync = %q", got)
	}
	if got := mustSQL(t, p.SQL, "sessions", "select pg_encoding_to_char(encoding) from pg_database where datname = current_database()"); got != "UTF8" {
		t.Errorf("encoding = %q", got)
	}
	mustSQL(t, p.SQL, "sessions", "create table t (v text); insert into t values ('kept')")
	timed(t, "Postgres.Stop", p.Stop)
	wantRefused(t, addr(p.Port))
	timed(t, "Postgres.Start", p.Start)
	if got := mustSQL(t, p.SQL, "sessions", "select v from t"); got != "kept" {
		t.Errorf("after restart: %q", got)
	}
	timed(t, "Postgres.Kill", p.Kill)
	wantRefused(t, addr(p.Port))
	timed(t, "Postgres.Start after Kill", p.Start)
	if got := mustSQL(t, p.SQL, "sessions", "select v from t"); got != "kept" {
		t.Errorf("after crash restart: %q", got)
	}
	p.CreateDatabase(t, "other")
	if got := mustSQL(t, p.SQL, "other", "select current_database()"); got != "other" {
		t.Errorf("current_database() = %q", got)
	}
}

func TestMariaDB(t *testing.T) {
	t.Parallel()
	var m *MariaDB
	timed(t, "StartMariaDB", func() { m = StartMariaDB(t) })
	if want := "mysql://root@127.0.0.1:" + strconv.Itoa(m.Port) + "/sessions"; m.URL() != want {
		t.Errorf("URL() = %q, want %q", m.URL(), want)
	}
	if got := mustSQL(t, m.SQL, "sessions", "select 1"); got != "1" {
		t.Fatalf("select 1 = %q", got)
	}
	if got := mustSQL(t, m.SQL, "sessions", "select @@character_set_server, @@character_set_database, @@bind_address"); got != "utf8mb4\tutf8mb4\t127.0.0.1" {
		t.Errorf("charset/bind = %q", got)
	}
	mustSQL(t, m.SQL, "sessions", "create table t (v varchar(10)); insert into t values ('kept')")
	timed(t, "MariaDB.Stop", m.Stop)
	wantRefused(t, addr(m.Port))
	timed(t, "MariaDB.Start", m.Start)
	if got := mustSQL(t, m.SQL, "sessions", "select v from t"); got != "kept" {
		t.Errorf("after restart: %q", got)
	}
	m.CreateDatabase(t, "other")
	if got := mustSQL(t, m.SQL, "other", "select database()"); got != "other" {
		t.Errorf("database() = %q", got)
	}
}

// TestMariaDBDurable: a commit survives Kill (SIGKILL) and Start.
func TestMariaDBDurable(t *testing.T) {
	t.Parallel()
	var m *MariaDB
	timed(t, "StartMariaDBDurable", func() { m = StartMariaDBDurable(t) })
	if got := mustSQL(t, m.SQL, "sessions", "select @@innodb_flush_log_at_trx_commit"); got != "2" {
		t.Errorf("innodb_flush_log_at_trx_commit = %q, want 2", got)
	}
	mustSQL(t, m.SQL, "sessions", "create table t (v varchar(10)); insert into t values ('kept')")
	timed(t, "MariaDB.Kill+Start", func() {
		m.Kill()
		wantRefused(t, addr(m.Port))
		m.Start()
	})
	if got := mustSQL(t, m.SQL, "sessions", "select v from t"); got != "kept" {
		t.Errorf("after a crash: %q", got)
	}
}

func TestShared(t *testing.T) {
	t.Parallel()
	r1, r2 := SharedRedis(t), SharedRedis(t)
	if r1 != r2 {
		t.Errorf("SharedRedis returned two servers")
	}
	mustRedis(t, r1.Addr, "SET", "shared:k", "v")
	m1, m2 := SharedMemcached(t), SharedMemcached(t)
	if m1 != m2 {
		t.Errorf("SharedMemcached returned two servers")
	}
	if got := memcachedCmd(t, m1.Addr, "version\r\nget x\r\n"); !strings.HasPrefix(got, "VERSION ") {
		t.Errorf("version = %q", got)
	}
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		var p *Postgres
		timed(t, "SharedPostgres", func() { p = SharedPostgres(t) })
		if SharedPostgres(t) != p {
			t.Errorf("SharedPostgres returned two servers")
		}
		if got := mustSQL(t, p.SQL, "sessions", "select 1"); got != "1" {
			t.Errorf("select 1 = %q", got)
		}
	})
	t.Run("mariadb", func(t *testing.T) {
		t.Parallel()
		var m *MariaDB
		timed(t, "SharedMariaDB", func() { m = SharedMariaDB(t) })
		if SharedMariaDB(t) != m {
			t.Errorf("SharedMariaDB returned two servers")
		}
		if got := mustSQL(t, m.SQL, "sessions", "select 1"); got != "1" {
			t.Errorf("select 1 = %q", got)
		}
	})
}

func TestFreePort(t *testing.T) {
	seen := map[int]bool{}
	for range 50 {
		p := FreePort(t)
		if seen[p] {
			t.Fatalf("FreePort returned %d twice", p)
		}
		if reservedPorts[p] || p < 1024 || p > 65535 {
			t.Fatalf("FreePort returned %d", p)
		}
		seen[p] = true
		if !portFree(p) {
			t.Fatalf("port %d is not free", p)
		}
	}
}

// fakeTB records how fail ends a test.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

func (f *fakeTB) Helper()                          {}
func (f *fakeTB) Skipf(format string, args ...any) { f.skipped = fmt.Sprintf(format, args...) }
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
}

func TestFailSkipsUnlessRequired(t *testing.T) {
	_, err := lookBinary("no-such-server-binary-xyz")
	if err == nil || !strings.Contains(err.Error(), "no-such-server-binary-xyz not found") {
		t.Fatalf("lookBinary: %v", err)
	}
	t.Setenv(RequireEnv, "")
	var f fakeTB
	fail(&f, err)
	if f.skipped == "" || f.failed != "" || !strings.Contains(f.skipped, "no-such-server-binary-xyz") {
		t.Errorf("without %s: skipped %q, failed %q", RequireEnv, f.skipped, f.failed)
	}
	t.Setenv(RequireEnv, "1")
	if !Require() {
		t.Fatal("Require() = false")
	}
	f = fakeTB{}
	fail(&f, err)
	if f.failed == "" || f.skipped != "" {
		t.Errorf("with %s=1: skipped %q, failed %q", RequireEnv, f.skipped, f.failed)
	}
}

func TestSweepRemovesDeadOwnersOnly(t *testing.T) {
	base := t.TempDir()
	mk := func(name, owner string) string {
		d := base + "/" + dirPrefix + name
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if owner != "" {
			if err := os.WriteFile(d+"/owner.pid", []byte(owner), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	// A PID that is not running: a child that has exited and been reaped.
	dead := deadPID(t)
	gone := mk("dead", strconv.Itoa(dead)+"\n")
	mine := mk("mine", strconv.Itoa(os.Getpid()))
	alive := mk("alive", "1")
	noOwner := mk("noowner", "")
	sweep(base)
	if _, err := os.Stat(gone); !os.IsNotExist(err) {
		t.Errorf("dir of dead owner %d not removed", dead)
	}
	for _, d := range []string{mine, alive, noOwner} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s removed: %v", d, err)
		}
	}
}

func deadPID(t *testing.T) int {
	t.Helper()
	p, err := os.StartProcess("/bin/true", []string{"true"}, &os.ProcAttr{})
	if err != nil {
		t.Skipf("cannot start /bin/true: %v", err)
	}
	if _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	return p.Pid
}

// TestPause: a paused server accepts connections but answers nothing
// until it is resumed; then it answers what was sent meanwhile.
func TestPause(t *testing.T) {
	t.Parallel()
	r := StartRedis(t)
	m := StartMemcached(t)
	for _, tc := range []struct {
		name, addr, cmd, want string
		pause, resume         func()
	}{
		{"redis", r.Addr, "*1\r\n$4\r\nPING\r\n", "+PONG\r\n", r.Pause, r.Resume},
		{"memcached", m.Addr, "version\r\n", "VERSION ", m.Pause, m.Resume},
	} {
		tc.pause()
		c, err := net.DialTimeout("tcp", tc.addr, time.Second)
		if err != nil {
			tc.resume()
			t.Fatalf("%s: a paused server refuses connections: %v", tc.name, err)
		}
		if _, err := io.WriteString(c, tc.cmd); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		br := bufio.NewReader(c)
		if line, err := br.ReadString('\n'); err == nil {
			t.Errorf("%s: a paused server answered %q", tc.name, line)
		}
		tc.resume()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := br.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, tc.want) {
			t.Errorf("%s: after Resume: %q, %v", tc.name, line, err)
		}
		c.Close()
	}
}

func TestSilent(t *testing.T) {
	t.Parallel()
	a := Silent(t)
	c, err := net.DialTimeout("tcp", a, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "*1\r\n$4\r\nPING\r\n"); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Errorf("the silent server answered: %d bytes, %v", n, err)
	}
}
