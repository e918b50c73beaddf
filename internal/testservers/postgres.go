package testservers

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Postgres is a PostgreSQL server child process (the postmaster) with its
// own data dir, trust authentication and fsync off. Data survives Stop and
// Start.
type Postgres struct {
	// Host is "127.0.0.1".
	Host string
	// Port is the TCP port (also the unix socket's port number).
	Port int
	// User is the superuser: "postgres", no password.
	User string
	// Database is the database created at start: "sessions".
	Database string
	// SocketDir is the dir of the unix socket (.s.PGSQL.<Port>); connect
	// with host=SocketDir.
	SocketDir string
	// DataDir is the cluster's data dir.
	DataDir string
	// Dir is the server's temp dir (log file postgres.log).
	Dir string
	// BinDir is the dir of the PostgreSQL binaries used.
	BinDir string

	proc *process
	tb   testing.TB
}

// postgresBinDir returns the newest /usr/lib/postgresql/<version>/bin that
// has initdb and postgres, else the dir of initdb on PATH.
func postgresBinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	type cand struct {
		dir string
		ver []int
	}
	var cs []cand
	for _, d := range dirs {
		if !isExec(filepath.Join(d, "initdb")) || !isExec(filepath.Join(d, "postgres")) {
			continue
		}
		var ver []int
		for _, f := range strings.Split(filepath.Base(filepath.Dir(d)), ".") {
			n, _ := strconv.Atoi(f)
			ver = append(ver, n)
		}
		cs = append(cs, cand{d, ver})
	}
	if len(cs) > 0 {
		best := slices.MaxFunc(cs, func(a, b cand) int { return slices.Compare(a.ver, b.ver) })
		return best.dir, nil
	}
	if p, err := lookBinary("initdb"); err == nil && isExec(filepath.Join(filepath.Dir(p), "postgres")) {
		return filepath.Dir(p), nil
	}
	return "", errors.New("PostgreSQL server binaries (initdb, postgres) not found in /usr/lib/postgresql/*/bin or on PATH")
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// postgresCredential returns the credential to run initdb and postgres
// with: the postgres user's when running as root (both refuse to run as
// root), else nil.
func postgresCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root and there is no postgres user to run initdb as: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("postgres user: bad uid %q or gid %q", u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func startPostgres(durable ...bool) (*Postgres, error) {
	syncCommit := "off"
	if len(durable) > 0 && durable[0] {
		syncCommit = "on"
	}
	binDir, err := postgresBinDir()
	if err != nil {
		return nil, err
	}
	cred, err := postgresCredential()
	if err != nil {
		return nil, err
	}
	dir, err := makeDir("postgres")
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			removeDir(dir)
		}
	}()
	if cred != nil {
		// The server writes its socket and data dir here.
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	if _, err := runTool(60*time.Second, cred, dir, filepath.Join(binDir, "initdb"),
		"-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"); err != nil {
		return nil, err
	}
	pg := &Postgres{Host: "127.0.0.1", User: "postgres", Database: "sessions", SocketDir: dir, DataDir: data, Dir: dir, BinDir: binDir}
	ps, proc, err := startOnFreePorts(1, func(ps []int) (*process, func() error, error) {
		p := &process{
			name: "postgres", path: filepath.Join(binDir, "postgres"), dir: dir, cred: cred,
			logPath: filepath.Join(dir, "postgres.log"),
			args: []string{
				"-D", data,
				"-p", strconv.Itoa(ps[0]),
				"-k", dir,
				"-c", "listen_addresses=127.0.0.1",
				"-c", "fsync=off",
				"-c", "synchronous_commit=" + syncCommit,
				"-c", "full_page_writes=off",
				"-c", "max_connections=200",
			},
		}
		pg.Port = ps[0]
		return p, pg.ready, nil
	})
	if err != nil {
		return nil, err
	}
	pg.Port, pg.proc = ps[0], proc
	if _, err := pg.SQL("postgres", "CREATE DATABASE "+pg.Database); err != nil {
		proc.stop(syscall.SIGQUIT, 5*time.Second)
		return nil, err
	}
	ok = true
	return pg, nil
}

// ready is the readiness check: the unix socket in our own dir exists (so
// it is our server, not another one on the port) and pg_isready succeeds
// through it.
func (p *Postgres) ready() error {
	if _, err := os.Stat(filepath.Join(p.SocketDir, ".s.PGSQL."+strconv.Itoa(p.Port))); err != nil {
		return err
	}
	_, err := runTool(10*time.Second, nil, p.Dir, filepath.Join(p.BinDir, "pg_isready"), "-q", "-h", p.SocketDir, "-p", strconv.Itoa(p.Port))
	return err
}

// StartPostgres initializes a fresh cluster in a temp dir (initdb as the
// postgres user when running as root) and starts postgres on a free
// loopback port with trust authentication and fsync off, and creates the
// database "sessions". It is stopped and its dir removed in t.Cleanup.
// Without the binaries, or when it cannot start, t is skipped (failed with
// [Require]).
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	p, err := startPostgres()
	if err != nil {
		fail(t, err)
	}
	p.tb = t
	t.Cleanup(p.close)
	return p
}

// StartPostgresDurable is StartPostgres with synchronous_commit on, so a
// commit is acknowledged only once its WAL is written: Kill (an
// immediate shutdown) and Start then lose no acknowledged write. (fsync
// stays off: the machine does not crash in these tests, only the server.)
func StartPostgresDurable(t testing.TB) *Postgres {
	t.Helper()
	p, err := startPostgres(true)
	if err != nil {
		fail(t, err)
	}
	p.tb = t
	t.Cleanup(p.close)
	return p
}

// URL returns "postgres://postgres@127.0.0.1:port/sessions?sslmode=disable".
func (p *Postgres) URL() string { return p.DatabaseURL(p.Database) }

// DatabaseURL returns the URL of database db on this server.
func (p *Postgres) DatabaseURL(db string) string {
	return fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable", p.User, addr(p.Port), db)
}

// SQL runs query in database db with psql over TCP (unaligned, tuples
// only, stopping at the first error) and returns its output without the
// trailing newline.
func (p *Postgres) SQL(db, query string) (string, error) {
	psql := filepath.Join(p.BinDir, "psql")
	if !isExec(psql) {
		var err error
		if psql, err = lookBinary("psql"); err != nil {
			return "", err
		}
	}
	out, err := runTool(30*time.Second, nil, p.Dir, psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
		"-h", p.Host, "-p", strconv.Itoa(p.Port), "-U", p.User, "-d", db, "-c", query)
	return strings.TrimRight(string(out), "\n"), err
}

// CreateDatabase creates database name, failing t on error. Tests on
// [SharedPostgres] can use it to get a database of their own.
func (p *Postgres) CreateDatabase(t testing.TB, name string) {
	t.Helper()
	if _, err := p.SQL("postgres", `CREATE DATABASE "`+strings.ReplaceAll(name, `"`, `""`)+`"`); err != nil {
		t.Fatalf("testservers: %v", err)
	}
}

// Stop shuts the server down (fast shutdown, SIGINT: open connections are
// closed, committed data is kept) and waits until the postmaster is gone.
// Stopping a stopped server does nothing.
func (p *Postgres) Stop() { p.proc.stop(syscall.SIGINT, 10*time.Second) }

// Kill stops the server like a crash (immediate shutdown, SIGQUIT: no
// checkpoint; the next Start runs crash recovery) and waits until the
// postmaster is gone.
func (p *Postgres) Kill() { p.proc.stop(syscall.SIGQUIT, 10*time.Second) }

// Start starts a stopped server again on the same port and data dir and
// waits until it accepts connections. Starting a running server does
// nothing. A failure fails the test that started the server.
func (p *Postgres) Start() {
	if p.proc.running() {
		return
	}
	if err := p.proc.startAndWait(p.ready); err != nil {
		restartFailed(p.tb, err)
	}
}

func (p *Postgres) close() {
	// Immediate shutdown: the postmaster stops its backends before it
	// exits, so nothing writes into the dir while it is removed.
	p.proc.stop(syscall.SIGQUIT, 5*time.Second)
	removeDir(p.Dir)
}

var sharedPostgres struct {
	once sync.Once
	p    *Postgres
	err  error
}

// SharedPostgres returns a PostgreSQL server that is started once per test
// binary (on first use) and shared by every caller; it dies with the test
// binary (see [SharedRedis]). Tests using it must use their own table
// names or their own databases ([Postgres.CreateDatabase]) and must not
// Stop or Start it.
func SharedPostgres(t testing.TB) *Postgres {
	t.Helper()
	sharedPostgres.once.Do(func() { sharedPostgres.p, sharedPostgres.err = startPostgres() })
	if sharedPostgres.err != nil {
		fail(t, sharedPostgres.err)
	}
	return sharedPostgres.p
}
