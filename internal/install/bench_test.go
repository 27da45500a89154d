package install

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BenchmarkExtractSmall extracts a ZIP of 20 small files in one top-level folder (flattened).
func BenchmarkExtractSmall(b *testing.B) {
	files := []zfile{{name: "proj/"}}
	for i := range 20 {
		body := strings.Repeat(fmt.Sprintf("print('line of file %d')\n", i), 40)
		files = append(files, zfile{name: fmt.Sprintf("proj/pkg%d/mod%d.py", i%4, i), body: body})
	}
	data := makeZip(b, files...)
	parent := b.TempDir()
	b.SetBytes(int64(len(data)))
	i := 0
	for b.Loop() {
		dest := filepath.Join(parent, fmt.Sprint(i))
		i++
		if _, err := Extract(bytes.NewReader(data), int64(len(data)), dest, Limits{}); err != nil {
			b.Fatalf("Extract() = %v", err)
		}
	}
}

// BenchmarkVenv measures the ways to give a program a venv of its own, without and with a requirements.txt
// (one local wheel, offline). Each reports venv-s/op and pip-s/op besides the total. Run with a small
// -benchtime such as 5x: one op takes up to seconds.
//
//	stdlib-venv:     python3 -m venv (ensurepip puts pip into every venv); the tool pyvisor replaces did this
//	without-pip:     python3 -m venv --without-pip; what Install does when there is no requirements.txt
//	venv-pip:        the above with its own pip, then <venv>/bin/python -m pip install (Install's fallback)
//	outside-pip:     --without-pip, then python3 -m pip --python <venv>/bin/python install (Install's default)
//	pip-from-wheel:  --without-pip, then <venv>/bin/python <ensurepip's pip wheel>/pip install
func BenchmarkVenv(b *testing.B) {
	python3 := needPython(b)
	wheel, err := pyOutput(python3, "-c", "import ensurepip, os, glob; "+
		"print(glob.glob(os.path.join(os.path.dirname(ensurepip.__file__), '_bundled', 'pip-*.whl'))[0])")
	if err != nil {
		b.Fatalf("find the pip wheel of ensurepip: %v: %s", err, wheel)
	}
	in := Installer{}
	// Each option runs its steps in a fresh program directory and returns the times of venv and pip.
	options := []struct {
		name string
		reqs bool
		run  func(b *testing.B, dir string, pipArgs []string) Timings
	}{
		{"no-reqs/stdlib-venv", false, func(b *testing.B, dir string, _ []string) Timings {
			return Timings{Venv: timeCmd(b, dir, python3, "-m", "venv", filepath.Join(dir, ".venv"))}
		}},
		{"no-reqs/without-pip=Install", false, func(b *testing.B, dir string, pipArgs []string) Timings {
			return install(b, Installer{PipArgs: pipArgs}, dir)
		}},
		{"reqs/venv-pip", true, func(b *testing.B, dir string, pipArgs []string) Timings {
			s := planSteps(DefaultPython, filepath.Join(dir, ".venv"), true, "", pipArgs)
			t, err := in.runSteps(b.Context(), dir, s, Timings{}, io.Discard)
			if err != nil {
				b.Fatalf("runSteps(%v) = %v", s.method, err)
			}
			return t
		}},
		{"reqs/outside-pip=Install", true, func(b *testing.B, dir string, pipArgs []string) Timings {
			return install(b, Installer{PipArgs: pipArgs}, dir)
		}},
		{"reqs/pip-from-wheel", true, func(b *testing.B, dir string, pipArgs []string) Timings {
			venv := filepath.Join(dir, ".venv")
			t := Timings{Venv: timeCmd(b, dir, python3, "-m", "venv", "--without-pip", venv)}
			args := append([]string{filepath.Join(wheel, "pip"), "install", "-r", "requirements.txt"}, pipArgs...)
			t.Pip = timeCmd(b, dir, venvPython(venv), args...)
			return t
		}},
	}
	for _, o := range options {
		b.Run(o.name, func(b *testing.B) {
			var sum Timings
			for b.Loop() {
				b.StopTimer()
				reqs := ""
				if o.reqs {
					reqs = "./wheels/demo-0.1-py3-none-any.whl\n"
				}
				dir, pipArgs := newProgram(b, reqs)
				b.StartTimer()
				t := o.run(b, dir, pipArgs)
				sum.Venv += t.Venv
				sum.Pip += t.Pip
				if o.reqs {
					if got, err := pyOutput(venvPython(filepath.Join(dir, ".venv")), "-c", "import demo; print(demo.VALUE)"); err != nil {
						b.Fatalf("%s: the venv cannot import demo: %v: %s", o.name, err, got)
					}
				}
			}
			b.ReportMetric(sum.Venv.Seconds()/float64(b.N), "venv-s/op")
			b.ReportMetric(sum.Pip.Seconds()/float64(b.N), "pip-s/op")
		})
	}
}

// install runs Installer.Install and fails the benchmark on error.
func install(b *testing.B, in Installer, dir string) Timings {
	var out bytes.Buffer
	t, err := in.Install(b.Context(), dir, &out)
	if err != nil {
		b.Fatalf("Install() = %v; output:\n%s", err, out.String())
	}
	return t
}

// timeCmd runs a command in dir and returns how long it took, failing the benchmark on error.
func timeCmd(b *testing.B, dir, exe string, args ...string) time.Duration {
	ctx, cancel := context.WithTimeout(b.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Dir = dir
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("%s %q: %v\n%s", exe, args, err, out)
	}
	return time.Since(start)
}
