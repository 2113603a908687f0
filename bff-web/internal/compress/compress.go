// Package compress is bff-web's compression policy: brotli when
// the client accepts it, else gzip, for bodies of 1024 bytes or more, with
// Vary: Accept-Encoding on every response.
//
// The mechanics (negotiation with q-values, buffering up to the threshold,
// pooling, the 304/HEAD/empty body cases, errors rendered through the
// compressor, per-coding ETags) are the shared edge/compress adapter's, over
// github.com/CAFxX/httpcompression with brotli from andybalholm/brotli.
package compress

import (
	"fmt"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	edgecompress "github.com/shopfront/shared/edge/compress"
)

// Config configures the middleware.
type Config struct {
	// Skipper skips compression. Optional. Default: never skip.
	Skipper middleware.Skipper
	// MinSize is the smallest body compressed, in bytes; smaller bodies are
	// sent as they are. Optional. Default edgecompress.DefaultMinSize
	// (1024).
	MinSize int
	// BrotliLevel is the brotli quality, 1-11. Optional. Default 4, a good
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
		return fmt.Errorf("brotli level must be 1-11, got %d", c.BrotliLevel)
	}
	if c.GzipLevel < 0 || c.GzipLevel > 9 {
		return fmt.Errorf("gzip level must be 1-9, got %d", c.GzipLevel)
	}
	return nil
}

// ToMiddleware returns the shared compressor configured for web. It goes
// right after the server's edge chain, so that every body of the gateway,
// errors included, goes through it.
func (c Config) ToMiddleware() (echo.MiddlewareFunc, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	mw, err := edgecompress.Config{
		Skipper: c.Skipper, MinSize: c.MinSize,
		GzipLevel: c.GzipLevel, Brotli: true, BrotliLevel: c.BrotliLevel,
	}.ToMiddleware()
	if err != nil {
		return nil, fmt.Errorf("compress: %w", err)
	}
	return mw, nil
}
