// Package interop drives a real Django (Debian's python3-django) to check
// that Go and Django read and write each other's sessions. Its tests run
// in `make test`; `make deps` installs Django 4.2 from bookworm-backports
// and unpacks Django 3.2 (bookworm's own) and 5.2 (sid's) beside it.
//
// The package holds only test support: Django runs the script
// django_helper.py with /usr/bin/python3, one batch of commands per call,
// in a new process for each batch or, for a [Django.Pooled] Django, in a
// process per configuration that answers every batch of a test.
package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/sessionkit/sessions/internal/pyjson"
	"github.com/sessionkit/sessions/internal/syncbuf"
)

// Python is Debian's interpreter, which sees python3-django (the pyenv
// shim usually first on PATH does not).
const Python = "/usr/bin/python3"

// Django is one Django version available to the tests.
type Django struct {
	Version    string // "5.2.18", "4.2.21", "3.2.25"
	pythonPath string
	pool       *pool // nil: a new process for every batch
}

// Major returns the version as major.minor, for test names.
func (d Django) Major() string {
	parts := strings.SplitN(d.Version, ".", 3)
	if len(parts) < 2 {
		return d.Version
	}
	return parts[0] + "." + parts[1]
}

// AtLeast reports whether this Django is version major.minor or later,
// for example AtLeast("4.1").
func (d Django) AtLeast(version string) bool { return majorAtLeast(d.Major(), version) }

// HasFallbacks reports whether this Django knows SECRET_KEY_FALLBACKS (4.1+).
func (d Django) HasFallbacks() bool { return d.AtLeast("4.1") }

// ReadsISOExpiry reports whether this Django reads an ISO-8601 string in
// _session_expiry, as SetExpiryAt writes (4.1+; 3.2 raises TypeError).
func (d Django) ReadsISOExpiry() bool { return d.AtLeast("4.1") }

// majorAtLeast compares "major.minor" versions.
func majorAtLeast(have, want string) bool {
	if want == "" {
		return true
	}
	var hm, hn, wm, wn int
	fmt.Sscanf(have, "%d.%d", &hm, &hn)
	fmt.Sscanf(want, "%d.%d", &wm, &wn)
	return hm > wm || hm == wm && hn >= wn
}

// Command returns a command running Debian's python3 with args under this
// Django (its PYTHONPATH set), killed when ctx is done, for tests that
// drive Django with their own scripts.
func (d Django) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, Python, args...)
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	if d.pythonPath != "" {
		cmd.Env = append(cmd.Env, "PYTHONPATH="+d.pythonPath)
	}
	return cmd
}

// Cmd is one command for django_helper.py.
type Cmd map[string]any

// Result is one command's result.
type Result map[string]any

// Err returns the exception class Django raised, or "".
func (r Result) Err() string { s, _ := r["error"].(string); return s }

// requireDjango reports whether a missing Django is a failure.
func requireDjango() bool { return os.Getenv("SESSIONS_REQUIRE_SERVERS") == "1" }

func helperPath() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "django_helper.py")
}

// unpackedDir is where scripts/install-deps.sh unpacks the Debian
// package of Django major.minor (3.2 from bookworm, 5.2 from sid).
func unpackedDir(version string) string {
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, _ := os.UserHomeDir()
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "sessionkit", "django-"+version, "usr", "lib", "python3", "dist-packages")
}

// Versions returns the Django versions installed, newest first: 5.2
// (sid's python3-django, unpacked by make deps), 4.2 (Debian's
// python3-django from bookworm-backports) and 3.2 (unpacked by make
// deps). A missing or wrong version skips the test, or fails it when
// SESSIONS_REQUIRE_SERVERS=1.
func Versions(t testing.TB) []Django {
	t.Helper()
	var out []Django
	for _, want := range []struct{ major, pythonPath string }{
		{"5.2", unpackedDir("5.2")},
		{"4.2", ""},
		{"3.2", unpackedDir("3.2")},
	} {
		d := Django{pythonPath: want.pythonPath}
		res, err := d.run([]Cmd{{"op": "version"}})
		if err == nil {
			d.Version, _ = res[0]["version"].(string)
			if d.Major() != want.major {
				err = fmt.Errorf("found Django %q", d.Version)
			}
		}
		if err != nil {
			msg := fmt.Sprintf("Django %s not available (PYTHONPATH=%q): %v; run make deps", want.major, want.pythonPath, err)
			if requireDjango() {
				t.Fatal(msg)
			}
			t.Log(msg)
			continue
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		t.Skip("no Django installed; run make deps")
	}
	return out
}

// Run executes commands in one Django process and returns their results.
func (d Django) Run(t testing.TB, cmds ...Cmd) []Result {
	t.Helper()
	res, err := d.batch(nil, cmds)
	if err != nil {
		t.Fatalf("Django %s: %v", d.Version, err)
	}
	return res
}

// batch runs cmds under the settings conf (nil: the helper's defaults),
// in the pool's process for conf, or else in a new process.
func (d Django) batch(conf map[string]any, cmds []Cmd) ([]Result, error) {
	if d.pool != nil {
		return d.pool.run(d, conf, cmds)
	}
	if conf != nil {
		all := append([]Cmd{{"op": "configure", "settings": conf}}, cmds...)
		res, err := d.run(all)
		if err != nil {
			return nil, err
		}
		return res[1:], nil
	}
	return d.run(cmds)
}

// Pooled returns d with a pool of Django processes that stay up until t
// ends, one for each configuration, so that a test's batches do not each
// start Django again (half a second every time). Each process still
// reads and writes only through the configured store, as a fresh one
// does; what it keeps between batches is Django's settings and its
// connections.
func (d Django) Pooled(t testing.TB) Django {
	p := &pool{procs: map[string]*process{}}
	t.Cleanup(p.close)
	d.pool = p
	return d
}

// pool holds one running django_helper.py --serve per configuration.
type pool struct {
	mu    sync.Mutex
	procs map[string]*process
}

// process is one running django_helper.py --serve.
type process struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	stderr *syncbuf.Buffer
}

func (p *pool) run(d Django, conf map[string]any, cmds []Cmd) ([]Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := Canon(conf)
	proc := p.procs[key]
	if proc == nil {
		var err error
		if proc, err = d.serve(conf); err != nil {
			return nil, err
		}
		p.procs[key] = proc
	}
	res, err := proc.batch(cmds)
	if err != nil {
		// The process is gone or out of step: the next batch starts another.
		proc.stop()
		delete(p.procs, key)
	}
	return res, err
}

func (p *pool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for key, proc := range p.procs {
		proc.stop()
		delete(p.procs, key)
	}
}

// serve starts a process and configures it with conf.
func (d Django) serve(conf map[string]any) (*process, error) {
	cmd := d.Command(context.Background(), helperPath(), "--serve")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	proc := &process{cmd: cmd, stdin: stdin, stdout: bufio.NewReader(stdout), stderr: &syncbuf.Buffer{}}
	cmd.Stderr = proc.stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	configure := Cmd{"op": "configure"}
	if conf != nil {
		configure["settings"] = conf
	}
	if _, err := proc.batch([]Cmd{configure}); err != nil {
		proc.stop()
		return nil, fmt.Errorf("starting Django: %w", err)
	}
	return proc, nil
}

// batch sends one line of commands and reads one line of results.
func (proc *process) batch(cmds []Cmd) ([]Result, error) {
	in, err := pyjson.Marshal(toAny(cmds))
	if err != nil {
		return nil, err
	}
	if _, err := proc.stdin.Write(append(in, '\n')); err != nil {
		return nil, proc.failed(err)
	}
	line, err := proc.stdout.ReadBytes('\n')
	if err != nil {
		return nil, proc.failed(err)
	}
	return results(line, len(cmds))
}

// failed describes a process that stopped answering, with its last words.
func (proc *process) failed(err error) error {
	proc.stop()
	return fmt.Errorf("%v: %s", err, lastLines(proc.stderr.String(), 8))
}

// stop closes the process's stdin, which ends it, and waits for it.
func (proc *process) stop() {
	proc.stdin.Close()
	proc.cmd.Wait()
}

func (d Django) run(cmds []Cmd) ([]Result, error) {
	in, err := pyjson.Marshal(toAny(cmds))
	if err != nil {
		return nil, err
	}
	cmd := d.Command(context.Background(), helperPath())
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%v: %s", err, lastLines(stderr.String(), 8))
	}
	return results(out, len(cmds))
}

// results decodes the helper's list of n results.
func results(out []byte, n int) ([]Result, error) {
	v, err := pyjson.Decode(out)
	if err != nil {
		return nil, fmt.Errorf("bad output %.200q: %v", out, err)
	}
	list, ok := v.([]any)
	if !ok || len(list) != n {
		return nil, fmt.Errorf("want %d results, got %.200q", n, out)
	}
	res := make([]Result, len(list))
	for i, r := range list {
		m, _ := r.(map[string]any)
		res[i] = Result(m)
	}
	return res, nil
}

func toAny(cmds []Cmd) []any {
	out := make([]any, len(cmds))
	for i, c := range cmds {
		out[i] = map[string]any(c)
	}
	return out
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Canon returns v in a canonical JSON form (Python-compatible, sorted
// keys, exact numbers), for comparing values across Go and Django.
func Canon(v any) string {
	b, err := pyjson.Marshal(normalize(v))
	if err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	return string(b)
}

func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = normalize(e)
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	case int:
		return int64(x)
	case nil, bool, string, int64, float64, *big.Int:
		return x
	}
	// Round-trip anything else through JSON to its generic form.
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	g, err := pyjson.Decode(b)
	if err != nil {
		return v
	}
	return g
}
