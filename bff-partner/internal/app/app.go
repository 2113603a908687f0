// Package app is bff-partner's composition root: it builds the metrics
// registry, the server with the shared edge chain, the audit log, the
// partner credentials (API keys and client-credentials JWTs), the per-key
// rate limiter, request validation against the partner OpenAPI document,
// order idempotency, the domain-service clients and the routes, and runs
// them until the context ends.
package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/shopfront/bff-partner/internal/api"
	"github.com/shopfront/bff-partner/internal/audit"
	"github.com/shopfront/bff-partner/internal/config"
	"github.com/shopfront/bff-partner/internal/deprecation"
	"github.com/shopfront/bff-partner/internal/docs"
	"github.com/shopfront/bff-partner/internal/idempotency"
	"github.com/shopfront/bff-partner/internal/validation"
	"github.com/shopfront/contracts/public"
	"github.com/shopfront/shared/edge/apikey"
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
const Name = "bff-partner"

// App is a configured bff-partner, listening but not yet serving.
type App struct {
	cfg      config.Config
	log      *zap.Logger
	srv      *server.Server
	verifier *jwtauth.Verifier
	tracing  *tracing.Tracing
}

// New builds the gateway and binds its listeners. ctx bounds background
// work such as JWKS refreshes and keys-file reloads; cancel it to stop them.
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

// wire builds the collaborators and the routes. After the server's edge
// chain, every request passes through:
//
//	audit (echo Pre: outermost, so 401/403/413/415/429 and unmatched routes
//	are recorded) -> /v1 deprecation headers (Pre, so errors carry them too)
//	-> router
//
// and every /v1 and /v2 route through:
//
//	API key or client-credentials JWT (failures charged to the client IP)
//	-> per-key plan rate limit -> scope -> validation against the partner
//	document (413, 415, 400) -> [POST /v2/orders: idempotency] -> handler
//
// /openapi.json and /docs need no credentials.
func (a *App) wire(ctx context.Context, reg *prometheus.Registry) error {
	cfg := a.cfg
	p := cfg.Partner

	// Audit first: it must see every request, rejected ones included.
	aw, err := audit.Open(audit.WriterConfig{Dir: p.AuditDir, Retention: p.AuditRetention, Logger: a.log})
	if err != nil {
		return fmt.Errorf("opening audit log: %w", err)
	}
	// Shutdown hooks run after in-flight requests finished: no line is lost.
	a.srv.OnShutdown(aw.Close)
	auditMW, err := audit.Config{Sink: aw, Logger: a.log, MaxBodyBytes: cfg.Server.BodyLimit}.ToMiddleware()
	if err != nil {
		return fmt.Errorf("building audit: %w", err)
	}
	deprecated, err := deprecation.Config{Prefix: "/v1", Deprecated: p.V1.Deprecated, Sunset: p.V1.Sunset,
		Link: p.V1.Link}.ToMiddleware()
	if err != nil {
		return fmt.Errorf("building v1 deprecation: %w", err)
	}
	e := a.srv.Echo()
	e.Pre(auditMW, deprecated)

	doc, err := public.Load(ctx, "partner.yaml")
	if err != nil {
		return fmt.Errorf("loading the partner OpenAPI document: %w", err)
	}
	pages, err := docs.New(public.Partner(), doc.Info.Title)
	if err != nil {
		return fmt.Errorf("building docs: %w", err)
	}
	pages.Register(e)

	verifier, err := jwtauth.NewVerifier(ctx, jwtauth.VerifierConfig{
		JWKSURL:  cfg.JWT.JWKSURL,
		Issuer:   cfg.JWT.Issuer,
		Audience: cfg.JWT.Audience,
		Client:   auth.ClientPartner,
		Logger:   a.log,
	})
	if err != nil {
		return fmt.Errorf("building JWT verifier: %w", err)
	}
	a.verifier = verifier
	// Ready once the JWKS was fetched: before that no token can be checked.
	a.srv.AddCheck("jwks", true, verifier.Ready)

	keys, err := apikey.Open(apikey.StoreConfig{Path: p.KeysFile, Logger: a.log})
	if err != nil {
		return fmt.Errorf("opening partner keys: %w", err)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		keys.Watch(ctx, hup)
	}()

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

	idemStore, closeStore, err := a.idempotencyStore()
	if err != nil {
		return err
	}
	a.srv.OnShutdown(closeStore)
	idem, err := idempotency.Config{
		Store: idemStore, TTL: p.IdempotencyTTL, Wait: p.IdempotencyWait, Logger: a.log,
		// Keys are scoped per partner (SPEC §7).
		Scope: func(c echo.Context) (string, error) {
			pr, ok := auth.FromContext(c.Request().Context())
			if !ok || pr.Partner == "" {
				return "", errors.New("idempotency: no partner in the request context")
			}
			return pr.Partner, nil
		},
	}.ToMiddleware()
	if err != nil {
		return fmt.Errorf("building idempotency: %w", err)
	}

	clients, err := services.New(servicesConfig(cfg), upstream.Options{
		Logger: a.log, Registerer: reg, TracerProvider: a.tracing.Provider, Propagator: a.tracing.Propagator,
	})
	if err != nil {
		return fmt.Errorf("building domain-service clients: %w", err)
	}
	routes, err := api.New(api.Config{Clients: clients, Currency: p.Currency, RouteBudget: cfg.Upstreams.RouteBudget})
	if err != nil {
		return fmt.Errorf("building routes: %w", err)
	}

	authn, err := apikey.Config{Store: keys, Bearer: verifier, DocsURL: p.DocsURL,
		ErrorHandler: limiter.ChargeFailure}.ToMiddleware()
	if err != nil {
		return fmt.Errorf("building authentication: %w", err)
	}
	limit, err := ratelimit.Config{Limiter: limiter, Policy: ratelimit.PerPartner(func(id string) ratelimit.Limit {
		plan := keys.Plan(id)
		return ratelimit.Limit{Rate: plan.PerMinute, Burst: plan.Burst}
	})}.ToMiddleware()
	if err != nil {
		return fmt.Errorf("building rate limit: %w", err)
	}
	validate, err := validation.Config{Document: doc, MaxBodyBytes: cfg.Server.BodyLimit}.ToMiddleware()
	if err != nil {
		return fmt.Errorf("building validation: %w", err)
	}
	scope := apikey.RequireScope

	v2 := e.Group("/v2", authn, limit)
	v2.GET("/products", routes.ListProducts, scope(auth.ScopeCatalogRead), validate)
	v2.GET("/products/:id", routes.GetProduct, scope(auth.ScopeCatalogRead), validate)
	v2.GET("/inventory/:productId", routes.GetInventory, scope(auth.ScopeInventoryRead), validate)
	v2.POST("/orders", routes.CreateOrder, scope(auth.ScopeOrdersWrite), validate, idem)
	v2.GET("/orders/:id", routes.GetOrder, scope(auth.ScopeOrdersRead), validate)

	v1 := e.Group("/v1", authn, limit)
	v1.GET("/products", routes.ListProductsV1, scope(auth.ScopeCatalogRead), validate)
	v1.GET("/products/:id", routes.GetProductV1, scope(auth.ScopeCatalogRead), validate)
	return nil
}

// idempotencyStore is Redis when BFF_REDIS_URL is set (shared by every
// instance), else the in-process store.
func (a *App) idempotencyStore() (idempotency.Store, func(context.Context) error, error) {
	if a.cfg.RedisURL == "" {
		s, err := idempotency.NewMemoryStore(0, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("building idempotency store: %w", err)
		}
		return s, func(context.Context) error { return nil }, nil
	}
	opts, err := redis.ParseURL(a.cfg.RedisURL)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing %s: %w", "BFF_REDIS_URL", err)
	}
	rdb := redis.NewClient(opts)
	// Reported in /readyz, not required: only POST /v2/orders needs it, and
	// it fails closed (503) while Redis is away.
	a.srv.AddCheck("idempotency", false, func(ctx context.Context) error { return rdb.Ping(ctx).Err() })
	return idempotency.NewRedisStore(rdb, Name+":idem:"), func(context.Context) error { return rdb.Close() }, nil
}

// servicesConfig points every domain-service client at its configured URL
// with the configured per-call timeout.
func servicesConfig(cfg config.Config) services.Config {
	return services.ConfigFrom(upstream.Config{Timeout: cfg.Upstreams.Timeout}, func(name string) string {
		return cfg.Upstreams.URL(name)
	})
}

// Run serves until ctx is done, then drains (SPEC §4) and returns nil.
func (a *App) Run(ctx context.Context) error { return a.srv.Run(ctx) }

// Addr is the bound public address.
func (a *App) Addr() string { return a.srv.Addr() }

// AdminAddr is the bound admin address.
func (a *App) AdminAddr() string { return a.srv.AdminAddr() }
