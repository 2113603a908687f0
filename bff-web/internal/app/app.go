// Package app is bff-web's composition root: it builds the metrics registry,
// the server with the shared edge chain, the JWT verifier, the rate limiter,
// the domain-service clients, the session, CSRF, CORS, compression and
// response cache policies and the web routes, and runs them until the
// context ends.
package app

import (
	"context"
	"fmt"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/shopfront/bff-web/internal/api"
	"github.com/shopfront/bff-web/internal/cache"
	"github.com/shopfront/bff-web/internal/compress"
	"github.com/shopfront/bff-web/internal/config"
	"github.com/shopfront/bff-web/internal/cors"
	"github.com/shopfront/bff-web/internal/session"
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
const Name = "bff-web"

// redisTimeout bounds one cache operation in Redis: a slow or dead Redis
// costs a request at most this much before it is served uncached.
const redisTimeout = 100 * time.Millisecond

// Options are test hooks of New. The zero value is what main uses.
type Options struct {
	// Now is the clock of the response cache. Optional. Default time.Now.
	Now func() time.Time
}

// App is a configured bff-web, listening but not yet serving.
type App struct {
	cfg      config.Config
	log      *zap.Logger
	srv      *server.Server
	verifier *jwtauth.Verifier
	cache    *cache.Cache
	tracing  *tracing.Tracing
}

// New builds the gateway and binds its listeners. ctx bounds background
// work such as JWKS refreshes; cancel it to stop them.
func New(ctx context.Context, cfg config.Config, log *zap.Logger) (*App, error) {
	return NewWithOptions(ctx, cfg, log, Options{})
}

// NewWithOptions is New with test hooks.
func NewWithOptions(ctx context.Context, cfg config.Config, log *zap.Logger, opts Options) (*App, error) {
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
	if err := a.wire(ctx, reg, opts); err != nil {
		_ = srv.Close()
		return nil, err
	}
	return a, nil
}

// wire builds the collaborators and the routes. After the server's edge
// chain, every request passes, in this order:
//
//	compression (brotli/gzip >= 1 KiB, errors included)
//	-> CORS (exact origins; refused preflights 403, before any auth)
//	-> route chain:
//	   catalog pages:  JWT optional (cookie or Bearer) -> rate limit -> response cache -> handler
//	   personal routes: JWT required -> rate limit -> CSRF -> handler
//	   POST /v1/session: rate limit (per client IP) -> handler
//	   DELETE /v1/session: rate limit -> CSRF -> handler (no JWT check, so
//	   an expired session can still sign out)
//
// Authentication failures are charged to the client IP's anonymous limit.
// The cache sits innermost so that only what the handler produced for an
// anonymous caller is shared, and compression outermost so that the cache
// keeps uncompressed bodies and any encoding a client accepts is served.
func (a *App) wire(ctx context.Context, reg *prometheus.Registry, opts Options) error {
	cfg := a.cfg
	verifier, err := jwtauth.NewVerifier(ctx, jwtauth.VerifierConfig{
		JWKSURL:  cfg.JWT.JWKSURL,
		Issuer:   cfg.JWT.Issuer,
		Audience: cfg.JWT.Audience,
		Client:   auth.ClientWeb,
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
	// limiter falls back to per-instance counters and the cache is skipped.
	a.srv.AddCheck("redis", false, limiter.Status)
	a.srv.OnShutdown(func(context.Context) error { return limiter.Close() })

	clients, err := services.New(services.ConfigFrom(upstream.Config{Timeout: cfg.Upstreams.Timeout}, cfg.Upstreams.URL),
		upstream.Options{Logger: a.log, Registerer: reg, TracerProvider: a.tracing.Provider, Propagator: a.tracing.Propagator})
	if err != nil {
		return fmt.Errorf("building domain-service clients: %w", err)
	}

	store, err := a.cacheStore(opts)
	if err != nil {
		return err
	}
	a.cache, err = cache.New(cache.Config{
		Store: store, Fresh: cfg.Web.Cache.Fresh, Stale: cfg.Web.Cache.Stale,
		FillTimeout: max(cfg.RouteBudgets().Catalog, cfg.RouteBudgets().Product) + time.Second,
		Now:         opts.Now, Registry: reg, Logger: a.log,
	})
	if err != nil {
		return fmt.Errorf("building response cache: %w", err)
	}
	// Refreshes in flight finish before the process exits.
	a.srv.OnShutdown(a.cache.Wait)

	routes, err := api.New(api.Config{
		Clients: clients, Budgets: cfg.RouteBudgets(), Currency: cfg.Web.Currency, Registry: reg,
		PublicCacheControl: fmt.Sprintf("public, max-age=%d, stale-while-revalidate=%d",
			int(cfg.Web.Cache.Fresh/time.Second), int(cfg.Web.Cache.Stale/time.Second)),
	})
	if err != nil {
		return fmt.Errorf("building routes: %w", err)
	}
	sessions, err := session.New(session.Config{Issuer: clients.Identity, Insecure: cfg.Web.CookieInsecure, Timeout: cfg.Upstreams.Timeout})
	if err != nil {
		return fmt.Errorf("building sessions: %w", err)
	}

	comp, err := compress.Config{MinSize: cfg.Web.CompressMinSize}.ToMiddleware()
	if err != nil {
		return fmt.Errorf("building compression: %w", err)
	}
	corsMW, err := cors.Config{Origins: cfg.Web.CORSOrigins}.ToMiddleware()
	if err != nil {
		return fmt.Errorf("building CORS: %w", err)
	}
	optional, err := jwtauth.Config{Verifier: verifier, TokenLookup: session.TokenLookup, Optional: true,
		ErrorHandler: limiter.ChargeFailure}.ToMiddleware()
	if err != nil {
		return fmt.Errorf("building authentication: %w", err)
	}
	required, err := jwtauth.Config{Verifier: verifier, TokenLookup: session.TokenLookup,
		ErrorHandler: limiter.ChargeFailure}.ToMiddleware()
	if err != nil {
		return fmt.Errorf("building authentication: %w", err)
	}
	limit, err := ratelimit.Config{Limiter: limiter, Policy: ratelimit.PerUser(ratelimit.UserLimit)}.ToMiddleware()
	if err != nil {
		return fmt.Errorf("building rate limit: %w", err)
	}
	csrf, err := session.CSRFConfig{}.ToMiddleware()
	if err != nil {
		return fmt.Errorf("building CSRF check: %w", err)
	}

	e := a.srv.Echo()
	e.Use(comp, corsMW)
	e.POST("/v1/session", sessions.Create, limit)
	e.DELETE("/v1/session", sessions.Delete, limit, csrf)
	routes.Register(api.Routes{
		Router:       e,
		Optional:     []echo.MiddlewareFunc{optional, limit},
		Required:     []echo.MiddlewareFunc{required, limit, csrf},
		CatalogCache: a.cache.Middleware(cache.Route{Query: api.CatalogQuery}),
		ProductCache: a.cache.Middleware(cache.Route{}),
	})
	return nil
}

// cacheStore is Redis when BFF_REDIS_URL is set (entries shared by every
// instance), else the in-process LRU.
func (a *App) cacheStore(opts Options) (cache.Store, error) {
	cfg := a.cfg
	if cfg.RedisURL == "" {
		s, err := cache.NewMemory(cache.MemoryConfig{MaxEntries: cfg.Web.Cache.MaxEntries, MaxBytes: int64(cfg.Web.Cache.MaxBytes), Now: opts.Now})
		if err != nil {
			return nil, fmt.Errorf("building cache store: %w", err)
		}
		return s, nil
	}
	ropts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", "BFF_REDIS_URL", err)
	}
	// Short timeouts and no retries: the cache is an optimisation, and a
	// failing Redis must cost a request little before it is served uncached.
	ropts.DialTimeout, ropts.ReadTimeout, ropts.WriteTimeout = redisTimeout, redisTimeout, redisTimeout
	ropts.PoolTimeout, ropts.MaxRetries = redisTimeout, -1
	rdb := redis.NewClient(ropts)
	a.srv.OnShutdown(func(context.Context) error { return rdb.Close() })
	return cache.NewRedis(rdb, Name+":cache:"), nil
}

// Run serves until ctx is done, then drains (SPEC §4) and returns nil.
func (a *App) Run(ctx context.Context) error { return a.srv.Run(ctx) }

// Addr is the bound public address.
func (a *App) Addr() string { return a.srv.Addr() }

// AdminAddr is the bound admin address.
func (a *App) AdminAddr() string { return a.srv.AdminAddr() }
