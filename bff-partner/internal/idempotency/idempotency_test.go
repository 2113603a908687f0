package idempotency_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/shopfront/bff-partner/internal/idempotency"
	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/problem"
)

// orders is a real HTTP upstream that creates an order per POST, slowly
// enough for concurrent retries to overlap, or fails while fail is set.
// While hold is open every POST waits for it to be closed.
type orders struct {
	srv   *httptest.Server
	posts atomic.Int64
	fail  atomic.Bool
	hold  chan struct{}
}

func newOrders(t *testing.T, delay time.Duration) *orders {
	t.Helper()
	return startOrders(t, delay, nil)
}

func startOrders(t *testing.T, delay time.Duration, hold chan struct{}) *orders {
	t.Helper()
	o := &orders{hold: hold}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := o.posts.Add(1)
		time.Sleep(delay)
		if o.hold != nil {
			<-o.hold
		}
		if o.fail.Load() {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = fmt.Fprintf(w, `{"id":"o-%d","request":%s}`, n, body)
	}))
	t.Cleanup(o.srv.Close)
	return o
}

// heldOrders is an upstream whose POSTs wait until release is called
// (at the latest when the test ends).
func heldOrders(t *testing.T) (*orders, func()) {
	t.Helper()
	hold := make(chan struct{})
	o := startOrders(t, 0, hold)
	var once sync.Once
	release := func() { once.Do(func() { close(hold) }) }
	t.Cleanup(release) // runs before the server's Close, which waits for held requests.
	return o, release
}

// gateway is one instance: the middleware in front of a handler that
// forwards the order to the upstream.
func gateway(t *testing.T, store idempotency.Store, up *orders, wait time.Duration) *httptest.Server {
	t.Helper()
	mw, err := idempotency.Config{
		Store: store,
		Scope: func(c echo.Context) (string, error) { return c.Request().Header.Get("X-Test-Partner"), nil },
		Wait:  wait,
	}.ToMiddleware()
	require.NoError(t, err)
	e := echo.New()
	e.HTTPErrorHandler = problem.Handler(problem.HandlerConfig{Logger: zap.NewNop()})
	e.POST("/v2/orders", func(c echo.Context) error {
		res, err := http.Post(up.srv.URL, "application/json", c.Request().Body)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		if res.StatusCode >= 500 {
			return problem.New(http.StatusBadGateway, problem.CodeUpstreamUnavailable, "")
		}
		b, _ := io.ReadAll(res.Body)
		return c.Blob(res.StatusCode, echo.MIMEApplicationJSON, b)
	}, mw)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv
}

type result struct {
	status     int
	replayed   string
	body       string
	code       string
	retryAfter string
}

// post sends an order. It may run in a goroutine, so it checks with
// assert, never require, and returns the zero result on failure.
func post(t *testing.T, url, partner, key, body string) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/v2/orders", strings.NewReader(body))
	if !assert.NoError(t, err) {
		return result{}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Test-Partner", partner)
	if key != "" {
		req.Header.Set(idempotency.HeaderKey, key)
	}
	res, err := http.DefaultClient.Do(req)
	if !assert.NoError(t, err) {
		return result{}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if !assert.NoError(t, err) {
		return result{}
	}
	var p struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(b, &p)
	return result{status: res.StatusCode, replayed: res.Header.Get(idempotency.HeaderReplayed), body: string(b), code: p.Error,
		retryAfter: res.Header.Get("Retry-After")}
}

// redisStore is idempotency.NewRedisStore that fails the test on error.
func redisStore(t *testing.T, rdb redis.UniversalClient, cfg idempotency.RedisConfig) idempotency.Store {
	t.Helper()
	s, err := idempotency.NewRedisStore(rdb, cfg)
	require.NoError(t, err)
	return s
}

// stores runs a test over every store implementation.
func stores(t *testing.T, test func(t *testing.T, newStore func() idempotency.Store)) {
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		test(t, func() idempotency.Store {
			s, err := idempotency.NewMemoryStore(idempotency.MemoryConfig{})
			require.NoError(t, err)
			return s
		})
	})
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		r := edgetest.StartRedis(t)
		test(t, func() idempotency.Store {
			rdb := redis.NewClient(&redis.Options{Addr: r.Addr})
			t.Cleanup(func() { _ = rdb.Close() })
			return redisStore(t, rdb, idempotency.RedisConfig{Prefix: "test:idem:"})
		})
	})
}

const order = `{"items":[{"productId":"p-1","quantity":2}],"currency":"USD"}`

func TestReplayAndReuse(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, newStore func() idempotency.Store) {
		up := newOrders(t, 0)
		gw := gateway(t, newStore(), up, 0)

		first := post(t, gw.URL, "acme", "k-1", order)
		require.Equal(t, http.StatusCreated, first.status)
		assert.Empty(t, first.replayed)

		// Same JSON, other bytes: keys reordered, whitespace, 2.0 for 2.
		again := post(t, gw.URL, "acme", "k-1", ` { "currency" : "USD", "items" : [ { "quantity" : 2.0, "productId" : "p-1" } ] } `)
		assert.Equal(t, http.StatusCreated, again.status)
		assert.Equal(t, "true", again.replayed)
		assert.Equal(t, first.body, again.body, "the first response again")
		assert.EqualValues(t, 1, up.posts.Load())

		other := post(t, gw.URL, "acme", "k-1", `{"items":[{"productId":"p-1","quantity":3}],"currency":"USD"}`)
		assert.Equal(t, http.StatusUnprocessableEntity, other.status)
		assert.Equal(t, problem.CodeIdempotencyKeyReused, other.code)
		assert.EqualValues(t, 1, up.posts.Load(), "a reused key changes nothing")

		// Keys are scoped per partner.
		globex := post(t, gw.URL, "globex", "k-1", order)
		assert.Equal(t, http.StatusCreated, globex.status)
		assert.Empty(t, globex.replayed)
		assert.NotEqual(t, first.body, globex.body)
		assert.EqualValues(t, 2, up.posts.Load())

		missing := post(t, gw.URL, "acme", "", order)
		assert.Equal(t, http.StatusBadRequest, missing.status)
		assert.Equal(t, problem.CodeValidationFailed, missing.code)
		assert.EqualValues(t, 2, up.posts.Load())
	})
}

func TestConcurrentRetriesReachUpstreamOnce(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, newStore func() idempotency.Store) {
		up := newOrders(t, 200*time.Millisecond)
		gw := gateway(t, newStore(), up, 0)
		results := make([]result, 20)
		var wg sync.WaitGroup
		for i := range results {
			wg.Go(func() { results[i] = post(t, gw.URL, "acme", "same-key", order) })
		}
		wg.Wait()
		assert.EqualValues(t, 1, up.posts.Load(), "exactly one POST reaches the orders service")
		replayed := 0
		for _, r := range results {
			assert.Equal(t, http.StatusCreated, r.status)
			assert.Equal(t, results[0].body, r.body, "every caller gets the same order")
			if r.replayed == "true" {
				replayed++
			}
		}
		assert.Equal(t, 19, replayed)
		assert.Contains(t, results[0].body, `"id":"o-1"`)
	})
}

func TestFailedAttemptReleasesTheKey(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, newStore func() idempotency.Store) {
		up := newOrders(t, 0)
		gw := gateway(t, newStore(), up, 0)
		up.fail.Store(true)
		failed := post(t, gw.URL, "acme", "k-retry", order)
		assert.Equal(t, http.StatusBadGateway, failed.status)
		up.fail.Store(false)
		retry := post(t, gw.URL, "acme", "k-retry", order)
		assert.Equal(t, http.StatusCreated, retry.status)
		assert.Empty(t, retry.replayed, "the retry ran, it was not a replay of the failure")
		assert.EqualValues(t, 2, up.posts.Load())
	})
}

func TestWaitIsBounded(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, newStore func() idempotency.Store) {
		up, release := heldOrders(t)
		gw := gateway(t, newStore(), up, 100*time.Millisecond)
		done := make(chan result, 1)
		go func() { done <- post(t, gw.URL, "acme", "slow", order) }()
		// Once it reached the upstream, the first request holds the key,
		// and keeps it until released.
		require.Eventually(t, func() bool { return up.posts.Load() == 1 }, 5*time.Second, 5*time.Millisecond)
		dup := post(t, gw.URL, "acme", "slow", order)
		assert.Equal(t, http.StatusConflict, dup.status)
		assert.Equal(t, idempotency.CodeInFlight, dup.code)
		release()
		assert.Equal(t, http.StatusCreated, (<-done).status)
		assert.EqualValues(t, 1, up.posts.Load())
	})
}

// TestTwoInstancesShareRedis proves the Redis store makes concurrent
// retries spread over two gateway instances reach the orders service once.
func TestTwoInstancesShareRedis(t *testing.T) {
	t.Parallel()
	r := edgetest.StartRedis(t)
	up := newOrders(t, 200*time.Millisecond)
	var gws []*httptest.Server
	for range 2 {
		rdb := redis.NewClient(&redis.Options{Addr: r.Addr})
		t.Cleanup(func() { _ = rdb.Close() })
		gws = append(gws, gateway(t, redisStore(t, rdb, idempotency.RedisConfig{Prefix: "sf:idem:"}), up, 0))
	}
	results := make([]result, 20)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() { results[i] = post(t, gws[i%2].URL, "acme", "shared", order) })
	}
	wg.Wait()
	assert.EqualValues(t, 1, up.posts.Load())
	for _, res := range results {
		assert.Equal(t, http.StatusCreated, res.status)
		assert.Equal(t, results[0].body, res.body)
	}
}

func TestMemoryRecordsExpire(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	store, err := idempotency.NewMemoryStore(idempotency.MemoryConfig{MaxRecords: 10, Now: clock})
	require.NoError(t, err)
	up := newOrders(t, 0)
	gw := gateway(t, store, up, 0)
	require.Equal(t, http.StatusCreated, post(t, gw.URL, "acme", "k", order).status)
	mu.Lock()
	now = now.Add(idempotency.DefaultTTL - time.Second)
	mu.Unlock()
	assert.Equal(t, "true", post(t, gw.URL, "acme", "k", order).replayed, "kept for 24 h")
	mu.Lock()
	now = now.Add(2 * time.Second)
	mu.Unlock()
	assert.Empty(t, post(t, gw.URL, "acme", "k", order).replayed, "forgotten after 24 h")
	assert.EqualValues(t, 2, up.posts.Load())
}

func TestConfig(t *testing.T) {
	t.Parallel()
	store, err := idempotency.NewMemoryStore(idempotency.MemoryConfig{})
	require.NoError(t, err)
	scope := func(echo.Context) (string, error) { return "", nil }
	tests := []struct {
		name string
		cfg  idempotency.Config
		ok   bool
	}{
		{name: "ok, defaults", cfg: idempotency.Config{Store: store, Scope: scope}, ok: true},
		{name: "nok, no store", cfg: idempotency.Config{Scope: scope}},
		{name: "nok, no scope", cfg: idempotency.Config{Store: store}},
		{name: "nok, negative wait", cfg: idempotency.Config{Store: store, Scope: scope, Wait: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := tt.cfg.ToMiddleware()
			assert.Equal(t, tt.ok, err == nil, err)
		})
	}
}

// TestRedisDownFailsClosed refuses orders while the shared store is
// unreachable rather than risk a duplicate, and recovers with it.
func TestRedisDownFailsClosed(t *testing.T) {
	t.Parallel()
	r := edgetest.StartRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	up := newOrders(t, 0)
	gw := gateway(t, redisStore(t, rdb, idempotency.RedisConfig{Prefix: "down:"}), up, 0)

	r.Stop()
	down := post(t, gw.URL, "acme", "k-down", order)
	assert.Equal(t, http.StatusServiceUnavailable, down.status)
	assert.Equal(t, problem.CodeUpstreamUnavailable, down.code)
	assert.Zero(t, up.posts.Load(), "nothing reaches the orders service unprotected")

	r.Restart(t)
	back := post(t, gw.URL, "acme", "k-down", order)
	assert.Equal(t, http.StatusCreated, back.status)
	assert.EqualValues(t, 1, up.posts.Load())
}
