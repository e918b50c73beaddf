package shape

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// engineInterfaces returns the names of the interfaces package sessions
// declares in engine.go and stats.go under root: Backend, Engine,
// ClientSide and the optional ones.
func engineInterfaces(t *testing.T, root string) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	fset := token.NewFileSet()
	for _, name := range []string{"engine.go", "stats.go"} {
		f, err := parser.ParseFile(fset, filepath.Join(root, name), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if ts, ok := n.(*ast.TypeSpec); ok && ts.Name.IsExported() {
				if _, ok := ts.Type.(*ast.InterfaceType); ok {
					names[ts.Name.Name] = true
				}
			}
			return true
		})
	}
	if !names["Engine"] || !names["Swapper"] || !names["Counter"] {
		t.Fatalf("engine interfaces found: %v; want Engine, Swapper, Counter among them", names)
	}
	return names
}

// engineAssertions returns where src, a Go file, type-asserts a value to
// one of the interfaces of package sessions named in ifaces (as x.(T) or
// as a case of a type switch), with sessions imported under name.
func engineAssertions(fset *token.FileSet, path string, src []byte, ifaces map[string]bool) ([]string, error) {
	f, err := parser.ParseFile(fset, path, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	pkg := ""
	for _, imp := range f.Imports {
		if imp.Path.Value == `"github.com/sessionkit/sessions"` {
			pkg = "sessions"
			if imp.Name != nil {
				pkg = imp.Name.Name
			}
		}
	}
	if pkg == "" {
		return nil, nil
	}
	var out []string
	check := func(typ ast.Expr) {
		if sel, ok := typ.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == pkg && ifaces[sel.Sel.Name] {
				out = append(out, fset.Position(typ.Pos()).String()+": "+pkg+"."+sel.Sel.Name)
			}
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.TypeAssertExpr:
			if x.Type != nil {
				check(x.Type)
			}
		case *ast.TypeSwitchStmt:
			for _, c := range x.Body.List {
				for _, typ := range c.(*ast.CaseClause).List {
					check(typ)
				}
			}
		}
		return true
	})
	return out, nil
}

// TestCLIAsksTheManager checks that cmd/sessions never type-asserts an
// engine: the Manager says what the engine can do (Describe) and does it
// (Keys, Inspect, Stats, ClearExpired, DeleteUser).
func TestCLIAsksTheManager(t *testing.T) {
	root := moduleRoot(t)
	ifaces := engineInterfaces(t, root)
	dir := filepath.Join(root, "cmd", "sessions")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	files := 0
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		found, err := engineAssertions(fset, filepath.Join("cmd", "sessions", name), src, ifaces)
		if err != nil {
			t.Fatal(err)
		}
		files++
		for _, w := range found {
			t.Errorf("%s: cmd/sessions type-asserts an engine; ask the Manager (Describe and its methods) instead", w)
		}
	}
	if files < 5 {
		t.Fatalf("read only %d files of cmd/sessions", files)
	}
}

// TestEngineAssertions checks the search itself on sources made for it.
func TestEngineAssertions(t *testing.T) {
	ifaces := map[string]bool{"Swapper": true, "Lister": true}
	cases := []struct {
		name, src string
		want      int
	}{
		{"assertion", "package p\nimport \"github.com/sessionkit/sessions\"\nfunc f(m *sessions.Manager) bool { _, ok := m.Backend().(sessions.Swapper); return ok }\n", 1},
		{"renamed import", "package p\nimport s \"github.com/sessionkit/sessions\"\nfunc f(b s.Backend) bool { _, ok := b.(s.Lister); return ok }\n", 1},
		{"type switch", "package p\nimport \"github.com/sessionkit/sessions\"\nfunc f(b sessions.Backend) { switch b.(type) { case sessions.Swapper, sessions.Lister: } }\n", 2},
		{"another type", "package p\nimport \"github.com/sessionkit/sessions\"\nfunc f(v any) bool { _, ok := v.(sessions.Settings); return ok }\n", 0},
		{"no import", "package p\nfunc f(v any) bool { _, ok := v.(error); return ok }\n", 0},
	}
	for _, c := range cases {
		found, err := engineAssertions(token.NewFileSet(), "p.go", []byte(c.src), ifaces)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if len(found) != c.want {
			t.Errorf("%s: found %v, want %d", c.name, found, c.want)
		}
	}
}
