// Command bff-partner is Shopfront's partner gateway (SPEC §7).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"go.uber.org/zap"

	"github.com/shopfront/bff-partner/internal/app"
	"github.com/shopfront/bff-partner/internal/config"
	"github.com/shopfront/shared/edge/logging"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		// One line per problem, each naming its variable; 2 = usage error.
		fmt.Fprintln(os.Stderr, app.Name+": "+strings.ReplaceAll(err.Error(), "\n", "\n"+app.Name+": "))
		os.Exit(2)
	}
	log, err := logging.New(cfg.LogLevel, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, app.Name+": making logger:", err)
		os.Exit(2)
	}
	a, err := app.New(ctx, cfg, log)
	if err == nil {
		err = a.Run(ctx)
	}
	if err != nil {
		log.Error("exiting", zap.Error(err))
		os.Exit(1)
	}
}
