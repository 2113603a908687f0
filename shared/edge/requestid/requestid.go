// Package requestid keeps a valid incoming X-Request-Id and replaces any other
// with a new one; the id travels in the request context, is returned
// on every response and is sent upstream.
package requestid

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/shopfront/shared/edge/scope"
)

// WithID returns ctx carrying id.
func WithID(ctx context.Context, id string) context.Context {
	ctx, v := scope.Derive(ctx)
	v.RequestID = id
	return ctx
}

// FromContext returns the request id in ctx, or "".
func FromContext(ctx context.Context) string {
	if v := scope.FromContext(ctx); v != nil {
		return v.RequestID
	}
	return ""
}

// Valid reports whether id is 1-128 characters of [A-Za-z0-9._-].
func Valid(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch b := id[i]; {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9', b == '.', b == '_', b == '-':
		default:
			return false
		}
	}
	return true
}

// KeepOrNew returns id when Valid, else a new id: the rule for an
// incoming X-Request-Id, for answers made before the middleware runs
// (a shed of the concurrency limit).
func KeepOrNew(id string) string {
	if Valid(id) {
		return id
	}
	return New()
}

// New returns a random 128-bit id in hex.
func New() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Config configures the request id middleware.
type Config struct {
	// Skipper skips the middleware. Optional. Default: never skip.
	Skipper middleware.Skipper
	// Generator makes new ids, which must satisfy Valid since they are
	// echoed and sent upstream as they are. Optional. Default New.
	Generator func() string
}

// ToMiddleware returns the middleware. It is echo's RequestIDWithConfig with
// a validating generator: echo keeps any non-empty incoming id, so an invalid
// one is removed first.
func (cfg Config) ToMiddleware() (echo.MiddlewareFunc, error) {
	if cfg.Skipper == nil {
		cfg.Skipper = middleware.DefaultSkipper
	}
	if cfg.Generator == nil {
		cfg.Generator = New
	}
	inner := middleware.RequestIDWithConfig(middleware.RequestIDConfig{
		Skipper:   cfg.Skipper,
		Generator: cfg.Generator,
		// The request's scope starts here: the layers inside fill in
		// their values without copying the request again.
		RequestIDHandler: func(c echo.Context, id string) {
			r := c.Request()
			ctx, v := scope.New(r.Context())
			v.RequestID = id
			c.SetRequest(r.WithContext(ctx))
		},
	})
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		h := inner(next)
		return func(c echo.Context) error {
			if id := c.Request().Header.Get(echo.HeaderXRequestID); id != "" && !Valid(id) {
				c.Request().Header.Del(echo.HeaderXRequestID)
			}
			return h(c)
		}
	}, nil
}
