package tracing_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/shopfront/shared/edge/accesslog"
	"github.com/shopfront/shared/edge/problem"
	"github.com/shopfront/shared/edge/tracing"
)

const (
	incomingTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	incomingSpanID  = "00f067aa0ba902b7"
	traceparent     = "00-" + incomingTraceID + "-" + incomingSpanID + "-01"
)

type seenUpstream struct {
	traceparent, tracestate, baggage string
}

type fixture struct {
	url      string
	recorder *tracetest.SpanRecorder
	upstream chan seenUpstream
}

// newFixture serves an app whose /v1/home handler calls an upstream the way
// the upstream client does: the propagator injects the request context.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{recorder: tracetest.NewSpanRecorder(), upstream: make(chan seenUpstream, 1)}
	tr, err := tracing.Setup(context.Background(), tracing.Config{
		ServiceName: "bff-test", SpanProcessors: []sdktrace.SpanProcessor{f.recorder},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })

	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.upstream <- seenUpstream{r.Header.Get("traceparent"), r.Header.Get("tracestate"), r.Header.Get("baggage")}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(up.Close)

	e := echo.New()
	e.HTTPErrorHandler = problem.Handler(problem.HandlerConfig{Logger: zap.NewNop()})
	mw, err := tr.Middleware()
	require.NoError(t, err)
	al, err := accesslog.Config{Logger: zap.NewNop()}.ToMiddleware()
	require.NoError(t, err)
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		DisablePrintStack: true,
		LogErrorFunc:      func(_ echo.Context, err error, _ []byte) error { return err },
	}))
	e.Use(mw, al)
	e.GET("/v1/home", func(c echo.Context) error {
		req, err := http.NewRequestWithContext(c.Request().Context(), http.MethodGet, up.URL, nil)
		if err != nil {
			return err
		}
		tr.Propagator.Inject(req.Context(), propagation.HeaderCarrier(req.Header))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		res.Body.Close()
		return c.String(http.StatusOK, "home")
	})
	e.GET("/v1/secure", func(c echo.Context) error { return problem.Unauthorized("no credentials") })
	e.GET("/v1/panic", func(c echo.Context) error { panic("nil map") })
	e.GET("/v1/boom", func(c echo.Context) error { return errors.New("boom at https://internal/secret?token=abc") })
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

func (f *fixture) get(t *testing.T, method, path string, header map[string]string) int {
	t.Helper()
	req, err := http.NewRequest(method, f.url+path, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

func TestIncomingTraceIsContinuedAndPropagated(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	status := f.get(t, http.MethodGet, "/v1/home", map[string]string{
		"traceparent": traceparent, "tracestate": "vendor=opaque", "baggage": "tenant=t1",
	})
	require.Equal(t, http.StatusOK, status)

	spans := f.recorder.Ended()
	require.Len(t, spans, 1)
	s := spans[0]
	assert.Equal(t, "GET /v1/home", s.Name())
	assert.Equal(t, trace.SpanKindServer, s.SpanKind())
	assert.Equal(t, incomingTraceID, s.SpanContext().TraceID().String(), "the caller's trace is continued")
	assert.Equal(t, incomingSpanID, s.Parent().SpanID().String())
	assert.True(t, s.Parent().IsRemote())
	assert.Equal(t, "vendor=opaque", s.SpanContext().TraceState().String())
	a := attrs(s)
	assert.Equal(t, int64(200), a["http.response.status_code"].AsInt64())
	assert.Equal(t, "/v1/home", a["http.route"].AsString())
	assert.Equal(t, "GET", a["http.request.method"].AsString())
	assert.Equal(t, "127.0.0.1", a["client.address"].AsString())
	assert.Equal(t, codes.Unset, s.Status().Code)
	assert.Equal(t, "bff-test", resourceServiceName(s))

	up := <-f.upstream
	tp, err := trace.ParseTraceState("vendor=opaque") // sanity: the state parses
	require.NoError(t, err)
	assert.Equal(t, "00-"+incomingTraceID+"-"+s.SpanContext().SpanID().String()+"-01", up.traceparent,
		"the upstream call is a child of the server span")
	assert.Equal(t, tp.String(), up.tracestate)
	assert.Empty(t, up.baggage, "client baggage never crosses the trust boundary")
}

func resourceServiceName(s sdktrace.ReadOnlySpan) string {
	for _, kv := range s.Resource().Attributes() {
		if kv.Key == "service.name" {
			return kv.Value.AsString()
		}
	}
	return ""
}

func TestServerSpans(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		method, path string
		header       map[string]string
		expectStatus int
		expectName   string
		expectCode   codes.Code
		expectRoute  string
	}{
		{name: "ok, no traceparent starts a new trace", method: http.MethodGet, path: "/v1/home", expectStatus: 200, expectName: "GET /v1/home", expectCode: codes.Unset, expectRoute: "/v1/home"},
		{name: "ok, invalid traceparent starts a new trace", method: http.MethodGet, path: "/v1/home", header: map[string]string{"traceparent": "00-zzzz-1-01"}, expectStatus: 200, expectName: "GET /v1/home", expectCode: codes.Unset, expectRoute: "/v1/home"},
		{name: "nok, 401 is not a span error", method: http.MethodGet, path: "/v1/secure", expectStatus: 401, expectName: "GET /v1/secure", expectCode: codes.Unset, expectRoute: "/v1/secure"},
		{name: "nok, 500 is a span error", method: http.MethodGet, path: "/v1/boom", expectStatus: 500, expectName: "GET /v1/boom", expectCode: codes.Error, expectRoute: "/v1/boom"},
		{name: "nok, panic is a span error", method: http.MethodGet, path: "/v1/panic", expectStatus: 500, expectName: "GET /v1/panic", expectCode: codes.Error, expectRoute: "/v1/panic"},
		{name: "nok, unmatched route is named by method only", method: http.MethodGet, path: "/nope/42", expectStatus: 404, expectName: "GET", expectCode: codes.Unset},
		{name: "nok, unknown method is _OTHER", method: "BREW", path: "/v1/home", expectStatus: 405, expectName: "_OTHER", expectCode: codes.Unset},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			require.Equal(t, tt.expectStatus, f.get(t, tt.method, tt.path, tt.header))
			if tt.expectStatus == http.StatusOK {
				<-f.upstream
			}
			spans := f.recorder.Ended()
			require.Len(t, spans, 1)
			s := spans[0]
			assert.Equal(t, tt.expectName, s.Name())
			assert.True(t, s.SpanContext().IsValid())
			assert.False(t, s.Parent().IsValid(), "a root span")
			assert.NotEqual(t, incomingTraceID, s.SpanContext().TraceID().String())
			a := attrs(s)
			assert.Equal(t, int64(tt.expectStatus), a["http.response.status_code"].AsInt64())
			assert.Equal(t, tt.expectCode, s.Status().Code)
			assert.Equal(t, tt.expectRoute, a["http.route"].AsString())
			if tt.expectCode == codes.Error {
				assert.Contains(t, []string{"internal_error", "panic"}, s.Status().Description)
				for _, kv := range s.Attributes() {
					assert.NotContains(t, kv.Value.Emit(), "token=abc")
				}
			}
		})
	}
}

func TestMiddlewareConfig(t *testing.T) {
	t.Parallel()
	_, err := tracing.MiddlewareConfig{}.ToMiddleware()
	assert.ErrorContains(t, err, "TracerProvider is required")
}
