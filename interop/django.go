// Package interop drives a real Django (Debian's python3-django) to check
// that Go and Django read and write each other's sessions. Its tests run
// in `make test`; `make deps` installs Django 4.2 from bookworm-backports
// and unpacks Django 3.2 (bookworm's own) and 5.2 (sid's) beside it.
//
// The package holds only test support: Django runs the script
// django_helper.py with /usr/bin/python3, one batch of commands per call.
package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/sessionkit/sessions/internal/pyjson"
)

// Python is Debian's interpreter, which sees python3-django (the pyenv
// shim usually first on PATH does not).
const Python = "/usr/bin/python3"

// Django is one Django version available to the tests.
type Django struct {
	Version    string // "5.2.18", "4.2.21", "3.2.25"
	pythonPath string
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
	res, err := d.run(cmds)
	if err != nil {
		t.Fatalf("Django %s: %v", d.Version, err)
	}
	return res
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
	v, err := pyjson.Decode(out)
	if err != nil {
		return nil, fmt.Errorf("bad output %.200q: %v", out, err)
	}
	list, ok := v.([]any)
	if !ok || len(list) != len(cmds) {
		return nil, fmt.Errorf("want %d results, got %.200q", len(cmds), out)
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
