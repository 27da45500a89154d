package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary files to Load: it must never panic, must return either a config or only
// *Error problems, and a config it returns must hold the invariants the supervisor relies on.
func FuzzLoad(f *testing.F) {
	full, err := os.ReadFile("testdata/full.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		string(full),
		"",
		"programs:\n  - name: a\n    script: a.py\n",
		"web_ui: {port: 70000}\nprograms: {}\n",
		"programs:\n  - &p {name: a, script: a.py, args: \"x 'y z\"}\n  - <<: *p\n    name: b\n",
		"a: &a {<<: *a}\n",
		"restart: &r\n  <<: [*r, *r]\n",
		"programs:\n  - name: a\n    script: a.py\n    environment: {A: 1, B: [x]}\n    exit_codes: [300]\n",
		"x: &x [*x, *x]\nprograms: [*x]\n",
		"env_file: /dev/zero\n",
		"web_ui:\n  auth: {username: a, password_hash: '$argon2id$v=19$m=9,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA', tokens: [{name: a}, x]}\n  tls_cert: /dev/zero\n  tls_key: /dev/null\n",
		"- a\n- b\n",
		"web_ui:\n\tport: 1\n",
		"venv: ~\ncwd: ~/x\nprograms:\n  - {name: \"a\\u0000\", script: ~bob/a.py}\n",
		"---\na: 1\n---\nb: 2\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "pm.yaml")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path)
		if err != nil {
			if c != nil {
				t.Fatalf("Load returned a config and an error: %v", err)
			}
			for _, e := range problems(t, err) {
				if e.File == "" || e.Msg == "" {
					t.Fatalf("Load returned a problem without file or message: %#v", e)
				}
			}
			return
		}
		logs := map[string]bool{}
		for i := range c.Programs {
			p := &c.Programs[i]
			if p.Name == "" || p.Script == "" || strings.Contains(p.Name, "/") {
				t.Fatalf("Load accepted program %d with name %q, script %q", i, p.Name, p.Script)
			}
			log := strings.ToLower(LogFileName(p.Name))
			if n := len(LogFileName(p.Name)); n > maxLogFileNameLen {
				t.Fatalf("Load accepted program %q, whose log file name is %d bytes long", p.Name, n)
			}
			if logs[log] {
				t.Fatalf("Load accepted two programs with log file %q", log)
			}
			logs[log] = true
			cmd := c.Command(p, os.Environ())
			if !filepath.IsAbs(cmd.Script) || !filepath.IsAbs(cmd.Dir) {
				t.Fatalf("Command(%q) gave a relative script %q or dir %q", p.Name, cmd.Script, cmd.Dir)
			}
		}
	})
}
