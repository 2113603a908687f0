// Package compress gzips bff-mobile's responses above a size threshold when
// the client accepts gzip (SPEC §5: bodies larger than 256 bytes; smaller
// ones cost more in gzip framing than they save on a cellular link).
package compress

import (
	"compress/gzip"
	"fmt"
	"net/http"
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

// ETagSuffix marks the strong entity tag of a gzipped body: RFC 9110
// §8.8.3 requires strong tags to differ between content codings, and the
// suffix (as Apache's mod_deflate does) keeps the tag of the identity body
// recognisable inside it.
const ETagSuffix = "-gzip"

// ToMiddleware returns echo's gzip middleware configured for mobile. echo
// adds `Vary: Accept-Encoding` to every response and buffers the body until
// MinLength is reached. Its own test for gzip is a substring match, so the
// Accept-Encoding header is normalised first by AcceptsGzip, which honours
// q-values (`gzip;q=0` refuses gzip, `*` accepts it; RFC 9110 §12.5.3).
//
// An error returned inside is rendered here, through the compressing
// writer, so that problem+json bodies above MinLength are gzipped like any
// other (echo's middleware has restored the plain writer by the time the
// server's error handler runs). The error is still returned, so the access
// log, metrics and tracing outside see it; the response is committed by
// then, so they record the status sent.
//
// When the body is gzipped a strong ETag gets ETagSuffix; the conditional
// middleware inside accepts either tag of one content in If-None-Match.
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
		h := gz(func(ec echo.Context) error {
			err := next(ec)
			if err != nil && !ec.Response().Committed {
				ec.Error(err)
			}
			return err
		})
		return func(ec echo.Context) error {
			if c.Skipper(ec) {
				return next(ec)
			}
			res := ec.Response()
			tw := &tagWriter{ResponseWriter: res.Writer}
			res.Writer = tw
			defer func() { res.Writer = tw.ResponseWriter }()
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

// tagWriter sits under echo's gzip writer and suffixes a strong ETag when
// the status goes out with Content-Encoding gzip, which echo sets only once
// the body passed MinLength.
type tagWriter struct {
	http.ResponseWriter
	wroteHeader bool
}

func (w *tagWriter) WriteHeader(code int) {
	if code < http.StatusOK {
		// Informational answers (103 Early Hints) may precede the final one.
		w.ResponseWriter.WriteHeader(code)
		return
	}
	if w.wroteHeader {
		return
	}
	w.wroteHeader = true
	h := w.Header()
	if h.Get(echo.HeaderContentEncoding) == "gzip" {
		if tag := h.Get("ETag"); strings.HasPrefix(tag, `"`) && strings.HasSuffix(tag, `"`) && len(tag) >= 2 &&
			!strings.HasSuffix(tag, ETagSuffix+`"`) {
			h.Set("ETag", tag[:len(tag)-1]+ETagSuffix+`"`)
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *tagWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *tagWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

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
