package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sessionkit/sessions"
)

// secretFileName is the file in the data directory that keeps the demo's
// generated SECRET_KEY.
const secretFileName = "secret_key"

// runDemo is "sessions demo": it serves the shop until ctx ends (SIGINT
// or SIGTERM), then shuts down gracefully and closes the engine.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("demo", "demo [--engine URL] [--addr HOST:PORT] [--data-dir DIR] [--debug-api]", `
Run the demo shop: a small web shop that keeps everything a session is for
in the session (who is logged in, a cart, a three-step checkout, theme and
language, "remember me"), on any engine. The about page shows the stored
session as Django sees it; "Your devices" lists where you are logged in
and ends those sessions (on engines with a user index; the demo records
session metadata unless SESSION_DEVICES says otherwise).

The engine is --engine, else SESSION_ENGINE, else an SQLite file in the
data directory. The data directory (created with mode 0700) also holds the
secret key when SECRET_KEY is not set: the demo makes one and keeps it in
<data-dir>/secret_key (mode 0600), so sessions survive a restart. With
SESSION_ENGINE=file and no SESSION_FILE_PATH, sessions go to
<data-dir>/sessions; "db" without SESSION_DATABASE_URL means the SQLite
file. SIGINT or SIGTERM stops the server gracefully.

`+settingsHelp, args, stdout, stderr)
	engine := fs.String("engine", "", "the session engine (URL or Django engine name); default $SESSION_ENGINE, else sqlite:///<data-dir>/sessions.sqlite3")
	addr := fs.String("addr", "127.0.0.1:8000", "the address to listen on (port 0: any free port)")
	dataDir := fs.String("data-dir", "sessionkit-demo", "the directory for the demo's data: the SQLite file, session files, the generated secret key")
	debugAPI := fs.Bool("debug-api", false, "serve the debug tools: GET, POST and DELETE /api/session, to read and change the caller's session as JSON (for scripts and tests); /metrics, live counts of the engine's calls and the session decisions (conflicts merged, interrupts, idle refreshes) as a page, JSON or text; and a slow \"add to cart\" that holds its request, so that two tabs collide")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sessions demo: unexpected argument %q\n", fs.Arg(0))
		return 2
	}

	c, err := demoSettings(*engine, *dataDir, stderr)
	if err != nil {
		return fail(stderr, "demo", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	c.settings.Logger = logger
	var met *metrics
	if *debugAPI {
		met = newMetrics()
		c.settings.Observer = met
	}
	m, err := sessions.Open(ctx, c.cfg, c.settings)
	if err != nil {
		return fail(stderr, "demo", err)
	}
	defer m.Close()
	s, err := newShop(m, shopOptions{
		DebugAPI: *debugAPI,
		Metrics:  met,
		Info:     shopInfo{Config: sessions.Redact(c.cfg), DataDir: c.dir, SecretFrom: c.secretFrom},
		Logger:   logger,
	})
	if err != nil {
		return fail(stderr, "demo", err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fail(stderr, "demo", fmt.Errorf("%w (is another demo running? --addr 127.0.0.1:0 picks a free port)", err))
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	conns := trackConns(srv)
	io.WriteString(stdout, demoBanner(baseURL(ln.Addr()), m, c, s, *debugAPI))
	return serveDemo(ctx, srv, ln, conns, m, stdout, stderr)
}

// demoConfig is what the demo opens its engine with.
type demoConfig struct {
	settings   sessions.Settings
	cfg        string // the engine's config string
	dir        string // the data directory (absolute)
	secretFrom string // where the SECRET_KEY came from
}

// demoSettings reads the settings from the environment and fills in the
// demo's defaults: the data directory, the secret key kept there, and the
// engine (engine, else SESSION_ENGINE, else an SQLite file in the data
// directory; "db" and "file" without a location also use it).
func demoSettings(engine, dataDir string, stderr io.Writer) (demoConfig, error) {
	settings, err := sessions.SettingsFromEnv()
	if err != nil {
		return demoConfig{}, err
	}
	dir, err := prepareDataDir(dataDir, stderr)
	if err != nil {
		return demoConfig{}, err
	}
	secret, secretFrom, err := demoSecret(settings.SecretKey, dir)
	if err != nil {
		return demoConfig{}, err
	}
	settings.SecretKey = secret
	if _, set := os.LookupEnv("SESSION_DEVICES"); !set {
		settings.Devices.Enabled = true // the devices page shows the metadata
	}

	defaultDB := (&url.URL{Scheme: "sqlite", Path: filepath.ToSlash(filepath.Join(dir, "sessions.sqlite3")), RawQuery: "create_table=true"}).String()
	cfg := engine
	if cfg == "" {
		cfg = os.Getenv("SESSION_ENGINE")
	}
	if cfg == "" {
		cfg = defaultDB
	}
	settings.Engine = cfg
	if settings.DatabaseURL == "" {
		settings.DatabaseURL = defaultDB
	}
	if settings.FilePath == "" {
		settings.FilePath = filepath.Join(dir, "sessions")
		// Django's "file" engine name takes its directory from FilePath.
		if strings.TrimPrefix(cfg, "django.contrib.sessions.backends.") == "file" {
			if err := os.MkdirAll(settings.FilePath, 0o700); err != nil {
				return demoConfig{}, err
			}
		}
	}
	return demoConfig{settings: settings, cfg: cfg, dir: dir, secretFrom: secretFrom}, nil
}

// demoBanner returns the lines the demo prints when it starts: where it
// runs, on what, and the users to log in as.
func demoBanner(base string, m *sessions.Manager, c demoConfig, s *shop, debugAPI bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "sessionkit demo shop\n")
	fmt.Fprintf(&b, "  URL:      %s\n", base)
	fmt.Fprintf(&b, "  engine:   %s\n", describe(m))
	fmt.Fprintf(&b, "  config:   %s\n", sessions.Redact(c.cfg))
	fmt.Fprintf(&b, "  data dir: %s\n", c.dir)
	fmt.Fprintf(&b, "  secret:   %s\n", c.secretFrom)
	var users []string
	for _, u := range s.users {
		users = append(users, u.Username+" / "+u.Plain)
	}
	fmt.Fprintf(&b, "  users:    %s\n", strings.Join(users, ", "))
	if debugAPI {
		fmt.Fprintf(&b, "  API:      GET, POST, DELETE %sapi/session\n", base)
		fmt.Fprintf(&b, "  metrics:  %smetrics (?format=json, ?format=text)\n", base)
	}
	b.WriteString("Press Ctrl+C to stop.\n")
	return b.String()
}

// serveDemo serves srv on ln until ctx ends (SIGINT or SIGTERM), then
// shuts down gracefully and closes m. It returns the exit status.
func serveDemo(ctx context.Context, srv *http.Server, ln net.Listener, conns *connTracker, m *sessions.Manager, stdout, stderr io.Writer) int {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fail(stderr, "demo", err)
	case <-ctx.Done():
	}
	fmt.Fprintln(stdout, "Shutting down…")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code := 0
	// Browsers open connections ahead of need; net/http waits up to 5s
	// for a request on them before counting them idle. None carries a
	// request, so close them now: requests in flight still complete.
	shutdownDone := make(chan error, 1)
	go func() { shutdownDone <- srv.Shutdown(shutdownCtx) }()
	conns.closeNew()
	if err := <-shutdownDone; err != nil {
		fmt.Fprintf(stderr, "sessions demo: shutdown: %v\n", err)
		code = 1
	}
	if err := m.Close(); err != nil {
		fmt.Fprintf(stderr, "sessions demo: closing the engine: %v\n", err)
		code = 1
	}
	fmt.Fprintln(stdout, "Stopped.")
	return code
}

// connTracker knows the server's connections that have not yet sent a
// request.
type connTracker struct {
	mu    sync.Mutex
	fresh map[net.Conn]bool
}

// trackConns makes srv report its connections' states to a tracker.
func trackConns(srv *http.Server) *connTracker {
	c := &connTracker{fresh: map[net.Conn]bool{}}
	srv.ConnState = func(conn net.Conn, st http.ConnState) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if st == http.StateNew {
			c.fresh[conn] = true
		} else {
			delete(c.fresh, conn)
		}
	}
	return c
}

// closeNew closes the connections that never sent a request.
func (c *connTracker) closeNew() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for conn := range c.fresh {
		conn.Close()
		delete(c.fresh, conn)
	}
}

// baseURL returns the URL of the shop on a listener's address.
func baseURL(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return "http://" + a.String() + "/"
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}

// prepareDataDir creates the data directory (mode 0700) and returns its
// absolute path. It warns about a directory other users can reach. A new
// directory gets a .gitignore that ignores everything in it, so that
// running the demo in a checkout never offers the secret key or the
// sessions for a commit.
func prepareDataDir(dir string, stderr io.Writer) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	_, statErr := os.Stat(abs)
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return "", fmt.Errorf("data directory: %w", err)
	}
	if errors.Is(statErr, fs.ErrNotExist) {
		ignore := "# Made by \"sessions demo\": the demo's data (sessions, secret key) stay out of git.\n*\n"
		if err := os.WriteFile(filepath.Join(abs, ".gitignore"), []byte(ignore), 0o600); err != nil {
			return "", fmt.Errorf("data directory: %w", err)
		}
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("data directory: %w", err)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("data directory %s is not a directory", abs)
	}
	if st.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(stderr, "sessions demo: warning: other users can reach the data directory %s (mode %#o); chmod 700 it\n", abs, st.Mode().Perm())
	}
	return abs, nil
}

// demoSecret returns the SECRET_KEY to use and where it came from: the
// environment, else the key file in dir, else a new random key (as
// Django's get_random_secret_key makes) saved there with mode 0600.
func demoSecret(fromEnv, dir string) (secret, from string, err error) {
	if fromEnv != "" {
		return fromEnv, "from the SECRET_KEY environment variable", nil
	}
	path := filepath.Join(dir, secretFileName)
	for range 2 {
		b, err := os.ReadFile(path)
		if err == nil {
			s := strings.TrimSpace(string(b))
			if s == "" {
				return "", "", fmt.Errorf("the secret key file %s is empty; delete it to get a new key", path)
			}
			if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
				if err := os.Chmod(path, 0o600); err != nil {
					return "", "", fmt.Errorf("the secret key file %s is readable by others and cannot be fixed: %w", path, err)
				}
			}
			return s, "read from " + path + " (made by an earlier run; set SECRET_KEY to use your own)", nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", "", fmt.Errorf("secret key file: %w", err)
		}
		s := newSecretKey()
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue // another demo made it meanwhile: read it
		}
		if err != nil {
			return "", "", fmt.Errorf("saving the new secret key: %w", err)
		}
		_, err = f.WriteString(s + "\n")
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(path)
			return "", "", fmt.Errorf("saving the new secret key: %w", err)
		}
		return s, "no SECRET_KEY set: generated one and saved it in " + path + " (mode 0600)", nil
	}
	return "", "", fmt.Errorf("secret key file %s: created and removed concurrently", path)
}

// secretKeyLength is the length of Django's get_random_secret_key, which
// its check security.W009 wants at least.
const secretKeyLength = 50

// newSecretKey returns a new SECRET_KEY: secretKeyLength characters of
// a-z and 0-9 (about 258 bits), drawn as session keys are.
func newSecretKey() string {
	var b strings.Builder
	for b.Len() < secretKeyLength {
		b.WriteString(sessions.NewKey())
	}
	return b.String()[:secretKeyLength]
}
