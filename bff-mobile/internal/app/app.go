// Package app is bff-mobile's composition root: it builds the metrics registry,
// the server with the shared edge chain, the JWT verifier and the readiness
// checks, and runs them until the context ends.
package app

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/shopfront/bff-mobile/internal/config"
	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/jwtauth"
	"github.com/shopfront/shared/edge/metrics"
	"github.com/shopfront/shared/edge/server"
)

// Name is the gateway's name in logs, metrics and traces.
const Name = "bff-mobile"

// App is a configured bff-mobile, listening but not yet serving.
type App struct {
	cfg      config.Config
	log      *zap.Logger
	srv      *server.Server
	verifier *jwtauth.Verifier
}

// New builds the gateway and binds its listeners. ctx bounds background
// work such as JWKS refreshes; cancel it to stop them.
func New(ctx context.Context, cfg config.Config, log *zap.Logger) (*App, error) {
	reg := metrics.NewRegistry()
	srv, err := server.New(cfg.Server, server.Options{Name: Name, Logger: log, Registry: reg})
	if err != nil {
		return nil, fmt.Errorf("building server: %w", err)
	}
	verifier, err := jwtauth.NewVerifier(ctx, jwtauth.VerifierConfig{
		JWKSURL:  cfg.JWT.JWKSURL,
		Issuer:   cfg.JWT.Issuer,
		Audience: cfg.JWT.Audience,
		Client:   auth.ClientMobile,
		Logger:   log,
	})
	if err != nil {
		_ = srv.Close()
		return nil, fmt.Errorf("building JWT verifier: %w", err)
	}
	// Ready once the JWKS was fetched: before that no token can be checked.
	srv.AddCheck("jwks", true, verifier.Ready)
	return &App{cfg: cfg, log: log, srv: srv, verifier: verifier}, nil
}

// Run serves until ctx is done, then drains (SPEC §4) and returns nil.
func (a *App) Run(ctx context.Context) error { return a.srv.Run(ctx) }

// Addr is the bound public address.
func (a *App) Addr() string { return a.srv.Addr() }

// AdminAddr is the bound admin address.
func (a *App) AdminAddr() string { return a.srv.AdminAddr() }
