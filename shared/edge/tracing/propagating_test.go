package tracing_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/shopfront/shared/edge/accesslog"
	"github.com/shopfront/shared/edge/problem"
	"github.com/shopfront/shared/edge/tracing"
	"github.com/shopfront/shared/edge/upstream"
)

// gatewayCall is what one request through a gateway-like app showed: the
// traceparent its upstream call carried and the trace id of its access
// line.
type gatewayCall struct {
	upstreamTraceparent string
	loggedTraceID       string
}

// callThroughGateway serves the tracing middleware and the access log in
// front of a handler that calls an upstream with the upstream client, wired
// as a gateway wires them (client spans only when spans are recorded), and
// makes one request carrying traceparent.
func callThroughGateway(t *testing.T, tr *tracing.Tracing, traceparent string) gatewayCall {
	t.Helper()
	seen := make(chan string, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Get("traceparent")
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(up.Close)
	var clientSpans trace.TracerProvider
	if tr.Recording() {
		clientSpans = tr.Provider
	}
	client, err := upstream.New("catalog", upstream.Config{BaseURL: up.URL},
		upstream.Options{TracerProvider: clientSpans, Propagator: tr.Propagator})
	require.NoError(t, err)
	t.Cleanup(client.Close)

	core, logs := observer.New(zap.InfoLevel)
	e := echo.New()
	e.HTTPErrorHandler = problem.Handler(problem.HandlerConfig{Logger: zap.NewNop()})
	mw, err := tr.Middleware()
	require.NoError(t, err)
	al, err := accesslog.Config{Logger: zap.New(core)}.ToMiddleware()
	require.NoError(t, err)
	e.Use(mw, al)
	e.GET("/v1/products/:id", func(c echo.Context) error {
		if err := client.Get(c.Request().Context(), "/products/"+c.Param("id"), nil, nil); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/v1/products/p-1", nil)
	require.NoError(t, err)
	if traceparent != "" {
		req.Header.Set("traceparent", traceparent)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusNoContent, resp.StatusCode)

	got := gatewayCall{upstreamTraceparent: <-seen}
	lines := logs.FilterMessage("request").All()
	require.Len(t, lines, 1)
	got.loggedTraceID, _ = lines[0].ContextMap()["traceId"].(string)
	return got
}

func TestWithoutExporterNothingIsRecordedYetTraceContextFlows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		traceparent string
		sampler     string
		expectTrace string // "" means a new one
		expectFlag  string
	}{
		{name: "ok, an incoming trace is continued", traceparent: traceparent, expectTrace: incomingTraceID, expectFlag: "01"},
		{name: "ok, a request without one starts a trace", expectFlag: "01"},
		{name: "ok, the sampler still sets the flag", traceparent: traceparent, sampler: tracing.SamplerParentBasedAlwaysOff, expectTrace: incomingTraceID, expectFlag: "00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr, err := tracing.Setup(context.Background(), tracing.Config{ServiceName: "bff-test", Sampler: tt.sampler})
			require.NoError(t, err)
			assert.False(t, tr.Recording())
			_, isSDK := tr.Provider.(*sdktrace.TracerProvider)
			assert.False(t, isSDK, "no SDK provider when nothing is exported")

			got := callThroughGateway(t, tr, tt.traceparent)
			parts := strings.Split(got.upstreamTraceparent, "-")
			require.Len(t, parts, 4, "the upstream call carries a traceparent: %q", got.upstreamTraceparent)
			if tt.expectTrace != "" {
				assert.Equal(t, tt.expectTrace, parts[1])
			}
			assert.True(t, mustHex16(t, parts[1]).IsValid())
			assert.NotEqual(t, incomingSpanID, parts[2], "the gateway's own span id is propagated")
			assert.Equal(t, tt.expectFlag, parts[3])
			assert.Equal(t, parts[1], got.loggedTraceID, "the access line names the propagated trace")
			assert.NoError(t, tr.Shutdown(context.Background()))
		})
	}
}

func TestWithoutExporterASpanCostsAContextOnly(t *testing.T) {
	tr, err := tracing.Setup(context.Background(), tracing.Config{ServiceName: "bff-test"})
	require.NoError(t, err)
	tracer := tr.Provider.Tracer(tracing.ScopeName)
	parent := trace.ContextWithRemoteSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: mustHex16(t, incomingTraceID), SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled, Remote: true,
	}))
	var span trace.Span
	allocs := testing.AllocsPerRun(100, func() {
		_, span = tracer.Start(parent, "")
		span.End()
	})
	assert.False(t, span.IsRecording())
	assert.LessOrEqual(t, allocs, 2.0, "a context value and its span, nothing of the SDK")
}

func TestWithExporterSpansAreExported(t *testing.T) {
	t.Parallel()
	r := startReceiver(t)
	tr, err := tracing.Setup(context.Background(), tracing.Config{ServiceName: "bff-test", Endpoint: r.url})
	require.NoError(t, err)
	assert.True(t, tr.Recording())

	got := callThroughGateway(t, tr, traceparent)
	parts := strings.Split(got.upstreamTraceparent, "-")
	require.Len(t, parts, 4)
	assert.Equal(t, incomingTraceID, parts[1])
	assert.Equal(t, incomingTraceID, got.loggedTraceID)
	require.NoError(t, tr.Shutdown(context.Background()), "shutdown flushes the batch")
	_, spans := r.resource()
	assert.ElementsMatch(t, []string{"GET /v1/products/:id", "catalog GET"}, spans,
		"the server span and a client span per upstream call")
}

func mustHex16(t *testing.T, s string) trace.TraceID {
	t.Helper()
	id, err := trace.TraceIDFromHex(s)
	require.NoError(t, err)
	return id
}
