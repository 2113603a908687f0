// Package upstream is the client of one domain service: pooled keep-alive
// connections, a timeout per call, a gobreaker circuit breaker in the
// transport, at most one retry of idempotent calls within a retry budget,
// identity/request-id/trace headers from the context, JSON decoding, metrics
// and a span per call, and failures mapped by kind to problems (docs/errors.md).
//
// A call goes through, outermost first:
//
//	Client.Do: per-call timeout, headers, budgeted retry, metrics, decoding
//	  [hedged GETs: a second copy after the variant's p95, within a budget]
//	  -> otelhttp.Transport: client span, traceparent/tracestate (only with
//	     a TracerProvider; without one Client.Do writes the caller's)
//	  -> breakerTransport: fail fast when open, count transport errors and 5xx
//	  -> *http.Transport: pooled connections
package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/identity"
	"github.com/shopfront/shared/edge/jsonx"
	"github.com/shopfront/shared/edge/requestid"
)

// neverForwarded are dropped from Request.Header: credentials never go
// upstream and identity headers come from the principal only.
var neverForwarded = []string{
	"Authorization", "Proxy-Authorization", "Cookie", "X-Api-Key",
	identity.HeaderUserID, identity.HeaderUserRoles, identity.HeaderTenantID, identity.HeaderPartnerID,
	identity.HeaderClient, echo.HeaderXRequestID,
	"Traceparent", "Tracestate", "Host",
}

// Options are the collaborators of a client. Every field is optional.
type Options struct {
	// Logger receives breaker state changes (Warn) and failed calls
	// (Debug: the caller logs them with the route). Optional. Default
	// zap.NewNop().
	Logger *zap.Logger
	// Registerer receives the upstream metrics. Optional. Default: the
	// metrics are kept but not exported.
	Registerer prometheus.Registerer
	// TracerProvider makes the client span of each call, whose context is
	// what the call propagates. Optional. Default: no client spans; the
	// call carries the caller's span context (the request's server span)
	// as it is, which costs no span machinery at all. A gateway leaves it
	// nil when it exports no spans.
	TracerProvider trace.TracerProvider
	// Propagator writes the trace context into upstream requests.
	// Optional. Default W3C Trace Context (traceparent, tracestate).
	Propagator propagation.TextMapPropagator
	// Transport is the connection pool. Optional. Default a new
	// NewTransport() owned by the client, whose idle connections Close
	// closes. services.New passes one pool for all its clients.
	Transport http.RoundTripper
	// Variant names the deployment of the service this client calls, e.g.
	// "stable" or "canary": the `variant` label of its metrics and the
	// shopfront.variant attribute of its spans. Optional. Default
	// DefaultVariant.
	Variant string
	// Now is the clock of the retry budget. Optional. Default time.Now.
	Now func() time.Time
	// Client is the kind of caller the gateway serves, sent as X-Client
	// on calls whose context has no principal, or one without a Client
	// (anonymous catalog pages on bff-web): the gateway's kind is known
	// whoever calls it. A principal's Client wins. Optional. Default none:
	// X-Client only from the principal.
	Client auth.Client
}

// Client calls one domain service. It is safe for concurrent use.
type Client struct {
	service string
	variant string
	kind    auth.Client // Options.Client
	cfg     Config
	base    string
	// scheme, host and basePath are the parsed base URL (basePath escaped,
	// without a trailing slash), reqHost its Host header: each call's URL
	// is built from them, never parsed.
	scheme, host, basePath, reqHost string
	log                             *zap.Logger
	// transport is the chain every attempt goes through: the breaker, then
	// the pool (and client spans around both when tracing exports).
	transport http.RoundTripper
	// inject is the propagator setHeaders writes the caller's span context
	// with, when there are no client spans to do it; nil otherwise.
	inject  propagation.TextMapPropagator
	breaker *gobreaker.TwoStepCircuitBreaker[struct{}]
	budget  *budget
	m       *metrics
	obs     prometheus.Observer
	// okCalls is the calls counter of successful calls, the outcome of
	// nearly every call, bound on the first one (not before: a service
	// never called has no series).
	okCalls atomic.Pointer[prometheus.Counter]

	hedgeBudget *budget
	latency     latencyEstimate
	// ownPool is the transport the client made itself, closed by Close.
	ownPool *http.Transport
}

// New returns the client of service (its name as in domain.ServiceNames, e.g.
// "catalog", used in metrics, spans and errors) configured by cfg.
func New(service string, cfg Config, opts Options) (*Client, error) {
	if service == "" {
		return nil, errors.New("creating upstream client: service name is required")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("configuring upstream %s: %w", service, err)
	}
	cfg = cfg.WithDefaults()
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Propagator == nil {
		opts.Propagator = propagation.TraceContext{}
	}
	var ownPool *http.Transport
	if opts.Transport == nil {
		ownPool = NewTransport()
		opts.Transport = ownPool
	}
	if opts.Variant == "" {
		opts.Variant = DefaultVariant
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	// The base URL is parsed once, by the standard library, for every
	// call's URL and Host header (see newRequest).
	parsed, err := http.NewRequest(http.MethodGet, cfg.BaseURL, nil)
	if err != nil {
		return nil, fmt.Errorf("configuring upstream %s: %w", service, err)
	}
	u := parsed.URL
	c := &Client{
		scheme:      u.Scheme,
		host:        u.Host,
		basePath:    strings.TrimRight(u.EscapedPath(), "/"),
		reqHost:     parsed.Host,
		service:     service,
		variant:     opts.Variant,
		kind:        opts.Client,
		cfg:         cfg,
		base:        strings.TrimRight(cfg.BaseURL, "/"),
		log:         opts.Logger.With(zap.String("service", service), zap.String("variant", opts.Variant)),
		budget:      newBudget(cfg.Retry, opts.Now),
		m:           m,
		obs:         m.duration.WithLabelValues(service, opts.Variant),
		hedgeBudget: newBudget(RetryConfig{BudgetRatio: HedgeBudgetRatio, BudgetWindow: HedgeBudgetWindow}, opts.Now),
		ownPool:     ownPool,
	}
	c.breaker = newBreaker(service, cfg.Breaker, func(from, to gobreaker.State) {
		c.log.Warn("upstream breaker changed state", zap.String("from", from.String()), zap.String("to", to.String()))
	})
	m.breakerState.add(c)
	c.transport = &breakerTransport{cb: c.breaker, next: opts.Transport}
	if opts.TracerProvider == nil {
		c.inject = opts.Propagator
		return c, nil
	}
	getSpan := service + " GET"
	c.transport = otelhttp.NewTransport(c.transport,
		otelhttp.WithTracerProvider(opts.TracerProvider),
		otelhttp.WithPropagators(opts.Propagator),
		// No otel metrics: the Prometheus collectors above are the metrics,
		// and the global MeterProvider is not used (no globals).
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithSpanOptions(trace.WithAttributes(attribute.String("shopfront.variant", opts.Variant))),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			if r.Method == http.MethodGet {
				return getSpan
			}
			return service + " " + r.Method
		}),
	)
	return c, nil
}

// Service returns the name of the service this client calls.
func (c *Client) Service() string { return c.service }

// Variant returns the variant this client calls (Options.Variant).
func (c *Client) Variant() string { return c.variant }

// BaseURL returns the service's base URL without a trailing slash.
func (c *Client) BaseURL() string { return c.base }

// BreakerOpen reports whether the breaker is open: calls fail at once
// without reaching the service.
func (c *Client) BreakerOpen() bool { return c.breaker.State() == gobreaker.StateOpen }

// Close stops exporting the client's breaker state and closes the idle
// connections of the pool it made itself. Calls in flight finish; later
// calls still work (on new connections), which is what lets a routing table
// be swapped while requests hold the old one.
func (c *Client) Close() {
	c.m.breakerState.remove(c)
	if c.ownPool != nil {
		c.ownPool.CloseIdleConnections()
	}
}

// BreakerState returns the state of the service's breaker: "closed",
// "half-open" or "open", for /readyz detail.
func (c *Client) BreakerState() string {
	return c.breaker.State().String()
}

// ErrBreakerOpen is returned by CheckBreaker while the breaker is open.
var ErrBreakerOpen = errors.New("circuit breaker open")

// CheckBreaker is a readiness check (readiness.CheckFunc) reporting an open
// breaker. Gateways register it as optional: one failing service degrades
// screens, it does not make the instance unready.
func (c *Client) CheckBreaker(context.Context) error {
	if s := c.breaker.State(); s == gobreaker.StateOpen {
		return fmt.Errorf("%s: %w", c.service, ErrBreakerOpen)
	}
	return nil
}

// Request is one call. Path is relative to the service's base URL and
// already escaped; build it with Path.
type Request struct {
	// Method is the HTTP method. Optional. Default GET.
	Method string
	// Path is the escaped path below the base URL, e.g. Path("products", id).
	// Required.
	Path string
	// Query is the query string. Optional.
	Query url.Values
	// JSON is encoded as the request body when non-nil. Optional.
	JSON any
	// Form is sent form-encoded as the body when non-nil. Optional.
	Form url.Values
	// Body is sent as it is, with ContentType, when non-nil and neither
	// JSON nor Form is set: the bytes of an upload chunk. The client reads
	// it, never copies it, and does not keep it after Do returns.
	// Optional.
	Body []byte
	// ContentType is the media type of Body. Optional. Default
	// application/octet-stream.
	ContentType string
	// Header holds extra headers such as Idempotency-Key. Credentials and
	// identity headers in it are dropped. Optional.
	Header http.Header
	// Idempotent makes a non-idempotent method retryable, e.g. a POST
	// carrying an Idempotency-Key the service honours. Optional. Default:
	// only GET, HEAD, OPTIONS, PUT and DELETE are retried (RFC 9110 §9.2.2).
	Idempotent bool
	// Hedge lets a GET that has not answered within the variant's observed
	// p95 be sent a second time, the first answer winning (see hedged).
	// Ignored for other methods. Optional. Default false.
	Hedge bool
}

// Path joins segments into an escaped absolute path. Each segment is
// escaped whole, so an id holding "/" or ".." stays inside its segment.
func Path(segments ...string) string {
	var b strings.Builder
	for _, s := range segments {
		b.WriteByte('/')
		switch s {
		case ".", "..":
			// PathEscape leaves dots alone; escaped, they cannot climb.
			b.WriteString(strings.ReplaceAll(s, ".", "%2E"))
		default:
			b.WriteString(url.PathEscape(s))
		}
	}
	return b.String()
}

// Get calls GET path?query and decodes the JSON answer into out.
func (c *Client) Get(ctx context.Context, path string, query url.Values, out any) error {
	return c.Do(ctx, Request{Path: path, Query: query}, out)
}

// Do makes the call and decodes a 2xx JSON answer into out (unless out is
// nil or the answer is 204). Every failure is an *Error.
func (c *Client) Do(ctx context.Context, r Request, out any) error {
	start := time.Now()
	var err error
	if r.Hedge && (r.Method == "" || r.Method == http.MethodGet) {
		err = c.hedged(ctx, r, out)
	} else {
		err = c.do(ctx, r, out)
	}
	elapsed := time.Since(start)
	outcome := "ok"
	if err == nil {
		c.latency.observe(elapsed)
	} else {
		outcome = string(KindBadResponse)
		var ue *Error
		if errors.As(err, &ue) {
			outcome = string(ue.Kind)
		}
		c.logFailure(ctx, r, outcome, elapsed, err)
	}
	if err == nil {
		c.countOK()
	} else {
		c.m.calls.WithLabelValues(c.service, c.variant, outcome).Inc()
	}
	c.obs.Observe(elapsed.Seconds())
	return err
}

func (c *Client) countOK() {
	ok := c.okCalls.Load()
	if ok == nil {
		// Two first calls may both bind it: the vector hands both the same
		// child.
		child := c.m.calls.WithLabelValues(c.service, c.variant, "ok")
		ok = &child
		c.okCalls.Store(ok)
	}
	(*ok).Inc()
}

// logFailure logs a failed call at Debug, whatever the kind. The failure is
// returned to the caller, which logs it once with what the client does not
// know: the route, and whether the source was optional (storefront's
// "optional source failed") or critical (the access log's failed request).
// Logging it here at Warn too would say everything twice, and an open
// breaker once per request. Breaker state changes, which only the client
// sees, stay at Warn. The path holds ids only; bodies and headers are never
// logged.
func (c *Client) logFailure(ctx context.Context, r Request, outcome string, elapsed time.Duration, err error) {
	if ce := c.log.Check(zap.DebugLevel, "upstream call failed"); ce != nil {
		method := r.Method
		if method == "" {
			method = http.MethodGet
		}
		ce.Write(zap.String("requestId", requestid.FromContext(ctx)), zap.String("method", method),
			zap.String("path", r.Path), zap.String("outcome", outcome), zap.Duration("latency", elapsed), zap.Error(err))
	}
}

func (c *Client) do(ctx context.Context, r Request, out any) error {
	if r.Method == "" {
		r.Method = http.MethodGet
	}
	var body []byte
	contentType := ""
	switch {
	case r.JSON != nil:
		b, err := jsonx.Marshal(r.JSON)
		if err != nil {
			return &Error{Service: c.service, Kind: KindBadResponse, Err: fmt.Errorf("encoding request body: %w", err)}
		}
		body, contentType = b, "application/json"
	case r.Form != nil:
		body, contentType = []byte(r.Form.Encode()), "application/x-www-form-urlencoded"
	case r.Body != nil:
		body, contentType = r.Body, r.ContentType
		if contentType == "" {
			contentType = "application/octet-stream"
		}
	}
	escaped := c.basePath + r.Path
	path, err := url.PathUnescape(escaped)
	if err != nil || hasCTLByte(escaped) {
		if err == nil {
			err = errors.New("invalid control character in path")
		}
		return &Error{Service: c.service, Kind: KindBadResponse, Err: fmt.Errorf("building request: %w", err)}
	}
	if path == escaped {
		escaped = "" // No RawPath: the path needs no escaping.
	}
	rawQuery := ""
	if len(r.Query) > 0 {
		rawQuery = r.Query.Encode()
	}

	if err := ctx.Err(); err != nil {
		// The route's budget is spent or the client left: no call, and
		// nothing the service's breaker should count.
		return &Error{Service: c.service, Kind: classify(ctx, err), Err: err}
	}
	// Whether a deadline was the caller's is decided when it fires (see
	// callerCutShort), not here: a caller deadline equal to the Timeout is
	// always a little shorter by the time the call starts.
	now := time.Now()
	ctx = withCallStart(ctx, now, c.cfg.Timeout)
	if dl, ok := ctx.Deadline(); !ok || dl.After(now.Add(c.cfg.Timeout)) {
		// A deadline of its own only when the caller's is later: the route's
		// budget is usually the sooner one (a single-call route's equals the
		// Timeout), and a second timer context per call is a timer, a
		// registration with the parent and a cancellation for nothing.
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, now.Add(c.cfg.Timeout))
		defer cancel()
	}
	c.budget.call()
	retryable := !c.cfg.Retry.Disabled && (r.Idempotent || idempotent(r.Method))
	for attempt := 0; ; attempt++ {
		req := c.newRequest(ctx, r.Method, path, escaped, rawQuery, body)
		c.setHeaders(ctx, req, r.Header, contentType)
		resp, err := c.send(req)
		if err != nil {
			kind := classify(ctx, err)
			if attempt == 0 && retryable && (kind == KindUnavailable || kind == KindReset) && c.retry(ctx) {
				continue
			}
			return &Error{Service: c.service, Kind: kind, Err: err}
		}
		if (resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusServiceUnavailable) &&
			attempt == 0 && retryable {
			discard(resp)
			if c.retry(ctx) {
				continue
			}
			return &Error{Service: c.service, Kind: KindServerError, Status: resp.StatusCode}
		}
		return c.read(ctx, resp, out)
	}
}

// retry reports whether the failed first attempt may be retried and waits
// the jittered backoff.
func (c *Client) retry(ctx context.Context) bool {
	pause := c.cfg.Retry.Backoff/2 + rand.N(c.cfg.Retry.Backoff)
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < pause {
		return false
	}
	if !c.budget.tryRetry() {
		c.m.budgetExhausted.WithLabelValues(c.service).Inc()
		return false
	}
	c.m.retries.WithLabelValues(c.service).Inc()
	t := time.NewTimer(pause)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// read turns the answer into out or an *Error, and always drains and closes
// the body so the connection goes back to the pool.
func (c *Client) read(ctx context.Context, resp *http.Response, out any) error {
	defer discard(resp)
	switch {
	case resp.StatusCode >= 500:
		return &Error{Service: c.service, Kind: KindServerError, Status: resp.StatusCode}
	case resp.StatusCode >= 400:
		return &Error{Service: c.service, Kind: KindClientError, Status: resp.StatusCode, Code: problemCode(resp.Body)}
	case resp.StatusCode >= 300 || resp.StatusCode < 200:
		return &Error{Service: c.service, Kind: KindBadResponse, Status: resp.StatusCode,
			Err: fmt.Errorf("unexpected status %d", resp.StatusCode)}
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	// The body is read whole into a pooled buffer and decoded from there:
	// a decoder reading the connection grows a buffer of its own for every
	// answer, and the decoding itself is several times faster from memory
	// (jsonx).
	buf := jsonx.GetBuffer()
	defer jsonx.PutBuffer(buf)
	if resp.ContentLength > 0 {
		// Sized for the announced length, up to what most answers are: a
		// service announcing megabytes it does not send gets no more.
		buf.Grow(int(min(resp.ContentLength, c.cfg.MaxResponseBytes, presize)) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, c.cfg.MaxResponseBytes+1)); err != nil {
		kind := KindBadResponse
		if ctx.Err() != nil {
			// The body was cut by the deadline or the caller, not malformed.
			kind = classify(ctx, ctx.Err())
		}
		return &Error{Service: c.service, Kind: kind, Status: resp.StatusCode, Err: fmt.Errorf("reading answer: %w", err)}
	}
	if int64(buf.Len()) > c.cfg.MaxResponseBytes {
		return &Error{Service: c.service, Kind: KindBadResponse, Status: resp.StatusCode,
			Err: fmt.Errorf("answer larger than %d bytes", c.cfg.MaxResponseBytes)}
	}
	if err := jsonx.Unmarshal(buf.Bytes(), out); err != nil {
		return &Error{Service: c.service, Kind: KindBadResponse, Status: resp.StatusCode, Err: fmt.Errorf("decoding answer: %w", err)}
	}
	return nil
}

// send makes one attempt through the transport chain. It calls the
// transport itself rather than an http.Client, so redirects are never
// followed (they would carry identity headers to wherever the service
// points; a 3xx is the service's answer) and no request's headers are
// copied for them; errors are wrapped as http.Client wraps them, so they
// read the same.
func (c *Client) send(req *http.Request) (*http.Response, error) {
	resp, err := c.transport.RoundTrip(req)
	if err != nil {
		return nil, &url.Error{Op: req.Method[:1] + strings.ToLower(req.Method[1:]), URL: req.URL.Redacted(), Err: err}
	}
	return resp, nil
}

// presize is the most read grows its buffer by ahead of an answer's bytes.
const presize = 64 << 10

// callHeaders is the number of headers a call usually carries (Accept,
// User-Agent, X-Request-Id, Traceparent, X-Client and the principal's
// X-User-Id and X-User-Roles), the size of the map and of the value array
// setHeaders allocates once per call: a map of up to 8 entries is a single
// group, a larger one a table twice the size.
const callHeaders = 8

func (c *Client) setHeaders(ctx context.Context, req *http.Request, extra http.Header, contentType string) {
	h := make(http.Header, callHeaders+len(extra))
	req.Header = h
	for k, vs := range extra {
		h[http.CanonicalHeaderKey(k)] = vs
	}
	for _, k := range neverForwarded {
		h.Del(k)
	}
	// One allocation for the writer and its values: the propagator is
	// called through an interface, so the writer goes to the heap anyway.
	w := &headerWriter{h: h}
	if c.inject != nil {
		c.inject.Inject(ctx, w)
	}
	w.set("Accept", "application/json")
	w.set("User-Agent", "shopfront-edge")
	if contentType != "" {
		w.set("Content-Type", contentType)
	}
	if id := requestid.FromContext(ctx); id != "" {
		w.set(echo.HeaderXRequestID, id)
	}
	p, ok := auth.FromContext(ctx)
	// The principal's kind wins, else the gateway's own: X-Client names the
	// kind of caller, which is known for anonymous requests too.
	client := c.kind
	if ok && p.Client != "" {
		client = p.Client
	}
	if client != "" {
		w.set(identity.HeaderClient, string(client))
	}
	if !ok {
		return
	}
	if p.Subject != "" {
		w.set(identity.HeaderUserID, p.Subject)
	}
	if len(p.Roles) > 0 {
		roles := make([]string, len(p.Roles))
		for i, r := range p.Roles {
			roles[i] = string(r)
		}
		w.set(identity.HeaderUserRoles, strings.Join(roles, ","))
	}
	if p.Tenant != "" {
		w.set(identity.HeaderTenantID, p.Tenant)
	}
	if p.Partner != "" {
		w.set(identity.HeaderPartnerID, p.Partner)
	}
}

// headerWriter sets the headers of one call with their values in one
// array: http.Header.Set allocates a slice per value, and the trace
// propagator's lower-case keys a canonical copy each.
type headerWriter struct {
	h    http.Header
	vals [callHeaders]string
	n    int
}

var _ propagation.TextMapCarrier = (*headerWriter)(nil)

// set replaces the values of key, which must be canonical, with v.
func (w *headerWriter) set(key, v string) {
	if w.n == len(w.vals) {
		w.h[key] = []string{v}
		return
	}
	w.vals[w.n] = v
	w.n++
	w.h[key] = w.vals[w.n-1 : w.n : w.n]
}

// Set implements propagation.TextMapCarrier.
func (w *headerWriter) Set(key, v string) {
	switch key {
	case "traceparent":
		key = "Traceparent"
	case "tracestate":
		key = "Tracestate"
	case "baggage":
		key = "Baggage"
	default:
		key = http.CanonicalHeaderKey(key)
	}
	w.set(key, v)
}

// Get implements propagation.TextMapCarrier.
func (w *headerWriter) Get(key string) string { return w.h.Get(key) }

// Keys implements propagation.TextMapCarrier.
func (w *headerWriter) Keys() []string { return propagation.HeaderCarrier(w.h).Keys() }

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// newRequest builds the request of one attempt as http.NewRequestWithContext
// would from c.base + rawPath + "?" + rawQuery, without parsing that URL
// again on every call: the base URL was parsed once by New, and the path is
// the caller's escaped path (rawPath, "" when it needs no escaping) and its
// unescaped form. The headers are setHeaders'.
func (c *Client) newRequest(ctx context.Context, method, path, rawPath, rawQuery string, body []byte) *http.Request {
	req := &http.Request{
		Method:     method,
		URL:        &url.URL{Scheme: c.scheme, Host: c.host, Path: path, RawPath: rawPath, RawQuery: rawQuery},
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Host:       c.reqHost,
	}
	if body != nil {
		// As NewRequestWithContext sets them for a *bytes.Reader: the length,
		// and GetBody for the transport to send the body again on a fresh
		// connection when a reused one was found closed.
		req.ContentLength = int64(len(body))
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		if len(body) == 0 {
			req.Body = http.NoBody
			req.GetBody = func() (io.ReadCloser, error) { return http.NoBody, nil }
		}
	}
	return req.WithContext(ctx)
}

// hasCTLByte reports whether s holds an ASCII control character, which
// url.Parse refuses in a URL.
func hasCTLByte(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < ' ' || b == 0x7f {
			return true
		}
	}
	return false
}

// discard drains a little of the body, so that a short unread answer does
// not cost its connection, and closes it.
func discard(resp *http.Response) {
	_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
	_ = resp.Body.Close()
}

// problemCode returns the `error` member of a problem+json body when it is a
// stable snake_case code; the rest of the body is never used.
func problemCode(body io.Reader) string {
	var p struct {
		Code string `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(body, 4<<10)).Decode(&p); err != nil {
		return ""
	}
	if !codePattern.MatchString(p.Code) {
		return ""
	}
	return p.Code
}
