package install

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		msg  string // "" means valid
	}{
		{"simple", "worker", ""},
		{"spaces inside", "My Bot 2", ""},
		{"leading space", " bot", ""},
		{"unicode", "Größe-Bot 日本", ""},
		{"dots inside", "a..b", ""},
		{"dot at the end", "bot.", ""},
		{"64 bytes", strings.Repeat("x", 64), ""},
		{"empty", "", "empty"},
		{"65 bytes", strings.Repeat("x", 65), "65 bytes"},
		{"64 runes but more bytes", strings.Repeat("é", 33), "66 bytes"},
		{"invalid UTF-8", "bot\xff", "UTF-8"},
		{"slash", "a/b", `"/"`},
		{"backslash", `a\b`, `"\"`},
		{"dot", ".", `"."`},
		{"dot-dot", "..", `".."`},
		{"three dots", "...", `starts with "."`},
		{"hidden", ".bot", `starts with "."`},
		{"a leftover's name", ".old-x", `starts with "."`},
		{"NUL", "a\x00b", "control"},
		{"newline", "a\nb", "control"},
		{"tab", "a\tb", "control"},
		{"DEL", "a\x7f", "control"},
		{"C1 control", "a\u0085b", "control"},
		{"only spaces", "   ", "only spaces"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := ValidateName(tt.in)
			switch {
			case tt.msg == "" && err != nil:
				t.Errorf("ValidateName(%q) = %v, want nil", tt.in, err)
			case tt.msg != "" && (err == nil || !strings.Contains(err.Error(), tt.msg)):
				t.Errorf("ValidateName(%q) = %v, want an error containing %q", tt.in, err, tt.msg)
			}
		})
	}
}

func TestValidateGroup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		msg  string // "" means valid
	}{
		{"none", "", ""},
		{"words", "Web servers · EU", ""},
		{"64 bytes", strings.Repeat("x", 64), ""},
		{"65 bytes", strings.Repeat("x", 65), "65 bytes"},
		{"invalid UTF-8", "g\xff", "UTF-8"},
		{"tab", "a\tb", "control"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := ValidateGroup(tt.in)
			switch {
			case tt.msg == "" && err != nil:
				t.Errorf("ValidateGroup(%q) = %v, want nil", tt.in, err)
			case tt.msg != "" && (err == nil || !strings.Contains(err.Error(), tt.msg)):
				t.Errorf("ValidateGroup(%q) = %v, want an error containing %q", tt.in, err, tt.msg)
			}
		})
	}
}

func TestDirName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"plain", "worker", "worker"},
		{"spaces", "My Bot 2", "My_Bot_2"},
		{"unsafe characters", `a:b*c?d"e<f>g|h`, "a_b_c_d_e_f_g_h"},
		{"separators", `a/b\c`, "a_b_c"},
		{"control", "a\tb", "a_b"},
		{"unicode kept", "Größe", "Größe"},
		{"dots inside kept", "v1.2", "v1.2"},
		{"empty", "", "_"},
		{"dot", ".", "_"},
		{"dot-dot", "..", "__"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := DirName(tt.in); got != tt.want {
				t.Errorf("DirName(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestCheckScript(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, body := range map[string]string{"main.py": "m", "pkg/app.py": "a", "~/a.py": "t"} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/etc/hostname", filepath.Join(dir, "link.py")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		script string
		msg    string // "" means valid
	}{
		{"top level", "main.py", ""},
		{"nested", "pkg/app.py", ""},
		{"dot prefix", "./main.py", ""},
		{"missing", "app.py", "not in the ZIP"},
		{"missing nested", "pkg/nope.py", "not in the ZIP"},
		{"below a file", "main.py/x.py", "not in the ZIP"},
		{"directory", "pkg", "directory"},
		{"empty", "", "no script"},
		{"absolute", "/etc/hostname", "absolute"},
		{"dot-dot", "../main.py", `".."`},
		{"backslash", `pkg\app.py`, "backslash"},
		{"tilde", "~/a.py", `starts with "~"`},
		{"control", "main\n.py", "control"},
		{"only dots", "./.", "no file name"},
		{"symlink out of dir", "link.py", "escapes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := CheckScript(dir, tt.script)
			if tt.msg == "" {
				if err != nil {
					t.Errorf("CheckScript(dir, %q) = %v, want nil", tt.script, err)
				}
				return
			}
			named := tt.script == "" || strings.Contains(fmt.Sprint(err), strconv.Quote(tt.script))
			if err == nil || !strings.Contains(err.Error(), tt.msg) || !named {
				t.Errorf("CheckScript(dir, %q) = %v, want an error naming the script and containing %q", tt.script, err, tt.msg)
			}
			var bad *BadArchiveError
			if tt.name != "symlink out of dir" && !errors.As(err, &bad) {
				t.Errorf("CheckScript(dir, %q) = %v, want a *BadArchiveError", tt.script, err)
			}
		})
	}
}
