// Package gateway is the part of a Shopfront gateway's composition root that
// every gateway does the same way. From config.Common, New builds, in this
// order:
//
//	Prometheus registry (Go and process collectors)
//	-> tracing (OpenTelemetry provider and propagator; flushed at shutdown)
//	-> server (public and admin listeners, the edge chain)
//	-> domain-service clients (given the tracer provider and propagator)
//	-> JWT verifier (readiness check "jwks", required)
//	-> the process's one Redis client, when BFF_REDIS_URL is set
//	-> rate limiter, Redis or in-process (check "redis", optional, only
//	   when Redis is configured), which also charges requests no route
//	   matches (404, 405) to the client IP's anonymous limit
//	-> the adaptive concurrency limit (overload), unless BFF_OVERLOAD=off
//	-> one optional check per upstream breaker ("breaker:<service>")
//	-> GET /routing on the admin listener, and a watcher reloading the
//	   routing section when the BFF_CONFIG file changes
//
// The gateway's own composition root then adds only its policies, installs
// its layers of the edge chain (Install) and registers its routes
// (Register, which tells the concurrency limit its long-lived routes). What it opens it hands to Own, and what must
// happen on SIGHUP to OnReload; Main is the whole of its main function:
//
//	func main() { gateway.Main(app.Name, config.Load, app.New) }
package gateway

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/buildinfo"
	"github.com/shopfront/shared/edge/config"
	"github.com/shopfront/shared/edge/jsonx"
	"github.com/shopfront/shared/edge/jwtauth"
	"github.com/shopfront/shared/edge/metrics"
	"github.com/shopfront/shared/edge/overload"
	"github.com/shopfront/shared/edge/ratelimit"
	"github.com/shopfront/shared/edge/redisurl"
	"github.com/shopfront/shared/edge/route"
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

// RedisTimeout caps every call on the shared Redis client (dial, pool wait,
// read and write), and its calls are never retried: Redis sits on the
// request path, so a slow or dead Redis must cost a request little. It is
// only the ceiling: each user bounds its own calls with a shorter context
// deadline (rate limits and the response cache 100 ms, idempotency records
// 1 s), which the client honours.
const RedisTimeout = time.Second

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
	// Now is the clock of the rate limiter's in-process counters, so that
	// a test can hold time still instead of racing the refill. Optional.
	// Default time.Now.
	Now func() time.Time
	// HookTimeout bounds the shutdown hooks together, the wait for
	// handlers still running after the drain included. Optional. Default
	// server.DefaultHookTimeout.
	HookTimeout time.Duration
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
	// Redis is the process's one Redis client, nil when BFF_REDIS_URL is
	// not set. The gateway owns it and closes it at shutdown, after the
	// in-flight requests and the shutdown hooks; its users bound each call
	// with a context deadline (see RedisTimeout) and never close it.
	Redis redis.UniversalClient

	// unmatched is the core's layer of the Unmatched slot.
	unmatched server.Layer
	// overload is the concurrency limit, first in the Admission slot; nil when
	// BFF_OVERLOAD=off.
	overload *overload.Limiter
	// longLived matches the routes Register was given marked LongLived,
	// which the concurrency limit skips.
	longLived atomic.Pointer[func(echo.Context) bool]
	// inFlight counts the requests inside the chain, so that what the
	// handlers use is closed only once none is left (see releaseAfterRequests).
	inFlight atomic.Int64

	mu        sync.Mutex
	owned     []owned
	reloaders []func(ctx context.Context) error
	installed bool
}

// owned is a resource the gateway closes.
type owned struct {
	name  string
	close func(ctx context.Context) error
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
	// On error everything built so far is released: the listeners, then
	// what was owned, last owned first.
	defer func() {
		if err == nil {
			return
		}
		if g.Server != nil {
			_ = g.Server.Close()
		}
		_ = g.release(context.WithoutCancel(ctx))
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
	// Owned first, so closed last: the spans of everything else's shutdown
	// are still exported.
	g.Own("tracing", g.Tracing.Shutdown)

	g.Server, err = server.New(cfg.Server, server.Options{
		Name: opts.Name, Logger: g.Logger, Registry: g.Registry, Build: &build,
		TracerProvider: g.Tracing.Provider, Propagator: g.Tracing.Propagator,
		HookTimeout: opts.HookTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("building server: %w", err)
	}
	// The first hook registered runs last: what the gateway owns is closed
	// after the in-flight requests finished and after every other hook
	// (the response cache's refreshes, for one) is done with it.
	g.OnShutdown(g.releaseAfterRequests)
	// Responses are encoded with jsonx, as upstream answers are decoded:
	// the same bytes as echo's default, several times faster.
	g.Echo().JSONSerializer = jsonx.Serializer{}

	// Client spans only when spans are exported: otherwise the calls carry
	// the request's span context as it is, with no span machinery per call.
	var clientSpans trace.TracerProvider
	if g.Tracing.Recording() {
		clientSpans = g.Tracing.Provider
	}
	svcCfg := services.ConfigFrom(upstream.Config{Timeout: cfg.Upstreams.Timeout}, cfg.Upstreams.URL)
	svcCfg.Routing, svcCfg.RoutingFile = cfg.Routing, cfg.File
	g.Clients, err = services.New(svcCfg,
		upstream.Options{
			Logger: g.Logger, Registerer: g.Registry,
			TracerProvider: clientSpans, Propagator: g.Tracing.Propagator,
			Client: opts.Client,
		})
	if err != nil {
		return nil, fmt.Errorf("building domain-service clients: %w", err)
	}

	g.Verifier, err = jwtauth.NewVerifier(ctx, jwtauth.VerifierConfig{
		JWKSURL: cfg.JWT.JWKSURL, Issuer: cfg.JWT.Issuer, Audience: cfg.JWT.Audience,
		Client: opts.Client, Logger: g.Logger, Registry: g.Registry,
	})
	if err != nil {
		return nil, fmt.Errorf("building JWT verifier: %w", err)
	}
	g.AddCheck(CheckJWKS, true, g.Verifier.Ready)

	if cfg.RedisURL != "" {
		if g.Redis, err = NewRedis(cfg.RedisURL); err != nil {
			return nil, err
		}
		g.Own("redis", func(context.Context) error { return g.Redis.Close() })
	}

	g.Limiter, err = ratelimit.New(ratelimit.LimiterConfig{
		Redis: g.Redis, Prefix: opts.Name + ":", Logger: g.Logger, Registry: g.Registry, Now: opts.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("building rate limiter: %w", err)
	}
	if g.Redis != nil {
		g.AddCheck(CheckRedis, false, g.Limiter.Status)
	}

	// Requests no route matches never reach a route's rate limit; without
	// this a flood of unknown paths would be free. They are charged like
	// any anonymous request, before the gateway's outer layers run.
	unmatched, err := ratelimit.Config{Limiter: g.Limiter}.ToMiddleware()
	if err != nil {
		return nil, fmt.Errorf("building the rate limit of unmatched routes: %w", err)
	}
	g.unmatched = server.Layer{Name: "rate limit of unmatched routes (client IP)", Middleware: unmatched}

	// The limit sheds before authentication, rate limits and the body, so
	// a shed costs next to nothing; long-lived routes never take a slot.
	ocfg := cfg.Overload
	ocfg.Registry, ocfg.Skipper = g.Registry, g.isLongLived
	if g.overload, err = overload.New(ocfg); err != nil {
		return nil, fmt.Errorf("building the concurrency limit: %w", err)
	}

	for _, r := range g.Clients.Routes() {
		g.AddCheck(BreakerCheck(r.Name()), false, r.CheckBreaker)
	}
	// The routing section is re-read when the file changes (here) and on
	// SIGHUP (Main calls Reload, which runs the OnReload functions).
	g.HandleAdmin("GET /routing", g.Clients.Router())
	if cfg.File != "" {
		g.OnReload(g.Clients.Router().Reload)
	}
	go g.Clients.Router().Watch(ctx)
	return g, nil
}

// ClusterStateReload is how old a Redis Cluster client's map of slots to
// primaries may grow while calls are made. A primary that died answers no
// MOVED that would send the client to its promoted replica, so without a
// reload its slots would stay unreachable until go-redis's default minute
// had passed; each reload is one CLUSTER SLOTS call.
const ClusterStateReload = time.Second

// NewRedis makes the Redis client of url as every gateway process uses it:
// a redis.UniversalClient of one server, a Sentinel-managed primary or a
// Redis Cluster, as the URL's scheme says (see the redisurl package), with
// every call capped at RedisTimeout, bounded by its context's deadline, and
// never retried, not even its dial: a refused connection fails the call at
// once instead of after go-redis's five dial attempts.
func NewRedis(url string) (redis.UniversalClient, error) {
	o, topo, err := redisurl.Parse(url)
	if err != nil {
		return nil, fmt.Errorf("parsing BFF_REDIS_URL: %w", err)
	}
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout = RedisTimeout, RedisTimeout, RedisTimeout, RedisTimeout
	o.MaxRetries, o.DialerRetries, o.ContextTimeoutEnabled = -1, 1, true
	if topo == redisurl.Cluster {
		co := o.Cluster()
		co.ClusterStateReloadInterval = ClusterStateReload
		return redis.NewClusterClient(co), nil
	}
	return redis.NewUniversalClient(o), nil
}

// Own hands the gateway a resource its composition root opened (an audit
// writer, a file): close runs once, when wiring fails (Close) or at
// shutdown after the in-flight requests and the OnShutdown hooks, last
// owned first. name appears in the log line of a failing close.
func (g *Gateway) Own(name string, close func(ctx context.Context) error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.owned = append(g.owned, owned{name: name, close: close})
}

// releaseAfterRequests is the shutdown's release. When the drain timed
// out, the server cut the connections off but their handlers may still be
// running, using Redis or writing the audit log: closing those under them
// would turn their last steps into errors (or lost audit lines). So it
// waits for them while the hooks' time lasts, and if some are still
// running then, leaves everything open: the process is about to exit,
// which releases it all anyway.
func (g *Gateway) releaseAfterRequests(ctx context.Context) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for g.inFlight.Load() > 0 {
		select {
		case <-ctx.Done():
			g.Logger.Warn("requests still running after the drain: leaving Redis, the audit log and the other owned resources open for them",
				zap.Int64("requests", g.inFlight.Load()))
			return nil
		case <-tick.C:
		}
	}
	return g.release(ctx)
}

// countInFlight is the outermost layer of the gateway's chain: it counts
// the requests inside, for releaseAfterRequests.
func (g *Gateway) countInFlight(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		g.inFlight.Add(1)
		defer g.inFlight.Add(-1)
		return next(c)
	}
}

// release closes what the gateway owns, last owned first, each once.
func (g *Gateway) release(ctx context.Context) error {
	g.mu.Lock()
	owned := g.owned
	g.owned = nil
	g.mu.Unlock()
	var errs []error
	for _, o := range slices.Backward(owned) {
		if err := o.close(ctx); err != nil {
			g.Logger.Error("closing failed", zap.String("resource", o.name), zap.Error(err))
			errs = append(errs, fmt.Errorf("closing %s: %w", o.name, err))
		}
	}
	return errors.Join(errs...)
}

// OnReload registers fn to run when the process is asked to reload its
// files (SIGHUP, see Main), e.g. to read the partner keys file again. fns
// run in the order registered; an error is logged and the previous state
// kept by fn.
func (g *Gateway) OnReload(fn func(ctx context.Context) error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.reloaders = append(g.reloaders, fn)
}

// Reload runs the OnReload functions and returns their errors joined.
func (g *Gateway) Reload(ctx context.Context) error {
	g.mu.Lock()
	fns := slices.Clone(g.reloaders)
	g.mu.Unlock()
	var errs []error
	for _, fn := range fns {
		errs = append(errs, fn(ctx))
	}
	return errors.Join(errs...)
}

// Install adds the gateway's own layers to the edge chain (server.Chain
// says where each slot sits), with the core's count of requests in flight
// first in the Pre slot (outermost, so that it covers the audit log too),
// its concurrency limit first in the Admission slot, right after routing
// and ahead of every other layer (a shed costs little more than reading
// the request and writing the answer), and its rate limit of unmatched
// routes first in the Unmatched slot. Call it once, before Run; a gateway
// without layers of its own may leave it to Run.
func (g *Gateway) Install(c server.Chain) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	c.Unmatched = append([]server.Layer{g.unmatched}, c.Unmatched...)
	if g.overload != nil {
		c.Admission = append([]server.Layer{{Name: "concurrency limit (503 overloaded)", Middleware: g.overload.Middleware}}, c.Admission...)
	}
	c.Pre = append([]server.Layer{{Name: "in-flight count (what handlers use is closed after them)", Middleware: g.countInFlight}}, c.Pre...)
	if err := g.Server.Install(c); err != nil {
		return err
	}
	g.installed = true
	return nil
}

// Register adds the gateway's routes to the public listener behind their
// policies' chains (see route.Register) and tells the concurrency limit
// which of them are long-lived, so that those never take a slot. Call it
// once, before Run.
func (g *Gateway) Register(chains route.Chains, tables ...[]route.Route) error {
	if err := route.Register(g.Echo(), chains, tables...); err != nil {
		return err
	}
	long := route.LongLived(tables...)
	g.longLived.Store(&long)
	return nil
}

// isLongLived is the concurrency limit's skipper: the routes Register was
// given marked LongLived.
func (g *Gateway) isLongLived(c echo.Context) bool {
	if f := g.longLived.Load(); f != nil {
		return (*f)(c)
	}
	return false
}

// Overload returns the concurrency limit, nil when BFF_OVERLOAD=off.
func (g *Gateway) Overload() *overload.Limiter { return g.overload }

// Run serves until ctx is done, then drains, runs the shutdown hooks and
// closes what the gateway owns (see server.Server.Run). The core's layers
// are installed first when the gateway did not call Install.
func (g *Gateway) Run(ctx context.Context) error {
	g.mu.Lock()
	installed := g.installed
	g.mu.Unlock()
	if !installed {
		if err := g.Install(server.Chain{}); err != nil {
			return err
		}
	}
	return g.Server.Run(ctx)
}

// Close releases what New built and what was handed to Own (listeners,
// Redis, tracing, ...) for a composition root whose own wiring failed after
// New; a gateway that Run releases them itself. The OnShutdown hooks the
// gateway added are not run.
func (g *Gateway) Close(ctx context.Context) error {
	return errors.Join(g.Server.Close(), g.release(context.WithoutCancel(ctx)))
}
