package install

import (
	"regexp"
	"strconv"
	"strings"
)

// method is how an install gets packages into a program's virtual environment. Every method gives each program
// its own site-packages in <dir>/.venv; they differ in where pip lives and so in speed.
type method int

const (
	// noPip: there is no requirements.txt, so the venv is made without pip (`-m venv --without-pip`), which
	// skips ensurepip, the bulk of the time of `-m venv`.
	noPip method = iota
	// outsidePip: a venv without pip, and the base interpreter's pip installs into it from outside
	// (`python3 -m pip --python <venv>/bin/python install ...`, pip 22.3 and later). pip then runs inside the
	// venv's interpreter, so packages land in the venv exactly as with the venv's own pip.
	outsidePip
	// venvPip: the plain, slow way, for a base interpreter without a usable pip: `-m venv` installs pip into
	// the venv, and the venv's pip installs the requirements.
	venvPip
)

// String names the method for logs and benchmarks.
func (m method) String() string {
	switch m {
	case noPip:
		return "venv --without-pip, no pip step"
	case outsidePip:
		return "venv --without-pip + base pip --python"
	case venvPip:
		return "venv with its own pip"
	}
	return "method(" + strconv.Itoa(int(m)) + ")"
}

// steps are the commands of one install, decided before any of them runs.
type steps struct {
	method method
	venv   []string // argv that creates the venv
	pip    []string // argv that installs requirements.txt, run in the program's directory; nil for noPip
}

// minOutsideMajor and minOutsideMinor make the first pip version with --python.
const minOutsideMajor, minOutsideMinor = 22, 3

// planSteps decides the commands for an install into venv with interpreter python. hasReqs says whether the
// program has a requirements.txt; basePip is the version of python's own pip, "" if it has none.
func planSteps(python, venv string, hasReqs bool, basePip string, pipArgs []string) steps {
	m := venvPip
	switch {
	case !hasReqs:
		m = noPip
	case pipHasPythonOption(basePip):
		m = outsidePip
	}
	s := steps{method: m, venv: pythonCmd(python, "-m", "venv")}
	if m != venvPip {
		s.venv = append(s.venv, "--without-pip")
	}
	s.venv = append(s.venv, venv)
	install := append([]string{"install", "-r", "requirements.txt"}, pipArgs...)
	switch m {
	case outsidePip:
		s.pip = pythonCmd(python, "-m", "pip", "--python", venvPython(venv))
		s.pip = append(s.pip, install...)
	case venvPip:
		s.pip = pythonCmd(venvPython(venv), "-m", "pip")
		s.pip = append(s.pip, install...)
	}
	return s
}

// pythonCmd returns the argv that runs the interpreter exe with args. -I keeps the program's directory (the
// working directory) off sys.path, so that an uploaded venv.py or pip/ cannot stand in for the real module,
// and ignores PYTHON* variables such as PYTHONPATH; -u because -I also ignores PYTHONUNBUFFERED, and the
// output must stream.
func pythonCmd(exe string, args ...string) []string {
	return append([]string{exe, "-I", "-u"}, args...)
}

// venvPython is the interpreter of the venv at venv.
func venvPython(venv string) string { return venv + "/bin/python" }

// pipHasPythonOption reports whether pip version v (such as "23.2.1" or "22.3.dev0") has the --python option.
func pipHasPythonOption(v string) bool {
	major, rest, _ := strings.Cut(v, ".")
	maj, ok1 := leadingInt(major)
	mnr, ok2 := leadingInt(rest)
	switch {
	case !ok1:
		return false
	case maj != minOutsideMajor:
		return maj > minOutsideMajor
	}
	return ok2 && mnr >= minOutsideMinor
}

// leadingInt parses the decimal digits at the start of s ("3" of "3rc1"); false if there are none.
func leadingInt(s string) (int, bool) {
	end := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(s)
	}
	n, err := strconv.Atoi(s[:end])
	return n, err == nil
}

// quoteArgs renders argv for a banner, quoting the arguments a shell would split or expand, with the
// credentials in its URLs masked (see maskCredentials): the banner goes to the upload's log, which every
// user of the dashboard may read.
func quoteArgs(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		a = maskCredentials(a)
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\$`*?[]{}()<>|&;#~") {
			a = strconv.Quote(a)
		}
		parts[i] = a
	}
	return strings.Join(parts, " ")
}

// urlAuthority matches a URL's scheme and authority (user info, host, port) wherever it occurs in a string,
// such as "--index-url=https://user:secret@host/simple" or "git+https://token@host/repo".
var urlAuthority = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^/?#\s]*`)

// maskCredentials replaces the secret in the user info of every URL in s: "https://user:secret@host" becomes
// "https://user:***@host", and "https://secret@host" (a token given as the user name) "https://***@host". It
// is pure.
func maskCredentials(s string) string {
	return urlAuthority.ReplaceAllStringFunc(s, func(m string) string {
		at := strings.LastIndexByte(m, '@')
		if at < 0 {
			return m
		}
		scheme := strings.Index(m, "://") + len("://")
		user, _, hasPassword := strings.Cut(m[scheme:at], ":")
		if !hasPassword {
			user = ""
		} else {
			user += ":"
		}
		return m[:scheme] + user + "***" + m[at:]
	})
}
