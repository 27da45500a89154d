package config

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// keyDocument is a configuration that sets the dotted key (as Keys writes it) to null, which the loader
// accepts for every known key and skips.
func keyDocument(t *testing.T, key string) string {
	t.Helper()
	var value any
	parts := strings.Split(key, ".")
	for i := len(parts) - 1; i >= 0; i-- {
		name, list := strings.CutSuffix(parts[i], "[]")
		if list {
			value = map[string]any{name: []any{value}}
		} else {
			value = map[string]any{name: value}
		}
	}
	out, err := yaml.Marshal(value)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestKeysAreAccepted checks that every key Keys lists is one the loader knows, and that the check would
// see an unknown one.
func TestKeysAreAccepted(t *testing.T) {
	keys := append(Keys(), "restart.no_such_key")
	for _, key := range keys {
		doc := keyDocument(t, key)
		_, _, err := loadYAML(t, doc)
		unknown := err != nil && strings.Contains(err.Error(), "unknown key")
		if want := strings.Contains(key, "no_such_key"); unknown != want {
			t.Errorf("load(%q) reported an unknown key: %t, want %t (%v)", doc, unknown, want, err)
		}
	}
	if len(Keys()) < 40 {
		t.Errorf("Keys() lists %d keys; surely some are missing", len(Keys()))
	}
}
