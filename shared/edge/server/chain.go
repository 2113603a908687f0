package server

import (
	"fmt"
	"net/http"
	"reflect"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"go.uber.org/zap"

	"github.com/shopfront/shared/edge/accesslog"
	"github.com/shopfront/shared/edge/identity"
	"github.com/shopfront/shared/edge/metrics"
	"github.com/shopfront/shared/edge/problem"
	"github.com/shopfront/shared/edge/requestid"
	"github.com/shopfront/shared/edge/tracing"
	"github.com/shopfront/shared/edge/variant"
)

// newEcho builds the public echo instance with the fixed edge chain, the one
// place its order is decided. Every request, matched route or
// not, passes through, outermost first:
//
//  1. strip identity headers: X-User-Id & co. are deleted before anything
//     else reads them. It is installed with Echo.Pre, so it runs
//     before routing, before any Pre middleware a gateway adds (bff-partner's
//     audit, for one) and so ahead of recover and request id; it only
//     deletes headers, so running first changes nothing else;
//  2. HEAD as GET: every GET route also answers HEAD (mirrorGET), and a
//     HEAD request is handed on as a GET whose body net/http drops
//     (headAsGet, the first middleware after routing, ahead of recover as
//     it cannot fail), so its status and headers are the GET's;
//  3. recover: a panic becomes a 500 problem, never a dropped connection;
//  4. request id: keep a valid X-Request-Id, replace any other;
//  5. tracing: a span per request, W3C traceparent honoured;
//  6. request metrics, then the routing state, then the access log:
//     counts, latency and one line per request, seeing the final status of
//     everything inside (metrics sit outside the access log, which renders
//     errors, per their docs); the routing state (client IP, the tester's
//     X-Shopfront-Variant pin, removed from the request) sits outside the
//     access log, which names the variants the request's calls used;
//  7. limits: headers over MaxHeaderBytes get 431, bodies over BodyLimit 413
//     (net/http itself only stops headers beyond HardMaxHeaderBytes).
//
// The gateway then adds, per route or group: auth -> rate limit -> handler.
// There is no route-timeout middleware: a route's budget bounds its upstream
// work inside the handler (aggregate.Run with the route's budget, each
// source with its own deadline within it), so a source that runs out of it
// degrades its section when optional and fails the route with 504
// upstream_timeout when critical, and the handler still renders the answer. Errors from
// anywhere are returned, not written, and rendered once by problem.Handler.
func (s *Server) newEcho() (*echo.Echo, error) {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = problem.Handler(problem.HandlerConfig{Logger: s.log})
	e.IPExtractor = ipExtractor(s.cfg)

	reqID, err := requestid.Config{}.ToMiddleware()
	if err != nil {
		return nil, fmt.Errorf("building request id middleware: %w", err)
	}
	strip, err := identity.Config{}.ToMiddleware()
	if err != nil {
		return nil, fmt.Errorf("building identity strip middleware: %w", err)
	}
	traces, err := tracing.MiddlewareConfig{TracerProvider: s.opts.TracerProvider, Propagator: s.opts.Propagator}.ToMiddleware()
	if err != nil {
		return nil, fmt.Errorf("building tracing middleware: %w", err)
	}
	reqMetrics, err := metrics.Config{Registry: s.opts.Registry}.ToMiddleware()
	if err != nil {
		return nil, fmt.Errorf("building request metrics middleware: %w", err)
	}
	routingState, err := variant.Config{}.ToMiddleware()
	if err != nil {
		return nil, fmt.Errorf("building routing state middleware: %w", err)
	}
	access, err := accesslog.Config{Logger: s.log}.ToMiddleware()
	if err != nil {
		return nil, fmt.Errorf("building access log middleware: %w", err)
	}
	limits, err := limitsConfig{MaxHeaderBytes: s.cfg.MaxHeaderBytes, BodyLimit: s.cfg.BodyLimit}.ToMiddleware()
	if err != nil {
		return nil, fmt.Errorf("building limits middleware: %w", err)
	}

	e.OnAddRouteHandler = mirrorGET(e)
	e.Pre(strip)
	e.Use(
		headAsGet,
		middleware.RecoverWithConfig(middleware.RecoverConfig{
			DisablePrintStack: true,
			LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
				s.log.Error("panic", zap.String("requestId", requestid.FromContext(c.Request().Context())),
					zap.Error(err), zap.ByteString("stack", stack))
				return err
			},
		}),
		reqID,
		traces,
		reqMetrics,
		routingState,
		access,
		limits,
	)
	return e, nil
}

// ipExtractor makes c.RealIP() the direct peer unless the peer is a trusted
// proxy, in which case X-Forwarded-For is walked from the right past trusted
// hops. Loopback, link-local and private ranges are not trusted implicitly:
// only BFF_TRUSTED_PROXIES is.
func ipExtractor(cfg Config) echo.IPExtractor {
	if len(cfg.TrustedProxies) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range cfg.TrustedProxies {
		opts = append(opts, echo.TrustIPRange(prefixToIPNet(p)))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// limitsConfig caps header and body sizes inside the chain, so the answer is
// a problem+json with the request id.
type limitsConfig struct {
	// MaxHeaderBytes caps the request line plus headers as sent on the wire.
	// Required.
	MaxHeaderBytes int
	// BodyLimit caps the body in bytes. Required.
	BodyLimit int64
}

func (c limitsConfig) ToMiddleware() (echo.MiddlewareFunc, error) {
	if c.MaxHeaderBytes <= 0 || c.BodyLimit <= 0 {
		return nil, fmt.Errorf("limits: MaxHeaderBytes and BodyLimit must be positive")
	}
	body := middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{Limit: fmt.Sprint(c.BodyLimit)})
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		withBody := body(next)
		return func(ec echo.Context) error {
			if headerSize(ec.Request()) > c.MaxHeaderBytes {
				return problem.New(http.StatusRequestHeaderFieldsTooLarge, problem.CodeHeadersTooLarge,
					fmt.Sprintf("request headers exceed %d bytes", c.MaxHeaderBytes))
			}
			return withBody(ec)
		}
	}, nil
}

// headerSize is the HTTP/1.1 wire size of the request line and headers, the
// quantity net/http's MaxHeaderBytes bounds.
func headerSize(r *http.Request) int {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2
	n += len("Host: ") + len(r.Host) + 2
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	return n + 2
}

// mirrorGET is the echo instance's OnAddRouteHandler: every GET route,
// whether added on the instance, a group or a host, gets a HEAD route with
// the same handler and middleware, so that HEAD is answered wherever GET is
// (RFC 9110 §9.3.2) instead of 405 or a group's 404. Routing then happens
// with the request's true method: gateway Pre middleware such as an audit
// log sees HEAD. A HEAD route a gateway adds after its GET replaces the
// mirrored one.
func mirrorGET(e *echo.Echo) func(host string, route echo.Route, h echo.HandlerFunc, mw []echo.MiddlewareFunc) {
	return func(host string, route echo.Route, h echo.HandlerFunc, mw []echo.MiddlewareFunc) {
		if route.Method != http.MethodGet {
			return
		}
		if host == "" {
			e.Add(http.MethodHead, route.Path, h, mw...)
			return
		}
		e.Host(host).Add(http.MethodHead, route.Path, h, mw...)
	}
}

// headAsGet, the outermost middleware after routing, hands HEAD requests on
// as a shallow copy whose Method is GET: the edge chain, the gateway's
// middleware and the handler then treat them exactly as the GET, which is
// what keeps ETag, Cache-Control, Content-Type, Content-Encoding, X-Cache,
// the rate-limit headers and the rest equal to the GET's (a response cache
// or compressor that skips HEAD would otherwise answer differently).
// net/http's response writer keeps its own *http.Request, whose Method stays
// HEAD, so it discards every body byte written, error bodies included, and
// still derives Content-Length from a body written whole, as it does for
// the GET. The access log, metrics and spans therefore record such a
// request as GET.
func headAsGet(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if r := c.Request(); r.Method == http.MethodHead {
			// WithContext copies the request; setting Method on r itself
			// would change the method net/http's response writer checks.
			g := r.WithContext(r.Context())
			g.Method = http.MethodGet
			c.SetRequest(g)
		}
		return next(c)
	}
}

// Unmatched reports whether the router found no route for c's request, so
// that it is about to be answered 404 not_found or 405 method_not_allowed;
// a route-level middleware never sees such requests, so a gateway that
// wants to act on them (charge them to a rate limit) uses this as the
// Skipper of an instance-level one. Not-found routes a group adds for its
// prefix (echo's Group.Use) count as matched: the group's own middleware
// runs for them.
func Unmatched(c echo.Context) bool {
	// echo hands such requests its package-level NotFoundHandler or
	// MethodNotAllowedHandler and says so no other way (c.Path() may name a
	// prefix of other routes). Func values compare only by code pointer;
	// matched routes, RouteNotFound ones included, run echo's wrapping
	// closure instead, so they never compare equal.
	h := reflect.ValueOf(c.Handler()).Pointer()
	return h == reflect.ValueOf(echo.NotFoundHandler).Pointer() ||
		h == reflect.ValueOf(echo.MethodNotAllowedHandler).Pointer()
}
