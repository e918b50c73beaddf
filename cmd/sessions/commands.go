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
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

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
	d := m.Describe()
	if d.Where == "" {
		return d.Name
	}
	return d.Name + " (" + d.Where + ")"
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

data is the session as stored: its keys, and those of nested objects, in
their stored order, written as Python's json module writes it. expiry_age
and expiry_date are Django's get_expiry_age() and get_expiry_date(): for a
session without a custom expiry, they count from now. stored_expiry, for
engines that keep one with the record (the database), is when the store
will drop it. For the signed-cookie engine, KEY is the cookie's value.
Exit status 1 if no live session is stored under KEY (or it was signed
with another SECRET_KEY).

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
	out, err := inspectSession(ctx, m, key, *raw)
	if errors.Is(err, errNoSession) {
		fmt.Fprintf(stderr, "sessions inspect: no session %s in %s: the key is unknown, expired or deleted, or the data were signed with another SECRET_KEY\n", abbreviate(key), describe(m))
		return 1
	}
	if err != nil {
		return fail(stderr, "inspect", err)
	}
	b, err := out.marshal()
	if err != nil {
		return fail(stderr, "inspect", err)
	}
	stdout.Write(b)
	return 0
}

// errNoSession is inspectSession's answer for a key with no live session.
var errNoSession = errors.New("no live session")

// inspectOutput is what "sessions inspect" prints, its fields in this
// order.
type inspectOutput struct {
	// Data is the session as Python's json module writes it.
	Data                 json.RawMessage `json:"data"`
	ExpiryAge            int64           `json:"expiry_age"`
	ExpiryDate           string          `json:"expiry_date"`
	ExpireAtBrowserClose bool            `json:"expire_at_browser_close"`
	StoredExpiry         string          `json:"stored_expiry,omitempty"`
	Raw                  *string         `json:"raw,omitempty"` // a pointer: an empty record prints ""
	RawBase64            string          `json:"raw_base64,omitempty"`
}

// inspectSession reads the session stored under key and, with withRaw,
// the stored string.
func inspectSession(ctx context.Context, m *sessions.Manager, key string, withRaw bool) (inspectOutput, error) {
	if !m.Describe().ClientSide && !sessions.ValidKey(key) {
		return inspectOutput{}, fmt.Errorf("%q is not a session key (%d to %d characters from a-z and 0-9)", key, sessions.MinKeyLength, sessions.MaxKeyLength)
	}
	s := m.Load(ctx, key)
	if err := s.Err(); err != nil {
		return inspectOutput{}, err
	}
	if s.Key() == "" {
		return inspectOutput{}, errNoSession
	}
	raw, storedExpiry, err := m.Inspect(ctx, key)
	if errors.Is(err, sessions.ErrNotFound) {
		return inspectOutput{}, errNoSession // deleted meanwhile
	}
	if err != nil {
		return inspectOutput{}, err
	}
	data, err := storedJSON(m, raw)
	if err != nil {
		return inspectOutput{}, err
	}
	out := inspectOutput{
		Data:                 data,
		ExpiryAge:            int64(s.ExpiryAge() / time.Second),
		ExpiryDate:           s.ExpiryDate().UTC().Format(time.RFC3339),
		ExpireAtBrowserClose: s.ExpireAtBrowserClose(),
	}
	if !storedExpiry.IsZero() {
		// The expiry the store holds for the record (the database's
		// expire_date), which the session's own view cannot know.
		out.StoredExpiry = storedExpiry.UTC().Format(time.RFC3339)
	}
	if withRaw {
		if utf8.Valid(raw) {
			str := string(raw)
			out.Raw = &str
		} else {
			out.RawBase64 = base64.StdEncoding.EncodeToString(raw)
		}
	}
	return out, nil
}

// storedJSON returns a stored record as Python's json module writes the
// session: decoded from the stored bytes, so that nested objects keep
// their stored key order and values their stored form (a copy of the
// session's entries into a new dict would lose both). For the
// signed-cookie engine the record is the cookie's value, which is the
// encoded session itself.
func storedJSON(m *sessions.Manager, raw []byte) ([]byte, error) {
	d := &codec.Dict{}
	if len(raw) > 0 { // else an empty session, as the Manager loads it
		var err error
		if d, err = m.Codec().Decode(raw); err != nil {
			return nil, err
		}
	}
	return codec.MarshalPython(d)
}

// marshal returns out as JSON indented with two spaces, the data as
// Python's json module writes them (its escapes kept, nothing escaped for
// HTML). Python writes NaN and Infinity, which JSON lacks and
// encoding/json refuses: such data are written on one line as Python
// wrote them.
func (out inspectOutput) marshal() ([]byte, error) {
	python := out.Data
	if !json.Valid(python) {
		out.Data = json.RawMessage("null")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	if json.Valid(python) {
		return b, nil
	}
	head := []byte("{\n  \"data\": ")
	if !bytes.HasPrefix(b, append(head, "null"...)) {
		return nil, errors.New("inspect: the output does not start with the data") // a changed struct
	}
	return slices.Concat(head, python, b[len(head)+len("null"):]), nil
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
var isTerminal = terminal

// terminal reports whether w is a character device: a terminal, or (the
// one false positive, harmless for progress output) /dev/null. Pipes,
// regular files and buffers are not.
func terminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// spinnerDelay is how long clearsessions runs before it shows progress.
var spinnerDelay = 300 * time.Millisecond

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
	d := m.Describe()
	if !d.Purges {
		// Nothing to remove: the store expires sessions by itself (Redis,
		// memcached), or the sessions live in the cookie.
		fmt.Fprintf(stdout, "Removed 0 expired sessions: the %s engine expires sessions by itself.\n", d.Name)
		return 0
	}
	var stop func()
	if isTerminal(stderr) {
		stop = startProgress(stderr, "Clearing expired sessions from "+d.Name)
	}
	start := time.Now()
	n, err := m.ClearExpired(ctx)
	if stop != nil {
		stop()
	}
	took := time.Since(start).Round(time.Millisecond)
	switch {
	case errors.Is(err, sessions.ErrUnsupported):
		fmt.Fprintf(stderr, "Session engine '%s' doesn't support clearing expired sessions.\n", sessions.Redact(cfg))
		return 1
	case err != nil && n > 0:
		fmt.Fprintf(stderr, "sessions clearsessions: removed %d expired sessions, then failed after %s: %v\n", n, took, err)
		return 1
	case err != nil:
		return fail(stderr, "clearsessions", err)
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
	if m.Describe().ClientSide {
		n++
		if !checkClientSide(ctx, m, stdout) {
			failed++
		}
	}
	fmt.Fprintf(stdout, "%d checks: %d passed, %d failed, %d skipped.\n", n, n-failed-skipped, failed, skipped)
	if failed > 0 {
		return 1
	}
	return 0
}

// checkClientSide checks a cookie engine with the settings' keys: a
// session saved into a cookie value and loaded from it again holds the
// same data.
func checkClientSide(ctx context.Context, m *sessions.Manager, stdout io.Writer) bool {
	want := sessions.NewKey()
	s := m.NewSession(ctx)
	s.Set("check", want)
	err := s.Save(ctx)
	if err == nil {
		got := m.Load(ctx, s.Key())
		if err = got.Err(); err == nil && got.Get("check") != want {
			err = errors.New("the session loaded from the cookie does not hold the saved data")
		}
	}
	if err != nil {
		fmt.Fprintf(stdout, "  FAIL  SignedRoundTrip\n        %v\n", err)
		return false
	}
	fmt.Fprintln(stdout, "  OK    SignedRoundTrip (the session lives in the signed cookie: there is no store to check)")
	return true
}
