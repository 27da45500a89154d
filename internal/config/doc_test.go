package config

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

// configDoc is the configuration reference that must name every key the loader accepts.
const configDoc = "../../docs/configuration.md"

// TestConfigKeysDocumented keeps docs/configuration.md in step with the loader: every key the loader accepts
// must appear there in backquotes. The keys are read from the loader's own source, so a key added to the
// code without a word in the manual fails here.
func TestConfigKeysDocumented(t *testing.T) {
	keys := loaderKeys(t)
	// The loader's keys for the top level, web_ui and a program: if these are not found, the source no
	// longer looks the way loaderKeys expects, and it would check nothing.
	for _, want := range []string{"web_ui", "programs", "port", "tls_key", "name", "script", "session_hours", "sha256"} {
		if !slices.Contains(keys, want) {
			t.Fatalf("loaderKeys() = %q, want it to contain %q: has the way the loader lists its keys changed?", keys, want)
		}
	}
	doc, err := os.ReadFile(configDoc)
	if err != nil {
		t.Fatalf("read the configuration reference: %v", err)
	}
	for _, key := range undocumented(keys, string(doc)) {
		t.Errorf("configuration key %q is accepted by the loader but not documented in %s (as `%s`)", key, configDoc, key)
	}
}

// TestDocKeyCheck checks the check itself: a key missing from the text is reported, a key only present
// inside a longer word or without backquotes is not taken as documented.
func TestDocKeyCheck(t *testing.T) {
	tests := []struct {
		name string
		keys []string
		doc  string
		want []string
	}{
		{"all documented", []string{"port", "host"}, "| `port` | 10000 |\n| `host` | x |", nil},
		{"one missing", []string{"port", "host"}, "| `port` | 10000 |", []string{"host"}},
		{"no backquotes", []string{"port"}, "port: 10000", []string{"port"}},
		{"only inside a longer key", []string{"port"}, "`web_ui.port`, `ports`", []string{"port"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := undocumented(tt.keys, tt.doc); !slices.Equal(got, tt.want) {
				t.Errorf("undocumented(%q, %q) = %q, want %q", tt.keys, tt.doc, got, tt.want)
			}
		})
	}
}

// undocumented returns the keys that doc does not show as `key`.
func undocumented(keys []string, doc string) []string {
	var missing []string
	for _, key := range keys {
		if !strings.Contains(doc, "`"+key+"`") {
			missing = append(missing, key)
		}
	}
	return missing
}

// loaderKeys returns, sorted, every key the loader accepts, read from the package's source. The loader
// rejects unknown keys in decoder.fields, which takes the known keys of each mapping as a []string. They
// are written either as a literal in the call, or (for a program entry, whose keys differ between
// process_manager.yaml and uploaded_programs.yaml) in a variable filled from a function or a decoder field
// whose name ends in "Keys". Any other way of passing them fails the test, so that no keys go unseen.
func loaderKeys(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	set := map[string]bool{}
	indirect := 0 // fields calls whose keys are in a variable
	fromKeysNames := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatalf("parse %s: %v", name, err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok || sel.Sel.Name != "fields" || len(n.Args) != 3 {
					return true
				}
				switch arg := n.Args[2].(type) {
				case *ast.CompositeLit:
					addStrings(t, fset, arg, set)
				case *ast.Ident:
					indirect++
				default:
					t.Fatalf("%s: fields is given its known keys as %T; loaderKeys reads only a []string literal or a variable", fset.Position(arg.Pos()), arg)
				}
			case *ast.FuncDecl:
				if !strings.HasSuffix(n.Name.Name, "Keys") || n.Body == nil {
					return true
				}
				ast.Inspect(n.Body, func(m ast.Node) bool {
					if ret, ok := m.(*ast.ReturnStmt); ok {
						for _, r := range ret.Results {
							if lit, ok := r.(*ast.CompositeLit); ok {
								addStrings(t, fset, lit, set)
								fromKeysNames++
							}
						}
					}
					return true
				})
			case *ast.KeyValueExpr:
				key, ok := n.Key.(*ast.Ident)
				lit, isLit := n.Value.(*ast.CompositeLit)
				if ok && isLit && strings.HasSuffix(key.Name, "Keys") {
					addStrings(t, fset, lit, set)
					fromKeysNames++
				}
			}
			return true
		})
	}
	if indirect > 0 && fromKeysNames == 0 {
		t.Fatalf("%d fields calls take their keys from a variable, but no function or field named *Keys lists any", indirect)
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// addStrings adds the string literals of lit to set, failing on any element that is not one.
func addStrings(t *testing.T, fset *token.FileSet, lit *ast.CompositeLit, set map[string]bool) {
	t.Helper()
	for _, e := range lit.Elts {
		b, ok := e.(*ast.BasicLit)
		if !ok || b.Kind != token.STRING {
			t.Fatalf("%s: a list of known keys holds %T, not a string literal", fset.Position(e.Pos()), e)
		}
		s, err := strconv.Unquote(b.Value)
		if err != nil {
			t.Fatalf("%s: unquote %s: %v", fset.Position(b.Pos()), b.Value, err)
		}
		set[s] = true
	}
}
