package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/bff-partner/internal/app"
	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/contracts/fakes/fakestest"
	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/problem"
)

// within sends c with a client that gives up after limit, so that an answer
// proves the gateway bounded its own wait: a hung dependency shows as a
// client timeout, not as a slow test.
func (g *gw) within(limit time.Duration, c call) (reply, error) {
	req, err := http.NewRequest(c.method, g.url+c.path, strings.NewReader(c.body))
	if err != nil {
		return reply{}, err
	}
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	res, err := (&http.Client{Timeout: limit}).Do(req)
	if err != nil {
		return reply{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return reply{}, err
	}
	r := reply{status: res.StatusCode, header: res.Header, body: b}
	_ = json.Unmarshal(b, &r.json)
	return r, nil
}

// TestPartnerSilentRedis runs the gateway on a Redis that accepts
// connections and never answers: orders fail closed with a retryable 503
// before a 2 s client gives up and never reach the orders service, reads
// are served (the rate limit falls back to per-instance counters), and the
// gateway still stops at once.
func TestPartnerSilentRedis(t *testing.T) {
	t.Parallel()
	rds := edgetest.StartSilentRedis(t)
	g := startPartner(t, map[string]string{"BFF_REDIS_URL": rds.URL()})
	g.f.ResetStats()

	var wg sync.WaitGroup
	replies := make([]reply, 4)
	errs := make([]error, len(replies))
	for i := range replies {
		wg.Go(func() {
			replies[i], errs[i] = g.within(2*time.Second, call{method: "POST", path: "/v2/orders", body: order,
				header: with(key(keyFull), "Idempotency-Key", "silent-"+string(rune('a'+i)))})
		})
	}
	wg.Wait()
	for i, r := range replies {
		require.NoError(t, errs[i], "answered before the 2 s client timeout")
		assert.Equal(t, http.StatusServiceUnavailable, r.status, string(r.body))
		assert.Equal(t, problem.CodeUpstreamUnavailable, r.code())
		assert.NotEmpty(t, r.header.Get("Retry-After"))
	}
	assert.Zero(t, g.f.Requests(domain.ServiceOrders), "no order without a stored key")

	r, err := g.within(2*time.Second, call{method: "GET", path: "/v2/products?pageSize=2", header: key(keyFull)})
	require.NoError(t, err, "answered before the 2 s client timeout")
	assert.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.NotEmpty(t, r.header.Get("X-RateLimit-Limit"), "limited by the per-instance fallback")
	assert.Positive(t, rds.Accepted(), "the gateway did reach the silent Redis")

	stopped := make(chan struct{})
	go func() { g.stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("the gateway did not stop: something still waits on the silent Redis")
	}
}

// TestIdempotencyOnItsOwnRedis: with BFF_PARTNER_IDEMPOTENCY_REDIS_URL the
// records live in that Redis only, away from the shared one's rate limits
// (and whatever else may fill and evict it).
func TestIdempotencyOnItsOwnRedis(t *testing.T) {
	t.Parallel()
	shared, own := edgetest.StartRedis(t), edgetest.StartRedis(t)
	g := startPartner(t, map[string]string{"BFF_REDIS_URL": shared.URL(), "BFF_PARTNER_IDEMPOTENCY_REDIS_URL": own.URL()})
	h := with(key(keyFull), "Idempotency-Key", "own-redis")
	first := g.do(call{method: "POST", path: "/v2/orders", route: "/v2/orders", body: order, header: h})
	require.Equal(t, http.StatusCreated, first.status, string(first.body))
	again := g.do(call{method: "POST", path: "/v2/orders", route: "/v2/orders", body: order, header: h})
	assert.Equal(t, "true", again.header.Get("Idempotent-Replayed"))

	keys := func(r *edgetest.Redis) []string {
		rdb := redis.NewClient(&redis.Options{Addr: r.Addr})
		defer rdb.Close()
		ks, err := rdb.Keys(context.Background(), "*idem*").Result()
		require.NoError(t, err)
		return ks
	}
	assert.NotEmpty(t, keys(own), "the record is in the idempotency Redis")
	assert.Empty(t, keys(shared), "and not in the shared one")
}

// TestOpenRoutesAreRateLimited: the documents need no credentials but are
// charged to the client IP's anonymous limit (burst 30), like any other
// anonymous request.
func TestOpenRoutesAreRateLimited(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"/openapi.json", "/docs", "/docs/assets/redoc.standalone.js"} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			// A clock that stands still: the bucket never refills, however
			// long the downloads take on a loaded machine.
			frozen := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			f, base := fakestest.Start(t)
			g := startPartnerWithOptions(t, f, base, nil, app.Options{Now: func() time.Time { return frozen }})
			var last reply
			for range 40 {
				if last = g.do(call{method: "GET", path: path}); last.status == http.StatusTooManyRequests {
					break
				}
				require.Equal(t, http.StatusOK, last.status)
				assert.NotEmpty(t, last.header.Get("X-RateLimit-Limit"))
			}
			assert.Equal(t, http.StatusTooManyRequests, last.status, "40 requests within the burst of 30")
			assert.Equal(t, problem.CodeRateLimited, last.code())
			assert.NotEmpty(t, last.header.Get("Retry-After"))
		})
	}
}
