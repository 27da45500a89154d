// Command pyvisor keeps a set of Python programs running and serves a dashboard
// for them; its client commands control a running manager over its HTTP API.
// See docs/configuration.md, docs/cli.md and docs/api.md for the configuration, the client and the API.
//
// Usage:
//
//	pyvisor [-c FILE]                          run the manager (SIGHUP reloads FILE)
//	pyvisor validate [-c FILE]                 check a configuration and print it resolved
//	pyvisor hash-password                      read a password, print its hash for web_ui.auth
//	pyvisor new-token NAME                     print a new API token and its web_ui.auth.tokens entry
//	pyvisor status [--json]                    show every program (a table, or the API's JSON)
//	pyvisor start|stop|restart NAME...|all     act on programs, one after the other
//	pyvisor logs NAME [-n LINES] [-f]          print the last lines of a log; -f follows it
//	pyvisor events [NAME] [-n N] [-f]          print what happened when; -f follows
//	pyvisor reload                             make the manager read its configuration again
//	pyvisor notify-test                        send a test notification through every notify entry
//	pyvisor export systemd|nomad [flags]       write the programs as systemd units or a Nomad job
//
// The client commands take --url URL or -c FILE; see usageText for where the
// address comes from and the exit statuses.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pyvisor/pyvisor/internal/api"
	"github.com/pyvisor/pyvisor/internal/config"
	"github.com/pyvisor/pyvisor/internal/install"
	"github.com/pyvisor/pyvisor/internal/memtune"
	notifications "github.com/pyvisor/pyvisor/internal/notify"
	"github.com/pyvisor/pyvisor/internal/sdnotify"
	"github.com/pyvisor/pyvisor/internal/supervisor"
	"github.com/pyvisor/pyvisor/internal/web"
)

// defaultConfigName is looked for in the current directory when -c is not given.
const defaultConfigName = "process_manager.yaml"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// usageText is printed by pyvisor help and -h.
const usageText = `usage:
  pyvisor [-c FILE]                          run the manager
  pyvisor validate [-c FILE]                 check a configuration and print it resolved
  pyvisor hash-password                      read a password, print its hash for web_ui.auth
  pyvisor new-token NAME                     print a new API token and its web_ui.auth.tokens entry
  pyvisor status [--json]                    show every program (a table, or the API's JSON)
  pyvisor start|stop|restart NAME...|all     act on programs, one after the other
  pyvisor logs NAME [-n LINES] [-f]          print the last lines of a log (20); -f follows it
  pyvisor events [NAME] [-n N] [-f]          print the last events (20), of one program or all; -f follows
  pyvisor reload                             make the manager read its configuration again
  pyvisor notify-test                        send a test notification through every notify entry
  pyvisor export systemd [-c FILE] [--out DIR] [--prefix pyvisor-]
                                             write one systemd unit per program
  pyvisor export nomad [-c FILE] [--datacenter dc1] [--json]
                                             print the programs as one Nomad job
` + clientHelp

// run is main without the exit, so its exit codes are easy to see: 0 for a
// clean run, a valid config or a client command that did its work, 1 for a
// runtime failure or a failed request, 2 for bad usage or an invalid
// configuration, 3 for a manager the client commands cannot reach.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd, args := splitCommand(args)
	if clientSynopsis(cmd) != "" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		return runClient(ctx, cmd, args, os.Getenv, stdout, stderr)
	}
	if cmd == "export" {
		return runExport(args, stdout, stderr)
	}
	if cmd == "help" {
		fmt.Fprint(stdout, usageText)
		return 0
	}
	fset := flag.NewFlagSet("pyvisor "+cmd, flag.ContinueOnError)
	fset.SetOutput(stderr)
	configPath := fset.String("c", "", "configuration file (default: ./"+defaultConfigName+" if present)")
	fset.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fmt.Fprintf(stderr, "\nflags of pyvisor %s:\n", cmd)
		fset.PrintDefaults()
	}
	if err := fset.Parse(args); errors.Is(err, flag.ErrHelp) {
		return 0
	} else if err != nil {
		return 2
	}
	wantArgs := 0
	if cmd == "new-token" {
		wantArgs = 1
	}
	if fset.NArg() > wantArgs {
		fmt.Fprintf(stderr, "pyvisor %s: unexpected argument %q\n", cmd, fset.Arg(wantArgs))
		return 2
	}
	if fset.NArg() < wantArgs {
		fmt.Fprintf(stderr, "usage: pyvisor %s NAME\n", cmd)
		return 2
	}
	switch cmd {
	case "run":
		return runManager(*configPath, stdout, stderr)
	case "validate":
		return validate(*configPath, stdout, stderr)
	case "hash-password":
		return hashPassword(stdin, stdout, stderr)
	case "new-token":
		return newToken(fset.Arg(0), stdout, stderr)
	default:
		fmt.Fprintf(stderr, "pyvisor: unknown command %q (commands: run, validate, hash-password, new-token, export, status, start, stop, restart, logs, events, reload, notify-test; see pyvisor help)\n", cmd)
		return 2
	}
}

// splitCommand finds the command in args: the first argument that is not a
// flag or a flag's value, so that both "pyvisor status -c FILE" and "pyvisor
// -c FILE status" work. Without one, the command is "run".
func splitCommand(args []string) (cmd string, rest []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return "run", args
		case a == "-c" || a == "--c" || a == "-url" || a == "--url":
			i++ // its value follows
		case strings.HasPrefix(a, "-") && a != "-":
		default:
			return a, append(args[:i:i], args[i+1:]...)
		}
	}
	return "run", args
}

// loadConfig loads the named file, or ./process_manager.yaml, or the built-in
// defaults when neither exists. usedDefaults reports the last case.
func loadConfig(path string) (cfg *config.Config, usedDefaults bool, err error) {
	if path != "" {
		cfg, err := config.Load(path)
		return cfg, false, err
	}
	if _, err := os.Stat(defaultConfigName); err == nil {
		cfg, err := config.Load(defaultConfigName)
		return cfg, false, err
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("look for %s: %w", defaultConfigName, err)
	}
	wd, err := os.Getwd()
	if err != nil {
		return nil, false, fmt.Errorf("current directory: %w", err)
	}
	return config.Default(wd), true, nil
}

func runManager(configPath string, stdout, stderr io.Writer) int {
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	// Under systemd (Type=notify) the manager reports when it is ready and when
	// it stops. The variable is removed so that the programs, which inherit the
	// environment, do not speak to systemd in the manager's name.
	systemd := sdnotify.Notifier{Socket: os.Getenv("NOTIFY_SOCKET")}
	os.Unsetenv("NOTIFY_SOCKET")
	cfg, usedDefaults, err := loadConfig(configPath)
	if err != nil {
		fmt.Fprintf(stderr, "pyvisor: invalid configuration:\n%v\n", err)
		return 2
	}
	if usedDefaults {
		fmt.Fprintf(stdout, "No %s in %s: running on built-in defaults (no programs, dashboard on %s:%d)\n",
			defaultConfigName, cfg.Dir, cfg.WebUI.Host, cfg.WebUI.Port)
	}
	sup := supervisor.New(cfg, supervisor.Options{Logger: logger, UploadFiles: install.Leftovers{}})
	unlock, err := sup.Lock()
	if err != nil {
		fmt.Fprintf(stderr, "pyvisor: %v\n", err)
		return 1
	}
	defer unlock()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	memtune.Start(ctx, logger, sup.Ready())
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP) // from now on SIGHUP reloads instead of ending the manager
	defer signal.Stop(hup)
	notifier := notifications.New(sup, cfg, notifications.Options{Logger: logger})
	rl := &reloader{sup: sup, log: logger, path: cfg.Path, notifier: notifier}

	addr := net.JoinHostPort(cfg.WebUI.Host, strconv.Itoa(cfg.WebUI.Port))
	tls := cfg.WebUI.TLSCert != ""
	url := webURL(cfg.WebUI, cfg.WebUI.Host)
	authn, err := setupAuth(cfg, url, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "pyvisor: %v\n", err)
		return 1
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(stderr, "pyvisor: web UI: %v\n", err)
		return 1
	}
	srv := web.NewServer(addr, web.NewHandler(web.Options{
		Supervisor:    sup,
		Title:         cfg.WebUI.Title,
		AllowedHosts:  cfg.WebUI.AllowedHosts,
		Logger:        logger,
		Uploads:       uploadOptions(&cfg.Uploads, cfg.User),
		Reload:        rl.reload,
		TestNotify:    func(ctx context.Context) []api.NotifyResult { return notifyResults(notifier.Test(ctx)) },
		Auth:          authn,
		SecureCookies: cookiePolicy(cfg.WebUI.SecureCookies),
	}))
	serveErr := make(chan error, 1)
	go func() {
		if tls {
			// The pair was checked at load; a file changed since fails here.
			serveErr <- srv.ServeTLS(ln, cfg.WebUI.TLSCert, cfg.WebUI.TLSKey)
			return
		}
		serveErr <- srv.Serve(ln)
	}()

	supDone := make(chan error, 1)
	go func() { supDone <- sup.Run(ctx) }()
	go rl.onSignals(ctx, hup)
	notifyDone := make(chan struct{})
	go func() { notifier.Run(ctx); close(notifyDone) }()

	fmt.Fprintln(stdout, "Process Manager started")
	fmt.Fprintf(stdout, "Web UI available at %s\n", url)
	fmt.Fprintln(stdout, "Press Ctrl+C to stop")

	code := 0
	ready := sup.Ready()
wait:
	for {
		select {
		case <-ready:
			// The listener is bound (connections queue until Serve takes them)
			// and the programs are adopted or starting: systemd may go on.
			ready = nil
			notify(logger, systemd, fmt.Sprintf("%s\nMAINPID=%d\nSTATUS=%d program(s); web UI on %s",
				sdnotify.Ready, os.Getpid(), len(sup.Statuses()), url))
		case <-ctx.Done():
			break wait
		case err := <-serveErr:
			logger.Error("web UI stopped", "err", err)
			code = 1
			stop()
			break wait
		}
	}
	notify(logger, systemd, sdnotify.Stopping+"\nSTATUS=saving state; programs left running")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(shutdownCtx)
	if err := <-supDone; err != nil {
		logger.Error("supervisor", "err", err)
		code = 1
	}
	<-notifyDone
	fmt.Fprintln(stdout, "Process Manager stopped; programs left running")
	return code
}

// notify tells systemd state; a failure is logged and changes nothing else,
// as the manager works the same without systemd.
func notify(logger *slog.Logger, n sdnotify.Notifier, state string) {
	if err := n.Notify(state); err != nil {
		logger.Warn("tell systemd", "err", err)
	}
}

// uploadOptions turns the uploads section of the config into the web
// package's settings (web does not import config). Installs run as the global
// user, as the uploaded programs do.
func uploadOptions(u *config.Uploads, user *config.User) web.UploadOptions {
	o := web.UploadOptions{
		MaxZipBytes: u.MaxZipBytes,
		Limits:      install.Limits{MaxEntries: u.MaxFiles, MaxUncompressed: u.MaxUnpackedBytes},
		Installer:   install.Installer{Python: u.Python, PipArgs: u.PipArgs, Timeout: u.InstallTimeout},
	}
	if user != nil {
		o.Installer.User = &install.User{Name: user.Name, Home: user.Home, Credential: user.Credential()}
	}
	return o
}

func validate(configPath string, stdout, stderr io.Writer) int {
	cfg, usedDefaults, err := loadConfig(configPath)
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 2
	}
	if usedDefaults {
		fmt.Fprintf(stdout, "No %s in %s: the built-in defaults apply.\n", defaultConfigName, cfg.Dir)
	} else {
		fmt.Fprintf(stdout, "%s is valid: %d program(s)\n", cfg.Path, len(cfg.Programs))
	}
	fmt.Fprintf(stdout, "web UI: %s (%q)\n", webURL(cfg.WebUI, cfg.WebUI.Host), cfg.WebUI.Title)
	fmt.Fprintf(stdout, "access: %s\n", accessText(cfg))
	if cfg.User != nil {
		fmt.Fprintf(stdout, "user: %v (programs without a user of their own, and installs of uploads)\n", cfg.User)
	}
	containment := supervisor.ProbeContainment(false)
	fmt.Fprintf(stdout, "process containment: %s\n", containment)
	for _, w := range containment.LimitWarnings(cfg.Programs) {
		fmt.Fprintf(stdout, "WARNING: %s\n", w)
	}
	problems := 0
	for i := range cfg.Programs {
		p := &cfg.Programs[i]
		c := cfg.Command(p, os.Environ())
		fmt.Fprintf(stdout, "\n%s\n", p.Name)
		fmt.Fprintf(stdout, "  interpreter: %s\n", c.Python)
		fmt.Fprintf(stdout, "  script:      %s\n", c.Script)
		fmt.Fprintf(stdout, "  cwd:         %s\n", c.Dir)
		if c.User != nil {
			fmt.Fprintf(stdout, "  user:        %v\n", c.User)
		}
		fmt.Fprintf(stdout, "  args:        %q\n", c.Args)
		fmt.Fprintf(stdout, "  environment: %s\n", strings.Join(c.EnvKeys, " "))
		fmt.Fprintf(stdout, "  enabled: %t  autorestart: %t  stop: %s after %s\n", p.Enabled, p.Autorestart, unix.SignalName(p.StopSignal), p.StopTimeout)
		if l := p.Limits; l.MemoryMax > 0 || l.CPUMaxPercent > 0 {
			fmt.Fprintf(stdout, "  limits:      memory %d MiB, cpu %g%% (0: none)\n", l.MemoryMax>>20, l.CPUMaxPercent)
		}
		if err := c.Check(); err != nil {
			problems++
			fmt.Fprintf(stdout, "  WARNING: %v (this program will be in state error)\n", err)
		}
	}
	if problems > 0 {
		fmt.Fprintf(stdout, "\n%d program(s) cannot start as configured.\n", problems)
	}
	return 0
}
