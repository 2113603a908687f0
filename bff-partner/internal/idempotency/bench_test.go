package idempotency_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/shopfront/bff-partner/internal/idempotency"
)

// BenchmarkReplay measures answering a retry from the in-process store:
// fingerprinting the body and replaying the stored response.
func BenchmarkReplay(b *testing.B) {
	store, err := idempotency.NewMemoryStore(idempotency.MemoryConfig{})
	if err != nil {
		b.Fatal(err)
	}
	mw, err := idempotency.Config{Store: store, Scope: func(echo.Context) (string, error) { return "acme", nil }}.ToMiddleware()
	if err != nil {
		b.Fatal(err)
	}
	e := echo.New()
	e.POST("/v2/orders", func(c echo.Context) error {
		return c.JSONBlob(http.StatusCreated, []byte(`{"id":"o-00001","status":"pending"}`))
	}, mw)
	send := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/v2/orders",
			strings.NewReader(`{"items":[{"productId":"p-0001","quantity":2}],"currency":"USD"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(idempotency.HeaderKey, "bench")
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		return rec
	}
	send()
	b.ReportAllocs()
	for b.Loop() {
		if rec := send(); rec.Header().Get(idempotency.HeaderReplayed) != "true" {
			b.Fatalf("not replayed: %d %s", rec.Code, rec.Body)
		}
	}
}
