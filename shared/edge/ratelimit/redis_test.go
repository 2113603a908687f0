package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/ratelimit"
)

func redisLimiter(t *testing.T, cfg ratelimit.LimiterConfig) (*ratelimit.Limiter, echo.MiddlewareFunc) {
	t.Helper()
	lim, err := ratelimit.New(cfg)
	require.NoError(t, err)
	mw, err := ratelimit.Config{Limiter: lim, Policy: ratelimit.PerPartner(func(string) ratelimit.Limit {
		// A slow rate keeps the test independent of scheduling: no token
		// comes back within the test, so only the burst is admitted.
		return ratelimit.Limit{Rate: 6, Burst: 20}
	})}.ToMiddleware()
	require.NoError(t, err)
	return lim, mw
}

// client is a Redis client of rd as the gateways make theirs: no retries,
// each call bounded by its context.
func client(t testing.TB, rd *edgetest.Redis) redis.UniversalClient {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: rd.Addr, MaxRetries: -1, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestRedisSharesBucketsAcrossInstances(t *testing.T) {
	t.Parallel()
	rd := edgetest.StartRedis(t)
	_, mwA := redisLimiter(t, ratelimit.LimiterConfig{Redis: client(t, rd), Prefix: "bff-partner:"})
	_, mwB := redisLimiter(t, ratelimit.LimiterConfig{Redis: client(t, rd), Prefix: "bff-partner:"})
	a, b := server(t, asPrincipal, mwA), server(t, asPrincipal, mwB)
	key := map[string]string{"X-Test-User": "acme", "X-Test-Partner": "acme", "X-Test-Key": "acme-1"}

	allowed := 0
	for i := range 40 {
		url := a
		if i%2 == 1 {
			url = b
		}
		r := get(t, url, key)
		require.Contains(t, []int{200, 429}, r.status)
		if r.status == 200 {
			allowed++
		}
	}
	assert.Equal(t, 20, allowed, "two instances admit the plan's burst once in total")

	// The shared bucket also shows in the headers of either instance.
	r := get(t, a, key)
	assert.Equal(t, 429, r.status)
	assert.Equal(t, "0", r.header.Get("X-RateLimit-Remaining"))
	assert.Equal(t, "6", r.header.Get("X-RateLimit-Limit"))
	assert.NotEmpty(t, r.header.Get("Retry-After"))
}

func TestRedisOutageFallsBackAndRecovers(t *testing.T) {
	t.Parallel()
	rd := edgetest.StartRedis(t)
	core, logs := observer.New(zapcore.InfoLevel)
	reg := prometheus.NewRegistry()
	lim, mw := redisLimiter(t, ratelimit.LimiterConfig{
		Redis: client(t, rd), RetryRedisAfter: 50 * time.Millisecond, Logger: zap.New(core), Registry: reg,
	})
	url := server(t, asPrincipal, mw)
	key := map[string]string{"X-Test-User": "acme", "X-Test-Partner": "acme", "X-Test-Key": "acme-1"}
	ctx := context.Background()

	for range 5 {
		require.Equal(t, 200, get(t, url, key).status)
	}
	require.NoError(t, lim.Status(ctx))

	rd.Stop()
	statuses := map[int]int{}
	for range 30 {
		r := get(t, url, key)
		statuses[r.status]++
		assert.NotEmpty(t, r.header.Get("X-RateLimit-Remaining"))
	}
	assert.Equal(t, map[int]int{200: 20, 429: 10}, statuses,
		"no 500 while Redis is down, and the per-instance bucket still limits")
	assert.ErrorIs(t, lim.Status(ctx), ratelimit.ErrRedisUnavailable)
	assert.Equal(t, 30.0, counter(t, reg, "shopfront_ratelimit_fallback_total"))
	assert.Equal(t, 1, logs.FilterLevelExact(zapcore.ErrorLevel).Len(), "one log line per outage, not per request")

	rd.Restart(t)
	// The readiness report recovers by itself, without traffic.
	require.Eventually(t, func() bool { return lim.Status(ctx) == nil }, 10*time.Second, 60*time.Millisecond)
	assert.Equal(t, 1, logs.FilterMessage("rate limiting shared through redis again").Len())

	// Decisions are in Redis again: the restarted (empty) server has a fresh
	// bucket for the key, so the request passes and its key is there.
	require.Equal(t, 200, get(t, url, key).status)
	assert.Equal(t, 30.0, counter(t, reg, "shopfront_ratelimit_fallback_total"), "no fallback after recovery")
	client := redis.NewClient(&redis.Options{Addr: rd.Addr})
	defer client.Close()
	n, err := client.Exists(ctx, "rate:shopfront:partner:acme:key:acme-1").Result()
	require.NoError(t, err)
	assert.Equal(t, int64(1), n)
}
