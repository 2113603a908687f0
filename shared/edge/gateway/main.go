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
	log, err := logging.New(cfg.Shared().LogLevel, stdout)
	if err != nil {
		_, _ = fmt.Fprintln(stderr, c.Name+": making logger:", err)
		return ExitUsage
	}
	defer func() { _ = log.Sync() }()
	a, err := c.New(ctx, cfg, log)
	if err == nil {
		err = a.Run(ctx)
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

// Main is the whole of a gateway's main function:
//
//	func main() { gateway.Main(app.Name, config.Load, app.New) }
//
// It runs the Command with the process environment until SIGINT or
// SIGTERM, which start the graceful drain, and exits with Run's code.
// Signals stay caught during the drain: under `make run` a Ctrl-C reaches a
// gateway twice (the terminal's SIGINT, then run.sh's SIGTERM), and the
// second must not cut the drain short.
func Main[C Config, A Runner](name string, load func(config.Lookup) (C, error), build func(context.Context, C, *zap.Logger) (A, error)) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := Command[C, A]{Name: name, Load: load, New: build}.Exec(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
