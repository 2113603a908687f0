package problem_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/shopfront/shared/edge/problem"
	"github.com/shopfront/shared/edge/requestid"
)

// BenchmarkHandler measures rendering a 429, the error a gateway renders most
// often when a client misbehaves.
func BenchmarkHandler(b *testing.B) {
	e := echo.New()
	h := problem.Handler(problem.HandlerConfig{Logger: zap.NewNop()})
	req := httptest.NewRequest(http.MethodGet, "/v1/home", nil)
	req = req.WithContext(requestid.WithID(req.Context(), "bench-request-1"))
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		c := e.NewContext(req, rec)
		err := problem.New(http.StatusTooManyRequests, problem.CodeRateLimited, "slow down").
			WithHeader("Retry-After", "1")
		h(err, c)
		if rec.Code != http.StatusTooManyRequests {
			b.Fatalf("status %d", rec.Code)
		}
	}
}
