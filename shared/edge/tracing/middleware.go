package tracing

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/shopfront/shared/edge/metrics"
	"github.com/shopfront/shared/edge/problem"
)

// ScopeName is the instrumentation scope of the server spans.
const ScopeName = "github.com/shopfront/shared/edge/tracing"

// MiddlewareConfig configures the server span middleware.
type MiddlewareConfig struct {
	// Skipper skips the middleware. Optional. Default: never skip.
	Skipper middleware.Skipper
	// TracerProvider creates the server spans. Required.
	TracerProvider trace.TracerProvider
	// Propagator extracts the incoming trace context. Optional. Default
	// NewPropagator().
	Propagator propagation.TextMapPropagator
}

// Middleware returns the server span middleware of t.
func (t *Tracing) Middleware() (echo.MiddlewareFunc, error) {
	return MiddlewareConfig{TracerProvider: t.Provider, Propagator: t.Propagator}.ToMiddleware()
}

// ToMiddleware returns the middleware. It continues the trace of an
// incoming traceparent/tracestate, starts a server span named
// "<METHOD> <route template>" and puts it in the request context, where the
// access log reads the trace id and the upstream client starts child spans
// and propagates them.
//
// It is written over the otel API rather than taken from otelecho (whose
// latest release pins an older otel) or otelhttp (which sees neither echo's
// route template nor the status echo's error handler sends). The status is
// the committed one, or the one the returned error resolves to; 5xx marks
// the span as an error, 4xx does not (OpenTelemetry HTTP semantic
// conventions for server spans).
//
// traceparent is not echoed on the response: X-Request-Id is the
// correlation handle clients get, and the W3C response header
// (traceresponse) is still a draft.
//
// Install it with Echo.Use, not Echo.Pre: echo routes before running Use
// middleware, which is what gives it the route template (c.Path()).
func (c MiddlewareConfig) ToMiddleware() (echo.MiddlewareFunc, error) {
	if c.TracerProvider == nil {
		return nil, errors.New("tracing: TracerProvider is required")
	}
	if c.Skipper == nil {
		c.Skipper = middleware.DefaultSkipper
	}
	if c.Propagator == nil {
		c.Propagator = NewPropagator()
	}
	tracer := c.TracerProvider.Tracer(ScopeName)
	if _, ok := c.TracerProvider.(*propagatingProvider); ok {
		return propagateOnly(c, tracer), nil
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(ec echo.Context) error {
			if c.Skipper(ec) {
				return next(ec)
			}
			req := ec.Request()
			entryCtx := req.Context()
			ctx := c.Propagator.Extract(entryCtx, propagation.HeaderCarrier(req.Header))
			method, known := spanMethod(req.Method)
			name := method
			if p := ec.Path(); p != "" {
				name = method + " " + p
			}
			ctx, span := tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer))
			// The attributes are set after the start, and only on a span
			// that records: an unsampled request then costs none of them.
			// The samplers decide on the trace id and the parent alone.
			if span.IsRecording() {
				span.SetAttributes(requestAttributes(ec, req, method, known)...)
			}
			defer span.End()
			ec.SetRequest(req.WithContext(ctx))
			defer func() {
				// A panic goes on to the outer recover, which answers 500.
				if r := recover(); r != nil {
					span.SetAttributes(semconv.HTTPResponseStatusCode(http.StatusInternalServerError),
						semconv.ErrorTypeKey.String("panic"))
					if p := ec.Path(); p != "" {
						span.SetAttributes(semconv.HTTPRoute(p))
					}
					span.SetStatus(codes.Error, "panic")
					panic(r) // span.End runs on the way out.
				}
			}()

			err := next(ec)
			if !span.IsRecording() {
				return err
			}

			status := metrics.Status(ec, entryCtx, err)
			if metrics.Matched(ec) {
				span.SetAttributes(semconv.HTTPRoute(ec.Path()))
			} else {
				span.SetName(method)
			}
			span.SetAttributes(semconv.HTTPResponseStatusCode(status))
			if status >= 500 && status != problem.StatusClientClosedRequest {
				code := problem.Resolve(err).Code
				if err == nil {
					code = strconv.Itoa(status)
				}
				// The stable code, not err's text: causes may carry URLs or
				// upstream detail that do not belong in a trace backend.
				span.SetAttributes(semconv.ErrorTypeKey.String(code))
				span.SetStatus(codes.Error, code)
			}
			return err
		}
	}, nil
}

// propagateOnly is the middleware over a provider that records nothing:
// the request context gets the span context, for the access log and the
// upstream calls, and nothing else is done.
func propagateOnly(c MiddlewareConfig, tracer trace.Tracer) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(ec echo.Context) error {
			if c.Skipper(ec) {
				return next(ec)
			}
			req := ec.Request()
			ctx := c.Propagator.Extract(req.Context(), propagation.HeaderCarrier(req.Header))
			ctx, _ = tracer.Start(ctx, "")
			ec.SetRequest(req.WithContext(ctx))
			return next(ec)
		}
	}
}

// requestAttributes are the server span's attributes known on entry.
func requestAttributes(ec echo.Context, req *http.Request, method string, known bool) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, 7)
	attrs = append(attrs,
		semconv.HTTPRequestMethodKey.String(method),
		semconv.URLPath(req.URL.Path),
		semconv.URLScheme(ec.Scheme()),
		semconv.ClientAddress(ec.RealIP()),
		semconv.NetworkProtocolVersion(protoVersion(req)),
	)
	if !known {
		attrs = append(attrs, semconv.HTTPRequestMethodOriginal(req.Method))
	}
	if ua := req.UserAgent(); ua != "" {
		attrs = append(attrs, semconv.UserAgentOriginal(ua))
	}
	return attrs
}

// spanMethod returns the method as semantic conventions want it: known
// methods as they are, anything else "_OTHER", so span names stay bounded.
func spanMethod(m string) (string, bool) {
	if metrics.KnownMethod(m) {
		return m, true
	}
	return "_OTHER", false
}

func protoVersion(r *http.Request) string {
	if r.ProtoMajor >= 2 {
		return strconv.Itoa(r.ProtoMajor)
	}
	return strconv.Itoa(r.ProtoMajor) + "." + strconv.Itoa(r.ProtoMinor)
}
