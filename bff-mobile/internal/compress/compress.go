// Package compress is bff-mobile's compression policy: gzip only,
// for bodies larger than 256 bytes when the client accepts gzip; smaller
// ones cost more in gzip framing than they save on a cellular link.
//
// The mechanics (negotiation with q-values, buffering up to the threshold,
// `Vary: Accept-Encoding`, 304s left alone, errors rendered through the
// compressor, per-coding ETags) are the shared edge/compress adapter's,
// over github.com/CAFxX/httpcompression.
package compress

import (
	"fmt"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	edgecompress "github.com/shopfront/shared/edge/compress"
)

// DefaultMinLength is the smallest body that is gzipped:
// say "larger than 256 bytes".
const DefaultMinLength = 257

// ETagSuffix marks the strong entity tag of a gzipped body: RFC 9110
// §8.8.3 requires strong tags to differ between content codings, and the
// suffix (as Apache's mod_deflate does) keeps the tag of the identity body
// recognisable inside it. The shared adapter appends "-" and the coding.
const ETagSuffix = "-" + edgecompress.Gzip

// Config configures the middleware.
type Config struct {
	// Skipper skips the middleware. Optional. Default: never skip.
	Skipper middleware.Skipper
	// MinLength is the smallest body in bytes that is compressed. Optional.
	// Default DefaultMinLength (257).
	MinLength int
	// Level is the gzip level: -2 (Huffman only), -1 (the library's
	// default) or 1 (fastest) to 9 (smallest). Optional. Default -1
	// (gzip.DefaultCompression).
	Level int
}

// ToMiddleware returns the shared compressor configured for mobile. When
// the body is gzipped a strong ETag gets ETagSuffix; the conditional
// middleware inside accepts either tag of one content in If-None-Match.
func (c Config) ToMiddleware() (echo.MiddlewareFunc, error) {
	if c.MinLength == 0 {
		c.MinLength = DefaultMinLength
	}
	mw, err := edgecompress.Config{Skipper: c.Skipper, MinSize: c.MinLength, GzipLevel: c.Level}.ToMiddleware()
	if err != nil {
		return nil, fmt.Errorf("compress: %w", err)
	}
	return mw, nil
}
