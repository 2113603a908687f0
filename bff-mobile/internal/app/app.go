// Package app is bff-mobile's composition root: on the shared gateway core
// (edge/gateway: server, metrics, tracing, domain-service clients, JWT
// verifier, rate limiter, readiness checks) it builds the mobile policies
// (gzip, ETag/Cache-Control, route budgets) and routes.
package app

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/shopfront/bff-mobile/internal/api"
	"github.com/shopfront/bff-mobile/internal/compress"
	"github.com/shopfront/bff-mobile/internal/conditional"
	"github.com/shopfront/bff-mobile/internal/config"
	"github.com/shopfront/bff-mobile/internal/upload"
	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/gateway"
	"github.com/shopfront/shared/edge/jwtauth"
	"github.com/shopfront/shared/edge/ratelimit"
	"github.com/shopfront/shared/edge/route"
	"github.com/shopfront/shared/edge/server"
)

// Name is the gateway's name in logs, metrics and traces.
const Name = "bff-mobile"

// App is a configured bff-mobile, listening but not yet serving. The
// embedded gateway core gives Run, Addr and AdminAddr.
type App struct {
	*gateway.Gateway
}

// New builds the gateway and binds its listeners. ctx bounds background
// work such as JWKS refreshes; cancel it to stop them.
func New(ctx context.Context, cfg config.Config, log *zap.Logger) (*App, error) {
	g, err := gateway.New(ctx, cfg.Common, gateway.Options{Name: Name, Client: auth.ClientMobile, Logger: log, Now: cfg.Now})
	if err != nil {
		return nil, err
	}
	a := &App{Gateway: g}
	if err := a.wire(cfg); err != nil {
		_ = g.Close(ctx)
		return nil, err
	}
	return a, nil
}

// wire builds the mobile policies and routes on the gateway core. After
// the server's edge chain (docs/chain.md), gzip (> 256 B) sits in its Outer
// slot, and every mobile route passes through:
//
//	JWT (aud shopfront-mobile; failures charged to the client IP)
//	-> per-user rate limit -> ETag/304 and Cache-Control -> handler
//
// gzip is outermost so that it compresses what revalidation lets through,
// the problems of every layer inside it included. It is on the instance
// rather than per route so that the problems of paths no route matches
// (404) and of wrong methods (405) are gzipped too; authentication stays
// per route, so an unknown path is still a plain 404.
func (a *App) wire(cfg config.Config) error {
	routes, err := api.New(api.Config{
		Clients: a.Clients, Budgets: cfg.RouteBudgets(), Currency: cfg.Mobile.Currency,
		SearchPageSize: cfg.Mobile.SearchPageSize, NearbyRadiusKm: cfg.Mobile.NearbyRadiusKm,
		Logger: a.Logger, Registry: a.Registry,
	})
	if err != nil {
		return fmt.Errorf("building routes: %w", err)
	}

	gz, err := compress.Config{MinLength: cfg.Mobile.GzipMinLength, Level: cfg.Mobile.GzipLevel}.ToMiddleware()
	if err != nil {
		return fmt.Errorf("building compression: %w", err)
	}
	authn, err := jwtauth.Config{Verifier: a.Verifier, ErrorHandler: a.Limiter.ChargeFailure}.ToMiddleware()
	if err != nil {
		return fmt.Errorf("building authentication: %w", err)
	}
	limit, err := ratelimit.Config{Limiter: a.Limiter, Policy: ratelimit.PerUser(cfg.Mobile.RateLimit)}.ToMiddleware()
	if err != nil {
		return fmt.Errorf("building rate limit: %w", err)
	}
	cond, err := conditional.Config{CacheControl: cfg.Mobile.CacheControl}.ToMiddleware()
	if err != nil {
		return fmt.Errorf("building revalidation: %w", err)
	}
	uploads, err := upload.New(upload.Config{Media: a.Clients.Media,
		PatchBudget: cfg.RouteBudgets().Upload, MaxConcurrent: cfg.Mobile.Uploads.MaxConcurrent})
	if err != nil {
		return fmt.Errorf("building upload routes: %w", err)
	}
	anonymous, err := ratelimit.Config{Limiter: a.Limiter}.ToMiddleware()
	if err != nil {
		return fmt.Errorf("building the rate limit of upload capabilities: %w", err)
	}
	if err := a.Install(server.Chain{
		Pre:   []server.Layer{{Name: "Tus-Resumable on upload paths", Middleware: upload.Resumable}},
		Outer: []server.Layer{{Name: "gzip", Middleware: gz}},
	}); err != nil {
		return fmt.Errorf("installing the edge chain: %w", err)
	}
	// The upload routes skip revalidation: an upload's offset must never be
	// answered from a cache.
	return a.Register(route.Chains{
		api.AuthenticatedPolicy:   {authn, limit, cond},
		upload.CapabilitiesPolicy: {anonymous},
		upload.StatusPolicy:       {authn, limit},
		upload.TusPolicy:          {authn, limit, upload.RequireVersion},
	}, routes.Routes(), uploads.Routes())
}
