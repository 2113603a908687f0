// Package app is bff-mobile's composition root: it builds the metrics
// registry, the server with the shared edge chain, the JWT verifier, the rate
// limiter, the domain-service clients and the mobile routes with their
// policies, and runs them until the context ends.
package app

import (
	"context"
	"fmt"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/shopfront/bff-mobile/internal/api"
	"github.com/shopfront/bff-mobile/internal/compress"
	"github.com/shopfront/bff-mobile/internal/conditional"
	"github.com/shopfront/bff-mobile/internal/config"
	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/jwtauth"
	"github.com/shopfront/shared/edge/metrics"
	"github.com/shopfront/shared/edge/ratelimit"
	"github.com/shopfront/shared/edge/server"
	"github.com/shopfront/shared/edge/services"
	"github.com/shopfront/shared/edge/tracing"
	"github.com/shopfront/shared/edge/upstream"
)

// Name is the gateway's name in logs, metrics and traces.
const Name = "bff-mobile"

// App is a configured bff-mobile, listening but not yet serving.
type App struct {
	cfg      config.Config
	log      *zap.Logger
	srv      *server.Server
	verifier *jwtauth.Verifier
	tracing  *tracing.Tracing
}

// New builds the gateway and binds its listeners. ctx bounds background
// work such as JWKS refreshes; cancel it to stop them.
func New(ctx context.Context, cfg config.Config, log *zap.Logger) (*App, error) {
	reg := metrics.NewRegistry()
	tr, err := tracing.Setup(ctx, tracing.Config{ServiceName: Name, Endpoint: cfg.Tracing.Endpoint, Protocol: cfg.Tracing.Protocol})
	if err != nil {
		return nil, fmt.Errorf("setting up tracing: %w", err)
	}
	srv, err := server.New(cfg.Server, server.Options{
		Name: Name, Logger: log, Registry: reg, TracerProvider: tr.Provider, Propagator: tr.Propagator,
	})
	if err != nil {
		_ = tr.Shutdown(ctx)
		return nil, fmt.Errorf("building server: %w", err)
	}
	// Spans still buffered are exported before the process exits.
	srv.OnShutdown(tr.Shutdown)
	a := &App{cfg: cfg, log: log, srv: srv, tracing: tr}
	if err := a.wire(ctx, reg); err != nil {
		_ = srv.Close()
		return nil, err
	}
	return a, nil
}

// wire builds the collaborators and the routes. Every mobile route passes,
// after the server's edge chain, through:
//
//	gzip (> 256 B) -> JWT (aud shopfront-mobile; failures charged to the
//	client IP) -> per-user rate limit -> ETag/304 and Cache-Control -> handler
//
// gzip is outermost so that it compresses what revalidation lets through and
// the ETag is the tag of the uncompressed body.
func (a *App) wire(ctx context.Context, reg *prometheus.Registry) error {
	cfg := a.cfg
	verifier, err := jwtauth.NewVerifier(ctx, jwtauth.VerifierConfig{
		JWKSURL:  cfg.JWT.JWKSURL,
		Issuer:   cfg.JWT.Issuer,
		Audience: cfg.JWT.Audience,
		Client:   auth.ClientMobile,
		Logger:   a.log,
	})
	if err != nil {
		return fmt.Errorf("building JWT verifier: %w", err)
	}
	a.verifier = verifier
	// Ready once the JWKS was fetched: before that no token can be checked.
	a.srv.AddCheck("jwks", true, verifier.Ready)

	limiter, err := ratelimit.New(ratelimit.LimiterConfig{
		RedisURL: cfg.RedisURL, Prefix: Name + ":", Logger: a.log, Registry: reg,
	})
	if err != nil {
		return fmt.Errorf("building rate limiter: %w", err)
	}
	// A Redis outage is reported but does not make the gateway unready: the
	// limiter falls back to per-instance counters (SPEC §4).
	a.srv.AddCheck("redis", false, limiter.Status)
	a.srv.OnShutdown(func(context.Context) error { return limiter.Close() })

	clients, err := services.New(servicesConfig(cfg), upstream.Options{
		Logger: a.log, Registerer: reg, TracerProvider: a.tracing.Provider, Propagator: a.tracing.Propagator,
	})
	if err != nil {
		return fmt.Errorf("building domain-service clients: %w", err)
	}
	routes, err := api.New(api.Config{
		Clients: clients, Budgets: cfg.RouteBudgets(), Currency: cfg.Mobile.Currency,
		SearchPageSize: cfg.Mobile.SearchPageSize, NearbyRadiusKm: cfg.Mobile.NearbyRadiusKm,
		Logger: a.log, Registry: reg,
	})
	if err != nil {
		return fmt.Errorf("building routes: %w", err)
	}

	gz, err := compress.Config{MinLength: cfg.Mobile.GzipMinLength, Level: cfg.Mobile.GzipLevel}.ToMiddleware()
	if err != nil {
		return fmt.Errorf("building compression: %w", err)
	}
	authn, err := jwtauth.Config{Verifier: verifier, ErrorHandler: limiter.ChargeFailure}.ToMiddleware()
	if err != nil {
		return fmt.Errorf("building authentication: %w", err)
	}
	limit, err := ratelimit.Config{Limiter: limiter, Policy: ratelimit.PerUser(ratelimit.Limit{
		Rate: cfg.Mobile.RateLimit.PerMinute, Burst: cfg.Mobile.RateLimit.Burst,
	})}.ToMiddleware()
	if err != nil {
		return fmt.Errorf("building rate limit: %w", err)
	}
	cond, err := conditional.Config{CacheControl: cfg.Mobile.CacheControl}.ToMiddleware()
	if err != nil {
		return fmt.Errorf("building revalidation: %w", err)
	}
	routes.Register(a.srv.Echo(), []echo.MiddlewareFunc{gz, authn, limit, cond}...)
	return nil
}

// servicesConfig points every domain-service client at its configured URL
// with the configured per-call timeout.
func servicesConfig(cfg config.Config) services.Config {
	u := func(name string) upstream.Config {
		return upstream.Config{BaseURL: cfg.Upstreams.URL(name), Timeout: cfg.Upstreams.Timeout}
	}
	return services.Config{
		Catalog: u(domain.ServiceCatalog), Inventory: u(domain.ServiceInventory), Pricing: u(domain.ServicePricing),
		Reviews: u(domain.ServiceReviews), Recommendations: u(domain.ServiceRecommendations), Users: u(domain.ServiceUsers),
		Orders: u(domain.ServiceOrders), Cart: u(domain.ServiceCart), Payments: u(domain.ServicePayments),
		Notifications: u(domain.ServiceNotifications), Identity: u(domain.ServiceIdentity),
	}
}

// Run serves until ctx is done, then drains (SPEC §4) and returns nil.
func (a *App) Run(ctx context.Context) error { return a.srv.Run(ctx) }

// Addr is the bound public address.
func (a *App) Addr() string { return a.srv.Addr() }

// AdminAddr is the bound admin address.
func (a *App) AdminAddr() string { return a.srv.AdminAddr() }
