package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/shopfront/shared/edge/server"
)

// TestTracingInChain proves the chain continues an incoming W3C trace: the
// server span joins the caller's trace, is named after the route template,
// and the access line carries the same trace id.
func TestTracingInChain(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	core, logs := observer.New(zap.InfoLevel)
	s := start(t, server.Config{}, server.Options{Logger: zap.New(core), TracerProvider: tp}, func(e *echo.Echo) {
		e.GET("/items/:id", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
	})

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	resp, err := http.DefaultClient.Do(newReq(t, http.MethodGet, s.url("/items/7"), map[string]string{
		"traceparent": "00-" + traceID + "-00f067aa0ba902b7-01",
	}))
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)

	require.Eventually(t, func() bool { return len(rec.Ended()) == 1 }, 10*time.Second, 10*time.Millisecond)
	span := rec.Ended()[0]
	assert.Equal(t, traceID, span.SpanContext().TraceID().String())
	assert.Equal(t, "00f067aa0ba902b7", span.Parent().SpanID().String())
	assert.Equal(t, "GET /items/:id", span.Name())

	require.Eventually(t, func() bool { return logs.FilterMessage("request").Len() == 1 }, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, traceID, logs.FilterMessage("request").All()[0].ContextMap()["traceId"])
}
