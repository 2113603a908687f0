// Package gateway is the part of a Shopfront gateway's composition root that
// every gateway does the same way. From config.Common, New builds, in this
// order:
//
//	Prometheus registry (Go and process collectors)
//	-> tracing (OpenTelemetry provider and propagator; flushed at shutdown)
//	-> server (public and admin listeners, the edge chain)
//	-> domain-service clients (given the tracer provider and propagator)
//	-> JWT verifier (readiness check "jwks", required)
//	-> rate limiter, Redis or in-process (check "redis", optional, only
//	   when Redis is configured; closed at shutdown), which also charges
//	   requests no route matches (404, 405) to the client IP's anonymous
//	   limit
//	-> one optional check per upstream breaker ("breaker:<service>")
//
// The gateway's own composition root then adds only its policies and
// routes to Echo(), and Main is the whole of its main function:
//
//	func main() { gateway.Main(app.Name, config.Load, app.New) }
package gateway

import (
	"context"
	"errors"
	"fmt"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/buildinfo"
	"github.com/shopfront/shared/edge/config"
	"github.com/shopfront/shared/edge/jwtauth"
	"github.com/shopfront/shared/edge/metrics"
	"github.com/shopfront/shared/edge/ratelimit"
	"github.com/shopfront/shared/edge/server"
	"github.com/shopfront/shared/edge/services"
	"github.com/shopfront/shared/edge/tracing"
	"github.com/shopfront/shared/edge/upstream"
)

// The names of the readiness checks New registers, as they appear in the
// /readyz body.
const (
	// CheckJWKS is required: until the JWKS was fetched once no token can
	// be checked.
	CheckJWKS = "jwks"
	// CheckRedis is optional: while Redis is away the limiter falls back to
	// per-instance counters, so an outage alone never makes the gateway
	// unready. It is registered only when BFF_REDIS_URL is set:
	// without it no Redis is used, and an "ok" would claim otherwise.
	CheckRedis = "redis"
	// BreakerCheckPrefix starts the name of each upstream's breaker check,
	// e.g. "breaker:catalog". The checks are optional: an open breaker
	// degrades screens, it does not make the instance unready.
	BreakerCheckPrefix = "breaker:"
)

// BreakerCheck returns the name of the readiness check of service's breaker.
func BreakerCheck(service string) string { return BreakerCheckPrefix + service }

// Options are what a gateway passes beside its configuration.
type Options struct {
	// Name is the gateway's name in logs, metrics, spans and Redis keys,
	// e.g. "bff-mobile". Required.
	Name string
	// Client is the kind of caller the gateway serves, set on every
	// principal verified from a JWT and sent upstream as X-Client on calls
	// without one (anonymous requests). Required.
	Client auth.Client
	// Logger receives every component's events. Optional. Default
	// zap.NewNop().
	Logger *zap.Logger
}

// Validate reports every missing required field.
func (o Options) Validate() error {
	var errs []error
	if o.Name == "" {
		errs = append(errs, errors.New("gateway: Options.Name is required"))
	}
	if o.Client == "" {
		errs = append(errs, errors.New("gateway: Options.Client is required"))
	}
	return errors.Join(errs...)
}

// Gateway is a gateway's shared core, listening but not yet serving. The
// embedded server gives Echo, AddCheck, OnShutdown, Run, Addr and AdminAddr;
// the other fields are the collaborators a gateway's routes and policies
// are built from. Treat them as read-only.
type Gateway struct {
	*server.Server

	// Logger is Options.Logger.
	Logger *zap.Logger
	// Registry is served on /metrics; register the gateway's own collectors
	// on it.
	Registry *prometheus.Registry
	// Tracing is the tracer provider and propagator.
	Tracing *tracing.Tracing
	// Clients are the typed clients of every domain service.
	Clients *services.Clients
	// Verifier checks JWTs of the gateway's audience.
	Verifier *jwtauth.Verifier
	// Limiter decides rate limits and charges failed authentications.
	Limiter *ratelimit.Limiter
}

// New builds the shared core from cfg and binds its listeners. ctx bounds
// background work such as JWKS refreshes; cancel it to stop them. On error
// everything built so far is released.
func New(ctx context.Context, cfg config.Common, opts Options) (_ *Gateway, err error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	g := &Gateway{Logger: opts.Logger, Registry: metrics.NewRegistry()}

	// undo releases, in reverse order, what was built before a failing step.
	var undo []func(context.Context) error
	defer func() {
		if err == nil {
			return
		}
		for i := len(undo) - 1; i >= 0; i-- {
			_ = undo[i](context.WithoutCancel(ctx))
		}
	}()

	build := buildinfo.Read(opts.Name)
	if err := g.Registry.Register(build.Collector()); err != nil {
		return nil, fmt.Errorf("registering build info: %w", err)
	}
	serviceName := cfg.Tracing.ServiceName
	if serviceName == "" {
		serviceName = opts.Name
	}
	g.Tracing, err = tracing.Setup(ctx, tracing.Config{
		ServiceName: serviceName, ServiceVersion: build.ServiceVersion(), Endpoint: cfg.Tracing.Endpoint, Protocol: cfg.Tracing.Protocol,
		ResourceAttributes: cfg.Tracing.ResourceAttributes, Sampler: cfg.Tracing.Sampler, SamplerArg: cfg.Tracing.SamplerArg,
	})
	if err != nil {
		return nil, fmt.Errorf("setting up tracing: %w", err)
	}
	undo = append(undo, g.Tracing.Shutdown)

	g.Server, err = server.New(cfg.Server, server.Options{
		Name: opts.Name, Logger: g.Logger, Registry: g.Registry, Build: &build,
		TracerProvider: g.Tracing.Provider, Propagator: g.Tracing.Propagator,
	})
	if err != nil {
		return nil, fmt.Errorf("building server: %w", err)
	}
	undo = append(undo, func(context.Context) error { return g.Server.Close() })
	// Hooks run in reverse order after the drain: the limiter closes before
	// the spans still buffered are exported.
	g.OnShutdown(g.Tracing.Shutdown)

	g.Clients, err = services.New(services.ConfigFrom(upstream.Config{Timeout: cfg.Upstreams.Timeout}, cfg.Upstreams.URL),
		upstream.Options{
			Logger: g.Logger, Registerer: g.Registry,
			TracerProvider: g.Tracing.Provider, Propagator: g.Tracing.Propagator,
			Client: opts.Client,
		})
	if err != nil {
		return nil, fmt.Errorf("building domain-service clients: %w", err)
	}

	g.Verifier, err = jwtauth.NewVerifier(ctx, jwtauth.VerifierConfig{
		JWKSURL: cfg.JWT.JWKSURL, Issuer: cfg.JWT.Issuer, Audience: cfg.JWT.Audience,
		Client: opts.Client, Logger: g.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("building JWT verifier: %w", err)
	}
	g.AddCheck(CheckJWKS, true, g.Verifier.Ready)

	g.Limiter, err = ratelimit.New(ratelimit.LimiterConfig{
		RedisURL: cfg.RedisURL, Prefix: opts.Name + ":", Logger: g.Logger, Registry: g.Registry,
	})
	if err != nil {
		return nil, fmt.Errorf("building rate limiter: %w", err)
	}
	closeLimiter := func(context.Context) error { return g.Limiter.Close() }
	undo = append(undo, closeLimiter)
	if cfg.RedisURL != "" {
		g.AddCheck(CheckRedis, false, g.Limiter.Status)
	}
	g.OnShutdown(closeLimiter)

	// Requests no route matches never reach a route's rate limit; without
	// this a flood of unknown paths would be free. They are charged like
	// any anonymous request, before the gateway's own middleware runs.
	unmatched, err := ratelimit.Config{Limiter: g.Limiter,
		Skipper: func(c echo.Context) bool { return !server.Unmatched(c) }}.ToMiddleware()
	if err != nil {
		return nil, fmt.Errorf("building the rate limit of unmatched routes: %w", err)
	}
	g.Echo().Use(unmatched)

	for _, u := range g.Clients.Upstreams() {
		g.AddCheck(BreakerCheck(u.Service()), false, u.CheckBreaker)
	}
	return g, nil
}

// Close releases what New built (listeners, Redis connections, tracing) for
// a composition root whose own wiring failed after New; a gateway that Run
// releases them itself. The OnShutdown hooks the gateway added are not run.
func (g *Gateway) Close(ctx context.Context) error {
	return errors.Join(g.Server.Close(), g.Limiter.Close(), g.Tracing.Shutdown(context.WithoutCancel(ctx)))
}
