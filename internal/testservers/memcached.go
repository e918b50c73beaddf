package testservers

import (
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
)

// Memcached is a memcached child process (TCP only, 64 MB). A restarted
// server starts empty.
type Memcached struct {
	// Addr is "127.0.0.1:port".
	Addr string
	// Port is the TCP port.
	Port int
	// Dir is the server's temp dir (log file memcached.log).
	Dir string

	proc *process
	tb   testing.TB
}

func startMemcached() (*Memcached, error) {
	bin, err := lookBinary("memcached")
	if err != nil {
		return nil, err
	}
	dir, err := makeDir("memcached")
	if err != nil {
		return nil, err
	}
	ps, proc, err := startOnFreePorts(1, func(ps []int) (*process, func() error, error) {
		args := []string{"-p", strconv.Itoa(ps[0]), "-l", "127.0.0.1", "-U", "0", "-m", "64"}
		if os.Geteuid() == 0 {
			args = append(args, "-u", "root") // memcached refuses to run as root without -u
		}
		p := &process{name: "memcached", path: bin, args: args, dir: dir, logPath: filepath.Join(dir, "memcached.log")}
		return p, func() error { return memcachedReady(addr(ps[0]), p.pid()) }, nil
	})
	if err != nil {
		removeDir(dir)
		return nil, err
	}
	return &Memcached{Addr: addr(ps[0]), Port: ps[0], Dir: dir, proc: proc}, nil
}

// StartMemcached starts a memcached on a free loopback port (-l 127.0.0.1
// -U 0 -m 64). It is stopped and its dir removed in t.Cleanup. Without the
// binary, or when it cannot start, t is skipped (failed with [Require]).
func StartMemcached(t testing.TB) *Memcached {
	t.Helper()
	m, err := startMemcached()
	if err != nil {
		fail(t, err)
	}
	m.tb = t
	t.Cleanup(m.close)
	return m
}

// Stop kills the server with SIGKILL (memcached takes about 1 s to exit on
// SIGTERM) and waits until the process is gone. Stopping a stopped server
// does nothing.
func (m *Memcached) Stop() { m.proc.stop(syscall.SIGKILL, 0) }

// Start starts a stopped server again on the same port and waits until it
// answers. It starts empty. Starting a running server does nothing. A
// failure fails the test that started the server.
func (m *Memcached) Start() {
	if m.proc.running() {
		return
	}
	if err := m.proc.startAndWait(func() error { return memcachedReady(m.Addr, m.proc.pid()) }); err != nil {
		restartFailed(m.tb, err)
	}
}

// Pause freezes the server with SIGSTOP until Resume (see [Redis.Pause]).
func (m *Memcached) Pause() { m.proc.pause() }

// Resume lets a paused server run again with SIGCONT.
func (m *Memcached) Resume() { m.proc.signal(syscall.SIGCONT) }

func (m *Memcached) close() {
	m.proc.stop(syscall.SIGKILL, 0)
	removeDir(m.Dir)
}

var sharedMemcached struct {
	once sync.Once
	m    *Memcached
	err  error
}

// SharedMemcached returns a memcached that is started once per test binary
// (on first use) and shared by every caller; it dies with the test binary
// (see [SharedRedis]). Tests using it must use their own key prefixes,
// never flush_all, and must not Stop or Start it.
func SharedMemcached(t testing.TB) *Memcached {
	t.Helper()
	sharedMemcached.once.Do(func() { sharedMemcached.m, sharedMemcached.err = startMemcached() })
	if sharedMemcached.err != nil {
		fail(t, sharedMemcached.err)
	}
	return sharedMemcached.m
}
