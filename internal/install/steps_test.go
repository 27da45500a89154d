package install

import (
	"slices"
	"strings"
	"testing"
)

func TestPlanSteps(t *testing.T) {
	t.Parallel()
	const venv = "/srv/p/.venv"
	pipArgs := []string{"--no-index", "--find-links", "/srv/wheels"}
	tests := []struct {
		name    string
		hasReqs bool
		basePip string
		want    steps
	}{
		{"no requirements", false, "23.2.1", steps{
			method: noPip,
			venv:   []string{"py", "-I", "-u", "-m", "venv", "--without-pip", venv},
		}},
		{"no requirements, no base pip", false, "", steps{
			method: noPip,
			venv:   []string{"py", "-I", "-u", "-m", "venv", "--without-pip", venv},
		}},
		{"requirements and a base pip with --python", true, "23.2.1", steps{
			method: outsidePip,
			venv:   []string{"py", "-I", "-u", "-m", "venv", "--without-pip", venv},
			pip: []string{"py", "-I", "-u", "-m", "pip", "--python", venv + "/bin/python",
				"install", "-r", "requirements.txt", "--no-index", "--find-links", "/srv/wheels"},
		}},
		{"requirements and an old base pip", true, "22.2.2", steps{
			method: venvPip,
			venv:   []string{"py", "-I", "-u", "-m", "venv", venv},
			pip: []string{venv + "/bin/python", "-I", "-u", "-m", "pip",
				"install", "-r", "requirements.txt", "--no-index", "--find-links", "/srv/wheels"},
		}},
		{"requirements and no base pip", true, "", steps{
			method: venvPip,
			venv:   []string{"py", "-I", "-u", "-m", "venv", venv},
			pip: []string{venv + "/bin/python", "-I", "-u", "-m", "pip",
				"install", "-r", "requirements.txt", "--no-index", "--find-links", "/srv/wheels"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := planSteps("py", venv, tt.hasReqs, tt.basePip, pipArgs)
			if got.method != tt.want.method || !slices.Equal(got.venv, tt.want.venv) || !slices.Equal(got.pip, tt.want.pip) {
				t.Errorf("planSteps(hasReqs %v, basePip %q) =\n  %v %q %q\nwant\n  %v %q %q", tt.hasReqs, tt.basePip,
					got.method, got.venv, got.pip, tt.want.method, tt.want.venv, tt.want.pip)
			}
		})
	}
	t.Run("pip args are not aliased", func(t *testing.T) {
		args := make([]string, 1, 10)
		args[0] = "--no-index"
		a := planSteps("py", venv, true, "23.2.1", args)
		b := planSteps("py", venv, true, "23.2.1", args)
		a.pip[len(a.pip)-1] = "changed"
		if b.pip[len(b.pip)-1] != "--no-index" || args[0] != "--no-index" {
			t.Errorf("changing one plan's argv changed another plan (%q) or the caller's PipArgs (%q)", b.pip, args)
		}
	})
}

func TestPipHasPythonOption(t *testing.T) {
	t.Parallel()
	tests := []struct {
		version string
		want    bool
	}{
		{"23.2.1", true},
		{"22.3", true},
		{"22.3.1", true},
		{"22.10", true},
		{"24.0", true},
		{"100.0", true},
		{"22.2.2", false},
		{"21.3.1", false},
		{"9.0.1", false},
		{"22.3.dev0", true},
		{"22.3rc1", true},
		{"22.2rc1", false},
		{"22", false},
		{"", false},
		{"garbage", false},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			t.Parallel()
			if got := pipHasPythonOption(tt.version); got != tt.want {
				t.Errorf("pipHasPythonOption(%q) = %v, want %v", tt.version, got, tt.want)
			}
		})
	}
}

func TestQuoteArgs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		argv []string
		want string
	}{
		{"plain", []string{"python3", "-m", "venv", "/srv/p/.venv"}, "python3 -m venv /srv/p/.venv"},
		{"space", []string{"pip", "--find-links", "/my wheels"}, `pip --find-links "/my wheels"`},
		{"empty", []string{"pip", ""}, `pip ""`},
		{"shell characters", []string{"echo", "a;b", "$HOME"}, `echo "a;b" "$HOME"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := quoteArgs(tt.argv); got != tt.want {
				t.Errorf("quoteArgs(%q) = %s, want %s", tt.argv, got, tt.want)
			}
		})
	}
}

func TestMaskCredentials(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"user and password", "https://user:TOKEN@host/simple", "https://user:***@host/simple"},
		{"token as user", "https://TOKEN@host/simple", "https://***@host/simple"},
		{"flag=URL", "--extra-index-url=https://u:p@pypi.example:8443/simple/", "--extra-index-url=https://u:***@pypi.example:8443/simple/"},
		{"vcs URL", "git+https://u:p@github.com/o/r.git@v1#egg=r", "git+https://u:***@github.com/o/r.git@v1#egg=r"},
		{"@ in the password", "https://u:p@ss@host", "https://u:***@host"},
		{"empty password", "https://u:@host", "https://u:***@host"},
		{"no credentials", "https://host/simple", "https://host/simple"},
		{"@ in the path only", "https://host/a@b", "https://host/a@b"},
		{"not a URL", "--no-index", "--no-index"},
		{"two URLs", "a=https://x:1@h1 b=http://y:2@h2/", "a=https://x:***@h1 b=http://y:***@h2/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := maskCredentials(tt.in); got != tt.want {
				t.Errorf("maskCredentials(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// The banner of the pip step, which goes to the upload's log, masks the
// index's credentials.
func TestQuoteArgsMasksCredentials(t *testing.T) {
	t.Parallel()
	argv := []string{"pip", "install", "--index-url", "https://user:TOKEN@host/simple"}
	got := quoteArgs(argv)
	if strings.Contains(got, "TOKEN") || !strings.Contains(got, "https://user:***@host/simple") {
		t.Errorf("quoteArgs(%q) = %s, want the password masked", argv, got)
	}
}
