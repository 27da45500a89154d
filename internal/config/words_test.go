package config

import (
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
		{"é", "__.log"},
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
