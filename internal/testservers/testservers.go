// Package testservers starts real servers (Redis, a Redis Cluster, Redis
// Sentinel, memcached, PostgreSQL, MariaDB) from their Debian binaries for
// tests. Each server binds 127.0.0.1 only, on a free port that is never a
// server's default port, keeps its state in its own temp dir and runs as a
// child of the test process (not daemonized). A server started with StartX
// is stopped and its dir removed in t.Cleanup; every server is also started
// with a parent-death signal (SIGKILL), so it dies with the test binary even
// when the binary is killed or times out.
//
// When a binary is missing or a server cannot start, the test is skipped
// with the reason, unless SESSIONS_REQUIRE_SERVERS=1 is set (see [Require]),
// where it fails. scripts/install-deps.sh installs the packages.
//
// The SharedX functions start one server per test binary and hand the same
// one to every caller; see [SharedRedis].
package testservers

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RequireEnv is the environment variable that turns skips into failures.
const RequireEnv = "SESSIONS_REQUIRE_SERVERS"

// ReadyTimeout bounds how long a server may take to become ready.
const ReadyTimeout = 30 * time.Second

// Require reports whether SESSIONS_REQUIRE_SERVERS=1 is set; then a missing
// binary or a server that cannot start is a test failure (t.Fatalf),
// otherwise t.Skipf with the reason.
func Require() bool { return os.Getenv(RequireEnv) == "1" }

// fail skips or fails t (see Require) because a server is unavailable.
func fail(t testing.TB, err error) {
	t.Helper()
	if Require() {
		t.Fatalf("testservers: %v (%s=1)", err, RequireEnv)
		return
	}
	t.Skipf("testservers: %v (set %s=1 to fail instead; scripts/install-deps.sh installs the servers)", err, RequireEnv)
}

// --- ports -------------------------------------------------------------------

// Default ports of servers that might run on a developer's machine. FreePort
// never returns one of these, nor the Redis Cluster bus ports next to them.
var reservedPorts = map[int]bool{
	3306: true, 5432: true, 6379: true, 11211: true, 16379: true, 26379: true,
	27017: true, 15672: true, 25672: true, 33060: true, 8080: true, 8000: true,
	9000: true, 9200: true, 9300: true, 2379: true, 2380: true, 4369: true,
}

var ports struct {
	sync.Mutex
	given map[int]bool
}

// FreePort returns a TCP port that is free on 127.0.0.1 right now. It is
// never a well-known server port, never one FreePort already returned in
// this process, and, when possible, below the kernel's ephemeral port range,
// so outgoing connections and other ":0" listeners do not take it while a
// server is stopped for a restart. It fails t if no port can be found.
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := freePort()
	if err != nil {
		t.Fatalf("testservers: FreePort: %v", err)
	}
	return p
}

func freePort() (int, error) {
	ports.Lock()
	defer ports.Unlock()
	if ports.given == nil {
		ports.given = map[int]bool{}
	}
	// Try random ports in [10000, start of the ephemeral range).
	lo, hi := 10000, ephemeralLow()
	if hi-lo >= 1000 {
		for range 200 {
			p := lo + rand.IntN(hi-lo)
			if ports.given[p] || reservedPorts[p] {
				continue
			}
			if portFree(p) {
				ports.given[p] = true
				return p, nil
			}
		}
	}
	// Fall back to the kernel's choice.
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !ports.given[p] && !reservedPorts[p] {
			ports.given[p] = true
			return p, nil
		}
	}
	return 0, errors.New("no free port on 127.0.0.1")
}

func portFree(p int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// ephemeralLow returns the lowest port of the kernel's ephemeral range.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 32768
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n > 65535 {
		return 32768
	}
	return n
}

func addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// --- binaries ----------------------------------------------------------------

// lookBinary finds the first of names on PATH or in the usual sbin dirs,
// which are often not on a non-root user's PATH.
func lookBinary(names ...string) (string, error) {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
		for _, d := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin", "/usr/bin", "/usr/local/bin"} {
			p := filepath.Join(d, n)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("%s not found on PATH or in /usr/sbin", strings.Join(names, " or "))
}

// --- temp dirs ---------------------------------------------------------------

const dirPrefix = "sessions-testservers-"

var sweepOnce sync.Once

// tempBase is where server dirs go: os.TempDir(), or /tmp when that path is
// so long that unix socket paths under it would pass the 107-byte limit.
func tempBase() string {
	d := os.TempDir()
	if len(d) > 50 {
		return "/tmp"
	}
	return d
}

// makeDir creates a fresh temp dir for a server of the given kind,
// traversable (0755) so that servers running as another user can reach
// their own subdir. It records the owning process so that a later run can
// remove dirs left behind by a test binary that was killed (see sweep).
func makeDir(kind string) (string, error) {
	base := tempBase()
	sweepOnce.Do(func() { sweep(base) })
	d, err := os.MkdirTemp(base, dirPrefix+kind+"-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(d, 0o755); err != nil {
		os.RemoveAll(d)
		return "", err
	}
	if err := os.WriteFile(filepath.Join(d, "owner.pid"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		os.RemoveAll(d)
		return "", err
	}
	return d, nil
}

// sweep removes server dirs whose owning test process no longer exists
// (left behind by a test binary that was killed or timed out; shared
// servers' dirs are always left behind). Dirs without an owner file are
// kept: they may be in the middle of being created.
func sweep(base string) {
	matches, _ := filepath.Glob(filepath.Join(base, dirPrefix+"*"))
	for _, d := range matches {
		b, err := os.ReadFile(filepath.Join(d, "owner.pid"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			os.RemoveAll(d)
		}
	}
}

// --- processes ---------------------------------------------------------------

// spawner starts every server from one goroutine locked to its OS thread
// for the life of the process. The parent-death signal fires when the
// thread that forked the child exits, not the process; a test goroutine's
// thread could exit (for example after runtime.LockOSThread without
// unlock) and take the server with it, while this thread only ends with the
// process.
var spawner struct {
	once sync.Once
	reqs chan spawnReq
}

type spawnReq struct {
	cmd  *exec.Cmd
	done chan error
}

func spawn(cmd *exec.Cmd) error {
	spawner.once.Do(func() {
		spawner.reqs = make(chan spawnReq)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as the process
			for r := range spawner.reqs {
				r.done <- r.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	spawner.reqs <- spawnReq{cmd, done}
	return <-done
}

// process is one long-running server child that can be stopped and started
// again with the same arguments.
type process struct {
	name    string // for messages, e.g. "redis-server"
	path    string
	args    []string
	dir     string // working dir
	logPath string // stdout and stderr are appended here
	cred    *syscall.Credential

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when cmd has been waited for
	waitErr error         // valid after done is closed
}

// start starts the process; it does not wait for readiness.
func (p *process) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		select {
		case <-p.done:
		default:
			return fmt.Errorf("%s is already running", p.name)
		}
	}
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close() // the child has its own copy
	fmt.Fprintf(logf, "=== testservers: %s %s %s\n", time.Now().Format(time.RFC3339Nano), p.path, strings.Join(p.args, " "))
	cmd := exec.Command(p.path, p.args...)
	cmd.Dir = p.dir
	cmd.Env = cleanEnv()
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Credential: p.cred}
	if err := spawn(cmd); err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done = cmd, done
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

// exited reports whether the process has exited, and how.
func (p *process) exited() (bool, error) {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done == nil {
		return true, errors.New("not started")
	}
	select {
	case <-done:
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.waitErr == nil {
			return true, errors.New("exited with status 0")
		}
		return true, p.waitErr
	default:
		return false, nil
	}
}

// running reports whether the process has been started and not stopped.
func (p *process) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// stop sends sig and waits until the process is gone; if it is still
// running after grace, it is killed. A process that is not running is left
// alone.
func (p *process) stop(sig syscall.Signal, grace time.Duration) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	if sig == syscall.SIGKILL {
		<-done
		return
	}
	select {
	case <-done:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-done
	}
}

// signal sends sig to the running process; a process that is not
// running is left alone.
func (p *process) signal(sig syscall.Signal) {
	if pid := p.pid(); pid > 0 {
		_ = syscall.Kill(pid, sig)
	}
}

// pause stops the running process with SIGSTOP and waits until every
// one of its threads has stopped (the signal is delivered asynchronously,
// and a thread may still be serving a request), for up to 5 s.
func (p *process) pause() {
	pid := p.pid()
	if pid <= 0 {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGSTOP)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if allStopped(pid) {
			return
		}
	}
}

// allStopped reports whether every thread of pid is stopped (state T in
// /proc/<pid>/task/<tid>/stat).
func allStopped(pid int) bool {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(tasks) == 0 {
		return false
	}
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			return false
		}
		// "tid (comm) S ...": the state follows the last ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || i+2 >= len(b) || (b[i+2] != 'T' && b[i+2] != 't') {
			return false
		}
	}
	return true
}

// pid returns the PID of the running process, or 0.
func (p *process) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// waitReady polls check until it succeeds, the process exits, or
// ReadyTimeout passes. Errors carry the tail of the server's log.
func (p *process) waitReady(check func() error) error {
	deadline := time.Now().Add(ReadyTimeout)
	delay := 5 * time.Millisecond
	for {
		err := check()
		if err == nil {
			return nil
		}
		if gone, werr := p.exited(); gone {
			// The check may have raced with a clean exit; report the exit.
			return fmt.Errorf("%s exited before it was ready (%v); log %s:\n%s", p.name, werr, p.logPath, logTail(p.logPath))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v: %v; log %s:\n%s", p.name, ReadyTimeout, err, p.logPath, logTail(p.logPath))
		}
		time.Sleep(delay)
		if delay < 50*time.Millisecond {
			delay *= 2
		}
	}
}

// startAndWait starts p and waits for check.
func (p *process) startAndWait(check func() error) error {
	if err := p.start(); err != nil {
		return err
	}
	if err := p.waitReady(check); err != nil {
		p.stop(syscall.SIGKILL, 0)
		return err
	}
	return nil
}

// portInUse reports whether a failed start, whose log output begins at
// offset, was caused by a port being taken (a race with another process between FreePort and bind), in which
// case the caller retries on another port.
func portInUse(logPath string, offset int64) bool {
	b, _ := os.ReadFile(logPath)
	if offset > 0 && offset <= int64(len(b)) {
		b = b[offset:]
	}
	b = bytes.ToLower(b)
	return bytes.Contains(b, []byte("address already in use")) || bytes.Contains(b, []byte("address in use"))
}

// logTail returns the last lines of a log file.
func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	const maxBytes, maxLines = 4000, 40
	if len(b) > maxBytes {
		b = b[len(b)-maxBytes:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	return "\t" + strings.Join(lines, "\n\t")
}

// runTool runs a short-lived helper (initdb, redis-cli, psql, ...) and
// returns an error with its output if it fails or takes longer than
// timeout.
func runTool(timeout time.Duration, cred *syscall.Credential, dir string, name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = cleanEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Credential: cred}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(name), err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return out.Bytes(), fmt.Errorf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, indent(out.String()))
		}
		return out.Bytes(), nil
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
		return out.Bytes(), fmt.Errorf("%s %s: timed out after %v\n%s", filepath.Base(name), strings.Join(args, " "), timeout, indent(out.String()))
	}
}

// cleanEnv is the environment for servers and their tools: the test's,
// without the variables through which the PostgreSQL and MariaDB clients
// would pick up another server, user or password (PGHOST, PGPASSWORD,
// MYSQL_PWD, ...).
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "MYSQL") || strings.HasPrefix(kv, "MARIADB") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return "\t(no output)"
	}
	return "\t" + strings.ReplaceAll(s, "\n", "\n\t")
}

// removeDir removes a server dir, tolerating files that a dying server is
// still writing.
func removeDir(d string) {
	for i := 0; i < 5; i++ {
		err := os.RemoveAll(d)
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startOnFreePorts picks n free ports, builds the process for them with mk,
// starts it and waits until check passes. When the start failed because a
// port was taken in the meantime, it tries again with new ports.
func startOnFreePorts(n int, mk func(ports []int) (*process, func() error, error)) ([]int, *process, error) {
	var lastErr error
	for range 3 {
		ps := make([]int, n)
		for i := range ps {
			p, err := freePort()
			if err != nil {
				return nil, nil, err
			}
			ps[i] = p
		}
		proc, check, err := mk(ps)
		if err != nil {
			return nil, nil, err
		}
		var off int64
		if st, err := os.Stat(proc.logPath); err == nil {
			off = st.Size()
		}
		err = proc.startAndWait(check)
		if err == nil {
			return ps, proc, nil
		}
		lastErr = err
		if !portInUse(proc.logPath, off) {
			break
		}
	}
	return nil, nil, lastErr
}

// restartFailed reports a failed Start of a stopped server.
func restartFailed(tb testing.TB, err error) {
	if tb == nil {
		panic("testservers: restart: " + err.Error())
	}
	tb.Helper()
	tb.Fatalf("testservers: restart: %v", err)
}

// StopShared stops the shared servers started so far (see [SharedRedis])
// and removes their dirs. Shared servers die with the test binary anyway;
// a package can call StopShared from TestMain after m.Run to remove their
// dirs at once instead of leaving that to a later run:
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		testservers.StopShared()
//		os.Exit(code)
//	}
//
// It must not run concurrently with tests. A Shared function called after
// StopShared treats the server as unavailable (skip, or fail with
// [Require]).
func StopShared() {
	stopOnce := func(once *sync.Once, err *error, stop func()) {
		ran := false
		once.Do(func() { ran = true })
		if !ran && *err == nil {
			stop()
		}
		if *err == nil {
			*err = errors.New("shared server stopped by StopShared")
		}
	}
	stopOnce(&sharedRedis.once, &sharedRedis.err, func() { sharedRedis.r.close() })
	stopOnce(&sharedMemcached.once, &sharedMemcached.err, func() { sharedMemcached.m.close() })
	stopOnce(&sharedPostgres.once, &sharedPostgres.err, func() { sharedPostgres.p.close() })
	stopOnce(&sharedMariaDB.once, &sharedMariaDB.err, func() { sharedMariaDB.m.close() })
}

// Silent starts a TCP listener on loopback that accepts connections and
// reads what clients send, but never writes a byte: a store that accepts
// and never answers, for deadline tests. It returns "127.0.0.1:port"; the
// listener and its connections are closed in t.Cleanup.
func Silent(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testservers: Silent: %v", err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return l.Addr().String()
}
