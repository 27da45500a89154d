package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/pyvisor/pyvisor/internal/api"
	"github.com/pyvisor/pyvisor/internal/client"
)

// Exit statuses of the client commands (and of the manager where they apply).
const (
	exitOK          = 0
	exitFailed      = 1 // a request failed: unknown program, failed action, rejected reload
	exitUsage       = 2 // bad usage or an invalid configuration
	exitUnreachable = 3 // the manager could not be reached
)

// defaultLogLines is what `pyvisor logs` prints without -n: about a screenful,
// enough for a traceback.
const defaultLogLines = 20

// defaultGrepMatches is how many matches `pyvisor logs --grep` prints
// without -n.
const defaultGrepMatches = 100

// maxKnownNames bounds the names listed after an unknown one.
const maxKnownNames = 20

// clientSynopsis returns the usage line of a client command, or "" for a
// command that is not one.
func clientSynopsis(cmd string) string {
	switch cmd {
	case "status":
		return "pyvisor status [NAME...] [--json] [--url URL | -c FILE]"
	case "start", "stop", "restart":
		return "pyvisor " + cmd + " NAME...|all [--url URL | -c FILE]"
	case "logs":
		return "pyvisor logs NAME [-n LINES] [-f] [--grep PATTERN [--regex] [--case] [-n MATCHES]] [--url URL | -c FILE]"
	case "reload":
		return "pyvisor reload [--url URL | -c FILE]"
	case "notify-test":
		return "pyvisor notify-test [--url URL | -c FILE]"
	case "events":
		return "pyvisor events [NAME] [-n N] [-f] [--url URL | -c FILE]"
	}
	return ""
}

// runClient runs a command that talks to a running manager. It ends when the
// command is done or ctx ends (Ctrl+C), and returns the exit status.
func runClient(ctx context.Context, cmd string, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pyvisor "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("c", "", "configuration `FILE` to take the manager's address from (default: ./"+defaultConfigName+" if present)")
	managerURL := fs.String("url", "", "the manager's `URL`, e.g. http://127.0.0.1:10000 (default: $PYVISOR_URL, then the configuration's address)")
	var asJSON, follow bool
	var lines int
	var grep client.LogSearch
	switch cmd {
	case "status":
		fs.BoolVar(&asJSON, "json", false, "print the API's JSON (GET /api/programs) instead of a table")
	case "logs":
		fs.IntVar(&lines, "n", defaultLogLines, fmt.Sprintf("print the last `LINES` lines (0-%d)", api.MaxLogLines))
		fs.BoolVar(&follow, "f", false, "then print new lines as they are written, until Ctrl+C")
		fs.StringVar(&grep.Text, "grep", "", "print the lines of the log and its backups that contain `PATTERN`, newest first, as FILE:LINE: TEXT")
		fs.BoolVar(&grep.Regex, "regex", false, "with --grep: PATTERN is a regular expression (RE2 syntax)")
		fs.BoolVar(&grep.CaseSensitive, "case", false, "with --grep: match case (by default case is ignored)")
	case "events":
		fs.IntVar(&lines, "n", defaultEvents, fmt.Sprintf("print the last `N` events (0-%d)", api.MaxEvents))
		fs.BoolVar(&follow, "f", false, "then print new events as they happen, until Ctrl+C")
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s\n", clientSynopsis(cmd))
		fs.PrintDefaults()
		fmt.Fprint(stderr, clientHelp)
	}
	names, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	} else if err != nil {
		return exitUsage
	}
	if msg := checkArity(cmd, names); msg != "" {
		fmt.Fprintf(stderr, "pyvisor %s: %s\nusage: %s\n", cmd, msg, clientSynopsis(cmd))
		return exitUsage
	}
	if msg := checkEventCount(cmd, lines); msg != "" {
		fmt.Fprintf(stderr, "pyvisor events: %s\n", msg)
		return exitUsage
	}
	if msg := checkLogFlags(fs, lines, follow, grep); cmd == "logs" && msg != "" {
		fmt.Fprintf(stderr, "pyvisor logs: %s\nusage: %s\n", msg, clientSynopsis(cmd))
		return exitUsage
	}
	if grep.Text != "" && !flagSet(fs, "n") {
		lines = defaultGrepMatches
	}

	addr, err := resolveAddress(*managerURL, *configPath, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "pyvisor %s: %v\n", cmd, err)
		return exitUsage
	}
	var opts client.Options
	tokenFrom := ""
	if env := getenv("PYVISOR_TOKEN"); env != "" {
		if why := envTokenWithheld(addr); why != "" {
			fmt.Fprintf(stderr, "pyvisor %s: not sending PYVISOR_TOKEN to %s: %s\n", cmd, addr.URL, why)
		} else {
			opts.Token, tokenFrom = env, "PYVISOR_TOKEN"
		}
	}
	if tokenFrom == "" && addr.TokenFile != "" {
		// A manager that requires a login leaves a token beside its config
		// for clients on the same machine; one without leaves none.
		data, err := os.ReadFile(addr.TokenFile)
		why := ""
		if err == nil {
			why = fileTokenWithheld(addr, localAddrs())
		}
		switch {
		case err != nil: // no token to send
		case why != "":
			fmt.Fprintf(stderr, "pyvisor %s: not sending the token in %s to %s: %s\n", cmd, addr.TokenFile, addr.URL, why)
		default:
			opts.Token, tokenFrom = strings.TrimSpace(string(data)), addr.TokenFile
		}
	}
	if addr.CertFile != "" {
		if opts.TLSConfig, err = pinnedTLS(addr.CertFile); err != nil {
			fmt.Fprintf(stderr, "pyvisor %s: %v\n", cmd, err)
			return exitUsage
		}
	}
	c, err := client.New(addr.URL, opts)
	if err != nil {
		fmt.Fprintf(stderr, "pyvisor %s: %v (from %s)\n", cmd, err, addr.Source)
		return exitUsage
	}
	x := &ctl{cmd: cmd, c: c, addr: addr, tokenFrom: tokenFrom, stdout: stdout, stderr: stderr}
	switch cmd {
	case "status":
		return x.status(ctx, names, asJSON)
	case "logs":
		if grep.Text != "" {
			return x.grep(ctx, names[0], grep, lines)
		}
		return x.logs(ctx, names[0], lines, follow)
	case "reload":
		return x.reload(ctx)
	case "notify-test":
		return x.notifyTest(ctx)
	case "events":
		return x.events(ctx, names, lines, follow)
	default:
		return x.act(ctx, names)
	}
}

// clientHelp ends the usage text of pyvisor and of every client command.
const clientHelp = `
The client commands (status, start, stop, restart, logs, events, reload,
notify-test) talk to a running manager. Its address: --url URL, else the one
in the file given with -c FILE, else $PYVISOR_URL, else the one in
./process_manager.yaml, else http://127.0.0.1:10000. $PYVISOR_TOKEN is sent
as a bearer token when set, to an address from --url or $PYVISOR_URL or a
loopback address only (not to another address a config file names); else,
with the address from a config file, the token the manager left in
process_manager.token beside it, if this user may read it and the address
is a loopback one or this machine's own.

Exit status: 0 success; 1 a request failed (unknown program, failed action,
rejected reload) or the manager failed; 2 usage error or invalid configuration;
3 the manager could not be reached.
`

// parseInterleaved parses flags that may come before, between or after the
// names (pyvisor logs web -f), and returns the names. After "--" everything
// is a name.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var names []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return names, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(names, rest...), nil
		}
		names, args = append(names, rest[0]), rest[1:]
	}
}

// checkArity says what is wrong with the names given to cmd, or "".
func checkArity(cmd string, names []string) string {
	switch cmd {
	case "status":
		// Any names: none means every program.
	case "reload", "notify-test":
		if len(names) > 0 {
			return fmt.Sprintf("unexpected argument %q", names[0])
		}
	case "logs":
		if len(names) != 1 {
			return fmt.Sprintf("give one program name, not %d", len(names))
		}
	case "events":
		if len(names) > 1 {
			return fmt.Sprintf("give one program name or none, not %d", len(names))
		}
	default:
		if len(names) == 0 {
			return "give the names of the programs, or all"
		}
		if len(names) > 1 && slices.Contains(names, "all") {
			return `"all" acts on every program; give it alone`
		}
	}
	return ""
}

// flagSet tells whether the flag name was given.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// ctl runs one client command against one manager.
type ctl struct {
	cmd            string
	c              *client.Client
	addr           managerAddress
	tokenFrom      string // "PYVISOR_TOKEN", the local token file, or "" for no token
	stdout, stderr io.Writer
}

// fail reports an error that ends the command and returns its exit status.
func (x *ctl) fail(err error) int {
	switch {
	case errors.Is(err, client.ErrUnreachable):
		fmt.Fprintf(x.stderr, "pyvisor %s: %v (address from %s)\n", x.cmd, err, x.addr.Source)
		return exitUnreachable
	case errors.Is(err, context.Canceled):
		fmt.Fprintf(x.stderr, "pyvisor %s: interrupted\n", x.cmd)
	case isStatus(err, http.StatusUnauthorized):
		// (A 403 explains itself: a refused Host or Origin.)
		fmt.Fprintf(x.stderr, "pyvisor %s: %v; %s\n", x.cmd, err, x.tokenAdvice())
	default:
		fmt.Fprintf(x.stderr, "pyvisor %s: %v\n", x.cmd, err)
	}
	return exitFailed
}

// tokenAdvice says what to do about a token the manager refused, or the
// lack of one, by where the token came from.
func (x *ctl) tokenAdvice() string {
	switch {
	case x.tokenFrom == "PYVISOR_TOKEN":
		return "check that PYVISOR_TOKEN holds a token the manager accepts"
	case x.tokenFrom != "":
		return fmt.Sprintf("the manager refused the token in %s; if it restarted meanwhile, try again, or set PYVISOR_TOKEN", x.tokenFrom)
	case x.addr.TokenFile != "":
		return fmt.Sprintf("set PYVISOR_TOKEN, or run as the manager's user, who may read %s", x.addr.TokenFile)
	}
	return "if the manager requires a token, set PYVISOR_TOKEN"
}

// isStatus reports whether err is the manager's answer with status.
func isStatus(err error, status int) bool {
	var ae *client.APIError
	return errors.As(err, &ae) && ae.Status == status
}

// failName is fail for a request about the named program: an unknown name
// is reported with the names the manager knows.
func (x *ctl) failName(ctx context.Context, name string, err error) int {
	if errors.Is(err, client.ErrNotFound) {
		fmt.Fprintf(x.stderr, "pyvisor %s: %s\n", x.cmd, x.unknownName(ctx, name, err))
		return exitFailed
	}
	return x.fail(err)
}

// unknownName explains a 404 for name, listing the programs the manager has.
func (x *ctl) unknownName(ctx context.Context, name string, err error) string {
	l, lerr := x.c.Programs(ctx)
	names := []string{}
	if lerr == nil {
		names = l.Names()
	}
	switch {
	case lerr != nil || slices.Contains(names, name):
		// The 404 was about something else (a route this manager lacks).
		return err.Error()
	case len(names) == 0:
		return fmt.Sprintf("no program named %q; the manager has no programs", name)
	case len(names) > maxKnownNames:
		return fmt.Sprintf("no program named %q; known programs: %s, ... and %d more (see pyvisor status)",
			name, strings.Join(names[:maxKnownNames], ", "), len(names)-maxKnownNames)
	}
	return fmt.Sprintf("no program named %q; known programs: %s", name, strings.Join(names, ", "))
}

// status prints the programs, or those named (NAME of a program with
// instances names all its copies).
func (x *ctl) status(ctx context.Context, names []string, asJSON bool) int {
	l, err := x.c.Programs(ctx)
	if err != nil {
		return x.fail(err)
	}
	if len(names) > 0 {
		var missing []string
		l.Programs, missing = selectPrograms(l.Programs, names)
		for _, name := range missing {
			fmt.Fprintf(x.stderr, "pyvisor %s: %s\n", x.cmd, x.unknownName(ctx, name, client.ErrNotFound))
		}
		if len(missing) > 0 {
			return exitFailed
		}
		if l.Raw, err = json.Marshal(l.ProgramList); err != nil {
			return x.fail(fmt.Errorf("encode the programs: %w", err))
		}
	}
	if asJSON {
		fmt.Fprintf(x.stdout, "%s\n", l.Raw)
		return exitOK
	}
	if len(l.Programs) == 0 {
		fmt.Fprintln(x.stdout, "No programs are configured.")
		return exitOK
	}
	if err := writeStatusTable(x.stdout, l.Programs); err != nil {
		return x.fail(fmt.Errorf("write the table: %w", err))
	}
	return exitOK
}

// act starts, stops or restarts the named programs (or all) one after the
// other, reporting each, and fails if any failed. It stops early only when
// going on cannot help: the manager is gone, the token is refused, or Ctrl+C.
func (x *ctl) act(ctx context.Context, names []string) int {
	do := map[string]func(context.Context, string) (*api.Program, error){
		"start": x.c.Start, "stop": x.c.Stop, "restart": x.c.Restart,
	}[x.cmd]
	if len(names) == 1 && names[0] == "all" {
		l, err := x.c.Programs(ctx)
		if err != nil {
			return x.fail(err)
		}
		if names = l.Names(); len(names) == 0 {
			fmt.Fprintln(x.stdout, "No programs are configured.")
			return exitOK
		}
	}
	failed := 0
	for i := 0; i < len(names); i++ {
		name := names[i]
		p, err := do(ctx, name)
		if errors.Is(err, client.ErrNotFound) {
			// NAME of a program with instances acts on every copy.
			if copies := x.copies(ctx, name); len(copies) > 0 {
				names = slices.Insert(names, i+1, copies...)
				continue
			}
		}
		var ae *client.APIError
		switch {
		case err == nil:
			fmt.Fprintln(x.stdout, actionResult(p))
			continue
		case errors.Is(err, client.ErrUnreachable), errors.Is(err, client.ErrUnauthorized), ctx.Err() != nil:
			return x.fail(err)
		case errors.Is(err, client.ErrNotFound):
			fmt.Fprintf(x.stderr, "pyvisor %s: %s\n", x.cmd, x.unknownName(ctx, name, err))
		case errors.As(err, &ae) && ae.Status == http.StatusConflict:
			// The action could not be done; the message says why (a start that
			// failed), and usually names the program already.
			msg := ae.Message
			if !strings.Contains(msg, strconv.Quote(name)) {
				msg = strconv.Quote(name) + ": " + msg
			}
			fmt.Fprintf(x.stderr, "pyvisor %s: %s\n", x.cmd, msg)
		default:
			fmt.Fprintf(x.stderr, "pyvisor %s: %q: %v\n", x.cmd, name, err)
		}
		failed++
	}
	if failed > 0 {
		return exitFailed
	}
	return exitOK
}

// copies returns the names of the copies of the program name with
// instances, or none.
func (x *ctl) copies(ctx context.Context, name string) []string {
	l, err := x.c.Programs(ctx)
	if err != nil {
		return nil
	}
	var out []string
	for _, p := range l.Programs {
		if p.InstanceOf != nil && *p.InstanceOf == name {
			out = append(out, p.Name)
		}
	}
	return out
}

// selectPrograms returns the programs names names, in the manager's order,
// a program with instances standing for all its copies, and the names that
// match none. It is pure.
func selectPrograms(programs []api.Program, names []string) (selected []api.Program, missing []string) {
	matched := map[string]bool{}
	for _, p := range programs {
		for _, n := range names {
			if p.Name == n || (p.InstanceOf != nil && *p.InstanceOf == n) {
				selected = append(selected, p)
				matched[n] = true
				break
			}
		}
	}
	for _, n := range names {
		if !matched[n] {
			missing = append(missing, n)
		}
	}
	return selected, missing
}

func (x *ctl) reload(ctx context.Context) int {
	r, err := x.c.Reload(ctx)
	var ae *client.APIError
	switch {
	case errors.Is(err, client.ErrReloadUnsupported):
		fmt.Fprintf(x.stderr, "pyvisor reload: %v; restart the manager to apply a changed configuration\n", err)
		return exitFailed
	case errors.As(err, &ae) && ae.Status == http.StatusUnprocessableEntity:
		fmt.Fprintf(x.stderr, "pyvisor reload: the manager refused the configuration:\n%s\n", strings.TrimRight(ae.Message, "\n"))
		return exitFailed
	case err != nil:
		return x.fail(err)
	}
	fmt.Fprint(x.stdout, reloadSummary(r))
	return exitOK
}

// reloadSummary says what a reload changed, one line per kind of change.
func reloadSummary(r *api.ReloadResult) string {
	var b strings.Builder
	b.WriteString("Configuration reloaded")
	if len(r.Added)+len(r.Removed)+len(r.Changed)+len(r.NeedsRestart) == 0 {
		b.WriteString(": nothing changed.\n")
		return b.String()
	}
	b.WriteString(".\n")
	for _, kind := range []struct {
		label string
		names []string
	}{{"added", r.Added}, {"removed", r.Removed}, {"changed", r.Changed}, {"needs restart", r.NeedsRestart}} {
		if len(kind.names) > 0 {
			fmt.Fprintf(&b, "%s: %s\n", kind.label, strings.Join(kind.names, ", "))
		}
	}
	if len(r.NeedsRestart) > 0 {
		fmt.Fprintln(&b, "(apply with: pyvisor restart NAME...)")
	}
	return b.String()
}
