package problem

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/shopfront/shared/edge/jsonx"
	"github.com/shopfront/shared/edge/requestid"
)

// HandlerConfig configures the error renderer.
type HandlerConfig struct {
	// Logger receives one line per 5xx with its cause, but for a shed
	// (503 overloaded), which the limit that refused it counts. Required.
	Logger *zap.Logger
	// TypeBase is the error catalogue: `type` is TypeBase#<code>, the
	// catalogue's section on that code, so a client (or its developer)
	// can follow it to what the code means and what to do about it.
	// Optional. Default DefaultTypeBase.
	TypeBase string
}

// DefaultTypeBase is the error catalogue of the Shopfront repository,
// docs/errors.md, which has one section per code.
const DefaultTypeBase = "https://github.com/shopfront/shopfront/blob/main/docs/errors.md"

// TypeURL returns the `type` of a problem with code under the catalogue
// base (DefaultTypeBase when base is empty): base#code.
func TypeURL(base, code string) string {
	if base == "" {
		base = DefaultTypeBase
	}
	return strings.TrimRight(base, "/#") + "#" + code
}

// Handler returns echo's HTTPErrorHandler rendering every error as
// problem+json. It is the only place an error body is written.
func Handler(cfg HandlerConfig) echo.HTTPErrorHandler {
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	return func(err error, c echo.Context) {
		// A committed response was answered already. With an error status
		// it was answered by this handler (layers that must know the
		// status, the access log for one, render an error themselves and
		// still return it, so echo calls this again for the same error),
		// or by a handler that chose its error answer: either way the
		// answer and its cause are not rendered or logged twice. With a
		// success status the handler had started its answer before the
		// error (a broken stream, say): nothing can be appended, but the
		// error is still worth a line.
		p := Resolve(err)
		if p.Status < 400 || p.Status > 599 {
			// A problem must be an error status; anything else is a bug in
			// whoever built it, and net/http would panic on a status < 100.
			p = New(http.StatusInternalServerError, CodeInternal, "").Wrap(err)
		}
		if res := c.Response(); res.Committed {
			if res.Status < 400 && p.Status >= 500 {
				logFailure(log, c, p.Status, p.Code, err)
			}
			return
		}
		if p.Status >= 500 && p.Code != CodeOverloaded {
			// A shed is the gateway's own deliberate answer, counted where
			// it is made (the concurrency limit's metric; an upload slot
			// refusal in the request metrics and access log): a failure
			// line for each would flood the log with the same line at the
			// moment the instance has the least to spare.
			logFailure(log, c, p.Status, p.Code, err)
		}
		if p.Status == StatusClientClosedRequest {
			// Nobody is listening; the access log records the 499.
			c.Response().WriteHeader(p.Status)
			return
		}
		Write(c, p, cfg.TypeBase)
	}
}

func logFailure(log *zap.Logger, c echo.Context, status int, code string, err error) {
	log.Error("request failed", zap.String("requestId", requestid.FromContext(c.Request().Context())),
		zap.Int("status", status), zap.String("error", code), zap.NamedError("cause", err))
}

// Write renders p on c with the request id as instance and, unless p names
// its own type, TypeURL(typeBase, p.Code) as type.
func Write(c echo.Context, p *Problem, typeBase string) {
	out := *p
	id := requestid.FromContext(c.Request().Context())
	if id == "" {
		id = c.Response().Header().Get(echo.HeaderXRequestID)
	}
	out.RequestID, out.Instance = id, "urn:request:"+id
	if id == "" {
		out.Instance = c.Request().URL.Path
	}
	if out.Title == "" {
		out.Title = http.StatusText(out.Status)
	}
	if out.Type == "" {
		out.Type = TypeURL(typeBase, out.Code)
	}
	if out.Status >= 500 {
		// RFC 9457 §5: details of server errors help attackers, not clients,
		// so a 5xx carries a fixed sentence chosen by its code, never the
		// detail it was raised with (which may name hosts or upstream text).
		out.Detail = ServerDetail(out.Code)
	}
	for k, vs := range out.Header {
		for _, v := range vs {
			c.Response().Header().Add(k, v)
		}
	}
	body, err := out.encode()
	if err != nil {
		// An extension that cannot be encoded must not cost the client its
		// error: the standard members always encode.
		out.Extensions = nil
		body, _ = out.encode()
	}
	c.Response().Header().Set(echo.HeaderContentType, ContentType)
	c.Response().WriteHeader(out.Status)
	if c.Request().Method != http.MethodHead {
		_, _ = c.Response().Write(body)
	}
}

// ServerDetail is the client-safe detail every 5xx with this code carries.
func ServerDetail(code string) string {
	switch code {
	case CodeUpstreamUnavailable:
		return "A service this request depends on is unavailable. Retry later."
	case CodeUpstreamTimeout:
		return "A service this request depends on did not answer in time. Retry later."
	default:
		return "The gateway could not handle the request."
	}
}

// encode returns the JSON body of p: its standard members and extensions,
// keys in byte order.
func (p *Problem) encode() ([]byte, error) {
	if len(p.Extensions) == 0 {
		// Most problems have no extension (every 429, 401 and shed among
		// them): the standard members from a struct, whose fields are in
		// the order encoding/json sorts a map's keys, are the same bytes
		// as the map's without a map built and sorted for each answer.
		return jsonx.Marshal(standardMembers{
			Detail: p.Detail, Error: p.Code, Instance: p.Instance, RequestID: p.RequestID,
			Status: p.Status, Title: p.Title, Type: p.Type,
		})
	}
	return json.Marshal(p.members())
}

// standardMembers are a problem's members without extensions, in key
// order; instance and requestId are always present, as in members.
type standardMembers struct {
	Detail    string `json:"detail,omitempty"`
	Error     string `json:"error"`
	Instance  string `json:"instance"`
	RequestID string `json:"requestId"`
	Status    int    `json:"status"`
	Title     string `json:"title"`
	Type      string `json:"type"`
}

func (p *Problem) members() map[string]any {
	m := make(map[string]any, 7+len(p.Extensions))
	for k, v := range p.Extensions {
		m[k] = v
	}
	m["type"], m["title"], m["status"], m["error"] = p.Type, p.Title, p.Status, p.Code
	m["instance"], m["requestId"] = p.Instance, p.RequestID
	// An extension never stands in for a standard member, so one named
	// "detail" cannot bring a raw detail back onto a 5xx.
	delete(m, "detail")
	if p.Detail != "" {
		m["detail"] = p.Detail
	}
	return m
}

// Resolve maps any error to a problem: a *Problem or Problemer as it is,
// echo's HTTPError by its status, a cancelled request as 499, anything else 500.
func Resolve(err error) *Problem {
	var pr Problemer
	if errors.As(err, &pr) {
		if p := pr.Problem(); p != nil {
			return p
		}
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return fromHTTPError(he)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		// A route budget ran out before a source could even start: the
		// gateway waited on its upstreams, so this is their timeout.
		return New(http.StatusGatewayTimeout, CodeUpstreamTimeout, "").Wrap(err)
	}
	if errors.Is(err, context.Canceled) {
		return New(StatusClientClosedRequest, CodeClientClosed, "").Wrap(err)
	}
	return New(http.StatusInternalServerError, CodeInternal, "").Wrap(err)
}

func fromHTTPError(he *echo.HTTPError) *Problem {
	detail := ""
	if s, ok := he.Message.(string); ok && he.Code < 500 {
		detail = s
	}
	code := httpErrorCode(he.Code)
	if code == "" {
		code = strings.ToLower(strings.ReplaceAll(http.StatusText(he.Code), " ", "_"))
		if code == "" || he.Code >= 500 {
			code = CodeInternal
		}
	}
	p := New(he.Code, code, detail)
	if he.Internal != nil {
		p.Err = he.Internal
	}
	return p
}

// httpErrorCode is the code of an echo.HTTPError's status, "" for a status
// without one of its own. A switch rather than a map literal, which would
// be built again for every error.
func httpErrorCode(status int) string {
	switch status {
	case http.StatusBadRequest:
		return CodeBadRequest
	case http.StatusUnauthorized:
		return CodeUnauthorized
	case http.StatusForbidden:
		return CodeForbidden
	case http.StatusNotFound:
		return CodeNotFound
	case http.StatusMethodNotAllowed:
		return CodeMethodNotAllowed
	case http.StatusRequestEntityTooLarge:
		return CodePayloadTooLarge
	case http.StatusUnsupportedMediaType:
		return CodeUnsupportedMediaType
	case http.StatusUnprocessableEntity:
		// RFC 9110 renamed 422; the upstream client uses the new name too.
		return "unprocessable_content"
	case http.StatusTooManyRequests:
		return CodeRateLimited
	case http.StatusRequestHeaderFieldsTooLarge:
		return CodeHeadersTooLarge
	case http.StatusBadGateway, http.StatusServiceUnavailable:
		return CodeUpstreamUnavailable
	case http.StatusGatewayTimeout:
		return CodeUpstreamTimeout
	}
	return ""
}
