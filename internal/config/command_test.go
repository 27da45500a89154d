package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
)

func TestCommandPaths(t *testing.T) {
	const dir = "/etc/pm"
	tests := []struct {
		name                 string
		global, program      [2]string // venv, cwd
		script               string
		wantPython, wantVenv string
		wantDir, wantScript  string
	}{
		{"no venv, no cwd", [2]string{}, [2]string{}, "app.py",
			"python3", "", "/etc/pm", "/etc/pm/app.py"},
		{"global venv relative to config dir", [2]string{".venv", ""}, [2]string{}, "app.py",
			"/etc/pm/.venv/bin/python", "/etc/pm/.venv", "/etc/pm", "/etc/pm/app.py"},
		{"program venv overrides global", [2]string{".venv", ""}, [2]string{"/opt/venv", ""}, "app.py",
			"/opt/venv/bin/python", "/opt/venv", "/etc/pm", "/etc/pm/app.py"},
		{"venv in home", [2]string{"~/venvs/a", ""}, [2]string{}, "app.py",
			"/home/tester/venvs/a/bin/python", "/home/tester/venvs/a", "/etc/pm", "/etc/pm/app.py"},
		{"global cwd relative", [2]string{"", "scripts"}, [2]string{}, "app.py",
			"python3", "", "/etc/pm/scripts", "/etc/pm/scripts/app.py"},
		{"program cwd overrides global", [2]string{"", "scripts"}, [2]string{"", "/srv/app"}, "bin/app.py",
			"python3", "", "/srv/app", "/srv/app/bin/app.py"},
		{"program cwd relative to config dir, not global cwd", [2]string{"", "/srv"}, [2]string{"", "../app"}, "app.py",
			"python3", "", "/etc/app", "/etc/app/app.py"},
		{"cwd is home", [2]string{"", "~"}, [2]string{}, "app.py",
			"python3", "", "/home/tester", "/home/tester/app.py"},
		{"absolute script ignores cwd", [2]string{"", "scripts"}, [2]string{}, "/usr/lib/x/app.py",
			"python3", "", "/etc/pm/scripts", "/usr/lib/x/app.py"},
		{"script is never in home", [2]string{}, [2]string{}, "~/app.py",
			"python3", "", "/etc/pm", "/etc/pm/~/app.py"},
		{"paths are cleaned", [2]string{"./a/../.venv/", ""}, [2]string{"", "./x/"}, "./y/../app.py",
			"/etc/pm/.venv/bin/python", "/etc/pm/.venv", "/etc/pm/x", "/etc/pm/x/app.py"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default(dir)
			c.Home = testHome
			c.Venv, c.Cwd = tt.global[0], tt.global[1]
			p := c.defaultProgram()
			p.Name, p.Script, p.Venv, p.Cwd = "a", tt.script, tt.program[0], tt.program[1]
			got := c.Command(&p, nil)
			if got.Python != tt.wantPython || got.Venv != tt.wantVenv || got.Dir != tt.wantDir || got.Script != tt.wantScript {
				t.Errorf("Command(global %q, program %q, script %q) Python, Venv, Dir, Script = %q, %q, %q, %q; want %q, %q, %q, %q",
					tt.global, tt.program, tt.script, got.Python, got.Venv, got.Dir, got.Script,
					tt.wantPython, tt.wantVenv, tt.wantDir, tt.wantScript)
			}
		})
	}
}

// TestCommandFromFile resolves against a loaded file: relative paths start at the file's directory.
func TestCommandFromFile(t *testing.T) {
	c, path, err := loadYAML(t, "cwd: work\nprograms:\n  - {name: a, script: a.py, venv: v, args: '-m x'}\n")
	if err != nil {
		t.Fatalf("load failed: %v", err)
	}
	dir := filepath.Dir(path)
	got := c.Command(&c.Programs[0], nil)
	want := Command{Python: filepath.Join(dir, "v/bin/python"), Venv: filepath.Join(dir, "v"),
		Script: filepath.Join(dir, "work/a.py"), Dir: filepath.Join(dir, "work"), Args: []string{"-m", "x"}}
	got.Env, got.EnvKeys = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Command(%+v) = %+v, want %+v", c.Programs[0], got, want)
	}
}

func TestCommandEnv(t *testing.T) {
	const venv = "/etc/pm/.venv"
	base := []string{"HOME=/root", "A=env", "B=env", "C=env", "D=env", "PATH=/usr/bin:/bin"}
	tests := []struct {
		name        string
		environ     []string
		globalFile  []EnvVar
		programFile []EnvVar
		environment []EnvVar
		venv        string
		want        []string
		wantKeys    []string
	}{
		{
			name:        "precedence environ < global file < program file < environment",
			environ:     base,
			globalFile:  []EnvVar{{"B", "global"}, {"C", "global"}, {"D", "global"}},
			programFile: []EnvVar{{"C", "program"}, {"D", "program"}},
			environment: []EnvVar{{"D", "environment"}, {"E", "new"}},
			want: []string{"A=env", "B=global", "C=program", "D=environment", "E=new", "HOME=/root",
				"PATH=/usr/bin:/bin", "PYTHONUNBUFFERED=1"},
			wantKeys: []string{"B", "C", "D", "E", "PYTHONUNBUFFERED"},
		},
		{
			name:     "later duplicates win and bad environ entries are dropped",
			environ:  []string{"A=1", "NOEQUALS", "=x", "A=2", "PYTHONUNBUFFERED="},
			want:     []string{"A=2", "PYTHONUNBUFFERED="},
			wantKeys: nil,
		},
		{
			name:        "PYTHONUNBUFFERED from the configuration is kept",
			environment: []EnvVar{{"PYTHONUNBUFFERED", "TRUE"}, {"X", "a=b"}},
			want:        []string{"PYTHONUNBUFFERED=TRUE", "X=a=b"},
			wantKeys:    []string{"PYTHONUNBUFFERED", "X"},
		},
		{
			name:        "later entries of one layer win",
			environment: []EnvVar{{"X", "1"}, {"X", "2"}},
			want:        []string{"PYTHONUNBUFFERED=1", "X=2"},
			wantKeys:    []string{"PYTHONUNBUFFERED", "X"},
		},
		{
			name:     "venv activates",
			environ:  []string{"PATH=/usr/bin:/bin", "PYTHONHOME=/usr"},
			venv:     venv,
			want:     []string{"PATH=" + venv + "/bin:/usr/bin:/bin", "PYTHONUNBUFFERED=1", "VIRTUAL_ENV=" + venv},
			wantKeys: []string{"PATH", "PYTHONUNBUFFERED", "VIRTUAL_ENV"},
		},
		{
			name:        "venv PATH builds on the configured PATH and drops a configured PYTHONHOME",
			environ:     []string{"PATH=/bin"},
			programFile: []EnvVar{{"PATH", "/opt/bin"}, {"PYTHONHOME", "/x"}},
			venv:        venv,
			want:        []string{"PATH=" + venv + "/bin:/opt/bin", "PYTHONUNBUFFERED=1", "VIRTUAL_ENV=" + venv},
			wantKeys:    []string{"PATH", "PYTHONUNBUFFERED", "VIRTUAL_ENV"},
		},
		{
			name:     "venv without PATH",
			venv:     venv,
			want:     []string{"PATH=" + venv + "/bin", "PYTHONUNBUFFERED=1", "VIRTUAL_ENV=" + venv},
			wantKeys: []string{"PATH", "PYTHONUNBUFFERED", "VIRTUAL_ENV"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default("/etc/pm")
			c.EnvFileVars = tt.globalFile
			p := c.defaultProgram()
			p.Name, p.Script, p.Venv = "a", "a.py", tt.venv
			p.EnvFileVars, p.Environment = tt.programFile, tt.environment
			environ := slices.Clone(tt.environ)
			got := c.Command(&p, environ)
			if !reflect.DeepEqual(got.Env, tt.want) || !reflect.DeepEqual(got.EnvKeys, tt.wantKeys) {
				t.Errorf("Command(environ %q).Env, EnvKeys =\n%q, %q\nwant\n%q, %q", tt.environ, got.Env, got.EnvKeys, tt.want, tt.wantKeys)
			}
			if !slices.Equal(environ, tt.environ) {
				t.Errorf("Command changed its environ argument to %q", environ)
			}
		})
	}
}

func TestCommandCopiesArgs(t *testing.T) {
	c := Default("/etc/pm")
	p := c.defaultProgram()
	p.Script, p.Args = "a.py", []string{"x"}
	cmd := c.Command(&p, nil)
	cmd.Args[0] = "changed"
	if p.Args[0] != "x" {
		t.Errorf("changing Command(...).Args changed the program's Args to %q", p.Args)
	}
}

func TestCheck(t *testing.T) {
	root := t.TempDir()
	venv := filepath.Join(root, "venv")
	python := filepath.Join(venv, "bin", "python")
	writeFile(t, root, "venv/bin/python", "#!/bin/sh\n")
	if err := os.Chmod(python, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, root, "noexec/bin/python", "")
	script := writeFile(t, root, "work/app.py", "print('hi')\n")
	work := filepath.Dir(script)
	if err := os.Mkdir(filepath.Join(root, "pkg"), 0o755); err != nil {
		t.Fatal(err)
	}
	good := Command{Python: python, Venv: venv, Script: script, Dir: work}
	tests := []struct {
		name   string
		change func(c *Command)
		want   []string // substrings, each naming an absolute path; nil means no error
		wantIs error
	}{
		{"everything present", func(*Command) {}, nil, nil},
		{"no venv needs no interpreter", func(c *Command) { c.Venv, c.Python = "", "python3" }, nil, nil},
		{"script is a package directory", func(c *Command) { c.Script = filepath.Join(root, "pkg") }, nil, nil},
		{"missing interpreter", func(c *Command) {
			c.Venv = filepath.Join(root, "nope")
			c.Python = filepath.Join(c.Venv, "bin", "python")
		}, []string{"venv interpreter " + filepath.Join(root, "nope/bin/python") + ": no such file or directory"}, fs.ErrNotExist},
		{"interpreter not executable", func(c *Command) {
			c.Venv = filepath.Join(root, "noexec")
			c.Python = filepath.Join(c.Venv, "bin", "python")
		}, []string{"venv interpreter " + filepath.Join(root, "noexec/bin/python") + ": not an executable file"}, nil},
		{"missing script", func(c *Command) { c.Script = filepath.Join(work, "gone.py") },
			[]string{"script " + filepath.Join(work, "gone.py") + ": no such file or directory"}, fs.ErrNotExist},
		{"missing working directory", func(c *Command) { c.Dir = filepath.Join(root, "absent") },
			[]string{"working directory " + filepath.Join(root, "absent") + ": no such file or directory"}, fs.ErrNotExist},
		{"working directory is a file", func(c *Command) { c.Dir = script },
			[]string{"working directory " + script + ": not a directory"}, syscall.ENOTDIR},
		{"every problem at once", func(c *Command) {
			c.Python = filepath.Join(root, "x/bin/python")
			c.Dir = filepath.Join(root, "y")
			c.Script = filepath.Join(root, "y/z.py")
		}, []string{"venv interpreter " + filepath.Join(root, "x/bin/python"), "working directory " + filepath.Join(root, "y"),
			"script " + filepath.Join(root, "y/z.py")}, fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := good
			tt.change(&cmd)
			err := cmd.Check()
			if tt.want == nil {
				if err != nil {
					t.Errorf("(%+v).Check() = %v, want nil", cmd, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("(%+v).Check() = nil, want errors containing %q", cmd, tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("(%+v).Check() = %q, want it to contain %q", cmd, err, w)
				}
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("(%+v).Check() = %v, want errors.Is(err, %v)", cmd, err, tt.wantIs)
			}
		})
	}
}

// TestCommandReusesEnvironStrings checks that resolving a command passes the
// manager's environment on as the strings it holds: the allocations do not
// grow with the number of its variables, only with what the configuration
// sets.
func TestCommandReusesEnvironStrings(t *testing.T) {
	c := Default("/etc/pm")
	p := c.defaultProgram()
	p.Name, p.Script = "a", "a.py"
	p.Environment = []EnvVar{{"A", "1"}, {"B", "2"}}
	allocs := func(n int) float64 {
		environ := make([]string, n)
		for i := range environ {
			environ[i] = fmt.Sprintf("VAR%03d=value %d", n-i, i)
		}
		return testing.AllocsPerRun(20, func() { c.Command(&p, environ) })
	}
	small, large := allocs(5), allocs(200)
	if large > small {
		t.Errorf("resolving a command allocates %v times with 200 variables in the manager's environment, %v with 5: "+
			"the manager's entries are built anew", large, small)
	}
}
