package testservers

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// MariaDB is a mariadbd child process with its own data dir, a root user
// without password, and utf8mb4 as the server character set. Data survives
// Stop and Start.
type MariaDB struct {
	// Host is "127.0.0.1".
	Host string
	// Port is the TCP port.
	Port int
	// User is "root", no password (over TCP and the socket).
	User string
	// Database is the database created at start: "sessions".
	Database string
	// Socket is the path of the server's unix socket.
	Socket string
	// DataDir is the server's data dir.
	DataDir string
	// Dir is the server's temp dir (log file mariadb.log).
	Dir string

	admin, client string // binaries
	proc          *process
	tb            testing.TB
}

func startMariaDB(durable ...bool) (*MariaDB, error) {
	flush := "0"
	if len(durable) > 0 && durable[0] {
		flush = "2"
	}
	server, err := lookBinary("mariadbd", "mysqld")
	if err != nil {
		return nil, err
	}
	installDB, err := lookBinary("mariadb-install-db", "mysql_install_db")
	if err != nil {
		return nil, err
	}
	admin, err := lookBinary("mariadb-admin", "mysqladmin")
	if err != nil {
		return nil, err
	}
	client, err := lookBinary("mariadb", "mysql")
	if err != nil {
		return nil, err
	}
	dir, err := makeDir("mariadb")
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			removeDir(dir)
		}
	}()
	data := filepath.Join(dir, "data")
	// --no-defaults must come first, for every tool, or /etc/mysql/my.cnf
	// (socket and pid file under /run/mysqld) is read.
	//
	// Each server gets its own tmpdir: at start mariadbd deletes every
	// #sql* file in its tmpdir, which in a shared /tmp are the temporary
	// tables of other servers running at the same time (seen with
	// concurrent test binaries: install-db failed with "Unknown table
	// 'mysql.tmp_user_sys'").
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return nil, err
	}
	common := []string{"--tmpdir=" + tmp, "--innodb-log-file-size=16M"}
	var userArgs []string
	if os.Geteuid() == 0 {
		userArgs = []string{"--user=root"} // mariadbd refuses to run as root otherwise
	}
	installArgs := append([]string{"--no-defaults", "--datadir=" + data, "--auth-root-authentication-method=normal",
		"--skip-test-db", "--skip-name-resolve"}, userArgs...)
	if _, err := runTool(60*time.Second, nil, dir, installDB, append(installArgs, common...)...); err != nil {
		return nil, err
	}
	m := &MariaDB{Host: "127.0.0.1", User: "root", Database: "sessions", Socket: filepath.Join(dir, "mysqld.sock"),
		DataDir: data, Dir: dir, admin: admin, client: client}
	ps, proc, err := startOnFreePorts(1, func(ps []int) (*process, func() error, error) {
		args := append([]string{
			"--no-defaults",
			"--datadir=" + data,
			"--socket=" + m.Socket,
			"--pid-file=" + filepath.Join(dir, "mysqld.pid"),
			"--port=" + strconv.Itoa(ps[0]),
			"--bind-address=127.0.0.1",
			"--skip-name-resolve",
			"--character-set-server=utf8mb4",
			"--collation-server=utf8mb4_general_ci",
			"--innodb-flush-log-at-trx-commit=" + flush,
			"--innodb-buffer-pool-dump-at-shutdown=0",
			"--innodb-buffer-pool-load-at-startup=0",
			"--skip-log-bin",
			"--max-connections=300",
		}, userArgs...)
		p := &process{name: "mariadbd", path: server, args: append(args, common...), dir: dir, logPath: filepath.Join(dir, "mariadb.log")}
		m.Port = ps[0]
		return p, m.ready, nil
	})
	if err != nil {
		return nil, err
	}
	m.Port, m.proc = ps[0], proc
	if _, err := m.SQL("", "CREATE DATABASE "+m.Database+" CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"); err != nil {
		proc.stop(syscall.SIGKILL, 0)
		return nil, err
	}
	ok = true
	return m, nil
}

// ready is the readiness check: mariadb-admin ping through the unix socket
// in our own dir (so it is our server, not another one on the port).
func (m *MariaDB) ready() error {
	if _, err := os.Stat(m.Socket); err != nil {
		return err
	}
	_, err := runTool(10*time.Second, nil, m.Dir, m.admin, "--no-defaults", "--connect-timeout=2", "-S", m.Socket, "-u", m.User, "ping")
	return err
}

// StartMariaDB initializes a fresh data dir (mariadb-install-db) and starts
// mariadbd on a free loopback port with utf8mb4 as the server character
// set, and creates the database "sessions". It is stopped and its dir
// removed in t.Cleanup. Without the binaries, or when it cannot start, t is
// skipped (failed with [Require]).
func StartMariaDB(t testing.TB) *MariaDB {
	t.Helper()
	m, err := startMariaDB()
	if err != nil {
		fail(t, err)
	}
	m.tb = t
	t.Cleanup(m.close)
	return m
}

// StartMariaDBDurable is StartMariaDB with innodb_flush_log_at_trx_commit
// 2: a commit is acknowledged only once its redo log is written to the
// operating system, so Kill (SIGKILL) and Start lose no acknowledged
// write. (The log is not fsynced at each commit: the machine does not
// crash in these tests, only the server.)
func StartMariaDBDurable(t testing.TB) *MariaDB {
	t.Helper()
	m, err := startMariaDB(true)
	if err != nil {
		fail(t, err)
	}
	m.tb = t
	t.Cleanup(m.close)
	return m
}

// URL returns "mysql://root@127.0.0.1:port/sessions".
func (m *MariaDB) URL() string { return m.DatabaseURL(m.Database) }

// DatabaseURL returns the URL of database db on this server.
func (m *MariaDB) DatabaseURL(db string) string {
	return fmt.Sprintf("mysql://%s@%s/%s", m.User, addr(m.Port), db)
}

// SQL runs query (several statements may be separated by ';') in database
// db ("" for none) with the mariadb client over TCP, in batch mode without
// column names, and returns its output (tab-separated) without the
// trailing newline.
func (m *MariaDB) SQL(db, query string) (string, error) {
	args := []string{"--no-defaults", "-h", m.Host, "-P", strconv.Itoa(m.Port), "-u", m.User, "-N", "-B", "-e", query}
	if db != "" {
		args = append(args, db)
	}
	out, err := runTool(30*time.Second, nil, m.Dir, m.client, args...)
	return strings.TrimRight(string(out), "\n"), err
}

// CreateDatabase creates database name (utf8mb4), failing t on error.
// Tests on [SharedMariaDB] can use it to get a database of their own.
func (m *MariaDB) CreateDatabase(t testing.TB, name string) {
	t.Helper()
	q := "CREATE DATABASE `" + strings.ReplaceAll(name, "`", "``") + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
	if _, err := m.SQL("", q); err != nil {
		t.Fatalf("testservers: %v", err)
	}
}

// Stop shuts the server down cleanly (SIGTERM) and waits until the
// process is gone. Stopping a stopped server does nothing.
func (m *MariaDB) Stop() { m.proc.stop(syscall.SIGTERM, 30*time.Second) }

// Kill kills the server with SIGKILL (a crash; InnoDB recovers on the next
// Start, but with innodb_flush_log_at_trx_commit=0 the last second of
// commits may be lost, unless the server was started with
// [StartMariaDBDurable]) and waits until the process is gone.
func (m *MariaDB) Kill() { m.proc.stop(syscall.SIGKILL, 0) }

// Start starts a stopped server again on the same port and data dir and
// waits until it answers. Starting a running server does nothing. A
// failure fails the test that started the server.
func (m *MariaDB) Start() {
	if m.proc.running() {
		return
	}
	if err := m.proc.startAndWait(m.ready); err != nil {
		restartFailed(m.tb, err)
	}
}

func (m *MariaDB) close() {
	m.proc.stop(syscall.SIGKILL, 0) // the data dir is thrown away
	removeDir(m.Dir)
}

var sharedMariaDB struct {
	once sync.Once
	m    *MariaDB
	err  error
}

// SharedMariaDB returns a MariaDB server that is started once per test
// binary (on first use) and shared by every caller; it dies with the test
// binary (see [SharedRedis]). Tests using it must use their own table
// names or their own databases ([MariaDB.CreateDatabase]) and must not Stop
// or Start it.
func SharedMariaDB(t testing.TB) *MariaDB {
	t.Helper()
	sharedMariaDB.once.Do(func() { sharedMariaDB.m, sharedMariaDB.err = startMariaDB() })
	if sharedMariaDB.err != nil {
		fail(t, sharedMariaDB.err)
	}
	return sharedMariaDB.m
}
