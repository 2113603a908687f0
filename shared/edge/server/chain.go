package server

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

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

// Layer is one named middleware of the chain. The name is what docs/chain.md
// shows for it.
type Layer struct {
	// Name says what the layer does, in a few words. Required.
	Name string
	// Middleware is the layer. Required.
	Middleware echo.MiddlewareFunc
}

// Chain is what a gateway adds to the fixed edge chain. Each slot has a
// fixed position in it, so no gateway calls Echo.Pre or Echo.Use itself and
// the whole order is decided here (see Layers and docs/chain.md):
//
//	strip identity headers -> Pre -> [routing] -> Admission -> HEAD as GET
//	-> recover -> request id -> tracing -> request metrics -> access log
//	-> limits -> Unmatched -> Outer -> the route's own chain -> handler
type Chain struct {
	// Pre runs before routing, for every request, with its true method (a
	// HEAD is still HEAD): an audit log that must see every answer, or
	// headers that must be on every answer of a path prefix, errors
	// included. A Pre layer renders the errors it wants to see with
	// c.Error: the recover, request id and access log layers run after it.
	// Optional. Default none.
	Pre []Layer
	// Admission runs first after routing (so the route is known), ahead
	// of every edge layer after it: a layer that refuses requests when
	// the instance is at its limit, which must cost as little as possible
	// — no request id, span, metrics or access-log line are made for what
	// it refuses. A refusal it returns is rendered by the error handler;
	// it sets the answer's X-Request-Id itself. It runs outside recover,
	// so it must not panic (net/http would close the connection).
	// Optional. Default none.
	Admission []Layer
	// Unmatched runs after the edge chain only for requests no route
	// matches (answered 404 or 405), which no route's own chain sees: the
	// rate limit that makes a flood of unknown paths cost the client.
	// Optional. Default none.
	Unmatched []Layer
	// Outer runs after Unmatched for every request, matched or not, so
	// that its effect covers the 404 and 405 problems too: compression,
	// CORS. Optional. Default none.
	Outer []Layer
}

// Slot names where a layer sits: in the fixed edge chain, or in one of
// Chain's slots.
type Slot string

// The slots of the chain, as Layers and docs/chain.md name them.
const (
	SlotEdge      Slot = "edge"
	SlotPre       Slot = "pre"
	SlotAdmission Slot = "admission"
	SlotUnmatched Slot = "unmatched"
	SlotOuter     Slot = "outer"
)

// step is one entry of the chain's ordered list: the single record from
// which both the echo wiring and the description are made.
type step struct {
	Layer
	slot Slot
	// pre steps run before routing (Echo.Pre), the others after it.
	pre bool
}

// rank orders steps: those before routing, then the Admission slot's,
// then the others after routing.
func (st step) rank() int {
	switch {
	case st.pre:
		return 0
	case st.slot == SlotAdmission:
		return 1
	default:
		return 2
	}
}

// newEcho builds the public echo instance with the fixed edge chain; Install
// later adds a gateway's Chain at its slots. The order, outermost first, is
// the list edgeSteps returns followed by the slots, as Layers reports it:
//
//  1. strip identity headers: X-User-Id & co. are deleted before anything
//     else reads them. It is installed before routing, ahead of the Pre slot
//     (bff-partner's audit, for one) and so ahead of recover and request
//     id; it only deletes headers, so running first changes nothing else;
//  2. the Pre slot; then routing, and the Admission slot right after it,
//     ahead of everything below;
//  3. HEAD as GET: every GET route also answers HEAD (mirrorGET), and a
//     HEAD request is handed on as a GET whose body net/http drops
//     (headAsGet, the first middleware after routing, ahead of recover as
//     it cannot fail), so its status and headers are the GET's;
//  4. recover: a panic becomes a 500 problem, never a dropped connection;
//  5. request id: keep a valid X-Request-Id, replace any other;
//  6. tracing: a span per request, W3C traceparent honoured;
//  7. request metrics, then the routing state, then the access log:
//     counts, latency and one line per request, seeing the final status of
//     everything inside (metrics sit outside the access log, which renders
//     errors, per their docs); the routing state (client IP, the tester's
//     X-Shopfront-Variant pin, removed from the request) sits outside the
//     access log, which names the variants the request's calls used;
//  8. limits: TRACE and CONNECT get 405 (wrapped in the Unmatched slot's
//     layers when no route matches, which charge them to the client's
//     limit), a body with a Content-Encoding
//     other than identity 415, headers over MaxHeaderBytes 431 and bodies
//     over BodyLimit 413 (net/http itself only stops headers beyond
//     HardMaxHeaderBytes);
//  9. the Unmatched slot, for requests no route matches only;
//  10. the Outer slot.
//
// The route's own chain follows (auth -> rate limit -> ... -> handler).
// There is no route-timeout middleware: a route's budget bounds its upstream
// work inside the handler (aggregate.Run with the route's budget, each
// source with its own deadline within it), so a source that runs out of it
// degrades its section when optional and fails the route with 504
// upstream_timeout when critical, and the handler still renders the answer. Errors from
// anywhere are returned, not written, and rendered once by problem.Handler.
func (s *Server) newEcho() (*echo.Echo, error) {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = problem.Handler(problem.HandlerConfig{Logger: s.log, TypeBase: s.cfg.ErrorsURL})
	e.IPExtractor = ipExtractor(s.cfg)
	e.OnAddRouteHandler = mirrorGET(e)

	steps, err := s.edgeSteps()
	if err != nil {
		return nil, err
	}
	s.echo = e
	s.install(steps)
	return e, nil
}

// edgeSteps builds the fixed edge chain, in order.
func (s *Server) edgeSteps() ([]step, error) {
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
	limits, err := limitsConfig{MaxHeaderBytes: s.cfg.MaxHeaderBytes, BodyLimit: s.cfg.BodyLimit, Unmatched: s.wrapUnmatched}.ToMiddleware()
	if err != nil {
		return nil, fmt.Errorf("building limits middleware: %w", err)
	}
	recoverMW := middleware.RecoverWithConfig(middleware.RecoverConfig{
		DisablePrintStack: true,
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			s.log.Error("panic", zap.String("requestId", requestid.FromContext(c.Request().Context())),
				zap.Error(err), zap.ByteString("stack", stack))
			return err
		},
	})
	edge := func(name string, mw echo.MiddlewareFunc) step {
		return step{Layer: Layer{Name: name, Middleware: mw}, slot: SlotEdge}
	}
	strips := edge("strip identity headers", strip)
	strips.pre = true
	return []step{
		strips,
		edge("HEAD as GET", headAsGet),
		edge("recover", recoverMW),
		edge("request id", reqID),
		edge("tracing", traces),
		edge("request metrics", reqMetrics),
		edge("routing state", routingState),
		edge("access log", access),
		edge("request limits", limits),
	}, nil
}

// install wires steps on the echo instance, in order, and records them.
// Steps keep their order of installation within their rank: Install adds
// the Pre slot after the last pre-routing step, the Admission slot ahead
// of every other post-routing step, and Unmatched and Outer after the
// last post-routing one, which is where they belong.
//
// The steps after routing are not handed to Echo.Use one by one: echo
// applies its Use middleware anew on every request, wrapping the route's
// handler in a fresh closure per layer (a dozen allocations a request).
// They are composed once, here, around a handler that calls the route's
// own (c.Handler(), which is what echo would hand the first of them), and
// a single Use layer returns that chain as it is. The steps before routing
// are not handed to Echo.Pre either, for the same reason (echo also makes
// a closure for its routing step on every request once there is one):
// they are composed once around routeThenRun, and publicHandler runs them.
func (s *Server) install(steps []step) {
	first := len(s.steps) == 0
	s.steps = append(s.steps, steps...)
	// Keep the list in chain order: pre-routing steps first, then the
	// Admission slot, then the other steps after routing.
	slices.SortStableFunc(s.steps, func(a, b step) int { return a.rank() - b.rank() })
	var h echo.HandlerFunc = routeHandler
	for i := len(s.steps) - 1; i >= 0; i-- {
		if !s.steps[i].pre {
			h = s.steps[i].Middleware(h)
		}
	}
	s.routed.Store(&h)
	var pre echo.HandlerFunc = s.routeThenRun
	for i := len(s.steps) - 1; i >= 0; i-- {
		if s.steps[i].pre {
			pre = s.steps[i].Middleware(pre)
		}
	}
	s.pre.Store(&pre)
	if first {
		s.echo.Use(func(echo.HandlerFunc) echo.HandlerFunc { return *s.routed.Load() })
	}
}

// routeThenRun ends the pre-routing chain: it routes the request as
// Echo.ServeHTTP does (the default router; the gateways add no virtual
// hosts) and runs the post-routing chain. Echo routes by the request it
// was handed, and so does this: the pre layers may copy the request (the
// audit's body recorder) but never change its method or path.
func (s *Server) routeThenRun(c echo.Context) error {
	r := c.Request()
	s.echo.Router().Find(r.Method, echo.GetPath(r), c)
	return (*s.routed.Load())(c)
}

// publicHandler serves the public listener: Echo.ServeHTTP, with the pre
// layers composed once (see install) instead of applied per request. The
// echo instance itself, served directly, would skip the pre layers.
type publicHandler struct{ s *Server }

func (h publicHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e := h.s.echo
	c := e.AcquireContext()
	c.Reset(r, w)
	if err := (*h.s.pre.Load())(c); err != nil {
		e.HTTPErrorHandler(err, c)
	}
	e.ReleaseContext(c)
}

// routeHandler ends the composed chain with the handler the router found
// for the request: the route's (its own middleware included), or echo's
// not-found or method-not-allowed one. Nothing in the chain replaces it.
func routeHandler(c echo.Context) error { return c.Handler()(c) }

// Install adds a gateway's layers to the edge chain at their slots. It may
// be called once, before Run; a layer without a name or middleware is
// refused, as is a second call.
func (s *Server) Install(c Chain) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.installed {
		return errors.New("server: Install called twice")
	}
	if s.started {
		return errors.New("server: Install called after Run")
	}
	var steps []step
	var errs []error
	add := func(slot Slot, pre bool, layers []Layer, wrap func(echo.MiddlewareFunc) echo.MiddlewareFunc) {
		for i, l := range layers {
			if l.Name == "" || l.Middleware == nil {
				errs = append(errs, fmt.Errorf("server: Chain.%s[%d] needs a Name and a Middleware", slotField(slot), i))
				continue
			}
			if wrap != nil {
				l.Middleware = wrap(l.Middleware)
			}
			steps = append(steps, step{Layer: l, slot: slot, pre: pre})
		}
	}
	add(SlotPre, true, c.Pre, nil)
	add(SlotAdmission, false, c.Admission, nil)
	add(SlotUnmatched, false, c.Unmatched, onlyUnmatched)
	add(SlotOuter, false, c.Outer, nil)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	s.installed = true
	s.install(steps)
	return nil
}

// wrapUnmatched wraps h in the layers of the Unmatched slot, outermost
// first. Install sets them before Run, so requests only ever read them.
func (s *Server) wrapUnmatched(h echo.HandlerFunc) echo.HandlerFunc {
	for i := len(s.steps) - 1; i >= 0; i-- {
		if s.steps[i].slot == SlotUnmatched {
			h = s.steps[i].Middleware(h)
		}
	}
	return h
}

func slotField(s Slot) string {
	switch s {
	case SlotPre:
		return "Pre"
	case SlotAdmission:
		return "Admission"
	case SlotUnmatched:
		return "Unmatched"
	default:
		return "Outer"
	}
}

// onlyUnmatched runs mw for requests no route matches and skips it for the
// others.
func onlyUnmatched(mw echo.MiddlewareFunc) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		withMW := mw(next)
		return func(c echo.Context) error {
			if !metrics.Matched(c) {
				return withMW(c)
			}
			return next(c)
		}
	}
}

// Describe renders the chain of layers as docs/chain.md shows it: one line
// per layer, outermost first, routing between the layers that run before
// it and those after, each gateway layer marked with its slot and an empty
// slot shown as such.
func Describe(layers []SlotLayer) string {
	var b strings.Builder
	n := 0
	group := func(pre bool, slot Slot) {
		found := false
		for _, l := range layers {
			if l.Pre != pre || l.Slot != slot {
				continue
			}
			found = true
			n++
			if slot == SlotEdge {
				fmt.Fprintf(&b, "%2d. %s\n", n, l.Name)
			} else {
				fmt.Fprintf(&b, "%2d. [%s] %s\n", n, slot, l.Name)
			}
		}
		if !found && slot != SlotEdge {
			fmt.Fprintf(&b, "    [%s] (none)\n", slot)
		}
	}
	group(true, SlotEdge)
	group(true, SlotPre)
	b.WriteString("    -- routing --\n")
	group(false, SlotAdmission)
	group(false, SlotEdge)
	group(false, SlotUnmatched)
	group(false, SlotOuter)
	b.WriteString("    -> the route's own chain -> handler\n")
	return b.String()
}

// SlotLayer is a layer of the installed chain with where it sits.
type SlotLayer struct {
	Name string
	Slot Slot
	// Pre reports a layer that runs before routing.
	Pre bool
}

// Layers returns the installed chain, outermost first; Describe renders it.
func (s *Server) Layers() []SlotLayer {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SlotLayer, len(s.steps))
	for i, st := range s.steps {
		out[i] = SlotLayer{Name: st.Name, Slot: st.slot, Pre: st.pre}
	}
	return out
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

// limitsConfig refuses, inside the chain so that the answer is a
// problem+json with the request id, what no route of a gateway serves:
// TRACE (it would reflect credentials back) and CONNECT (a gateway is no
// tunnel), request bodies in a content coding (a gateway never inflates a
// body, so a gzip bomb is refused unread), and headers and bodies over
// their caps.
type limitsConfig struct {
	// MaxHeaderBytes caps the request line plus headers as sent on the wire.
	// Required.
	MaxHeaderBytes int
	// BodyLimit caps the body in bytes. Required.
	BodyLimit int64
	// Unmatched wraps a handler in the layers of the Unmatched slot, as
	// installed when the request arrives. Optional. Default nil: TRACE and
	// CONNECT are refused without them.
	Unmatched func(h echo.HandlerFunc) echo.HandlerFunc
}

func (c limitsConfig) ToMiddleware() (echo.MiddlewareFunc, error) {
	if c.MaxHeaderBytes <= 0 || c.BodyLimit <= 0 {
		return nil, fmt.Errorf("limits: MaxHeaderBytes and BodyLimit must be positive")
	}
	body := middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{Limit: fmt.Sprint(c.BodyLimit)})
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		withBody := body(next)
		return func(ec echo.Context) error {
			req := ec.Request()
			if req.Method == http.MethodTrace || req.Method == http.MethodConnect {
				// echo knows the methods of a path it matched; an unknown
				// path allows none.
				allow, _ := ec.Get(echo.ContextKeyHeaderAllow).(string)
				refused := problem.New(http.StatusMethodNotAllowed, problem.CodeMethodNotAllowed,
					req.Method+" is not allowed.").WithHeader(echo.HeaderAllow, allow)
				if metrics.Matched(ec) || c.Unmatched == nil {
					return refused
				}
				// On a path no route matches, the refusal is what the
				// Unmatched slot's layers wrap, as echo's own 404 would be:
				// the gateway charges it to the client's anonymous limit
				// like any unknown path, so a flood of TRACE is no cheaper
				// than one of GET. No route, and no Outer layer, runs.
				return c.Unmatched(func(echo.Context) error { return refused })(ec)
			}
			if ce := req.Header.Values(echo.HeaderContentEncoding); len(ce) > 0 && hasBody(req) && !identityOnly(ce) {
				return problem.New(http.StatusUnsupportedMediaType, problem.CodeUnsupportedMediaType,
					"Request bodies must not be content-coded.").WithHeader("Accept-Encoding", "identity")
			}
			if headerSize(req) > c.MaxHeaderBytes {
				return problem.New(http.StatusRequestHeaderFieldsTooLarge, problem.CodeHeadersTooLarge,
					fmt.Sprintf("request headers exceed %d bytes", c.MaxHeaderBytes))
			}
			return withBody(ec)
		}
	}, nil
}

// hasBody reports whether the request carries a body: a Content-Length
// above zero or a chunked one.
func hasBody(r *http.Request) bool {
	return r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody
}

// identityOnly reports whether every coding listed in the Content-Encoding
// field lines is identity.
func identityOnly(lines []string) bool {
	for _, line := range lines {
		for coding := range strings.SplitSeq(line, ",") {
			if c := strings.TrimSpace(coding); c != "" && !strings.EqualFold(c, "identity") {
				return false
			}
		}
	}
	return true
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
