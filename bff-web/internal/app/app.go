// Package app is bff-web's composition root: on the shared gateway core
// (edge/gateway: server, metrics, tracing, domain-service clients, JWT
// verifier, rate limiter, readiness checks) it builds the session, CSRF,
// CORS, compression and response cache policies and the web routes.
package app

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/shopfront/bff-web/internal/api"
	"github.com/shopfront/bff-web/internal/cache"
	"github.com/shopfront/bff-web/internal/compress"
	"github.com/shopfront/bff-web/internal/config"
	"github.com/shopfront/bff-web/internal/cors"
	"github.com/shopfront/bff-web/internal/events"
	"github.com/shopfront/bff-web/internal/session"
	"github.com/shopfront/bff-web/internal/signin"
	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/gateway"
	"github.com/shopfront/shared/edge/jwtauth"
	"github.com/shopfront/shared/edge/ratelimit"
	"github.com/shopfront/shared/edge/route"
	"github.com/shopfront/shared/edge/server"
)

// Name is the gateway's name in logs, metrics and traces.
const Name = "bff-web"

// cacheRedisTimeout bounds one cache operation in Redis: a slow or dead
// Redis costs a request at most this much before it is served uncached.
const cacheRedisTimeout = 100 * time.Millisecond

// Options are test hooks of New. The zero value is what main uses.
type Options struct {
	// Now is the clock of the response cache and of the sign-in throttle's
	// windows. Optional. Default time.Now.
	Now func() time.Time
}

// App is a configured bff-web, listening but not yet serving. The embedded
// gateway core gives Run, Addr and AdminAddr.
type App struct {
	*gateway.Gateway
	cfg   config.Config
	cache *cache.Cache
}

// New builds the gateway and binds its listeners. ctx bounds background
// work such as JWKS refreshes; cancel it to stop them.
func New(ctx context.Context, cfg config.Config, log *zap.Logger) (*App, error) {
	return NewWithOptions(ctx, cfg, log, Options{})
}

// NewWithOptions is New with test hooks.
func NewWithOptions(ctx context.Context, cfg config.Config, log *zap.Logger, opts Options) (*App, error) {
	g, err := gateway.New(ctx, cfg.Common, gateway.Options{Name: Name, Client: auth.ClientWeb, Logger: log})
	if err != nil {
		return nil, err
	}
	a := &App{Gateway: g, cfg: cfg}
	if err := a.wire(ctx, opts); err != nil {
		_ = g.Close(ctx)
		return nil, err
	}
	return a, nil
}

// wire builds the web policies and routes on the gateway core. After the
// server's edge chain (docs/chain.md), its Outer slot holds, in this order:
//
//	compression (brotli/gzip >= 1 KiB, errors included)
//	-> CORS (exact origins; refused preflights 403, before any auth)
//
// and each route passes through its policy's chain:
//
//	catalog pages:  JWT optional (cookie or Bearer; a stale cookie is
//	                anonymous and expired) -> rate limit -> response cache -> handler
//	personal routes: JWT required -> rate limit -> CSRF -> handler
//	POST /v1/session: rate limit (per client IP) -> handler, which
//	                refuses a username with 5 failures in 15 min (signin)
//	DELETE /v1/session: rate limit -> CSRF -> handler (no JWT check, so
//	an expired session can still sign out)
//
// Authentication failures are charged to the client IP's anonymous limit.
// The cache sits innermost so that only what the handler produced for an
// anonymous caller is shared, and compression outermost so that the cache
// keeps uncompressed bodies and any encoding a client accepts is served.
func (a *App) wire(ctx context.Context, opts Options) error {
	cfg := a.cfg
	store, err := a.cacheStore(opts)
	if err != nil {
		return err
	}
	a.cache, err = cache.New(cache.Config{
		Store: store, Fresh: cfg.Web.Cache.Fresh, Stale: cfg.Web.Cache.Stale,
		FillTimeout: max(cfg.RouteBudgets().Catalog, cfg.RouteBudgets().Product) + time.Second,
		Now:         opts.Now, Registry: a.Registry, Logger: a.Logger,
	})
	if err != nil {
		return fmt.Errorf("building response cache: %w", err)
	}
	// Refreshes in flight finish before the process exits, and before the
	// gateway closes the Redis client they use.
	a.OnShutdown(a.cache.Wait)

	routes, err := api.New(api.Config{
		Clients: a.Clients, Budgets: cfg.RouteBudgets(), Currency: cfg.Web.Currency, Registry: a.Registry,
		Logger: a.Logger,
		PublicCacheControl: fmt.Sprintf("public, max-age=%d, stale-while-revalidate=%d",
			int(cfg.Web.Cache.Fresh/time.Second), int(cfg.Web.Cache.Stale/time.Second)),
	})
	if err != nil {
		return fmt.Errorf("building routes: %w", err)
	}
	throttle, err := signin.New(signin.Config{Redis: a.Redis, Prefix: Name + ":signin:", Now: opts.Now, Logger: a.Logger})
	if err != nil {
		return fmt.Errorf("building the sign-in throttle: %w", err)
	}
	sessions, err := session.New(session.Config{Issuer: a.Clients.Identity, Throttle: throttle,
		Insecure: cfg.Web.CookieInsecure, Timeout: cfg.Upstreams.Timeout})
	if err != nil {
		return fmt.Errorf("building sessions: %w", err)
	}

	relay, err := a.eventsRelay(ctx)
	if err != nil {
		return err
	}

	// Event streams are never compressed: the compressor buffers, and
	// every event must reach the browser when it happens.
	comp, err := compress.Config{MinSize: cfg.Web.CompressMinSize, Skipper: events.Skipper}.ToMiddleware()
	if err != nil {
		return fmt.Errorf("building compression: %w", err)
	}
	corsMW, err := cors.Config{Origins: cfg.Web.CORSOrigins}.ToMiddleware()
	if err != nil {
		return fmt.Errorf("building CORS: %w", err)
	}
	optional, err := session.OptionalAuthConfig{Insecure: cfg.Web.CookieInsecure,
		Auth: jwtauth.Config{Verifier: a.Verifier, ErrorHandler: a.Limiter.ChargeFailure}}.ToMiddleware()
	if err != nil {
		return fmt.Errorf("building authentication: %w", err)
	}
	required, err := jwtauth.Config{Verifier: a.Verifier, TokenLookup: session.TokenLookup(),
		ErrorHandler: a.Limiter.ChargeFailure}.ToMiddleware()
	if err != nil {
		return fmt.Errorf("building authentication: %w", err)
	}
	limit, err := ratelimit.Config{Limiter: a.Limiter, Policy: ratelimit.PerUser(ratelimit.UserLimit())}.ToMiddleware()
	if err != nil {
		return fmt.Errorf("building rate limit: %w", err)
	}
	csrf, err := session.CSRFConfig{}.ToMiddleware()
	if err != nil {
		return fmt.Errorf("building CSRF check: %w", err)
	}

	if err := a.Install(server.Chain{Outer: []server.Layer{
		{Name: "compression (brotli, gzip)", Middleware: comp},
		{Name: "CORS", Middleware: corsMW},
	}}); err != nil {
		return fmt.Errorf("installing the edge chain: %w", err)
	}
	return a.Register(route.Chains{
		api.CatalogPolicy:  {optional, limit, a.cache.Middleware(cache.Route{Query: api.CatalogQuery()})},
		api.ProductPolicy:  {optional, limit, a.cache.Middleware(cache.Route{})},
		api.PersonalPolicy: {required, limit, csrf},
		signIn:             {limit},
		signOut:            {limit, csrf},
		// No CSRF check on the events route: a GET changes nothing.
		events.Policy: {required, limit},
	}, routes.Routes(), []route.Route{
		{Method: http.MethodPost, Path: "/v1/session", Handler: sessions.Create, Policy: signIn},
		{Method: http.MethodDelete, Path: "/v1/session", Handler: sessions.Delete, Policy: signOut},
		{Method: http.MethodGet, Path: events.Path, Handler: relay.Handle, Policy: events.Policy, LongLived: true},
	})
}

// The policies of the session routes.
const (
	signIn  route.Policy = "sign in"
	signOut route.Policy = "sign out"
)

// cacheStore is Redis when BFF_REDIS_URL is set (entries shared by every
// instance), else the in-process LRU.
func (a *App) cacheStore(opts Options) (cache.Store, error) {
	cfg := a.cfg
	if a.Redis == nil {
		s, err := cache.NewMemory(cache.MemoryConfig{MaxEntries: cfg.Web.Cache.MaxEntries, MaxBytes: int64(cfg.Web.Cache.MaxBytes), Now: opts.Now})
		if err != nil {
			return nil, fmt.Errorf("building cache store: %w", err)
		}
		return s, nil
	}
	// The cache is an optimisation: a failing Redis must cost a request
	// little before it is served uncached.
	return boundedStore{Store: cache.NewRedis(a.Redis, Name+":cache:"), timeout: cacheRedisTimeout}, nil
}

// boundedStore gives every call on its Store its own deadline.
type boundedStore struct {
	cache.Store
	timeout time.Duration
}

var _ cache.Store = boundedStore{}

func (s boundedStore) Get(ctx context.Context, key string) (*cache.Entry, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.Store.Get(ctx, key)
}

func (s boundedStore) Set(ctx context.Context, key string, e *cache.Entry, ttl time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.Store.Set(ctx, key, e, ttl)
}

func (s boundedStore) Lock(ctx context.Context, key string, ttl time.Duration) (func(), bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.Store.Lock(ctx, key, ttl)
}

// eventsRelay builds the live events relay: stream slots in Redis when it
// is configured, every stream ended as soon as the server starts draining,
// and the shutdown waiting for the WebSocket close frames. ctx, New's,
// bounds the slots' background refreshes.
func (a *App) eventsRelay(ctx context.Context) (*events.Relay, error) {
	cfg := a.cfg
	var slots events.Slots
	if a.Redis != nil {
		rs := events.NewRedisSlots(ctx, a.Redis, Name+":events:", a.Logger)
		a.Own("event stream slots", func(context.Context) error { return rs.Close() })
		slots = rs
	}
	relay, err := events.New(events.Config{
		Upstream: a.Clients.Notifications, Origins: cfg.Web.CORSOrigins, Slots: slots,
		MaxPerUser: cfg.Web.Events.MaxPerUser, Heartbeat: cfg.Web.Events.Heartbeat,
		Draining: a.Draining(), Registry: a.Registry, Logger: a.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("building live events: %w", err)
	}
	a.OnShutdown(relay.Wait)
	return relay, nil
}
