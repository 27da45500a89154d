package web

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// apiDoc is the API reference that must name every route the server registers.
const apiDoc = "../../docs/api.md"

// TestRoutesDocumented keeps docs/api.md in step with routes.go: every pattern the server registers must
// appear there in backquotes, method and path as written (`GET /api/programs/{name}/logs`). The patterns
// are read from the source, so a route added without a word in the manual fails here.
func TestRoutesDocumented(t *testing.T) {
	patterns := registeredPatterns(t)
	// The API's first and last routes in routes.go: if these are not found, the source no longer looks
	// the way registeredPatterns expects, and it would check nothing.
	for _, want := range []string{"GET /healthz", "POST /api/programs/{name}/restart", "GET /{file}"} {
		if !slices.Contains(patterns, want) {
			t.Fatalf("registeredPatterns() = %q, want it to contain %q: has the way routes are registered changed?", patterns, want)
		}
	}
	doc, err := os.ReadFile(apiDoc)
	if err != nil {
		t.Fatalf("read the API reference: %v", err)
	}
	for _, p := range patterns {
		if !strings.Contains(string(doc), "`"+p+"`") {
			t.Errorf("route %q is registered in routes.go but not documented in %s (as `%s`)", p, apiDoc, p)
		}
	}
}

// registeredPatterns returns the patterns of every HandleFunc and Handle call in the package's source, in
// the order written. Every route must be registered in routes.go with a string literal, so that this
// reading of the source sees them all: a registration elsewhere, or with a pattern built at run time,
// fails the test.
func registeredPatterns(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var patterns []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatalf("parse %s: %v", name, err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "HandleFunc" && sel.Sel.Name != "Handle") || len(call.Args) != 2 {
				return true
			}
			at := fset.Position(call.Pos())
			if name != "routes.go" {
				t.Errorf("%s: a route registered outside routes.go", at)
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				t.Errorf("%s: a route whose pattern is not a string literal", at)
				return true
			}
			p, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatalf("%s: unquote %s: %v", at, lit.Value, err)
			}
			patterns = append(patterns, p)
			return true
		})
	}
	return patterns
}
