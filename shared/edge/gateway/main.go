package gateway

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"go.uber.org/zap"

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
	// Reload delivers the signals (SIGHUP) that make a gateway that is a
	// Reloader re-read what it reloads at run time. Optional. Default none.
	Reload <-chan os.Signal
}

// Reloader is a gateway that reloads part of its configuration at run
// time; *Gateway is one (the routing section), and so is every app that
// embeds it.
type Reloader interface {
	Reload(ctx context.Context) error
}

// reloadOn calls r.Reload for every signal until ctx is done. A failed
// reload was logged by r and changed nothing.
func reloadOn(ctx context.Context, signals <-chan os.Signal, r Reloader) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-signals:
			_ = r.Reload(ctx)
		}
	}
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
		prefix := c.Name + ": "
		_, _ = fmt.Fprintln(stderr, prefix+strings.ReplaceAll(err.Error(), "\n", "\n"+prefix))
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
		if r, ok := any(a).(Reloader); ok && c.Reload != nil {
			go reloadOn(ctx, c.Reload, r)
		}
		err = a.Run(ctx)
	}
	if err != nil {
		log.Error("exiting", zap.Error(err))
		return ExitFailed
	}
	return ExitOK
}

// Main is the whole of a gateway's main function:
//
//	func main() { gateway.Main(app.Name, config.Load, app.New) }
//
// It runs the Command with the process environment until SIGINT or
// SIGTERM, which start the graceful drain, and exits with Run's code.
// SIGHUP reloads the routing section of the BFF_CONFIG file.
// Signals stay caught during the drain: under `make run` a Ctrl-C reaches a
// gateway twice (the terminal's SIGINT, then run.sh's SIGTERM), and the
// second must not cut the drain short.
func Main[C Config, A Runner](name string, load func(config.Lookup) (C, error), build func(context.Context, C, *zap.Logger) (A, error)) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	code := Command[C, A]{Name: name, Load: load, New: build, Reload: hup}.Run(ctx, os.LookupEnv, os.Stdout, os.Stderr)
	signal.Stop(hup)
	stop()
	os.Exit(code)
}
