package server_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/shopfront/shared/edge/server"
)

// BenchmarkEdgeChain measures the fixed edge chain around a handler that
// does nothing, in process (no sockets), so the figure is the chain's own
// cost per request: recover, request id, identity strip, tracing, metrics,
// access log (to a no-op core) and limits.
func BenchmarkEdgeChain(b *testing.B) {
	b.Run("edge only", func(b *testing.B) { benchChain(b, nil) })
	// A no-op layer in each of the gateway slots: the cost of the slots
	// themselves, the Unmatched test on every request included.
	noop := func(next echo.HandlerFunc) echo.HandlerFunc { return next }
	b.Run("with slots", func(b *testing.B) {
		benchChain(b, &server.Chain{
			Pre:       []server.Layer{{Name: "pre", Middleware: noop}},
			Unmatched: []server.Layer{{Name: "unmatched", Middleware: noop}},
			Outer:     []server.Layer{{Name: "outer", Middleware: noop}},
		})
	})
}

func benchChain(b *testing.B, chain *server.Chain) {
	s, err := server.New(server.Config{Addr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0"},
		server.Options{Name: "bff-bench", Logger: zap.NewNop()})
	require.NoError(b, err)
	b.Cleanup(func() { _ = s.Close() })
	if chain != nil {
		require.NoError(b, s.Install(*chain))
	}
	s.Echo().GET("/v1/ping/:id", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
	h := s.Handler()

	req := httptest.NewRequest(http.MethodGet, "/v1/ping/42?q=x", nil)
	req.Header.Set("X-Request-Id", "bench-request-1")
	req.Header.Set("X-User-Id", "admin")
	req.Header.Set("Authorization", "Bearer abc")
	req.Header.Set("Accept", "application/json")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := req.Clone(req.Context())
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusNoContent {
			b.Fatalf("status %d", w.Code)
		}
	}
}
