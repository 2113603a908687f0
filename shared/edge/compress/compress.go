// Package compress is the gateways' response compression: an echo adapter
// for github.com/CAFxX/httpcompression, which owns the negotiation
// (Accept-Encoding q-values, RFC 9110 §12.5.3), the buffering up to the size
// threshold, `Vary: Accept-Encoding`, pooling, and leaving 304s, empty and
// already encoded bodies alone. Each gateway chooses its policy (codings,
// threshold, levels) in its own Config.
//
// The adapter adds what the library leaves to its caller:
//
//   - errors returned inside it are rendered through the compressing
//     writer, so that problem+json bodies above the threshold are compressed
//     like any other (echo renders errors after every middleware returned,
//     when the plain writer is back);
//   - a strong ETag of a compressed body gets the suffix "-<coding>"
//     (RFC 9110 §8.8.3: strong tags differ between content codings);
//   - `*` in Accept-Encoding stands for every offered coding the field does
//     not name, with the wildcard's weight (RFC 9110 §12.5.3), which the
//     library does not resolve.
package compress

import (
	"compress/gzip"
	"fmt"
	"net/http"
	"strings"

	"github.com/CAFxX/httpcompression"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// Content codings the adapter can offer, as sent in Content-Encoding.
const (
	Gzip   = "gzip"
	Brotli = "br"
)

// DefaultMinSize is the threshold when Config.MinSize is zero: below about
// a kilobyte the framing and CPU of compression buy little.
const DefaultMinSize = 1024

// DefaultBrotliLevel is the brotli quality when Config.BrotliLevel is zero:
// a good ratio for JSON at a fraction of the CPU of the highest levels.
const DefaultBrotliLevel = 4

// Config configures the middleware.
type Config struct {
	// Skipper skips compression. Optional. Default: never skip.
	Skipper middleware.Skipper
	// MinSize is the smallest body compressed, in bytes; smaller bodies are
	// sent as they are. Optional. Default DefaultMinSize (1024).
	MinSize int
	// GzipLevel is the gzip level: -2 (Huffman only), -1 (the library's
	// default), or 1 (fastest) to 9 (smallest). Optional. Default -1
	// (gzip.DefaultCompression).
	GzipLevel int
	// Brotli offers brotli besides gzip; when the client weighs both alike,
	// brotli wins. Optional. Default false: gzip only.
	Brotli bool
	// BrotliLevel is the brotli quality, 1-11; used only with Brotli.
	// Optional. Default DefaultBrotliLevel (4).
	BrotliLevel int
}

// Validate reports settings out of range.
func (c Config) Validate() error {
	if c.MinSize < 0 {
		return fmt.Errorf("compression threshold must not be negative, got %d", c.MinSize)
	}
	if c.GzipLevel < gzip.HuffmanOnly || c.GzipLevel > gzip.BestCompression {
		return fmt.Errorf("gzip level must be -2..9, got %d", c.GzipLevel)
	}
	if c.BrotliLevel < 0 || c.BrotliLevel > 11 {
		return fmt.Errorf("brotli level must be 1-11, got %d", c.BrotliLevel)
	}
	return nil
}

// ToMiddleware returns the middleware. It belongs right after the server's
// edge chain, outside authentication and everything that may answer with a
// problem, so that every body of the gateway goes through it.
//
// An error returned inside is rendered here and still returned, so that the
// access log, metrics and tracing outside see it; the response is committed
// by then, so they record the status sent, and the shared problem handler
// does not render it twice.
func (c Config) ToMiddleware() (echo.MiddlewareFunc, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.Skipper == nil {
		c.Skipper = middleware.DefaultSkipper
	}
	if c.MinSize == 0 {
		c.MinSize = DefaultMinSize
	}
	if c.GzipLevel == 0 {
		c.GzipLevel = gzip.DefaultCompression
	}
	if c.BrotliLevel == 0 {
		c.BrotliLevel = DefaultBrotliLevel
	}
	offered := []string{Gzip}
	opts := []httpcompression.Option{
		httpcompression.GzipCompressionLevel(c.GzipLevel),
		httpcompression.MinSize(c.MinSize),
		// The client's q-values decide first, the server's rank (brotli
		// above gzip) only between codings weighed alike.
		httpcompression.Prefer(httpcompression.PreferClient),
	}
	if c.Brotli {
		offered = append(offered, Brotli)
		opts = append(opts, httpcompression.BrotliCompressionLevel(c.BrotliLevel))
	}
	adapter, err := httpcompression.Adapter(opts...)
	if err != nil {
		return nil, fmt.Errorf("configuring compression: %w", err)
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(ec echo.Context) error {
			if c.Skipper(ec) {
				return next(ec)
			}
			res := ec.Response()
			if len(ec.Request().Header[echo.HeaderAcceptEncoding]) == 0 {
				// No coding offered: the library would only add Vary and
				// call the handler, so do that without its wrappers.
				addVary(res.Header())
				err := next(ec)
				if err != nil && !res.Committed {
					ec.Error(err)
				}
				return err
			}
			raw := res.Writer
			defer func() { res.Writer = raw }()
			tw := &tagWriter{ResponseWriter: raw}
			// Runs when the handler sends its status, before the library
			// chooses a coding: a body the handler encoded itself keeps
			// the tag the handler gave it.
			res.Before(func() { tw.handlerEncoded = res.Header().Get(echo.HeaderContentEncoding) != "" })
			var err error
			adapter(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				res.Writer = w
				if err = next(ec); err != nil && !res.Committed {
					// Rendered here, inside the compressing writer, which
					// the library closes when this function returns.
					ec.Error(err)
				}
			})).ServeHTTP(tw, withWildcard(ec.Request(), offered))
			return err
		}
	}, nil
}

// addVary adds Accept-Encoding to Vary unless a value names it already,
// as the library does for every answer: whether it was compressed depends
// on that field.
func addVary(h http.Header) {
	for _, v := range h.Values(echo.HeaderVary) {
		if strings.EqualFold(strings.TrimSpace(v), echo.HeaderAcceptEncoding) {
			return
		}
	}
	h.Add(echo.HeaderVary, echo.HeaderAcceptEncoding)
}

// withWildcard returns r, or, when its Accept-Encoding holds `*`, a shallow
// copy whose field also names each offered coding the field leaves out,
// with the wildcard's parameters (RFC 9110 §12.5.3: `*` matches any coding
// not listed). Only the copy the library negotiates on is changed; the
// handlers see the request as it came. Hand-written because neither
// httpcompression nor klauspost/compress/gzhttp resolves the wildcard; the
// q-values themselves are still read by the library.
func withWildcard(r *http.Request, offered []string) *http.Request {
	field := r.Header.Get(echo.HeaderAcceptEncoding)
	if !strings.Contains(field, "*") {
		return r
	}
	var named []string
	star, starParams := false, ""
	for part := range strings.SplitSeq(field, ",") {
		coding, params, _ := strings.Cut(part, ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding == "*" {
			star, starParams = true, params
			continue
		}
		named = append(named, coding)
	}
	if !star {
		return r
	}
	var b strings.Builder
	b.WriteString(field)
	for _, coding := range offered {
		if contains(named, coding) {
			continue
		}
		b.WriteString(", ")
		b.WriteString(coding)
		if starParams != "" {
			b.WriteString(";")
			b.WriteString(starParams)
		}
	}
	cp := *r
	cp.Header = r.Header.Clone()
	cp.Header.Set(echo.HeaderAcceptEncoding, b.String())
	return &cp
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// tagWriter sits under the library's compressing writer and suffixes a
// strong ETag with the coding when the status goes out with a
// Content-Encoding, which the library sets only once the body passed the
// threshold.
type tagWriter struct {
	http.ResponseWriter
	wroteHeader    bool
	handlerEncoded bool
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
	if enc := h.Get(echo.HeaderContentEncoding); enc != "" && !w.handlerEncoded {
		suffix := "-" + enc + `"`
		if tag := h.Get("ETag"); len(tag) >= 2 && strings.HasPrefix(tag, `"`) && strings.HasSuffix(tag, `"`) &&
			!strings.HasSuffix(tag, suffix) {
			h.Set("ETag", tag[:len(tag)-1]+suffix)
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

// Flush passes the library's flushes on to the connection.
func (w *tagWriter) Flush() {
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection.
func (w *tagWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
