// Package app is bff-partner's composition root: on the shared gateway core
// (edge/gateway: server, metrics, tracing, domain-service clients, JWT
// verifier, rate limiter, readiness checks) it builds the audit log, the
// partner credentials (API keys and client-credentials JWTs), the per-key
// plan rate limits, request validation against the partner OpenAPI
// document, order idempotency, v1 deprecation headers and the routes.
package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/labstack/echo/v4"
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
	"github.com/shopfront/shared/edge/gateway"
	"github.com/shopfront/shared/edge/ratelimit"
)

// Name is the gateway's name in logs, metrics and traces.
const Name = "bff-partner"

// App is a configured bff-partner, listening but not yet serving. The
// embedded gateway core gives Run, Addr and AdminAddr.
type App struct {
	*gateway.Gateway
	cfg config.Config
}

// New builds the gateway and binds its listeners. ctx bounds background
// work such as JWKS refreshes and keys-file reloads; cancel it to stop them.
func New(ctx context.Context, cfg config.Config, log *zap.Logger) (*App, error) {
	g, err := gateway.New(ctx, cfg.Common, gateway.Options{Name: Name, Client: auth.ClientPartner, Logger: log})
	if err != nil {
		return nil, err
	}
	a := &App{Gateway: g, cfg: cfg}
	if err := a.wire(ctx); err != nil {
		_ = g.Close(ctx)
		return nil, err
	}
	return a, nil
}

// wire builds the partner policies and routes on the gateway core. After
// the server's edge chain, every request passes through:
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
func (a *App) wire(ctx context.Context) error {
	cfg := a.cfg
	p := cfg.Partner

	keys, err := apikey.Open(apikey.StoreConfig{Path: p.KeysFile, Logger: a.Logger})
	if err != nil {
		return fmt.Errorf("opening partner keys: %w", err)
	}
	if cfg.DevKeys() {
		// Convenient for a local try, dangerous anywhere else: say so
		// loudly, naming the file and never a key.
		a.Logger.Warn("serving with the DEVELOPMENT partner keys: their plaintexts are published in docs/bff-partner.md, "+
			"so anyone can use them; set "+config.VarKeysFile+" to the real partners' keys file",
			zap.String("keysFile", p.KeysFile))
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		keys.Watch(ctx, hup)
	}()

	// Audit first: it must see every request, rejected ones included.
	aw, err := audit.Open(audit.WriterConfig{Dir: p.AuditDir, Retention: p.AuditRetention, Logger: a.Logger})
	if err != nil {
		return fmt.Errorf("opening audit log: %w", err)
	}
	// Shutdown hooks run after in-flight requests finished: no line is lost.
	a.OnShutdown(aw.Close)
	// Keys names the partner and key of requests refused before or by
	// authentication (revoked key, allow-list, 413, 405).
	auditMW, err := audit.Config{Sink: aw, Logger: a.Logger, MaxBodyBytes: cfg.Server.BodyLimit, Keys: keys,
		KeyHeader: apikey.HeaderAPIKey}.ToMiddleware()
	if err != nil {
		return fmt.Errorf("building audit: %w", err)
	}
	deprecated, err := deprecation.Config{Prefix: "/v1", Deprecated: p.V1.Deprecated, Sunset: p.V1.Sunset,
		Link: p.V1.Link}.ToMiddleware()
	if err != nil {
		return fmt.Errorf("building v1 deprecation: %w", err)
	}
	e := a.Echo()
	e.Pre(auditMW, deprecated)

	doc, err := public.Load(ctx, "partner.yaml")
	if err != nil {
		return fmt.Errorf("loading the partner OpenAPI document: %w", err)
	}
	pages, err := docs.New(docs.Config{Document: public.Partner(), Title: doc.Info.Title, TokenURL: p.TokenURL})
	if err != nil {
		return fmt.Errorf("building docs: %w", err)
	}
	pages.Register(e)

	idemStore, closeStore, err := a.idempotencyStore()
	if err != nil {
		return err
	}
	a.OnShutdown(closeStore)
	idem, err := idempotency.Config{
		Store: idemStore, TTL: p.IdempotencyTTL, Wait: p.IdempotencyWait, Logger: a.Logger,
		// Keys are scoped per partner.
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

	routes, err := api.New(api.Config{Clients: a.Clients, Currency: p.Currency, RouteBudget: cfg.Upstreams.RouteBudget})
	if err != nil {
		return fmt.Errorf("building routes: %w", err)
	}

	authn, err := apikey.Config{Store: keys, Bearer: a.Verifier, DocsURL: p.DocsURL,
		ErrorHandler: a.Limiter.ChargeFailure}.ToMiddleware()
	if err != nil {
		return fmt.Errorf("building authentication: %w", err)
	}
	limit, err := ratelimit.Config{Limiter: a.Limiter, Policy: ratelimit.PerPartner(keys.Plan)}.ToMiddleware()
	if err != nil {
		return fmt.Errorf("building rate limit: %w", err)
	}
	validate, err := validation.Config{Document: doc, MaxBodyBytes: cfg.Server.BodyLimit}.ToMiddleware()
	if err != nil {
		return fmt.Errorf("building validation: %w", err)
	}
	// guard is the per-route chain. It is given to each route, not to a
	// group: echo's Group with middleware registers a catch-all 404 route
	// for its prefix, which the router prefers to its 405 handler, so a
	// known path asked with another method (DELETE /v2/products) was
	// answered 404 instead of 405 with Allow (RFC 9110 §15.5.6). Unknown
	// paths are 404 before authentication, as in bff-mobile and bff-web.
	guard := func(scope auth.Scope, extra ...echo.MiddlewareFunc) []echo.MiddlewareFunc {
		return append([]echo.MiddlewareFunc{authn, limit, apikey.RequireScope(scope), validate}, extra...)
	}
	e.GET("/v2/products", routes.ListProducts, guard(auth.ScopeCatalogRead)...)
	e.GET("/v2/products/:id", routes.GetProduct, guard(auth.ScopeCatalogRead)...)
	e.GET("/v2/inventory/:productId", routes.GetInventory, guard(auth.ScopeInventoryRead)...)
	e.POST("/v2/orders", routes.CreateOrder, guard(auth.ScopeOrdersWrite, idem)...)
	e.GET("/v2/orders/:id", routes.GetOrder, guard(auth.ScopeOrdersRead)...)

	e.GET("/v1/products", routes.ListProductsV1, guard(auth.ScopeCatalogRead)...)
	e.GET("/v1/products/:id", routes.GetProductV1, guard(auth.ScopeCatalogRead)...)
	return nil
}

// idempotencyStore is Redis when BFF_REDIS_URL is set (shared by every
// instance), else the in-process store.
func (a *App) idempotencyStore() (idempotency.Store, func(context.Context) error, error) {
	if a.cfg.RedisURL == "" {
		s, err := idempotency.NewMemoryStore(idempotency.MemoryConfig{})
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
	a.AddCheck("idempotency", false, func(ctx context.Context) error { return rdb.Ping(ctx).Err() })
	return idempotency.NewRedisStore(rdb, Name+":idem:"), func(context.Context) error { return rdb.Close() }, nil
}
