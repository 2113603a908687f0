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

// hugeExponentOrder is an order of lines whose quantity is 1e999999, padded
// with lines up to about size bytes: a number a JSON Schema library turns
// into an exact rational at great cost.
func hugeExponentOrder(size int) string {
	const line = `{"productId":"p-0001","quantity":1e999999}`
	var b strings.Builder
	b.WriteString(`{"currency":"USD","items":[`)
	for i := 0; b.Len()+len(line)+3 < size; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(line)
	}
	b.WriteString(`]}`)
	return b.String()
}

// BenchmarkHostileNumbers measures the cost of refusing orders whose
// quantities carry huge exponents: 100 lines (4 KiB) and a body at the
// 1 MiB cap.
func BenchmarkHostileNumbers(b *testing.B) {
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
	e.POST("/v2/orders", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) }, mw)
	for _, tc := range []struct {
		name string
		body string
	}{
		{"4KiB", hugeExponentOrder(4400)},
		{"1MiB", hugeExponentOrder(1 << 20)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.body)))
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/v2/orders", strings.NewReader(tc.body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Idempotency-Key", "k-1")
				rec := httptest.NewRecorder()
				e.ServeHTTP(rec, req)
				if rec.Code != http.StatusBadRequest {
					b.Fatalf("status %d: %.200s", rec.Code, rec.Body)
				}
			}
		})
	}
}
