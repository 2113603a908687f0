// Package conditional makes bff-mobile's GET responses cheap to revalidate:
// a strong ETag over the uncompressed body of every 200,
// `Cache-Control: private, max-age=60` unless the handler chose otherwise,
// and 304 Not Modified without a body when If-None-Match names the current
// representation (RFC 9110 §13.1.2). A response the handler marked
// `no-store` (a degraded screen) gets neither tag nor 304: nothing
// may be revalidated into a cache that must not hold it.
//
// It sits inside compression, which appends compress.ETagSuffix to the tag
// of a gzipped body (RFC 9110 §8.8.3: strong tags differ per content
// coding). If-None-Match therefore matches the tag of either representation
// of the current content, and a 304 carries the tag the client named, the
// one its cache stores. A 304 is never compressed.
package conditional

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/cespare/xxhash/v2"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/shopfront/bff-mobile/internal/compress"
)

// Config configures the middleware.
type Config struct {
	// Skipper skips the middleware. Optional. Default: never skip.
	Skipper middleware.Skipper
	// CacheControl is set on successful GETs whose handler set no
	// Cache-Control. Optional. Default "private, max-age=60".
	CacheControl string
}

// DefaultCacheControl is the mobile caching policy: the app (and
// no shared cache) may reuse a screen for a minute.
const DefaultCacheControl = "private, max-age=60"

// ToMiddleware returns the middleware. Only GET and HEAD are buffered; other
// methods pass through untouched.
func (c Config) ToMiddleware() (echo.MiddlewareFunc, error) {
	if c.Skipper == nil {
		c.Skipper = middleware.DefaultSkipper
	}
	if c.CacheControl == "" {
		c.CacheControl = DefaultCacheControl
	}
	// Writers and their buffers are reused across requests: every GET body
	// passes through one.
	pool := sync.Pool{New: func() any { return &bufferedWriter{buf: new(bytes.Buffer)} }}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(ec echo.Context) error {
			req := ec.Request()
			if (req.Method != http.MethodGet && req.Method != http.MethodHead) || c.Skipper(ec) {
				return next(ec)
			}
			res := ec.Response()
			bw := pool.Get().(*bufferedWriter)
			bw.reset(res.Writer)
			defer func() {
				// A writer grown by a rare large body is left to the garbage
				// collector rather than held by the pool.
				if bw.buf.Cap() <= maxPooled {
					pool.Put(bw)
				}
			}()
			buf := bw.buf
			res.Writer = bw
			defer func() { res.Writer = bw.ResponseWriter }()
			err := next(ec)
			res.Writer = bw.ResponseWriter
			if !bw.wroteHeader && buf.Len() == 0 {
				// Nothing was written: the error handler renders err.
				return err
			}
			h := res.Header()
			if err != nil || bw.code != http.StatusOK || noStore(h.Values(echo.HeaderCacheControl)) {
				bw.flush()
				return err
			}
			// The values of the three headers this sets share one array:
			// http.Header.Set allocates a slice per value.
			vals := new([3]string)
			tag := h.Get(headerETag)
			if tag == "" {
				tag = ETag(buf.Bytes())
				vals[0] = tag
				h[etagKey] = vals[0:1:1]
			}
			if h.Get(echo.HeaderCacheControl) == "" {
				vals[1] = c.CacheControl
				h[echo.HeaderCacheControl] = vals[1:2:2]
			}
			if matched, ok := Match(req.Header.Get("If-None-Match"), tag); ok {
				// RFC 9110 §15.4.5: a 304 has no content and keeps the
				// validators and caching headers of the 200. Its tag is
				// the representation the client holds (RFC 9111 §4.3.4
				// picks the stored response to freshen by it).
				if matched != strings.TrimPrefix(tag, "W/") {
					h.Set(headerETag, matched)
				}
				h.Del(echo.HeaderContentType)
				h.Del(echo.HeaderContentLength)
				// The access log reads the status and size from echo's
				// response, which saw the buffered 200.
				res.Status, res.Size = http.StatusNotModified, 0
				bw.ResponseWriter.WriteHeader(http.StatusNotModified)
				return nil
			}
			// The length is known, so the client gets it instead of a
			// chunked body; compression outside drops it when it encodes.
			vals[2] = strconv.Itoa(buf.Len())
			h[echo.HeaderContentLength] = vals[2:3:3]
			bw.flush()
			return nil
		}
	}, nil
}

const headerETag = "ETag"

// maxPooled is the largest buffer a pooled writer keeps.
const maxPooled = 1 << 20

// etagKey is headerETag as http.Header keys it (canonical form), for
// setting the map directly.
const etagKey = "Etag"

// ETag returns the strong entity tag of body: its 64-bit xxHash (XXH64) in
// unpadded base64url, quoted.
//
// A tag only has to tell apart the versions of one URL's answer to one
// client, not to resist forgery: a 64-bit hash makes an accidental match of
// two versions a 1 in 2^64 event, and engineering one would take control of
// the whole body of another user's private answer to earn a stale copy of
// it in that user's cache for a minute. XXH64 hashes a screen about ten
// times faster than SHA-256 did, and xxhash is already in the build (the
// Prometheus client uses it).
func ETag(body []byte) string {
	var sum [8]byte
	binary.BigEndian.PutUint64(sum[:], xxhash.Sum64(body))
	var b [2 + 11]byte // Quotes around 8 bytes in unpadded base64.
	b[0], b[len(b)-1] = '"', '"'
	base64.RawURLEncoding.Encode(b[1:len(b)-1], sum[:])
	return string(b[:])
}

// NoneMatchFails reports whether the If-None-Match field value names the
// current entity tag, i.e. whether the condition fails and the answer is
// 304. See Match.
func NoneMatchFails(field, current string) bool {
	_, ok := Match(field, current)
	return ok
}

// Match reports whether the If-None-Match field value names a
// representation of the current content, and which: the tag current (with
// any W/ removed), or current with compress.ETagSuffix (the tag of its
// gzipped body). It uses the weak comparison that RFC 9110 §13.1.2
// prescribes for If-None-Match: `*` matches any current representation
// (answered with current), and "x" matches W/"x". A malformed list matches
// nothing past the point where it breaks.
//
// Hand-written because nothing maintained covers it: net/http's own
// parser (scanETag, checkIfNoneMatch) is unexported and reachable only
// through http.ServeContent, which compares one tag, not the two of a
// content's codings, and brings Range requests (206 bodies compression
// would then encode), If-Match, If-Modified-Since and content sniffing to
// JSON screens; echo has no conditional-request support, and the Go
// packages that parse entity tags (go-http-utils/fresh and the like) are
// unmaintained. It scans the field once without allocating.
func Match(field, current string) (string, bool) {
	if field == "" {
		return "", false // Most requests: no If-None-Match, nothing to build.
	}
	cur := strings.TrimPrefix(current, "W/")
	gz := ""
	if strings.HasSuffix(cur, `"`) && len(cur) >= 2 {
		gz = cur[:len(cur)-1] + compress.ETagSuffix + `"`
	}
	s := field
	for {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			return "", false
		}
		if s[0] == '*' {
			return cur, true
		}
		s = strings.TrimPrefix(s, "W/")
		if s == "" || s[0] != '"' {
			return "", false
		}
		end := strings.IndexByte(s[1:], '"')
		if end < 0 {
			return "", false
		}
		switch tag := s[:end+2]; tag {
		case cur, gz:
			return tag, true
		}
		s = s[end+2:]
	}
}

// noStore reports whether the Cache-Control field values hold the no-store
// directive (RFC 9111 §5.2.2.5).
func noStore(values []string) bool {
	for _, v := range values {
		for d := range strings.SplitSeq(v, ",") {
			name, _, _ := strings.Cut(d, "=")
			if strings.EqualFold(strings.TrimSpace(name), "no-store") {
				return true
			}
		}
	}
	return false
}

// bufferedWriter holds the status and body of a GET until the tag is known.
type bufferedWriter struct {
	http.ResponseWriter
	buf         *bytes.Buffer
	code        int
	wroteHeader bool
}

func (w *bufferedWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.code, w.wroteHeader = code, true
	}
}

func (w *bufferedWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.buf.Write(b)
}

// reset readies a pooled writer for a response written to rw.
func (w *bufferedWriter) reset(rw http.ResponseWriter) {
	w.ResponseWriter, w.code, w.wroteHeader = rw, 0, false
	w.buf.Reset()
}

// Unwrap lets http.ResponseController reach the connection.
func (w *bufferedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *bufferedWriter) flush() {
	if !w.wroteHeader {
		w.code = http.StatusOK
	}
	w.ResponseWriter.WriteHeader(w.code)
	_, _ = w.buf.WriteTo(w.ResponseWriter)
}
