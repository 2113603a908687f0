package gateway

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"go.uber.org/zap"

	"github.com/shopfront/shared/edge/buildinfo"
	"github.com/shopfront/shared/edge/config"
	"github.com/shopfront/shared/edge/logging"
)

// Exit codes of a gateway process.
const (
	// ExitOK follows a shutdown asked for by SIGINT or SIGTERM, after the
	// drain.
	ExitOK = 0
	// ExitFailed follows a gateway that could not be built or whose
	// listener failed.
	ExitFailed = 1
	// ExitUsage follows invalid configuration: nothing was started.
	ExitUsage = 2
)

// Config is a gateway's loaded configuration: anything that embeds
// config.Common, which gives Shared.
type Config interface {
	Shared() config.Common
}

// Runner is a built gateway: Run serves until ctx is done, drains and
// returns nil, or returns the error of a listener that failed.
type Runner interface {
	Run(ctx context.Context) error
}

// Reloader is a built gateway that can reload its files while it serves;
// *Gateway is one, running what was registered with OnReload.
type Reloader interface {
	Reload(ctx context.Context) error
}

// Command is one gateway process: how it loads its configuration and how it
// builds its app from it.
type Command[C Config, A Runner] struct {
	// Name prefixes every line of a configuration problem, e.g.
	// "bff-mobile". Required.
	Name string
	// Load reads the configuration through lookup and validates it; its
	// error holds one line per problem. Required.
	Load func(lookup config.Lookup) (C, error)
	// New builds the gateway and binds its listeners. Required.
	New func(ctx context.Context, cfg C, log *zap.Logger) (A, error)
	// Reloads asks the built gateway, when it is a Reloader, to reload its
	// files, once per value received while it serves. Optional. Default
	// none: no reloads.
	Reloads <-chan struct{}
}

// Run is the process without its process-wide parts (environment, signals,
// exit): it loads the configuration through lookup, writes JSON logs to
// stdout, builds the gateway and serves until ctx is done. It returns the
// exit code. Invalid configuration is ExitUsage, with one line
// "<name>: <problem>" per problem on stderr and nothing on stdout.
func (c Command[C, A]) Run(ctx context.Context, lookup config.Lookup, stdout, stderr io.Writer) int {
	cfg, err := c.Load(lookup)
	if err != nil {
		// One line per problem, each naming its variable.
		c.report(stderr, err)
		return ExitUsage
	}
	// The access lines wait up to DefaultFlushInterval in memory and are
	// written together; every other line is written at once.
	log, closeLog, err := logging.Config{Level: cfg.Shared().LogLevel, Writer: stdout, FlushInterval: logging.DefaultFlushInterval}.Build()
	if err != nil {
		_, _ = fmt.Fprintln(stderr, c.Name+": making logger:", err)
		return ExitUsage
	}
	defer func() { _ = closeLog() }()
	a, err := c.New(ctx, cfg, log)
	if err == nil {
		stop := c.serveReloads(ctx, a, log)
		err = a.Run(ctx)
		stop()
	}
	if err != nil {
		log.Error("exiting", zap.Error(err))
		return ExitFailed
	}
	return ExitOK
}

// Exec is Run behind the command line: --version prints the build
// (name, version, VCS revision, Go version) and exits ExitOK;
// --check-config loads and validates the configuration as Run would and
// exits ExitOK when it is valid, ExitUsage with one line per problem when
// not, serving nothing. Without flags it is Run.
func (c Command[C, A]) Exec(ctx context.Context, args []string, lookup config.Lookup, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(c.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	version := fs.Bool("version", false, "print the build's name, version, revision and Go version, and exit")
	check := fs.Bool("check-config", false, "validate the configuration from the environment and BFF_CONFIG, and exit")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	if fs.NArg() > 0 {
		_, _ = fmt.Fprintf(stderr, "%s: unexpected argument %q\n", c.Name, fs.Arg(0))
		return ExitUsage
	}
	switch {
	case *version:
		_, _ = fmt.Fprintln(stdout, buildinfo.Read(c.Name))
		return ExitOK
	case *check:
		if _, err := c.Load(lookup); err != nil {
			c.report(stderr, err)
			return ExitUsage
		}
		_, _ = fmt.Fprintln(stdout, c.Name+": configuration is valid")
		return ExitOK
	}
	return c.Run(ctx, lookup, stdout, stderr)
}

// report writes err's problems, one line "<name>: <problem>" each.
func (c Command[C, A]) report(stderr io.Writer, err error) {
	prefix := c.Name + ": "
	_, _ = fmt.Fprintln(stderr, prefix+strings.ReplaceAll(err.Error(), "\n", "\n"+prefix))
}

// serveReloads hands each value of c.Reloads to a's Reload until the
// returned stop is called.
func (c Command[C, A]) serveReloads(ctx context.Context, a A, log *zap.Logger) (stop func()) {
	r, ok := any(a).(Reloader)
	if !ok || c.Reloads == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-c.Reloads:
				if err := r.Reload(ctx); err != nil {
					log.Error("reload failed: keeping what was loaded before", zap.Error(err))
					continue
				}
				log.Info("reloaded")
			}
		}
	}()
	return func() { cancel(); <-done }
}

// Main is the whole of a gateway's main function:
//
//	func main() { gateway.Main(app.Name, config.Load, app.New) }
//
// It owns the process's signals. It runs the Command with the process
// environment until SIGINT or SIGTERM, which start the graceful drain, and
// exits with Run's code. Signals stay caught during the drain: under `make
// run` a Ctrl-C reaches a gateway twice (the terminal's SIGINT, then
// run.sh's SIGTERM), and the second must not cut the drain short. SIGHUP
// reloads what the gateway registered with OnReload (the routing
// section of BFF_CONFIG, bff-partner's keys file); it is caught from the start, so an early one never kills the
// process.
func Main[C Config, A Runner](name string, load func(config.Lookup) (C, error), build func(context.Context, C, *zap.Logger) (A, error)) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	// One pending reload is kept: a SIGHUP during a reload is served after
	// it, and more add nothing, as each reload reads the files anew.
	reloads := make(chan struct{}, 1)
	go func() {
		for range hup {
			select {
			case reloads <- struct{}{}:
			default:
			}
		}
	}()
	code := Command[C, A]{Name: name, Load: load, New: build, Reloads: reloads}.Exec(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	signal.Stop(hup)
	stop()
	os.Exit(code)
}
