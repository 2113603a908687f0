// Package compress is bff-web's response compression (SPEC §6): brotli when
// the client accepts it, else gzip, for bodies of 1024 bytes or more, with
// Vary: Accept-Encoding on every response.
//
// Negotiation, buffering up to the threshold, pooling and the 304/HEAD/empty
// body cases are github.com/CAFxX/httpcompression's (brotli from
// andybalholm/brotli); this package only adapts it to echo so that errors
// rendered after the handler are compressed like any other body.
package compress

import (
	"compress/gzip"
	"fmt"
	"net/http"

	"github.com/CAFxX/httpcompression"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// Config configures the middleware.
type Config struct {
	// Skipper skips compression. Optional. Default: never skip.
	Skipper middleware.Skipper
	// MinSize is the smallest body compressed, in bytes; smaller bodies are
	// sent as they are. Optional. Default 1024.
	MinSize int
	// BrotliLevel is the brotli quality, 0-11. Optional. Default 4, a good
	// ratio for JSON at a fraction of the CPU of the highest levels.
	BrotliLevel int
	// GzipLevel is the gzip level, 1-9. Optional. Default 6
	// (gzip.DefaultCompression).
	GzipLevel int
}

// Validate reports settings out of range.
func (c Config) Validate() error {
	if c.MinSize < 0 {
		return fmt.Errorf("compression threshold must not be negative, got %d", c.MinSize)
	}
	if c.BrotliLevel < 0 || c.BrotliLevel > 11 {
		return fmt.Errorf("brotli level must be 0-11, got %d", c.BrotliLevel)
	}
	if c.GzipLevel < 0 || c.GzipLevel > 9 {
		return fmt.Errorf("gzip level must be 1-9, got %d", c.GzipLevel)
	}
	return nil
}

// ToMiddleware returns the middleware. It goes right after the server's edge
// chain, so that every body of the gateway, errors included, goes through it.
func (c Config) ToMiddleware() (echo.MiddlewareFunc, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.Skipper == nil {
		c.Skipper = middleware.DefaultSkipper
	}
	if c.MinSize == 0 {
		c.MinSize = 1024
	}
	if c.BrotliLevel == 0 {
		c.BrotliLevel = 4
	}
	if c.GzipLevel == 0 {
		c.GzipLevel = gzip.DefaultCompression
	}
	// Only brotli and gzip (SPEC §6); the library ranks brotli above gzip,
	// and PreferClient lets the client's q-values decide before that rank.
	adapter, err := httpcompression.Adapter(
		httpcompression.BrotliCompressionLevel(c.BrotliLevel),
		httpcompression.GzipCompressionLevel(c.GzipLevel),
		httpcompression.MinSize(c.MinSize),
		httpcompression.Prefer(httpcompression.PreferClient),
	)
	if err != nil {
		return nil, fmt.Errorf("configuring compression: %w", err)
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(ec echo.Context) error {
			if c.Skipper(ec) {
				return next(ec)
			}
			res := ec.Response()
			raw := res.Writer
			defer func() { res.Writer = raw }()
			adapter(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				res.Writer = w
				ec.SetRequest(r)
				if err := next(ec); err != nil {
					// Rendered here, inside the compressing writer, which is
					// closed and recycled when this function returns.
					ec.Error(err)
				}
			})).ServeHTTP(raw, ec.Request())
			return nil
		}
	}, nil
}
