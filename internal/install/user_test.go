package install

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/pyvisor/pyvisor/internal/testkit"
)

// nobody returns the user nobody for Installer.User, skipping the test unless it runs as root (only root may
// switch users) on a machine that has nobody.
func nobody(t *testing.T) *User {
	t.Helper()
	u, cred := testkit.Nobody(t, "installing as another user")
	return &User{Name: u.Username, Home: u.HomeDir, Credential: cred}
}

// uidProbe is a local package whose build backend (in the package itself, so that pip needs no index to
// build it) records the ids it runs with in the module it builds: proof, from inside, of who ran pip.
var uidProbe = map[string]string{
	"uidprobe/pyproject.toml": `[build-system]
requires = []
build-backend = "uidbackend"
backend-path = ["."]
`,
	"uidprobe/uidbackend.py": `import os, zipfile

def get_requires_for_build_wheel(config_settings=None):
    return []

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    ids = "%d %d %d %d" % (os.getuid(), os.geteuid(), os.getgid(), os.getegid())
    name = "uidprobe-0.1-py3-none-any.whl"
    files = {
        "uidprobe/__init__.py": "BUILD_IDS = %r\n" % ids,
        "uidprobe-0.1.dist-info/METADATA": "Metadata-Version: 2.1\nName: uidprobe\nVersion: 0.1\n",
        "uidprobe-0.1.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: pyvisor-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    files["uidprobe-0.1.dist-info/RECORD"] = "".join(p + ",,\n" for p in files) + "uidprobe-0.1.dist-info/RECORD,,\n"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as z:
        for path, body in files.items():
            z.writestr(path, body)
    return name
`,
	"requirements.txt": "./uidprobe\n",
	"main.py":          "import uidprobe\nprint(uidprobe.BUILD_IDS)\n",
}

// userProgram writes files into a new program directory, root's, that nobody can reach: t.TempDir's own
// parent is mode 0700, and is opened for others to pass through.
func userProgram(t *testing.T, files map[string]string) string {
	t.Helper()
	base := t.TempDir()
	if err := os.Chmod(filepath.Dir(base), 0o711); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, "Program")
	for name, body := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestInstallAsUser installs, as nobody, a program whose requirement is a local package built by pip: the
// package records that it was built as nobody, and every file of the program and its venv is nobody's.
func TestInstallAsUser(t *testing.T) {
	t.Parallel()
	u := nobody(t)
	const python = "/usr/bin/python3.11" // root's pyenv interpreter is behind /root, mode 0700
	if _, err := os.Stat(python); err != nil {
		t.Skipf("%s is needed (an interpreter nobody may run, with pip 22.3 or later): %v", python, err)
	}
	dir := userProgram(t, uidProbe)
	in := Installer{Python: python, PipArgs: []string{"--no-index"}, User: u}
	var out bytes.Buffer
	if _, err := in.Install(t.Context(), dir, &out); err != nil {
		t.Fatalf("Install(%s) as nobody = %v, want success; output:\n%s", dir, err, out.String())
	}
	if missing := containsInOrder(out.String(), `----- the install runs as user "nobody" (uid `,
		"[SUCCESS] virtual environment created", "Successfully installed uidprobe-0.1",
		"installation finished successfully"); missing != "" {
		t.Errorf("Install() as nobody: output lacks %q; output:\n%s", missing, out.String())
	}

	cred := u.Credential
	wantIDs := fmt.Sprintf("%d %d %d %d", cred.Uid, cred.Uid, cred.Gid, cred.Gid)
	got, err := pyOutput(filepath.Join(dir, ".venv", "bin", "python"), filepath.Join(dir, "main.py"))
	if err != nil || got != wantIDs {
		t.Errorf("the venv's uidprobe says it was built with ids %q (%v); want nobody's %q (uid, euid, gid, egid)", got, err, wantIDs)
	}
	var notNobodys []string
	err = filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(path)
		if err != nil {
			return err
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != cred.Uid || st.Gid != cred.Gid {
			notNobodys = append(notNobodys, fmt.Sprintf("%s (%d:%d)", path, st.Uid, st.Gid))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(notNobodys) > 0 {
		t.Errorf("after Install() as nobody, %d files are not nobody's, such as %q", len(notNobodys), notNobodys[:min(5, len(notNobodys))])
	}
	if _, err := os.Stat(filepath.Join(dir, ".venv", "lib")); err != nil {
		t.Errorf("after Install() as nobody: no venv: %v", err)
	}
}

// TestInstallAsUserDenied installs as nobody with an interpreter nobody may not run: the error and the log
// say permission denied, naming the interpreter.
func TestInstallAsUserDenied(t *testing.T) {
	t.Parallel()
	u := nobody(t)
	private := filepath.Join(t.TempDir(), "python3") // t.TempDir's parent is root's, mode 0700
	if err := os.WriteFile(private, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		reqs bool
	}{
		{"no requirements", false},
		{"requirements", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			files := map[string]string{"main.py": "print('hi')\n"}
			if tt.reqs {
				files["requirements.txt"] = "demo\n"
			}
			dir := userProgram(t, files)
			var out bytes.Buffer
			_, err := Installer{Python: private, User: u}.Install(t.Context(), dir, &out)
			want := "fork/exec " + private + ": permission denied (user \"nobody\" must be able to run " + private
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Install() as nobody with %s = %v, want an error containing %q", private, err, want)
			}
			if missing := containsInOrder(out.String(), "[ERROR] creating the virtual environment failed: "+want,
				"installation FAILED"); missing != "" {
				t.Errorf("Install() as nobody with %s: output lacks %q; output:\n%s", private, missing, out.String())
			}
		})
	}
}

func TestUserEnv(t *testing.T) {
	t.Parallel()
	home := t.TempDir() // the tests' own uid owns it
	tests := []struct {
		name string
		user *User
		want []string
	}{
		{"no user", nil, nil},
		{"home the user owns keeps pip's cache", &User{Name: "app", Home: home},
			[]string{"HOME=" + home, "USER=app", "LOGNAME=app"}},
		{"missing home turns pip's cache off", &User{Name: "nobody", Home: "/nonexistent"},
			[]string{"HOME=/nonexistent", "USER=nobody", "LOGNAME=nobody", "PIP_NO_CACHE_DIR=1"}},
		{"home of another user turns pip's cache off",
			&User{Name: "app", Home: home, Credential: &syscall.Credential{Uid: uint32(os.Geteuid()) + 1}},
			[]string{"HOME=" + home, "USER=app", "LOGNAME=app", "PIP_NO_CACHE_DIR=1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (Installer{User: tt.user}).userEnv(); !slices.Equal(got, tt.want) {
				t.Errorf("Installer{User: %+v}.userEnv() = %q, want %q", tt.user, got, tt.want)
			}
		})
	}
}
