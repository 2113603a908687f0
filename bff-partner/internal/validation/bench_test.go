package validation_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/shopfront/bff-partner/internal/validation"
	"github.com/shopfront/contracts/public"
	"github.com/shopfront/shared/edge/problem"
)

// BenchmarkValidate measures the per-request cost of checking a valid order
// and a valid product query against the partner document.
func BenchmarkValidate(b *testing.B) {
	doc, err := public.Load(context.Background(), "partner.yaml")
	if err != nil {
		b.Fatal(err)
	}
	mw, err := validation.Config{Document: doc}.ToMiddleware()
	if err != nil {
		b.Fatal(err)
	}
	e := echo.New()
	e.HTTPErrorHandler = problem.Handler(problem.HandlerConfig{Logger: zap.NewNop()})
	ok := func(c echo.Context) error { return c.NoContent(http.StatusNoContent) }
	e.POST("/v2/orders", ok, mw)
	e.GET("/v2/products", ok, mw)
	const body = `{"items":[{"productId":"p-0001","quantity":2},{"productId":"p-0002","quantity":1}],"currency":"USD"}`
	b.Run("order", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			req := httptest.NewRequest(http.MethodPost, "/v2/orders", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", "k-1")
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Code != http.StatusNoContent {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	})
	// An invalid order takes kin-openapi's path, which compiles the schemas
	// on every call: what every request cost before the compiled fast path.
	b.Run("invalid-order", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			req := httptest.NewRequest(http.MethodPost, "/v2/orders",
				strings.NewReader(`{"items":[{"productId":"p-0001","quantity":0}],"currency":"USD"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", "k-1")
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Code != http.StatusBadRequest {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	})
	b.Run("query", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v2/products?category=kitchen&page=2&pageSize=50", nil))
			if rec.Code != http.StatusNoContent {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	})
}
