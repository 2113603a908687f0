// Package compress gzips bff-mobile's responses above a size threshold when
// the client accepts gzip (SPEC §5: bodies larger than 256 bytes; smaller
// ones cost more in gzip framing than they save on a cellular link).
package compress

import (
	"compress/gzip"
	"fmt"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// DefaultMinLength is the smallest body that is gzipped: SPEC §5 and issue 5
// say "larger than 256 bytes".
const DefaultMinLength = 257

// Config configures the middleware.
type Config struct {
	// Skipper skips the middleware. Optional. Default: never skip.
	Skipper middleware.Skipper
	// MinLength is the smallest body in bytes that is compressed. Optional.
	// Default DefaultMinLength (257).
	MinLength int
	// Level is the gzip level, 1 (fastest) to 9 (smallest). Optional.
	// Default gzip.DefaultCompression.
	Level int
}

// ToMiddleware returns echo's gzip middleware configured for mobile. echo
// adds `Vary: Accept-Encoding` to every response and buffers the body until
// MinLength is reached. Its own test for gzip is a substring match, so the
// Accept-Encoding header is normalised first by AcceptsGzip, which honours
// q-values (`gzip;q=0` refuses gzip, `*` accepts it; RFC 9110 §12.5.3).
func (c Config) ToMiddleware() (echo.MiddlewareFunc, error) {
	if c.MinLength == 0 {
		c.MinLength = DefaultMinLength
	}
	if c.MinLength < 0 {
		return nil, fmt.Errorf("compress: MinLength %d is negative", c.MinLength)
	}
	if c.Level == 0 {
		c.Level = gzip.DefaultCompression
	}
	if c.Level < gzip.HuffmanOnly || c.Level > gzip.BestCompression {
		return nil, fmt.Errorf("compress: Level %d is not a gzip level", c.Level)
	}
	if c.Skipper == nil {
		c.Skipper = middleware.DefaultSkipper
	}
	gz := middleware.GzipWithConfig(middleware.GzipConfig{Skipper: c.Skipper, Level: c.Level, MinLength: c.MinLength})
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		h := gz(next)
		return func(ec echo.Context) error {
			hdr := ec.Request().Header
			if ae := hdr.Get(echo.HeaderAcceptEncoding); ae != "" {
				ok := AcceptsGzip(ae)
				if has := strings.Contains(ae, "gzip"); ok != has {
					if ok {
						hdr.Set(echo.HeaderAcceptEncoding, "gzip")
					} else {
						hdr.Set(echo.HeaderAcceptEncoding, "identity")
					}
				}
			}
			return h(ec)
		}
	}, nil
}

// AcceptsGzip reports whether an Accept-Encoding field value allows gzip: an
// explicit gzip (or x-gzip) with q > 0, or, when gzip is not named, `*` with
// q > 0. Hand-written because no library in the module graph parses this
// header and echo's check ignores q-values.
func AcceptsGzip(field string) bool {
	gzipQ, starQ := -1.0, -1.0
	for part := range strings.SplitSeq(field, ",") {
		coding, params, _ := strings.Cut(part, ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		q := 1.0
		for p := range strings.SplitSeq(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil {
					f = 0
				}
				q = f
			}
		}
		switch coding {
		case "gzip", "x-gzip":
			gzipQ = max(gzipQ, q)
		case "*":
			starQ = max(starQ, q)
		}
	}
	if gzipQ >= 0 {
		return gzipQ > 0
	}
	return starQ > 0
}
