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
	"time"

	"github.com/labstack/echo/v4"
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
	"github.com/shopfront/shared/edge/redisurl"
	"github.com/shopfront/shared/edge/route"
	"github.com/shopfront/shared/edge/server"
)

// Name is the gateway's name in logs, metrics and traces.
const Name = "bff-partner"

// App is a configured bff-partner, listening but not yet serving. The
// embedded gateway core gives Run, Addr and AdminAddr.
type App struct {
	*gateway.Gateway
	cfg config.Config
}

// Options are the parts of a bff-partner the command leaves at their
// defaults and tests replace.
type Options struct {
	// Now is the clock of the in-process rate-limit counters. Optional.
	// Default time.Now.
	Now func() time.Time
}

// New builds the gateway and binds its listeners. ctx bounds background
// work such as JWKS refreshes and keys-file reloads; cancel it to stop them.
func New(ctx context.Context, cfg config.Config, log *zap.Logger) (*App, error) {
	return NewWithOptions(ctx, cfg, log, Options{})
}

// NewWithOptions is New with opts.
func NewWithOptions(ctx context.Context, cfg config.Config, log *zap.Logger, opts Options) (*App, error) {
	g, err := gateway.New(ctx, cfg.Common, gateway.Options{Name: Name, Client: auth.ClientPartner, Logger: log, Now: opts.Now})
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

// wire builds the partner policies and routes on the gateway core. The
// edge chain's Pre slot (docs/chain.md) holds:
//
//	audit (outermost, so 401/403/413/415/429 and unmatched routes are
//	recorded) -> /v1 deprecation headers (so errors carry them too)
//
// and every /v1 and /v2 route passes through its scope's policy chain:
//
//	API key or client-credentials JWT (failures charged to the client IP)
//	-> per-key plan rate limit -> scope -> validation against the partner
//	document (413, 415, 400) -> [POST /v2/orders: idempotency] -> handler
//
// /openapi.json, /docs and its assets need no credentials and are charged
// to the client IP's anonymous limit. SIGHUP reloads the keys
// file (OnReload).
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
	a.OnReload(func(context.Context) error { return keys.Reload() })

	// Audit first: it must see every request, rejected ones included.
	aw, err := audit.Open(audit.WriterConfig{Dir: p.AuditDir, Retention: p.AuditRetention, Logger: a.Logger, Registry: a.Registry})
	if err != nil {
		return fmt.Errorf("opening audit log: %w", err)
	}
	// Reported in /readyz, not required: the audit fails open (a request
	// is served even when its line cannot be written), so a full disk is
	// an alert, not a reason to take the instance out of rotation.
	a.AddCheck("audit", false, aw.Status)
	// Closed after in-flight requests finished, so no line is lost, or at
	// once when the rest of the wiring fails.
	a.Own("audit log", aw.Close)
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

	doc, err := public.Load(ctx, "partner.yaml")
	if err != nil {
		return fmt.Errorf("loading the partner OpenAPI document: %w", err)
	}
	pages, err := docs.New(docs.Config{Document: public.Partner(), Title: doc.Info.Title, TokenURL: p.TokenURL})
	if err != nil {
		return fmt.Errorf("building docs: %w", err)
	}

	idemStore, err := a.idempotencyStore()
	if err != nil {
		return err
	}
	idem, err := idempotency.Config{
		Store: idemStore, TTL: p.IdempotencyTTL, Wait: p.IdempotencyWait, Logger: a.Logger, Registry: a.Registry,
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
	// The documents need no credentials, so they are charged to the
	// client IP's anonymous limit like any other anonymous request: a
	// flood of /openapi.json is not free.
	anonymous, err := ratelimit.Config{Limiter: a.Limiter}.ToMiddleware()
	if err != nil {
		return fmt.Errorf("building the anonymous rate limit: %w", err)
	}
	validate, err := validation.Config{Document: doc, MaxBodyBytes: cfg.Server.BodyLimit}.ToMiddleware()
	if err != nil {
		return fmt.Errorf("building validation: %w", err)
	}

	if err := a.Install(server.Chain{Pre: []server.Layer{
		{Name: "audit log", Middleware: auditMW},
		{Name: "/v1 deprecation headers", Middleware: deprecated},
	}}); err != nil {
		return fmt.Errorf("installing the edge chain: %w", err)
	}
	// The keys file is polled too (apikey.StoreConfig.PollInterval), until
	// ctx ends; SIGHUP reaches it through OnReload.
	go keys.Watch(ctx, nil)

	scoped := func(scope auth.Scope, extra ...echo.MiddlewareFunc) []echo.MiddlewareFunc {
		return append([]echo.MiddlewareFunc{authn, limit, apikey.RequireScope(scope), validate}, extra...)
	}
	return a.Register(route.Chains{
		api.CatalogReadPolicy:   scoped(auth.ScopeCatalogRead),
		api.InventoryReadPolicy: scoped(auth.ScopeInventoryRead),
		api.OrdersReadPolicy:    scoped(auth.ScopeOrdersRead),
		api.OrdersWritePolicy:   scoped(auth.ScopeOrdersWrite, idem),
		route.Open:              {anonymous},
	}, routes.Routes(), pages.Routes())
}

// idempotencyRedisTimeout bounds one idempotency operation in Redis, so
// that POST /v2/orders fails closed (503) well within 2 s while Redis is
// away.
const idempotencyRedisTimeout = time.Second

// idempotencyStore is Redis when BFF_PARTNER_IDEMPOTENCY_REDIS_URL or
// BFF_REDIS_URL is set (shared by every instance), else the in-process
// store. A Redis of its own keeps the records away from the cache's
// memory pressure and eviction.
func (a *App) idempotencyStore() (idempotency.Store, error) {
	rdb := a.Redis
	if u := a.cfg.Partner.IdempotencyRedisURL; u != "" {
		own, err := gateway.NewRedis(u)
		if err != nil {
			return nil, fmt.Errorf("idempotency: %w", err)
		}
		a.Own("idempotency redis", func(context.Context) error { return own.Close() })
		rdb = own
	}
	if rdb == nil {
		s, err := idempotency.NewMemoryStore(idempotency.MemoryConfig{})
		if err != nil {
			return nil, fmt.Errorf("building idempotency store: %w", err)
		}
		return s, nil
	}
	// Reported in /readyz, not required: only POST /v2/orders needs it, and
	// it fails closed (503) while Redis is away.
	a.AddCheck("idempotency", false, func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, idempotencyRedisTimeout)
		defer cancel()
		return redisurl.Ping(ctx, rdb)
	})
	s, err := idempotency.NewRedisStore(rdb, idempotency.RedisConfig{Prefix: Name + ":idem:"})
	if err != nil {
		return nil, fmt.Errorf("building idempotency store: %w", err)
	}
	return boundedStore{Store: s, timeout: idempotencyRedisTimeout}, nil
}

// boundedStore gives every call on its Store its own deadline.
type boundedStore struct {
	idempotency.Store
	timeout time.Duration
}

var _ idempotency.Store = boundedStore{}

func (s boundedStore) Claim(ctx context.Context, key idempotency.Key, rec idempotency.Record, lock time.Duration) (*idempotency.Record, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.Store.Claim(ctx, key, rec, lock)
}

func (s boundedStore) Complete(ctx context.Context, key idempotency.Key, rec idempotency.Record, ttl time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.Store.Complete(ctx, key, rec, ttl)
}

func (s boundedStore) Release(ctx context.Context, key idempotency.Key, token string) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.Store.Release(ctx, key, token)
}
