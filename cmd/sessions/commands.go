package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/mattn/go-isatty"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/codec"
	"github.com/sessionkit/sessions/conformance"
)

// --- shared -------------------------------------------------------------------------

// newFlags returns the flag set of a command. --help prints the usage to
// stdout; flag errors go to stderr.
func newFlags(name, usageLine, help string, args []string, stdout, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" || a == "--h" {
			fs.SetOutput(stdout)
		}
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: sessions %s\n\n%s\n", usageLine, strings.TrimSpace(help))
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintf(fs.Output(), "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args; when it returns false the command must exit
// with the code (0 after --help, 2 after a bad flag).
func parseFlags(fs *flag.FlagSet, args []string) (bool, int) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return false, 0
		}
		return false, 2
	}
	return true, 0
}

// engineFlagHelp documents the --engine flag of every command.
const engineFlagHelp = "the session engine: a URL such as sqlite:///path/db.sqlite3 or redis://host:6379/0, or a Django engine name (db, file, cache, cached_db, signed_cookies); default $SESSION_ENGINE, else db"

// settingsHelp ends the help of the commands that open an engine.
const settingsHelp = `Settings come from the environment under Django's names: SESSION_ENGINE,
SECRET_KEY (required: the key that signed the sessions), SECRET_KEY_FALLBACKS,
SESSION_COOKIE_AGE, SESSION_COOKIE_NAME, SESSION_FILE_PATH (for "file"),
SESSION_DATABASE_URL (for "db"), SESSION_CACHE_URL (for "cache"), ...`

// errNoSecret explains a missing SECRET_KEY.
var errNoSecret = errors.New(`SECRET_KEY is not set: it must be the SECRET_KEY of the application whose sessions these are (Django's SECRET_KEY), with SECRET_KEY_FALLBACKS for older keys. For the demo's sessions: export SECRET_KEY="$(cat sessionkit-demo/secret_key)"`)

// openConfigured reads the settings from the environment and opens the
// engine named by the --engine flag (or SESSION_ENGINE, or "db").
func openConfigured(ctx context.Context, engine string, stderr io.Writer) (*sessions.Manager, string, error) {
	s, err := sessions.SettingsFromEnv()
	if err != nil {
		return nil, "", err
	}
	s.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg := engine
	if cfg == "" {
		cfg = s.Engine
	}
	s.Engine = cfg
	if s.SecretKey == "" {
		return nil, cfg, errNoSecret
	}
	m, err := sessions.Open(ctx, cfg, s)
	return m, cfg, err
}

// describe returns the engine's name and, if it says, where it keeps the
// data.
func describe(m *sessions.Manager) string {
	if d, ok := m.Backend().(sessions.Describer); ok {
		return m.Describe().Name + " (" + d.Describe() + ")"
	}
	return m.Describe().Name
}

// fail prints err for cmd and returns exit status 1.
func fail(stderr io.Writer, cmd string, err error) int {
	fmt.Fprintf(stderr, "sessions %s: %v\n", cmd, err)
	return 1
}

// --- engines -----------------------------------------------------------------------

// runEngines is "sessions engines".
func runEngines(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("engines", "engines [--json]", `
List the session engines compiled into this program, with the config
strings (SESSION_ENGINE or --engine) that open them.`, args, stdout, stderr)
	asJSON := fs.Bool("json", false, "print the list as JSON")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sessions engines: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	engines := sessions.Engines()
	if *asJSON {
		type entry struct {
			Scheme  string   `json:"scheme"`
			Aliases []string `json:"aliases"`
			Forms   []string `json:"forms"`
			Doc     string   `json:"doc"`
		}
		out := make([]entry, 0, len(engines))
		for _, e := range engines {
			out = append(out, entry{e.Scheme, nonNil(e.Aliases), nonNil(e.Forms), e.Doc})
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return fail(stderr, "engines", err)
		}
		return 0
	}
	var b strings.Builder
	b.WriteString("Session engines (set SESSION_ENGINE or --engine to one of these config strings):\n")
	for _, e := range engines {
		b.WriteString("\n  " + e.Scheme)
		if len(e.Aliases) > 0 {
			b.WriteString(" (also " + strings.Join(e.Aliases, ", ") + ")")
		}
		b.WriteString("\n")
		if e.Doc != "" {
			b.WriteString("      " + e.Doc + "\n")
		}
		for _, f := range e.Forms {
			b.WriteString("      " + f + "\n")
		}
	}
	b.WriteString(`
Django's engine names also work, with or without the
"django.contrib.sessions.backends." prefix:
  db              SESSION_DATABASE_URL (default: the SQLite file db.sqlite3 here)
  file            SESSION_FILE_PATH
  cache           SESSION_CACHE_URL
  cached_db       SESSION_CACHE_URL and SESSION_DATABASE_URL
  signed_cookies  no storage: the session lives in the cookie
`)
	io.WriteString(stdout, b.String())
	return 0
}

// nonNil returns s, or an empty slice for nil (JSON [] rather than null).
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// --- inspect -----------------------------------------------------------------------

// runInspect is "sessions inspect KEY".
func runInspect(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("inspect", "inspect [--engine URL] [--raw] KEY", `
Print the session stored under KEY as Django decodes it, as JSON:

  {"data": {...}, "expiry_age": 1209600, "expiry_date": "...", "expire_at_browser_close": false}

data keeps the session's keys in their stored order and is written as
Python's json module writes it. expiry_age and expiry_date are Django's
get_expiry_age() and get_expiry_date(): for a session without a custom
expiry, they count from now. stored_expiry, for engines that keep one
with the record (the database), is when the store will drop it. For the signed-cookie engine, KEY is the
cookie's value. Exit status 1 if no live session is stored under KEY (or
it was signed with another SECRET_KEY).

`+settingsHelp, args, stdout, stderr)
	engine := fs.String("engine", "", engineFlagHelp)
	raw := fs.Bool("raw", false, `also print the stored string ("raw"), or "raw_base64" for a binary format`)
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "sessions inspect: want exactly one session key (see sessions inspect --help)")
		return 2
	}
	key := fs.Arg(0)
	m, _, err := openConfigured(ctx, *engine, stderr)
	if err != nil {
		return fail(stderr, "inspect", err)
	}
	defer m.Close()
	_, client := m.Backend().(sessions.ClientSide)
	if !client && !sessions.ValidKey(key) {
		return fail(stderr, "inspect", fmt.Errorf("%q is not a session key (%d to %d characters from a-z and 0-9)", key, sessions.MinKeyLength, sessions.MaxKeyLength))
	}
	s := m.Load(ctx, key)
	if err := s.Err(); err != nil {
		return fail(stderr, "inspect", err)
	}
	if s.Key() == "" {
		fmt.Fprintf(stderr, "sessions inspect: no session %s in %s: the key is unknown, expired or deleted, or the data were signed with another SECRET_KEY\n", abbreviate(key), describe(m))
		return 1
	}
	d := &codec.Dict{}
	for k, v := range s.All() {
		d.Set(k, v)
	}
	data, err := codec.MarshalPython(d)
	if err != nil {
		return fail(stderr, "inspect", err)
	}
	var out bytes.Buffer
	out.WriteString(`{"data": `)
	out.Write(data)
	fmt.Fprintf(&out, `, "expiry_age": %d, "expiry_date": %q, "expire_at_browser_close": %t`,
		int64(s.ExpiryAge()/time.Second), s.ExpiryDate().UTC().Format(time.RFC3339), s.ExpireAtBrowserClose())
	if er, ok := m.Backend().(sessions.ExpiryReader); ok && !client {
		// The expiry the store holds for the record (the engine's
		// expire_date), which the session's own view cannot know.
		if _, exp, err := er.LoadExpiry(ctx, key); err == nil {
			fmt.Fprintf(&out, `, "stored_expiry": %q`, exp.UTC().Format(time.RFC3339))
		}
	}
	if *raw {
		var stored []byte
		if client {
			stored = []byte(key)
		} else {
			rec, err := m.Inspect(ctx, key)
			if err != nil {
				return fail(stderr, "inspect", err)
			}
			stored = rec.Raw
		}
		if utf8.Valid(stored) {
			out.WriteString(`, "raw": `)
			b, _ := json.Marshal(string(stored))
			out.Write(b)
		} else {
			fmt.Fprintf(&out, `, "raw_base64": %q`, base64.StdEncoding.EncodeToString(stored))
		}
	}
	out.WriteString("}")
	var pretty bytes.Buffer
	if json.Indent(&pretty, out.Bytes(), "", "  ") == nil {
		out = pretty
	}
	out.WriteString("\n")
	stdout.Write(out.Bytes())
	return 0
}

// abbreviate shortens a session key for messages: keys are secrets.
func abbreviate(key string) string {
	if len(key) <= 8 {
		return strconv.Quote(key)
	}
	return strconv.Quote(key[:8] + "…")
}

// --- clearsessions -------------------------------------------------------------

// isTerminal reports whether w is a terminal, where progress is shown.
var isTerminal = func(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// spinnerDelay is how long clearsessions runs before it shows progress.
var spinnerDelay = 300 * time.Millisecond

// nativeExpirySchemes are the engines whose store expires sessions by
// itself: clearsessions has nothing to do for them.
var nativeExpirySchemes = []string{"redis", "rediss", "redis+cluster", "redis+sentinel", "memcached", "memcache", "signed-cookies"}

// hasNativeExpiry reports whether the engine's store expires sessions by
// itself, so that clearsessions has nothing to do.
func hasNativeExpiry(m *sessions.Manager, cfg string) bool {
	if _, ok := m.Backend().(sessions.ClientSide); ok {
		return true
	}
	if slices.Contains(nativeExpirySchemes, strings.ToLower(m.Describe().Name)) {
		return true
	}
	if resolved, err := sessions.ResolveConfig(cfg, m.Settings()); err == nil {
		if u, err := url.Parse(resolved); err == nil && slices.Contains(nativeExpirySchemes, strings.ToLower(u.Scheme)) {
			return true
		}
	}
	return false
}

// runClearSessions is "sessions clearsessions".
func runClearSessions(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("clearsessions", "clearsessions [--engine URL]", `
Remove the expired sessions from the store, as Django's clearsessions
command, and print how many were removed. Databases, files and bbolt keep
expired sessions until then (they are never served, only kept); run it
from cron. Engines that expire sessions by themselves (Redis, memcached,
signed cookies) have nothing to remove. On a terminal, a progress line
shows on stderr while it runs.

`+settingsHelp, args, stdout, stderr)
	engine := fs.String("engine", "", engineFlagHelp)
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sessions clearsessions: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	m, cfg, err := openConfigured(ctx, *engine, stderr)
	if err != nil {
		return fail(stderr, "clearsessions", err)
	}
	defer m.Close()
	var stop func()
	if isTerminal(stderr) {
		stop = startProgress(stderr, "Clearing expired sessions from "+m.Describe().Name)
	}
	start := time.Now()
	n, err := m.ClearExpired(ctx)
	if stop != nil {
		stop()
	}
	took := time.Since(start).Round(time.Millisecond)
	switch {
	case errors.Is(err, sessions.ErrUnsupported) && hasNativeExpiry(m, cfg):
		fmt.Fprintf(stdout, "Removed 0 expired sessions: the %s engine expires sessions by itself.\n", m.Describe().Name)
		return 0
	case errors.Is(err, sessions.ErrUnsupported):
		fmt.Fprintf(stderr, "Session engine '%s' doesn't support clearing expired sessions.\n", sessions.Redact(cfg))
		return 1
	case err != nil:
		if n > 0 {
			fmt.Fprintf(stderr, "sessions clearsessions: removed %d expired sessions, then failed after %s: %v\n", n, took, err)
			return 1
		}
		return fail(stderr, "clearsessions", err)
	}
	if n == 0 && hasNativeExpiry(m, cfg) {
		fmt.Fprintf(stdout, "Removed 0 expired sessions: the %s engine expires sessions by itself.\n", m.Describe().Name)
		return 0
	}
	fmt.Fprintf(stdout, "Removed %d expired %s from %s in %s.\n", n, plural(n, "session", "sessions"), describe(m), took)
	return 0
}

// plural returns one or many for n.
func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// startProgress shows a spinner with the elapsed time on w (a terminal)
// once spinnerDelay has passed, until the returned func is called, which
// erases it.
func startProgress(w io.Writer, label string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		frames := []string{"|", "/", "-", `\`}
		start := time.Now()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		shown := false
		for i := 0; ; i++ {
			select {
			case <-done:
				if shown {
					fmt.Fprint(w, "\r\x1b[K")
				}
				return
			case <-tick.C:
				el := time.Since(start)
				if el < spinnerDelay {
					continue
				}
				shown = true
				fmt.Fprintf(w, "\r\x1b[K%s %s… %s", frames[i%len(frames)], label, el.Truncate(100*time.Millisecond))
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// --- check -------------------------------------------------------------------------

// runCheck is "sessions check".
func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("check", "check [--engine URL] [--timeout D]", `
Open the configured engine and run the conformance suite's quick checks
against it: load, create, update, delete, expiry and key rules, and the
optional interfaces it implements. The checks create and delete a few
sessions of their own under fresh random keys and never touch others.
Each check prints OK, FAIL (with the reason) or SKIP (an optional
interface the engine does not have). Exit status 1 on any failure.

`+settingsHelp, args, stdout, stderr)
	engine := fs.String("engine", "", engineFlagHelp)
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sessions check: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	m, _, err := openConfigured(ctx, *engine, stderr)
	if err != nil {
		return fail(stderr, "check", err)
	}
	defer m.Close()
	fmt.Fprintf(stdout, "Checking %s\n", describe(m))
	failed, skipped := 0, 0
	results := conformance.CheckResults(ctx, m.Backend())
	for _, r := range results {
		switch {
		case r.Err != nil:
			failed++
			fmt.Fprintf(stdout, "  FAIL  %s\n        %v\n        rule: %s\n", r.Name, r.Err, r.Reason)
		case r.Skipped:
			skipped++
			fmt.Fprintf(stdout, "  SKIP  %s (%s)\n", r.Name, r.Why)
		default:
			fmt.Fprintf(stdout, "  OK    %s\n", r.Name)
		}
	}
	n := len(results)
	if c, ok := m.Backend().(sessions.ClientSide); ok {
		n++
		if !checkClientSide(ctx, m, c, stdout) {
			failed++
		}
	}
	fmt.Fprintf(stdout, "%d checks: %d passed, %d failed, %d skipped.\n", n, n-failed-skipped, failed, skipped)
	if failed > 0 {
		return 1
	}
	return 0
}

// checkClientSide checks a cookie engine with the settings' keys: session
// data encoded, sealed into a cookie value and opened again decode to the
// same data.
func checkClientSide(ctx context.Context, m *sessions.Manager, c sessions.ClientSide, stdout io.Writer) bool {
	want := sessions.NewKey()
	d := &codec.Dict{}
	d.Set("check", want)
	b, err := m.Codec().Encode(d)
	if err == nil {
		var v string
		if v, err = c.Seal(ctx, b); err == nil {
			var raw []byte
			if raw, err = c.Open(ctx, v); err == nil {
				var got *codec.Dict
				if got, err = m.Codec().Decode(raw); err == nil {
					if g, _ := got.Get("check"); g != want {
						err = errors.New("the opened cookie does not hold the sealed data")
					}
				}
			}
		}
	}
	if err != nil {
		fmt.Fprintf(stdout, "  FAIL  SignedRoundTrip\n        %v\n", err)
		return false
	}
	fmt.Fprintln(stdout, "  OK    SignedRoundTrip (the session lives in the signed cookie: there is no store to check)")
	return true
}
