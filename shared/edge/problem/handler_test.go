package problem_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/shopfront/shared/edge/problem"
	"github.com/shopfront/shared/edge/requestid"
)

// gateway is a real echo server whose errors are rendered by problem.Handler
// behind the real request id middleware, the way server.newEcho wires it.
type gateway struct {
	URL  string
	e    *echo.Echo
	logs *observer.ObservedLogs
	// written counts the body bytes the handler chain wrote per request id,
	// seen inside the server: net/http drops a HEAD body on the wire, so only
	// this tells whether the renderer tried to write one.
	written sync.Map
}

func newGateway(t *testing.T, cfg problem.HandlerConfig) *gateway {
	t.Helper()
	core, logs := observer.New(zap.DebugLevel)
	cfg.Logger = zap.New(core)
	g := &gateway{e: echo.New(), logs: logs}
	g.e.HTTPErrorHandler = problem.Handler(cfg)
	reqID, err := requestid.Config{}.ToMiddleware()
	require.NoError(t, err)
	g.e.Use(g.countBody, reqID)
	srv := httptest.NewServer(g.e)
	t.Cleanup(srv.Close)
	g.URL = srv.URL
	return g
}

type countingWriter struct {
	http.ResponseWriter
	n *int
}

func (w countingWriter) Write(b []byte) (int, error) {
	*w.n += len(b)
	return w.ResponseWriter.Write(b)
}

func (g *gateway) countBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		n := new(int)
		c.Response().Writer = countingWriter{ResponseWriter: c.Response().Writer, n: n}
		err := next(c)
		if err != nil {
			// Render here, as server's access log does, so the count
			// includes the error body.
			c.Error(err)
		}
		g.written.Store(c.Request().Header.Get(echo.HeaderXRequestID), *n)
		return nil
	}
}

// fail registers a route of method at path whose handler returns err.
func (g *gateway) fail(method, path string, err error) {
	g.e.Add(method, path, func(echo.Context) error { return err })
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, method, url, id string) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, nil)
	require.NoError(t, err)
	req.Header.Set(echo.HeaderXRequestID, id)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return answer{status: resp.StatusCode, header: resp.Header, body: body}
}

// assertShape checks every problem member is present with its JSON type.
func assertShape(t *testing.T, a answer, id string) map[string]any {
	t.Helper()
	assert.Equal(t, problem.ContentType, a.header.Get(echo.HeaderContentType))
	var m map[string]any
	require.NoError(t, json.Unmarshal(a.body, &m), "body %s", a.body)
	for _, k := range []string{"type", "title", "instance", "error", "requestId"} {
		v, ok := m[k].(string)
		assert.Truef(t, ok, "member %q is %T, want a string", k, m[k])
		if k != "instance" && k != "requestId" {
			assert.NotEmptyf(t, v, "member %q", k)
		}
	}
	status, ok := m["status"].(float64)
	assert.Truef(t, ok, "member status is %T, want a number", m["status"])
	assert.Equal(t, float64(a.status), status, "status member equals the HTTP status")
	if d, present := m["detail"]; present {
		assert.IsType(t, "", d)
		if a.status >= 500 {
			assert.Contains(t, []string{
				"A service this request depends on is unavailable. Retry later.",
				"A service this request depends on did not answer in time. Retry later.",
				"The gateway could not handle the request.",
			}, d, "a 5xx carries only a fixed sentence")
		}
	}
	assert.Equal(t, id, m["requestId"])
	assert.Equal(t, "urn:request:"+id, m["instance"])
	assert.Equal(t, id, a.header.Get(echo.HeaderXRequestID))
	return m
}

func TestHandlerGolden(t *testing.T) {
	t.Parallel()
	g := newGateway(t, problem.HandlerConfig{})

	tests := []struct {
		name string
		// given
		err error
		// expect
		status int
		header http.Header
		golden string // the body, $ID standing for the request id
	}{
		{
			name:   "ok, bad request with its detail",
			err:    problem.BadRequest("page must be a positive integer"),
			status: 400,
			golden: `{"type":"https://github.com/shopfront/shopfront/blob/main/docs/errors.md#bad_request","title":"Bad Request","status":400,"detail":"page must be a positive integer","instance":"urn:request:$ID","error":"bad_request","requestId":"$ID"}`,
		},
		{
			name:   "ok, unauthorized with WWW-Authenticate",
			err:    problem.Unauthorized("credentials are missing").WithHeader("WWW-Authenticate", `Bearer realm="shopfront"`),
			status: 401,
			header: http.Header{"Www-Authenticate": {`Bearer realm="shopfront"`}},
			golden: `{"type":"https://github.com/shopfront/shopfront/blob/main/docs/errors.md#unauthorized","title":"Unauthorized","status":401,"detail":"credentials are missing","instance":"urn:request:$ID","error":"unauthorized","requestId":"$ID"}`,
		},
		{
			name:   "ok, invalid token",
			err:    problem.New(http.StatusUnauthorized, problem.CodeInvalidToken, "token is expired"),
			status: 401,
			golden: `{"type":"https://github.com/shopfront/shopfront/blob/main/docs/errors.md#invalid_token","title":"Unauthorized","status":401,"detail":"token is expired","instance":"urn:request:$ID","error":"invalid_token","requestId":"$ID"}`,
		},
		{
			name: "ok, invalid api key with a docs extension",
			err: problem.New(http.StatusUnauthorized, problem.CodeInvalidAPIKey, "the API key is unknown or revoked").
				With("docs", "https://developers.shopfront.dev/docs#auth"),
			status: 401,
			golden: `{"type":"https://github.com/shopfront/shopfront/blob/main/docs/errors.md#invalid_api_key","title":"Unauthorized","status":401,"detail":"the API key is unknown or revoked","instance":"urn:request:$ID","error":"invalid_api_key","requestId":"$ID","docs":"https://developers.shopfront.dev/docs#auth"}`,
		},
		{
			name:   "ok, forbidden",
			err:    problem.Forbidden("source address not allowed"),
			status: 403,
			golden: `{"type":"https://github.com/shopfront/shopfront/blob/main/docs/errors.md#forbidden","title":"Forbidden","status":403,"detail":"source address not allowed","instance":"urn:request:$ID","error":"forbidden","requestId":"$ID"}`,
		},
		{
			name:   "ok, insufficient scope",
			err:    problem.New(http.StatusForbidden, problem.CodeInsufficientScope, "orders:write is required"),
			status: 403,
			golden: `{"type":"https://github.com/shopfront/shopfront/blob/main/docs/errors.md#insufficient_scope","title":"Forbidden","status":403,"detail":"orders:write is required","instance":"urn:request:$ID","error":"insufficient_scope","requestId":"$ID"}`,
		},
		{
			name:   "ok, csrf failed",
			err:    problem.New(http.StatusForbidden, problem.CodeCSRFFailed, "X-CSRF-Token does not match"),
			status: 403,
			golden: `{"type":"https://github.com/shopfront/shopfront/blob/main/docs/errors.md#csrf_failed","title":"Forbidden","status":403,"detail":"X-CSRF-Token does not match","instance":"urn:request:$ID","error":"csrf_failed","requestId":"$ID"}`,
		},
		{
			name:   "ok, not found",
			err:    problem.NotFound("no such order"),
			status: 404,
			golden: `{"type":"https://github.com/shopfront/shopfront/blob/main/docs/errors.md#not_found","title":"Not Found","status":404,"detail":"no such order","instance":"urn:request:$ID","error":"not_found","requestId":"$ID"}`,
		},
		{
			name: "ok, validation failed with an errors extension",
			err: problem.ValidationFailed("the request body is invalid").
				With("errors", []map[string]string{{"path": "/items/0/quantity", "message": "must be >= 1"}}),
			status: 400,
			golden: `{"type":"https://github.com/shopfront/shopfront/blob/main/docs/errors.md#validation_failed","title":"Bad Request","status":400,"detail":"the request body is invalid","instance":"urn:request:$ID","error":"validation_failed","requestId":"$ID","errors":[{"path":"/items/0/quantity","message":"must be >= 1"}]}`,
		},
		{
			name:   "ok, idempotency key reused",
			err:    problem.New(http.StatusUnprocessableEntity, problem.CodeIdempotencyKeyReused, "the key was used with another body"),
			status: 422,
			golden: `{"type":"https://github.com/shopfront/shopfront/blob/main/docs/errors.md#idempotency_key_reused","title":"Unprocessable Entity","status":422,"detail":"the key was used with another body","instance":"urn:request:$ID","error":"idempotency_key_reused","requestId":"$ID"}`,
		},
		{
			name: "ok, rate limited with Retry-After and limit headers",
			err: problem.New(http.StatusTooManyRequests, problem.CodeRateLimited, "slow down").
				WithHeader("Retry-After", "7").WithHeader("X-RateLimit-Remaining", "0"),
			status: 429,
			header: http.Header{"Retry-After": {"7"}, "X-Ratelimit-Remaining": {"0"}},
			golden: `{"type":"https://github.com/shopfront/shopfront/blob/main/docs/errors.md#rate_limited","title":"Too Many Requests","status":429,"detail":"slow down","instance":"urn:request:$ID","error":"rate_limited","requestId":"$ID"}`,
		},
		{
			name:   "ok, upstream unavailable replaces its detail",
			err:    problem.New(http.StatusServiceUnavailable, problem.CodeUpstreamUnavailable, "catalog at 10.0.0.7 refused"),
			status: 503,
			golden: `{"type":"https://github.com/shopfront/shopfront/blob/main/docs/errors.md#upstream_unavailable","title":"Service Unavailable","status":503,"detail":"A service this request depends on is unavailable. Retry later.","instance":"urn:request:$ID","error":"upstream_unavailable","requestId":"$ID"}`,
		},
		{
			name:   "ok, upstream timeout",
			err:    problem.New(http.StatusGatewayTimeout, problem.CodeUpstreamTimeout, ""),
			status: 504,
			golden: `{"type":"https://github.com/shopfront/shopfront/blob/main/docs/errors.md#upstream_timeout","title":"Gateway Timeout","status":504,"detail":"A service this request depends on did not answer in time. Retry later.","instance":"urn:request:$ID","error":"upstream_timeout","requestId":"$ID"}`,
		},
		{
			name:   "ok, a spent route budget is an upstream timeout",
			err:    fmt.Errorf("running stage 2: %w", context.DeadlineExceeded),
			status: 504,
			golden: `{"type":"https://github.com/shopfront/shopfront/blob/main/docs/errors.md#upstream_timeout","title":"Gateway Timeout","status":504,"detail":"A service this request depends on did not answer in time. Retry later.","instance":"urn:request:$ID","error":"upstream_timeout","requestId":"$ID"}`,
		},
		{
			name:   "ok, a custom title and type are kept",
			err:    &problem.Problem{Type: "https://docs.shopfront.dev/errors/teapot", Title: "Out of tea", Status: 418, Code: "teapot"},
			status: 418,
			golden: `{"type":"https://docs.shopfront.dev/errors/teapot","title":"Out of tea","status":418,"instance":"urn:request:$ID","error":"teapot","requestId":"$ID"}`,
		},
		{
			name:   "ok, a wrapped problem resolves through %w",
			err:    fmt.Errorf("loading cart: %w", fmt.Errorf("reading owner: %w", problem.NotFound("no such cart"))),
			status: 404,
			golden: `{"type":"https://github.com/shopfront/shopfront/blob/main/docs/errors.md#not_found","title":"Not Found","status":404,"detail":"no such cart","instance":"urn:request:$ID","error":"not_found","requestId":"$ID"}`,
		},
		{
			name:   "ok, a wrapped Problemer resolves through %w",
			err:    fmt.Errorf("calling pricing: %w", conflictError{}),
			status: 409,
			golden: `{"type":"https://github.com/shopfront/shopfront/blob/main/docs/errors.md#conflict","title":"Conflict","status":409,"detail":"the cart changed","instance":"urn:request:$ID","error":"conflict","requestId":"$ID"}`,
		},
		{
			name:   "ok, an extension named detail never brings a detail onto a 5xx",
			err:    problem.New(http.StatusBadGateway, problem.CodeUpstreamUnavailable, "").With("detail", "pricing said: pq: password authentication failed"),
			status: 502,
			golden: `{"type":"https://github.com/shopfront/shopfront/blob/main/docs/errors.md#upstream_unavailable","title":"Bad Gateway","status":502,"detail":"A service this request depends on is unavailable. Retry later.","instance":"urn:request:$ID","error":"upstream_unavailable","requestId":"$ID"}`,
		},
		{
			name:   "ok, an extension that cannot be encoded leaves the standard members",
			err:    problem.BadRequest("bad page").With("callback", make(chan int)),
			status: 400,
			golden: `{"type":"https://github.com/shopfront/shopfront/blob/main/docs/errors.md#bad_request","title":"Bad Request","status":400,"detail":"bad page","instance":"urn:request:$ID","error":"bad_request","requestId":"$ID"}`,
		},
		{
			name:   "nok, a problem without an error status is a 500",
			err:    &problem.Problem{Code: "oops", Detail: "status forgotten"},
			status: 500,
			golden: `{"type":"https://github.com/shopfront/shopfront/blob/main/docs/errors.md#internal_error","title":"Internal Server Error","status":500,"detail":"The gateway could not handle the request.","instance":"urn:request:$ID","error":"internal_error","requestId":"$ID"}`,
		},
	}
	for i, tc := range tests {
		path := fmt.Sprintf("/golden/%d", i)
		g.fail(http.MethodGet, path, tc.err)
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id := fmt.Sprintf("golden-%02d", i)

			a := do(t, http.MethodGet, g.URL+path, id)

			assert.Equal(t, tc.status, a.status)
			assertShape(t, a, id)
			assert.JSONEq(t, strings.ReplaceAll(tc.golden, "$ID", id), string(a.body))
			for k, vs := range tc.header {
				assert.Equal(t, vs, a.header.Values(k), "header %s", k)
			}
		})
	}
}

// conflictError is a domain error that knows its problem, as upstream.Error does.
type conflictError struct{}

func (conflictError) Error() string { return "cart version mismatch" }

func (conflictError) Problem() *problem.Problem {
	return problem.New(http.StatusConflict, "conflict", "the cart changed")
}

func TestHandlerEchoHTTPError(t *testing.T) {
	t.Parallel()
	g := newGateway(t, problem.HandlerConfig{})

	tests := []struct {
		name string
		// given
		err error
		// expect
		status int
		code   string
		detail string // "" means absent
	}{
		{name: "ok, 400", err: echo.NewHTTPError(400, "missing query"), status: 400, code: "bad_request", detail: "missing query"},
		{name: "ok, 401", err: echo.ErrUnauthorized, status: 401, code: "unauthorized", detail: "Unauthorized"},
		{name: "ok, 403", err: echo.ErrForbidden, status: 403, code: "forbidden", detail: "Forbidden"},
		{name: "ok, 404", err: echo.ErrNotFound, status: 404, code: "not_found", detail: "Not Found"},
		{name: "ok, 405", err: echo.ErrMethodNotAllowed, status: 405, code: "method_not_allowed", detail: "Method Not Allowed"},
		{name: "ok, 408", err: echo.ErrRequestTimeout, status: 408, code: "request_timeout", detail: "Request Timeout"},
		{name: "ok, 409", err: echo.ErrConflict, status: 409, code: "conflict", detail: "Conflict"},
		{name: "ok, 413", err: echo.ErrStatusRequestEntityTooLarge, status: 413, code: "payload_too_large", detail: "Request Entity Too Large"},
		{name: "ok, 415", err: echo.ErrUnsupportedMediaType, status: 415, code: "unsupported_media_type", detail: "Unsupported Media Type"},
		{name: "ok, 422", err: echo.ErrUnprocessableEntity, status: 422, code: "unprocessable_content", detail: "Unprocessable Entity"},
		{name: "ok, 429", err: echo.ErrTooManyRequests, status: 429, code: "rate_limited", detail: "Too Many Requests"},
		{name: "ok, 431", err: echo.ErrRequestHeaderFieldsTooLarge, status: 431, code: "request_header_fields_too_large", detail: "Request Header Fields Too Large"},
		{name: "ok, non-string message gives no detail", err: echo.NewHTTPError(400, map[string]string{"why": "x"}), status: 400, code: "bad_request"},
		{name: "ok, 500 hides its message", err: echo.NewHTTPError(500, "db at 10.0.0.7 down"), status: 500, code: "internal_error", detail: "The gateway could not handle the request."},
		{name: "ok, 501 is internal", err: echo.NewHTTPError(501, "not built"), status: 501, code: "internal_error", detail: "The gateway could not handle the request."},
		{name: "ok, 502 is upstream unavailable", err: echo.ErrBadGateway, status: 502, code: "upstream_unavailable", detail: "A service this request depends on is unavailable. Retry later."},
		{name: "ok, 503 is upstream unavailable", err: echo.ErrServiceUnavailable, status: 503, code: "upstream_unavailable", detail: "A service this request depends on is unavailable. Retry later."},
		{name: "ok, 504 is upstream timeout", err: echo.ErrGatewayTimeout, status: 504, code: "upstream_timeout", detail: "A service this request depends on did not answer in time. Retry later."},
		{name: "ok, wrapped HTTPError", err: fmt.Errorf("binding body: %w", echo.NewHTTPError(415, "want JSON")), status: 415, code: "unsupported_media_type", detail: "want JSON"},
	}
	for i, tc := range tests {
		path := fmt.Sprintf("/echo/%d", i)
		g.fail(http.MethodGet, path, tc.err)
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id := fmt.Sprintf("echo-%02d", i)

			a := do(t, http.MethodGet, g.URL+path, id)

			assert.Equal(t, tc.status, a.status)
			m := assertShape(t, a, id)
			assert.Equal(t, tc.code, m["error"])
			if tc.detail == "" {
				assert.NotContains(t, m, "detail")
			} else {
				assert.Equal(t, tc.detail, m["detail"])
			}
		})
	}
}

func TestHandlerRouterErrors(t *testing.T) {
	t.Parallel()
	g := newGateway(t, problem.HandlerConfig{})
	g.e.GET("/only-get", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })

	tests := []struct {
		name string
		// given
		method, path string
		// expect
		status int
		code   string
	}{
		{name: "ok, unknown route is not_found", method: http.MethodGet, path: "/nowhere", status: 404, code: "not_found"},
		{name: "ok, wrong method is method_not_allowed", method: http.MethodDelete, path: "/only-get", status: 405, code: "method_not_allowed"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id := fmt.Sprintf("router-%02d", i)

			a := do(t, tc.method, g.URL+tc.path, id)

			assert.Equal(t, tc.status, a.status)
			m := assertShape(t, a, id)
			assert.Equal(t, tc.code, m["error"])
		})
	}
}

func TestHandlerTypeBase(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, base, expect string
	}{
		{name: "ok, default: the repository's catalogue", base: "",
			expect: "https://github.com/shopfront/shopfront/blob/main/docs/errors.md#rate_limited"},
		{name: "ok, a mirror of the catalogue", base: "https://developers.shopfront.dev/errors",
			expect: "https://developers.shopfront.dev/errors#rate_limited"},
		{name: "ok, a trailing slash or # is not doubled", base: "https://developers.shopfront.dev/errors/#",
			expect: "https://developers.shopfront.dev/errors#rate_limited"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := newGateway(t, problem.HandlerConfig{TypeBase: tc.base})
			g.fail(http.MethodGet, "/limited", problem.New(http.StatusTooManyRequests, problem.CodeRateLimited, "slow down"))
			id := fmt.Sprintf("typed-%d", i)

			a := do(t, http.MethodGet, g.URL+"/limited", id)

			m := assertShape(t, a, id)
			assert.Equal(t, tc.expect, m["type"])
		})
	}
}

func TestHandlerUnknownErrorIsLoggedNotShown(t *testing.T) {
	t.Parallel()
	g := newGateway(t, problem.HandlerConfig{})
	const secret = "postgres://shop:hunter2@10.0.0.7/orders"
	g.fail(http.MethodGet, "/boom", fmt.Errorf("opening %s: %w", secret, errors.New("connection refused")))

	a := do(t, http.MethodGet, g.URL+"/boom", "boom-1")

	assert.Equal(t, http.StatusInternalServerError, a.status)
	m := assertShape(t, a, "boom-1")
	assert.Equal(t, "internal_error", m["error"])
	assert.Equal(t, "The gateway could not handle the request.", m["detail"])
	assert.NotContains(t, string(a.body), "hunter2")
	assert.NotContains(t, string(a.body), "connection refused")

	entries := g.logs.FilterMessage("request failed").All()
	require.Len(t, entries, 1)
	fields := entries[0].ContextMap()
	assert.Equal(t, "boom-1", fields["requestId"])
	assert.EqualValues(t, 500, fields["status"])
	assert.Equal(t, "internal_error", fields["error"])
	assert.Contains(t, fields["cause"], "connection refused", "the cause is in the log")
}

// TestHandlerShedIsNotLoggedAsAFailure: a 503 overloaded is the gateway
// refusing work on purpose; under overload there is one per refused
// request, and a failure line for each would cost the instance what it
// has least of. Another 503 still is a failure with its cause logged.
func TestHandlerShedIsNotLoggedAsAFailure(t *testing.T) {
	t.Parallel()
	g := newGateway(t, problem.HandlerConfig{})
	g.fail(http.MethodGet, "/shed", problem.New(http.StatusServiceUnavailable, problem.CodeOverloaded, "at the limit").
		WithHeader(echo.HeaderRetryAfter, "1"))
	g.fail(http.MethodGet, "/down", problem.New(http.StatusServiceUnavailable, problem.CodeUpstreamUnavailable, "").
		Wrap(errors.New("dial catalog: connection refused")))

	shed := do(t, http.MethodGet, g.URL+"/shed", "shed-1")
	down := do(t, http.MethodGet, g.URL+"/down", "down-1")

	assert.Equal(t, http.StatusServiceUnavailable, shed.status)
	assert.Equal(t, "overloaded", assertShape(t, shed, "shed-1")["error"])
	assert.Equal(t, "1", shed.header.Get(echo.HeaderRetryAfter))
	assert.Equal(t, http.StatusServiceUnavailable, down.status)
	entries := g.logs.FilterMessage("request failed").All()
	require.Len(t, entries, 1, "only the upstream failure is logged")
	assert.Equal(t, "down-1", entries[0].ContextMap()["requestId"])
}

func TestHandlerClientClosed(t *testing.T) {
	t.Parallel()
	g := newGateway(t, problem.HandlerConfig{})
	g.fail(http.MethodGet, "/gone", fmt.Errorf("calling catalog: %w", context.Canceled))

	a := do(t, http.MethodGet, g.URL+"/gone", "gone-1")

	assert.Equal(t, problem.StatusClientClosedRequest, a.status)
	assert.Empty(t, a.body)
	assert.NotEqual(t, problem.ContentType, a.header.Get(echo.HeaderContentType))
	assert.Empty(t, g.logs.FilterMessage("request failed").All(), "a client that left is no server error")
}

func TestHandlerHeadHasNoBody(t *testing.T) {
	t.Parallel()
	g := newGateway(t, problem.HandlerConfig{})
	g.fail(http.MethodHead, "/thing", problem.NotFound("no such thing").WithHeader("Cache-Control", "no-store"))

	a := do(t, http.MethodHead, g.URL+"/thing", "head-1")

	assert.Equal(t, http.StatusNotFound, a.status)
	assert.Equal(t, problem.ContentType, a.header.Get(echo.HeaderContentType))
	assert.Equal(t, "no-store", a.header.Get("Cache-Control"))
	assert.Empty(t, a.body)
	n, ok := g.written.Load("head-1")
	require.True(t, ok)
	assert.Zero(t, n, "the renderer wrote no body bytes for HEAD")
}

func TestHandlerAfterCommitKeepsResponseAndLogs(t *testing.T) {
	t.Parallel()
	g := newGateway(t, problem.HandlerConfig{})
	g.e.GET("/stream", func(c echo.Context) error {
		if err := c.String(http.StatusOK, "partial"); err != nil {
			return err
		}
		return errors.New("writing the rest: broken pipe")
	})

	a := do(t, http.MethodGet, g.URL+"/stream", "stream-1")

	assert.Equal(t, http.StatusOK, a.status)
	assert.Equal(t, "partial", string(a.body), "nothing is appended to a committed response")
	entries := g.logs.FilterMessage("request failed").All()
	require.Len(t, entries, 1, "the late error is still logged")
	assert.Equal(t, "stream-1", entries[0].ContextMap()["requestId"])
}

// TestHandlerRendersAndLogsOnce: the access log renders an error itself and
// still returns it, so echo calls the handler twice for one request; the
// cause must be logged once and the body written once.
func TestHandlerRendersAndLogsOnce(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.DebugLevel)
	h := problem.Handler(problem.HandlerConfig{Logger: zap.New(core)})
	rec := httptest.NewRecorder()
	c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/boom", nil), rec)
	err := errors.New("boom")

	h(err, c)
	h(err, c)

	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Equal(t, 1, strings.Count(rec.Body.String(), `"error":"internal_error"`), "one body")
	assert.Equal(t, 1, logs.FilterMessage("request failed").Len(), "one log line")
}
