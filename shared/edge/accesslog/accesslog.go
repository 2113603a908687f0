// Package accesslog writes one zap line per request once its response is
// known: request id, trace id, route template, status,
// latency, bytes, client IP, the caller's user, partner and key id, and the
// variants of domain services the request's calls used.
// Credentials never reach the line: no headers are logged, the query is
// redacted and the principal is logged by its ids only.
package accesslog

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/logging"
	"github.com/shopfront/shared/edge/metrics"
	"github.com/shopfront/shared/edge/problem"
	"github.com/shopfront/shared/edge/redact"
	"github.com/shopfront/shared/edge/requestid"
	"github.com/shopfront/shared/edge/variant"
)

// Unmatched is the route logged for requests no route matched, so that
// the route field stays a template, never a raw path.
const Unmatched = metrics.Unmatched

// Config configures the access log middleware.
type Config struct {
	// Skipper skips the middleware. Optional. Default: never skip.
	Skipper middleware.Skipper
	// Logger receives the lines. Required.
	Logger *zap.Logger
	// Message is the msg of every line. Optional. Default "request".
	Message string
	// Now is the clock. Optional. Default time.Now.
	Now func() time.Time
}

// ToMiddleware returns the middleware. It is hand-written rather than
// echo's RequestLogger because the line needs the request context as it
// was on entry (to tell a client that went away, logged 499, from a route
// timeout) and the principal as it is on exit (auth runs inside).
//
// An error returned by the next handler is rendered here with c.Error, so
// the status logged is the one actually sent; the error is still returned
// so that outer middleware (tracing, metrics) see it, and echo's error
// handler ignores it since the response is committed.
//
// Install it with Echo.Use, not Echo.Pre: echo routes before running Use
// middleware, which is what gives it the route template (c.Path()).
func (c Config) ToMiddleware() (echo.MiddlewareFunc, error) {
	if c.Logger == nil {
		return nil, errors.New("accesslog: Logger is required")
	}
	if c.Skipper == nil {
		c.Skipper = middleware.DefaultSkipper
	}
	if c.Message == "" {
		c.Message = "request"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	// A line per request is what logging.Buffered is for: written with
	// the next ones rather than one system call each.
	l := &logger{cfg: c, log: logging.Buffered(c.Logger.WithOptions(zap.WithCaller(false)))}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(ec echo.Context) (err error) {
			if c.Skipper(ec) {
				return next(ec)
			}
			start := c.Now()
			entryCtx := ec.Request().Context()
			defer func() {
				// A panic unwinds past this middleware to the outer recover,
				// which renders it as a 500; log that 500 and let it go on.
				if r := recover(); r != nil {
					l.write(ec, entryCtx, start, http.StatusInternalServerError, nil, "panic")
					panic(r)
				}
			}()
			err = next(ec)
			if err != nil && !ec.Response().Committed {
				// Rendered here to log the status really sent. An error
				// after the answer started is left to the outer renderer,
				// which logs it once.
				ec.Error(err)
			}
			// The client going away before the answer is nginx's 499.
			status := metrics.Status(ec, entryCtx, err)
			code := ""
			if err != nil {
				code = problem.Resolve(err).Code
			}
			l.write(ec, entryCtx, start, status, err, code)
			return err
		}
	}, nil
}

// fieldsKey holds, in the echo context, the fields a handler added with
// AddFields.
const fieldsKey = "shopfront.accesslog.fields"

// AddFields appends fields to the access line of c's request, for what
// only the handler knows, such as the number of events a stream relayed.
// They must carry no credentials.
func AddFields(c echo.Context, fields ...zap.Field) {
	prev, _ := c.Get(fieldsKey).([]zap.Field)
	c.Set(fieldsKey, append(prev, fields...))
}

type logger struct {
	cfg Config
	log *zap.Logger
}

// write logs the line of one finished request; errCode is the stable
// error code of a failed one.
func (l *logger) write(ec echo.Context, entryCtx context.Context, start time.Time, status int, err error, errCode string) {
	latency := l.cfg.Now().Sub(start)
	lvl := zapcore.InfoLevel
	if status >= 500 && status != problem.StatusClientClosedRequest {
		lvl = zapcore.WarnLevel
	}
	ce := l.log.Check(lvl, l.cfg.Message)
	if ce == nil {
		return
	}
	req, res := ec.Request(), ec.Response()
	// The fields are encoded by the time Write returns (the core copies
	// what it keeps), so their slice is reused: it is over a kilobyte per
	// request otherwise.
	fp := fieldPool.Get().(*[]zap.Field)
	defer func() {
		clear(*fp)
		*fp = (*fp)[:0]
		fieldPool.Put(fp)
	}()
	fields := *fp
	fields = append(fields, zap.String("requestId", requestid.FromContext(req.Context())))
	if sc := trace.SpanContextFromContext(entryCtx); sc.IsValid() {
		fields = append(fields, zap.String("traceId", sc.TraceID().String()), zap.String("spanId", sc.SpanID().String()))
	}
	fields = append(fields,
		zap.String("method", req.Method),
		zap.String("route", metrics.Route(ec)),
		zap.String("path", req.URL.Path),
	)
	if req.URL.RawQuery != "" {
		fields = append(fields, zap.String("query", redact.Query(req.URL.RawQuery, redact.Marker)))
	}
	fields = append(fields,
		zap.Int("status", status),
		zap.Float64("latencyMs", float64(latency.Microseconds())/1000),
		zap.Int64("bytesIn", max(req.ContentLength, 0)),
		zap.Int64("bytesOut", res.Size),
		zap.String("clientIp", ec.RealIP()),
		zap.String("userAgent", req.UserAgent()),
		zap.String("proto", req.Proto),
	)
	if p, ok := auth.FromContext(req.Context()); ok {
		fields = appendPrincipal(fields, p)
	}
	if v := variant.FromContext(req.Context()).String(); v != "" {
		fields = append(fields, zap.String("variants", v))
	}
	if errCode != "" {
		fields = append(fields, zap.String("error", errCode))
	}
	if extra, ok := ec.Get(fieldsKey).([]zap.Field); ok {
		fields = append(fields, extra...)
	}
	ce.Write(fields...)
	*fp = fields
}

var fieldPool = sync.Pool{New: func() any {
	fs := make([]zap.Field, 0, 24)
	return &fs
}}

// appendPrincipal appends the fields that name the caller, by ids only: a
// partner client's subject is its OAuth client id, anyone else's is the
// user id.
func appendPrincipal(fs []zap.Field, p *auth.Principal) []zap.Field {
	if p.Partner != "" || p.Client == auth.ClientPartner {
		fs = append(fs, zap.String("partnerId", p.Partner))
		if p.KeyID != "" {
			fs = append(fs, zap.String("keyId", p.KeyID))
		}
		if p.Subject != "" {
			fs = append(fs, zap.String("clientId", p.Subject))
		}
		return fs
	}
	if p.Subject != "" {
		fs = append(fs, zap.String("userId", p.Subject))
	}
	if p.Tenant != "" {
		fs = append(fs, zap.String("tenantId", p.Tenant))
	}
	return fs
}
