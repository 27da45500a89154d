package config

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// configDoc is the configuration reference that must name every key the loader accepts.
const configDoc = "../../docs/configuration.md"

// TestConfigKeysDocumented keeps docs/configuration.md in step with the loader: every key the loader accepts
// must appear there in backquotes. The keys come from Keys, whose lists the decoders use, so a key added to the
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

// loaderKeys returns, sorted and without duplicates, the last element of every key path Keys lists (the
// decoders take their known keys from the same lists), as the reference shows them: `delay_seconds`.
func loaderKeys(t *testing.T) []string {
	t.Helper()
	var keys []string
	for _, path := range Keys() {
		last := path[strings.LastIndex(path, ".")+1:]
		keys = append(keys, strings.TrimSuffix(last, "[]"))
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}
