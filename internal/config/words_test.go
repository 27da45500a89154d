package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSplitWords(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr string
	}{
		{"empty", "", nil, ""},
		{"blanks only", " \t\n ", nil, ""},
		{"plain words", "--port 8080", []string{"--port", "8080"}, ""},
		{"runs of blanks", "  a \t b\n\nc  ", []string{"a", "b", "c"}, ""},
		{"single quotes keep everything", `'a "b" \n $x'`, []string{`a "b" \n $x`}, ""},
		{"double quotes", `"my app" x`, []string{"my app", "x"}, ""},
		{"escapes in double quotes", `"a\"b \\ \$HOME \q"`, []string{`a"b \ $HOME \q`}, ""},
		{"backslash outside quotes", `a\ b \'c\"`, []string{"a b", `'c"`}, ""},
		{"backslash newline joins", "a\\\nb", []string{"ab"}, ""},
		{"adjacent quoted parts form one word", `--x="a b"'c d'e`, []string{"--x=a bc de"}, ""},
		{"empty quotes are an empty word", `a "" ''`, []string{"a", "", ""}, ""},
		{"no expansion", `$HOME * ~ ; | >`, []string{"$HOME", "*", "~", ";", "|", ">"}, ""},
		{"unicode", "naïve 'ünï code'", []string{"naïve", "ünï code"}, ""},
		{"unterminated single quote", "a 'b c", nil, "unterminated single quote"},
		{"unterminated double quote", `a "b c`, nil, "unterminated double quote"},
		{"escaped closing double quote", `"abc\"`, nil, "unterminated double quote"},
		{"trailing backslash", `a \`, nil, "unescaped backslash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := splitWords(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("splitWords(%q) = %q, %v; want error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("splitWords(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestLogFileName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"worker", "worker.log"},
		{"My App", "My_App.log"},
		{"a.b-c_d9", "a.b-c_d9.log"},
		{"é", "é.log"},
		{"服务一", "服务一.log"},
		{"e\u0301", "e_.log"},     // a combining mark is not a letter
		{"a😀b", "a_b.log"},        // nor is an emoji
		{"\U00020000x", "_x.log"}, // a letter, but four bytes long
		{"٣", "٣.log"},            // a digit
		{"a\xffb", "a_b.log"},     // not UTF-8 (no name from YAML is)
		{"a:b*c?", "a_b_c_.log"},
		{"..", "...log"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := LogFileName(tt.in); got != tt.want {
				t.Errorf("LogFileName(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// The longest names Load accepts must still make log files, with their rotation suffixes, that Linux
// and macOS can create (255 bytes at most).
func TestLogFileNameFitsTheFileSystem(t *testing.T) {
	dir := t.TempDir()
	for _, r := range []rune{'a', 'é', '服', '\U00020000', '😀'} {
		name := strings.Repeat(string(r), maxNameLen)
		log := LogFileName(name)
		if len(log) > maxLogFileNameLen {
			t.Errorf("LogFileName(%d × %q) is %d bytes, more than maxLogFileNameLen %d", maxNameLen, r, len(log), maxLogFileNameLen)
		}
		for _, suffix := range []string{"", ".1", ".1.tmp", ".99"} {
			f, err := os.Create(filepath.Join(dir, log+suffix))
			if err != nil {
				t.Errorf("program named %d × %q: %v", maxNameLen, r, err)
				continue
			}
			f.Close()
		}
	}
}
