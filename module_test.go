package sessions_test

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// testOnlyModules are modules that only tests need and that must never
// enter the library's module graph, where every user's build would carry
// them: the demo's browser tests (chromedp, cdproto), the independent
// pickle reader (og-rek) and the chi router example live in the e2e
// module; the frameworks (Gin, Echo, Fiber and its fasthttp) in the
// adapter modules under adapters/.
var testOnlyModules = []string{
	"github.com/chromedp/",
	"github.com/kisielk/og-rek",
	"github.com/go-chi/",
	"github.com/gin-gonic/",
	"github.com/labstack/echo",
	"github.com/gofiber/",
	"github.com/valyala/fasthttp",
}

// notDirect are modules this module's own code must not require: the
// terminal check of cmd/sessions is a Stat of the file. (go-isatty stays
// in the graph as an indirect requirement of modernc.org/libc, under the
// SQLite driver.)
var notDirect = []string{
	"github.com/mattn/go-isatty",
}

// goCmd runs the go command in the module root and returns its output.
func goCmd(t *testing.T, args ...string) []byte {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to read the module graph: %v", err)
	}
	cmd := exec.Command(goBin, args...)
	cmd.Env = append(cmd.Environ(), "GOWORK=off")
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, msg)
	}
	return out
}

// The library module stays lean: `go install .../cmd/sessions@latest`
// and every user's `go mod graph` see only what the library's packages
// need. A go.mod that requires a test-only module again (directly, or
// through a new dependency), requires go-isatty directly, or has a
// replace or exclude directive (which go install @latest refuses) fails
// here.
func TestLeanModule(t *testing.T) {
	var mod struct {
		Require []struct {
			Path     string
			Indirect bool
		}
		Replace []struct {
			Old struct{ Path string }
		}
		Exclude []struct{ Path string }
	}
	if err := json.Unmarshal(goCmd(t, "mod", "edit", "-json"), &mod); err != nil {
		t.Fatal(err)
	}
	if len(mod.Require) == 0 {
		t.Fatal("go mod edit -json lists no requirement: not the library's go.mod")
	}
	for _, r := range mod.Replace {
		t.Errorf("go.mod replaces %s: go install github.com/sessionkit/sessions/cmd/sessions@latest refuses a module with replace directives", r.Old.Path)
	}
	for _, e := range mod.Exclude {
		t.Errorf("go.mod excludes %s: go install github.com/sessionkit/sessions/cmd/sessions@latest refuses a module with exclude directives", e.Path)
	}
	for _, r := range mod.Require {
		for _, p := range notDirect {
			if r.Path == p && !r.Indirect {
				t.Errorf("go.mod requires %s directly", r.Path)
			}
		}
	}

	graph := string(goCmd(t, "mod", "graph"))
	if !strings.Contains(graph, "modernc.org/sqlite@") {
		t.Fatalf("go mod graph does not name modernc.org/sqlite: not the library's graph\n%s", graph)
	}
	for _, line := range strings.Split(graph, "\n") {
		for _, p := range testOnlyModules {
			if strings.Contains(line, p) {
				t.Errorf("go mod graph: %s: %s belongs in the e2e module or an adapter's", line, strings.TrimSuffix(p, "/"))
			}
		}
	}
}
