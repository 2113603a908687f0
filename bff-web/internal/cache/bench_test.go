package cache_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/bff-web/internal/cache"
	"github.com/shopfront/shared/edge/edgetest"
)

// BenchmarkServe measures one anonymous request through the cache
// middleware: a HIT served from the store, against the same request
// rendered by the handler each time (what the cache saves is the fan-out
// itself, which this handler does not have).
func BenchmarkServe(b *testing.B) {
	body := []byte(strings.Repeat(`{"productId":"p-0001","name":"Smart Blanket","price":{"amount":1999,"currency":"USD"}},`, 40))
	handler := func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "public, max-age=30, stale-while-revalidate=60")
		return c.Blob(http.StatusOK, "application/json", body)
	}
	run := func(b *testing.B, store cache.Store) {
		c, err := cache.New(cache.Config{Store: store})
		require.NoError(b, err)
		e := echo.New()
		e.GET("/v1/catalog", handler, c.Middleware(cache.Route{Query: []string{"q", "page"}}))
		serve := func() {
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/catalog?q=blanket&page=1", nil))
			if rec.Code != http.StatusOK {
				b.Fatal(rec.Code)
			}
		}
		serve() // Fill.
		b.ReportAllocs()
		for b.Loop() {
			serve()
		}
	}
	b.Run("hit/memory", func(b *testing.B) {
		s, err := cache.NewMemory(cache.MemoryConfig{})
		require.NoError(b, err)
		run(b, s)
	})
	b.Run("hit/redis", func(b *testing.B) {
		r := edgetest.StartRedis(b)
		run(b, cache.NewRedis(redisClientB(b, r.URL()), ""))
	})
	b.Run("uncached", func(b *testing.B) {
		e := echo.New()
		e.GET("/v1/catalog", handler)
		b.ReportAllocs()
		for b.Loop() {
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/catalog?q=blanket&page=1", nil))
		}
	})
}
