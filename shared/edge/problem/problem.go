// Package problem is Shopfront's one error type and its one renderer:
// RFC 9457 application/problem+json with a stable snake_case `error` code.
//
// Handlers and middleware return errors; Handler resolves them with errors.As
// (Problem -> Problemer -> *echo.HTTPError -> 500) and writes them once.
package problem

import (
	"fmt"
	"net/http"
)

// ContentType is the media type of every error body (RFC 9457 §3).
const ContentType = "application/problem+json"

// Stable error codes. Clients switch on these, never on titles.
const (
	CodeBadRequest           = "bad_request"
	CodeUnauthorized         = "unauthorized"
	CodeInvalidToken         = "invalid_token"
	CodeInvalidAPIKey        = "invalid_api_key"
	CodeForbidden            = "forbidden"
	CodeInsufficientScope    = "insufficient_scope"
	CodeNotFound             = "not_found"
	CodeMethodNotAllowed     = "method_not_allowed"
	CodeRateLimited          = "rate_limited"
	CodeValidationFailed     = "validation_failed"
	CodePayloadTooLarge      = "payload_too_large"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeHeadersTooLarge      = "request_header_fields_too_large"
	CodeUpstreamUnavailable  = "upstream_unavailable"
	CodeUpstreamTimeout      = "upstream_timeout"
	CodeCSRFFailed           = "csrf_failed"
	CodeIdempotencyKeyReused = "idempotency_key_reused"
	CodeConflict             = "conflict"
	CodeGone                 = "gone"
	CodeChecksumMismatch     = "checksum_mismatch"
	CodePreconditionFailed   = "precondition_failed"
	CodeOverloaded           = "overloaded"
	CodeClientClosed         = "client_closed_request"
	CodeInternal             = "internal_error"
)

// StatusClientClosedRequest is nginx's 499: the client went away before the
// answer was ready. It is logged, never sent to anyone.
const StatusClientClosedRequest = 499

// Problem is an RFC 9457 problem detail. The zero Type means the error
// catalogue's section on Code (see TypeURL).
// Instance and RequestID are filled by the renderer from the request id.
type Problem struct {
	// Type is a URI naming the problem class; "" renders as
	// HandlerConfig.TypeBase#Code, the catalogue's section on the code.
	Type string `json:"type"`
	// Title is a short summary of the class; "" renders as the status text.
	Title string `json:"title"`
	// Status is the HTTP status, 4xx or 5xx.
	Status int `json:"status"`
	// Detail explains this occurrence to the client; never rendered on 5xx.
	Detail string `json:"detail,omitempty"`
	// Instance identifies this occurrence: urn:request:<request id>.
	Instance string `json:"instance,omitempty"`
	// Code is the stable snake_case `error` member clients switch on.
	Code string `json:"error"`
	// RequestID is the request's X-Request-Id.
	RequestID string `json:"requestId,omitempty"`

	// Extensions are extra members rendered beside the standard ones, such
	// as `docs` for invalid_api_key or `errors` for validation_failed.
	Extensions map[string]any `json:"-"`

	// Header is set on the response before the body is written, e.g.
	// WWW-Authenticate on 401 or Retry-After on 429.
	Header http.Header `json:"-"`

	// Err is the cause, for logs only; it never reaches the client.
	Err error `json:"-"`
}

// New returns a problem with the given status, code and client-safe detail.
func New(status int, code, detail string) *Problem {
	return &Problem{Status: status, Code: code, Detail: detail}
}

// Error implements error.
func (p *Problem) Error() string {
	msg := fmt.Sprintf("%d %s", p.Status, p.Code)
	if p.Detail != "" {
		msg += ": " + p.Detail
	}
	if p.Err != nil {
		msg += ": " + p.Err.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (p *Problem) Unwrap() error { return p.Err }

// Problem implements Problemer so that *Problem and other types resolve alike.
func (p *Problem) Problem() *Problem { return p }

// Wrap records err as the cause (for logs) and returns p.
func (p *Problem) Wrap(err error) *Problem { p.Err = err; return p }

// With adds an extension member and returns p.
func (p *Problem) With(name string, value any) *Problem {
	if p.Extensions == nil {
		p.Extensions = map[string]any{}
	}
	p.Extensions[name] = value
	return p
}

// WithHeader adds a response header and returns p.
func (p *Problem) WithHeader(name, value string) *Problem {
	if p.Header == nil {
		p.Header = http.Header{}
	}
	p.Header.Add(name, value)
	return p
}

// Problemer is implemented by errors that know their problem, such as the
// upstream client's errors. The renderer finds them with errors.As.
type Problemer interface {
	// Problem returns a problem the renderer may not modify; nil means
	// the error is resolved by the next rule.
	Problem() *Problem
}

// Constructors for the common classes. Each returns a fresh value, so
// callers may decorate it without touching shared state.

// BadRequest is 400 bad_request.
func BadRequest(detail string) *Problem { return New(http.StatusBadRequest, CodeBadRequest, detail) }

// Unauthorized is 401 unauthorized: credentials are missing.
func Unauthorized(detail string) *Problem {
	return New(http.StatusUnauthorized, CodeUnauthorized, detail)
}

// Forbidden is 403 forbidden.
func Forbidden(detail string) *Problem { return New(http.StatusForbidden, CodeForbidden, detail) }

// NotFound is 404 not_found.
func NotFound(detail string) *Problem { return New(http.StatusNotFound, CodeNotFound, detail) }

// ValidationFailed is 400 validation_failed.
func ValidationFailed(detail string) *Problem {
	return New(http.StatusBadRequest, CodeValidationFailed, detail)
}
