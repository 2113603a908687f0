package accesslog_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/shopfront/shared/edge/accesslog"
	"github.com/shopfront/shared/edge/identity"
	"github.com/shopfront/shared/edge/logging"
	"github.com/shopfront/shared/edge/metrics"
	"github.com/shopfront/shared/edge/problem"
	"github.com/shopfront/shared/edge/tracing"
)

// benchEcho builds the observability part of the edge chain in the
// server's order (strip -> tracing -> metrics -> access log) around a
// trivial handler; which layers are on is chosen per benchmark.
func benchEcho(b *testing.B, strip, trace, count, access bool) *echo.Echo {
	b.Helper()
	log, err := logging.New("info", io.Discard)
	require.NoError(b, err)
	e := echo.New()
	e.HTTPErrorHandler = problem.Handler(problem.HandlerConfig{Logger: zap.NewNop()})
	if strip {
		mw, err := identity.Config{}.ToMiddleware()
		require.NoError(b, err)
		e.Use(mw)
	}
	if trace {
		tr, err := tracing.Setup(context.Background(), tracing.Config{ServiceName: "bench"})
		require.NoError(b, err)
		b.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
		mw, err := tr.Middleware()
		require.NoError(b, err)
		e.Use(mw)
	}
	if count {
		mw, err := metrics.Config{Registry: metrics.NewRegistry()}.ToMiddleware()
		require.NoError(b, err)
		e.Use(mw)
	}
	if access {
		mw, err := accesslog.Config{Logger: log}.ToMiddleware()
		require.NoError(b, err)
		e.Use(mw)
	}
	e.GET("/v1/products/:id", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	return e
}

func benchServe(b *testing.B, e *echo.Echo) {
	b.Helper()
	req := httptest.NewRequest(http.MethodGet, "/v1/products/p-17?lat=1.5&access_token=x", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	req.Header.Set("X-User-Id", "admin")
	req.Header.Set("Authorization", "Bearer abc")
	req.Header.Set("User-Agent", "bench")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		req.Header.Set("X-User-Id", "admin")
		e.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

// BenchmarkObservabilityChain measures strip + tracing + metrics + access
// log together, against the bare handler as a baseline.
func BenchmarkObservabilityChain(b *testing.B) {
	cases := []struct {
		name                        string
		strip, trace, count, access bool
	}{
		{"bare", false, false, false, false},
		{"strip", true, false, false, false},
		{"tracing", false, true, false, false},
		{"metrics", false, false, true, false},
		{"accesslog", false, false, false, true},
		{"all", true, true, true, true},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) { benchServe(b, benchEcho(b, c.strip, c.trace, c.count, c.access)) })
	}
}

// BenchmarkObservabilityChainParallel is the full chain under concurrent
// requests, where the metrics' and logger's shared state would contend.
func BenchmarkObservabilityChainParallel(b *testing.B) {
	e := benchEcho(b, true, true, true, true)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest(http.MethodGet, "/v1/products/p-17", nil)
		req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
		for pb.Next() {
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Errorf("status %d", rec.Code)
				return
			}
		}
	})
}
