// Package audit records every answered partner request: one JSON
// line per request in BFF_AUDIT_DIR/audit-YYYY-MM-DD.jsonl (UTC day), with
// who (partner, key id, client IP), what (method, path, query, redacted
// JSON body) and the outcome (status, latency) — never the response body.
//
// The middleware runs in echo's Pre, ahead of the router and the edge chain,
// so that rejected requests (401, 403, 404, 405, 413, 415, 429) are
// recorded too. Being ahead of authentication, the body limit and echo's
// recover, it reads nothing itself: it records the body as later layers read
// it (capped at MaxBodyBytes), and writes the line in a deferred call that
// recovers its own panics. It renders a returned error itself (c.Error) to
// learn the status that was sent. Files rotate at UTC midnight, are buffered
// and flushed every second and on Close (server.OnShutdown), and are
// deleted after 90 days.
package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"go.uber.org/zap"

	"github.com/shopfront/bff-partner/internal/config"
	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/redact"
	"github.com/shopfront/shared/edge/requestid"
)

// Entry is one audit line. Field names are the documented ones (docs/bff-partner.md).
type Entry struct {
	Time      time.Time `json:"time"`
	RequestID string    `json:"requestId"`
	PartnerID string    `json:"partnerId"`
	KeyID     string    `json:"keyId"`
	ClientIP  string    `json:"clientIp"`
	Method    string    `json:"method"`
	Path      string    `json:"path"`
	Query     string    `json:"query"`
	Status    int       `json:"status"`
	LatencyMs float64   `json:"latencyMs"`
	// RequestBody is the parsed JSON body with secrets redacted, or null
	// when there is none or it is not JSON; RequestBodyNote then says why.
	RequestBody     json.RawMessage `json:"requestBody"`
	RequestBodyNote string          `json:"requestBodyNote,omitempty"`
}

// Notes on a body that is not recorded.
const (
	// NoteNotJSON: the body was read but is not one JSON value.
	NoteNotJSON = "not_json"
	// NoteTooLarge: the body is over MaxBodyBytes, or over
	// MaxRefusedBodyBytes in a request answered 400 or above.
	NoteTooLarge = "too_large"
	// NoteNotRead: the gateway answered without reading the whole body, so
	// the audit did not read it either.
	NoteNotRead = "not_read"
	// NoteAuditFailed: building the line failed; it was written with
	// what was complete by then and without the body, rather than not at all.
	NoteAuditFailed = "audit_failed"
)

// DefaultMaxRefusedBodyBytes is the default Config.MaxRefusedBodyBytes:
// far above any valid partner order, far below the body limit.
const DefaultMaxRefusedBodyBytes = 64 << 10

// Sink receives entries; *Writer is one.
type Sink interface {
	Write(e Entry) error
}

// Identifier names the partner and key of a presented API key without
// authorising it; *apikey.Store is one.
type Identifier interface {
	Identify(presented string) (partnerID, keyID string, ok bool)
}

// DefaultKeyHeader is the partner API key header.
const DefaultKeyHeader = "X-API-Key"

// Config configures the audit middleware.
type Config struct {
	// Skipper skips the middleware. Optional. Default: never skip.
	Skipper middleware.Skipper
	// Sink receives one entry per answered request. Required.
	Sink Sink
	// Now is the clock. Optional. Default time.Now.
	Now func() time.Time
	// MaxBodyBytes is the largest body recorded; a larger one is noted as
	// too_large and no more of it is kept. Optional. Default 1 MiB.
	MaxBodyBytes int64
	// MaxRefusedBodyBytes is the largest body recorded for a request
	// answered 400 or above; a larger one is noted too_large without being
	// parsed. Redacting a body means decoding and encoding it whole, which
	// costs a 1 MiB hostile body tens of milliseconds of CPU, far more than
	// refusing it; bodies the gateway accepted are recorded up to
	// MaxBodyBytes. Optional. Default 64 KiB (DefaultMaxRefusedBodyBytes).
	MaxRefusedBodyBytes int64
	// Logger reports entries that could not be written and recovered
	// panics. Optional. Default no logs.
	Logger *zap.Logger
	// Keys names the partner and key of requests that carry a known API
	// key but no authenticated principal: a revoked key, a key refused by
	// its partner's allow-list, or a request refused before authentication
	// ran (413, 405). keyId stays empty only when it is unknown.
	// The key itself is never recorded. Optional. Default nil: only
	// authenticated requests are named.
	Keys Identifier
	// KeyHeader is the API key header. Optional. Default X-API-Key.
	KeyHeader string

	// redactBody is RedactBody; tests replace it to prove a failing
	// redaction costs neither the answer nor the line.
	redactBody func(body []byte, note string) (json.RawMessage, string)
}

// ToMiddleware returns the middleware.
func (c Config) ToMiddleware() (echo.MiddlewareFunc, error) {
	if c.Sink == nil {
		return nil, errors.New("audit: Sink is required")
	}
	if c.Skipper == nil {
		c.Skipper = middleware.DefaultSkipper
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = config.DefaultBodyLimit
	}
	if c.MaxRefusedBodyBytes == 0 {
		c.MaxRefusedBodyBytes = DefaultMaxRefusedBodyBytes
	}
	if c.MaxRefusedBodyBytes < 0 {
		return nil, errors.New("audit: MaxRefusedBodyBytes must not be negative")
	}
	if c.MaxBodyBytes < 0 {
		return nil, errors.New("audit: MaxBodyBytes must not be negative")
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.KeyHeader == "" {
		c.KeyHeader = DefaultKeyHeader
	}
	if c.redactBody == nil {
		c.redactBody = RedactBody
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(ec echo.Context) error {
			if c.Skipper(ec) {
				return next(ec)
			}
			start := c.Now()
			req := ec.Request()
			body := c.teeBody(ec)
			// Read before the chain runs, whatever later layers do to the
			// request's headers.
			presented := req.Header.Get(c.KeyHeader)
			defer func() {
				if r := recover(); r != nil {
					if r == http.ErrAbortHandler { //nolint:errorlint // the sentinel is compared, as net/http does.
						panic(r) // a deliberate abort: no answer, no line.
					}
					// A panic ahead of echo's recover (a Pre middleware or
					// the router): answer 500 as recover would, so that the
					// client gets its answer and the audit its line.
					c.Logger.Error("recovering a panic ahead of the edge chain", zap.Any("panic", r), zap.Stack("stack"))
					ec.Error(fmt.Errorf("audit: recovered panic: %v", r))
				}
				c.record(ec, start, presented, body)
			}()
			if err := next(ec); err != nil {
				// Render now: the status is only known once it is sent.
				ec.Error(err)
			}
			return nil
		}
	}, nil
}

// record writes the line of an answered request. It runs after the answer
// was rendered and recovers its own panics: a redaction or sink bug must
// cost neither the client its answer (a panic here would abort the
// connection before net/http flushes the response) nor the request its line
// (it is written again without the body).
func (c Config) record(ec echo.Context, start time.Time, presented string, body *capture) {
	req := ec.Request() // auth may have replaced it with one carrying the principal.
	e := Entry{
		Time:      start.UTC(),
		RequestID: requestid.FromContext(req.Context()),
		ClientIP:  ec.RealIP(),
		Method:    req.Method,
		Path:      req.URL.Path,
		Status:    ec.Response().Status,
		LatencyMs: math.Round(float64(c.Now().Sub(start).Microseconds())) / 1000,
	}
	if e.RequestID == "" {
		e.RequestID = ec.Response().Header().Get(echo.HeaderXRequestID)
	}
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		c.Logger.Error("building audit entry", zap.Any("panic", r), zap.Stack("stack"), zap.String("requestId", e.RequestID))
		// Each field is assigned only once it is complete and redacted, so
		// what is set is safe to write; the body is left out.
		e.RequestBody, e.RequestBodyNote = nil, NoteAuditFailed
		c.write(e)
	}()
	e.Query = RedactQuery(req.URL.RawQuery)
	if p, ok := auth.FromContext(req.Context()); ok {
		e.PartnerID, e.KeyID = p.Partner, p.KeyID
		if e.KeyID == "" && p.Client == auth.ClientPartner {
			// OAuth clients have no key; their client id names them.
			e.KeyID = p.Subject
		}
	} else if c.Keys != nil && presented != "" {
		e.PartnerID, e.KeyID, _ = c.Keys.Identify(presented)
	}
	raw, note := body.recorded(req.ContentLength)
	if note == "" && e.Status >= http.StatusBadRequest && int64(len(raw)) > c.MaxRefusedBodyBytes {
		raw, note = nil, NoteTooLarge
	}
	e.RequestBody, e.RequestBodyNote = c.redactBody(raw, note)
	c.write(e)
}

// write hands e to the sink; a sink that panics is reported, never
// propagated.
func (c Config) write(e Entry) {
	defer func() {
		if r := recover(); r != nil {
			c.Logger.Error("writing audit entry", zap.Any("panic", r), zap.Stack("stack"), zap.String("requestId", e.RequestID))
		}
	}()
	if err := c.Sink.Write(e); err != nil {
		c.Logger.Error("writing audit entry", zap.Error(err), zap.String("requestId", e.RequestID))
	}
}

// teeBody gives later layers a body that records what they read, up to
// MaxBodyBytes. The audit reads nothing itself: it runs ahead of
// authentication, the rate limit and the body limit, and reading there
// would let anonymous clients make the gateway hold a body per connection.
// A body larger than the cap by its Content-Length is not wrapped at all.
//
// The request is copied rather than changed in place: net/http keeps the
// original and looks at its body once the handler returned (an unread
// Expect: 100-continue body then closes the connection instead of being
// waited for).
func (c Config) teeBody(ec echo.Context) *capture {
	req := ec.Request()
	if req.Body == nil || req.Body == http.NoBody || req.ContentLength == 0 {
		return nil
	}
	if req.ContentLength > c.MaxBodyBytes {
		return &capture{over: true}
	}
	t := &capture{ReadCloser: req.Body, max: c.MaxBodyBytes}
	r := req.WithContext(req.Context())
	r.Body = t
	ec.SetRequest(r)
	return t
}

// capture is a request body that keeps a copy of the bytes read through it,
// up to max; past max it drops the copy and only counts.
type capture struct {
	io.ReadCloser
	max  int64
	buf  []byte
	n    int64
	over bool
	eof  bool
}

func (t *capture) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	t.n += int64(n)
	if n > 0 && !t.over {
		if int64(len(t.buf)+n) > t.max {
			t.over, t.buf = true, nil
		} else {
			t.buf = append(t.buf, p[:n]...)
		}
	}
	if errors.Is(err, io.EOF) {
		t.eof = true
	}
	return n, err
}

// recorded returns the body as the chain read it and, when it cannot be
// recorded, the note saying why. size is the request's Content-Length.
func (t *capture) recorded(size int64) ([]byte, string) {
	switch {
	case t == nil:
		return nil, ""
	case t.over:
		return nil, NoteTooLarge
	case t.eof || (size >= 0 && t.n == size):
		return t.buf, ""
	default:
		// Refused before it was read (401, 403, 415, 429, ...), or read
		// only in part: recording it would mean reading it for the audit.
		return nil, NoteNotRead
	}
}

// RedactBody parses a JSON body and replaces secrets as redact.JSON does:
// the values of fields with secret names, at any depth, and any value that
// looks like a payment card number. A body that is absent gives null; one
// that is not JSON gives null and NoteNotJSON.
func RedactBody(body []byte, note string) (json.RawMessage, string) {
	if note != "" {
		return nil, note
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, ""
	}
	out, err := redact.JSON(body)
	if err != nil {
		return nil, NoteNotJSON
	}
	return out, ""
}

// RedactQuery replaces the values of sensitive query parameters, keeping
// the rest of the query as sent; the marker is escaped so that the
// recorded query stays a valid one.
func RedactQuery(raw string) string {
	return redact.Query(raw, queryMarker)
}

// queryMarker is redact.Marker escaped for a query, computed once rather
// than for every request.
var queryMarker = url.QueryEscape(redact.Marker)
