package cache_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/bff-web/internal/cache"
	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/edgetest"
)

// clock is a settable clock shared by the cache and the test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }

// origin is the handler behind the cache: it counts its calls, can be held
// until released, and answers with a body naming the call.
type origin struct {
	calls  atomic.Int64
	status int
	cc     string

	mu   sync.Mutex
	hold chan struct{}
}

func newOrigin() *origin {
	o := &origin{status: http.StatusOK, cc: "public, max-age=30, stale-while-revalidate=60"}
	o.block()
	o.release()
	return o
}

// block makes the next calls wait for release.
func (o *origin) block() { o.mu.Lock(); defer o.mu.Unlock(); o.hold = make(chan struct{}) }

func (o *origin) release() { o.mu.Lock(); defer o.mu.Unlock(); close(o.hold) }

func (o *origin) handle(c echo.Context) error {
	n := o.calls.Add(1)
	o.mu.Lock()
	hold := o.hold
	o.mu.Unlock()
	<-hold
	c.Response().Header().Set("Cache-Control", o.cc)
	c.Response().Header().Set("X-Request-Only", "not replayed")
	return c.JSON(o.status, map[string]any{"id": c.Param("id"), "call": n})
}

type gateway struct {
	url   string
	cache *cache.Cache
	reg   *prometheus.Registry
}

func startGateway(t *testing.T, o *origin, cfg cache.Config) *gateway {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg.Registry = reg
	c, err := cache.New(cfg)
	require.NoError(t, err)
	e := echo.New()
	// A stand-in for optional auth: a Bearer header makes a principal. And
	// one for a route budget: X-Test-Budget bounds the request's context.
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(ec echo.Context) error {
			r := ec.Request()
			if r.Header.Get("Authorization") != "" {
				r = r.WithContext(auth.WithPrincipal(r.Context(), &auth.Principal{Subject: "u1"}))
			}
			if d, err := time.ParseDuration(r.Header.Get("X-Test-Budget")); err == nil {
				ctx, cancel := context.WithTimeout(r.Context(), d)
				defer cancel()
				r = r.WithContext(ctx)
			}
			ec.SetRequest(r)
			return next(ec)
		}
	})
	e.GET("/v1/pages/product/:id", o.handle, c.Middleware(cache.Route{}))
	e.GET("/v1/catalog", o.handle, c.Middleware(cache.Route{Query: []string{"q", "category", "page", "pageSize"}}))
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { _ = c.Wait(context.Background()) })
	return &gateway{url: srv.URL, cache: c, reg: reg}
}

type answer struct {
	status int
	xcache string
	body   string
	header http.Header
}

// get sends a GET with the given header names and values. Many tests call
// it from goroutines of their own, where t.FailNow must not be called, so
// it reports a failure with assert and returns an empty answer.
func get(t *testing.T, url string, header ...string) answer {
	t.Helper()
	return getCtx(t, context.Background(), url, header...)
}

// getCtx is get under ctx; a cancelled ctx is an expected outcome and not
// reported.
func getCtx(t *testing.T, ctx context.Context, url string, header ...string) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if !assert.NoError(t, err) {
		return answer{}
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if ctx.Err() != nil {
		return answer{}
	}
	if !assert.NoError(t, err) {
		return answer{}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	assert.NoError(t, err)
	return answer{status: res.StatusCode, xcache: res.Header.Get(cache.HeaderXCache), body: string(b), header: res.Header}
}

func results(g *gateway, result string) float64 {
	mfs, _ := g.reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "shopfront_cache_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func TestCoalescingAndLifecycle(t *testing.T) {
	t.Parallel()
	clk := newClock()
	o := newOrigin()
	o.block()
	g := startGateway(t, o, cache.Config{Now: clk.Now})
	url := g.url + "/v1/pages/product/p1"

	// 50 cold requests: the origin is held until all 50 have missed, so all
	// of them are in flight together.
	const n = 50
	var wg sync.WaitGroup
	answers := make([]answer, n)
	for i := range n {
		wg.Go(func() { answers[i] = get(t, url) })
	}
	require.Eventually(t, func() bool { return results(g, "miss") == n }, 10*time.Second, 5*time.Millisecond)
	o.release()
	wg.Wait()
	assert.EqualValues(t, 1, o.calls.Load(), "50 concurrent misses cause one fill")
	for _, a := range answers {
		assert.Equal(t, http.StatusOK, a.status)
		assert.Equal(t, cache.ResultMiss, a.xcache)
		assert.JSONEq(t, `{"id":"p1","call":1}`, a.body)
	}

	// Within 30 s: HIT, replayed headers only.
	clk.Advance(29 * time.Second)
	a := get(t, url)
	assert.Equal(t, cache.ResultHit, a.xcache)
	assert.JSONEq(t, `{"id":"p1","call":1}`, a.body)
	assert.Equal(t, "public, max-age=30, stale-while-revalidate=60", a.header.Get("Cache-Control"))
	assert.Equal(t, "application/json", a.header.Get("Content-Type"))
	assert.Equal(t, "29", a.header.Get("Age"))
	assert.Empty(t, a.header.Get("X-Request-Only"))
	assert.EqualValues(t, 1, o.calls.Load())

	// Past 30 s: STALE for everyone, exactly one background refresh.
	clk.Advance(2 * time.Second)
	o.block()
	for i := range 20 {
		wg.Go(func() { answers[i] = get(t, url) })
	}
	wg.Wait()
	o.release()
	require.NoError(t, g.cache.Wait(context.Background()))
	for _, a := range answers[:20] {
		assert.Equal(t, cache.ResultStale, a.xcache)
		assert.JSONEq(t, `{"id":"p1","call":1}`, a.body)
	}
	assert.EqualValues(t, 2, o.calls.Load(), "one refresh for 20 stale reads")

	// The refresh stored a fresh entry.
	a = get(t, url)
	assert.Equal(t, cache.ResultHit, a.xcache)
	assert.JSONEq(t, `{"id":"p1","call":2}`, a.body)

	// Past 90 s without reads: gone, MISS and a new fill.
	clk.Advance(91 * time.Second)
	a = get(t, url)
	assert.Equal(t, cache.ResultMiss, a.xcache)
	assert.JSONEq(t, `{"id":"p1","call":3}`, a.body)
	assert.EqualValues(t, 3, o.calls.Load())
}

func TestWhatIsCached(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		status       int
		cc           string
		header       []string
		expectCalls  int64
		expectXCache string
	}{
		{name: "ok, anonymous public 200 is cached", status: 200, cc: "public, max-age=30", expectCalls: 1, expectXCache: cache.ResultHit},
		{name: "nok, degraded (no-store) is not cached", status: 200, cc: "no-store", expectCalls: 2, expectXCache: cache.ResultMiss},
		{name: "nok, private is not cached", status: 200, cc: "private, max-age=30", expectCalls: 2, expectXCache: cache.ResultMiss},
		{name: "nok, non-200 is not cached", status: 203, cc: "public, max-age=30", expectCalls: 2, expectXCache: cache.ResultMiss},
		{name: "nok, authenticated bypasses the cache", status: 200, cc: "public, max-age=30", header: []string{"Authorization", "Bearer x"}, expectCalls: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := newOrigin()
			o.status, o.cc = tt.status, tt.cc
			g := startGateway(t, o, cache.Config{})
			get(t, g.url+"/v1/pages/product/p1", tt.header...)
			a := get(t, g.url+"/v1/pages/product/p1", tt.header...)
			assert.Equal(t, tt.status, a.status)
			assert.Equal(t, tt.expectXCache, a.xcache)
			assert.Equal(t, tt.expectCalls, o.calls.Load())
		})
	}
}

func TestKeyNormalisesQuery(t *testing.T) {
	t.Parallel()
	rt := cache.Route{Query: []string{"q", "category", "page", "pageSize"}}
	key := func(target string) string { return rt.Key(httptest.NewRequest(http.MethodGet, target, nil)) }
	assert.Equal(t, key("/v1/catalog?q=shoe&page=2"), key("/v1/catalog?page=2&q=shoe"), "the order of names does not matter")
	assert.Equal(t, key("/v1/catalog?q=shoe"), key("/v1/catalog?q=shoe&utm_source=x"), "unknown params are ignored")
	assert.NotEqual(t, key("/v1/catalog"), key("/v1/catalog?page="), "an empty value is not an absent one")
	assert.NotEqual(t, key("/v1/catalog?page=1&page=2"), key("/v1/catalog?page=2&page=1"), "repeated values keep their order")
	assert.NotEqual(t, key("/v1/catalog?page=1"), key("/v1/catalog?page=1&page=1"), "a repeated value is not a single one")
	assert.NotEqual(t, key("/v1/catalog?q=shoe"), key("/v1/catalog?q=shirt"))
	assert.NotEqual(t, key("/v1/pages/product/p1"), key("/v1/pages/product/p2"))
}

func TestMemoryBound(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  cache.MemoryConfig
	}{
		{name: "ok, entry bound evicts the least recently used", cfg: cache.MemoryConfig{MaxEntries: 2}},
		{name: "ok, byte bound evicts the least recently used", cfg: cache.MemoryConfig{MaxBytes: 2*1024 + 500}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := cache.NewMemory(tt.cfg)
			require.NoError(t, err)
			ctx := context.Background()
			body := make([]byte, 1024)
			for _, k := range []string{"a", "b"} {
				require.NoError(t, s.Set(ctx, k, &cache.Entry{Status: 200, Body: body}, time.Minute))
			}
			_, err = s.Get(ctx, "a") // a is now more recent than b.
			require.NoError(t, err)
			require.NoError(t, s.Set(ctx, "c", &cache.Entry{Status: 200, Body: body}, time.Minute))
			_, err = s.Get(ctx, "b")
			assert.ErrorIs(t, err, cache.ErrNotFound)
			for _, k := range []string{"a", "c"} {
				_, err = s.Get(ctx, k)
				assert.NoError(t, err, k)
			}
		})
	}
	_, err := cache.NewMemory(cache.MemoryConfig{MaxEntries: -1})
	assert.Error(t, err)
}

func redisClient(t *testing.T, url string) *redis.Client { return redisClientB(t, url) }

func redisClientB(t testing.TB, url string) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(url)
	require.NoError(t, err)
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout, opt.MaxRetries = 200*time.Millisecond, 200*time.Millisecond, 200*time.Millisecond, -1
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

func TestRedisSharedBetweenInstances(t *testing.T) {
	t.Parallel()
	r := edgetest.StartRedis(t)
	clk := newClock()
	o := newOrigin()
	a := startGateway(t, o, cache.Config{Store: cache.NewRedis(redisClient(t, r.URL()), ""), Now: clk.Now})
	b := startGateway(t, o, cache.Config{Store: cache.NewRedis(redisClient(t, r.URL()), ""), Now: clk.Now})
	path := "/v1/catalog?q=shoe"

	assert.Equal(t, cache.ResultMiss, get(t, a.url+path).xcache)
	assert.Equal(t, cache.ResultHit, get(t, b.url+path).xcache, "the second instance reads the first one's entry")
	assert.EqualValues(t, 1, o.calls.Load())

	// Stale on both instances at once: one refresh between them.
	// The origin is held so that the refresh is still running while the
	// six requests arrive.
	clk.Advance(45 * time.Second)
	o.block()
	var wg sync.WaitGroup
	for _, g := range []*gateway{a, b, a, b, a, b} {
		wg.Go(func() { assert.Equal(t, cache.ResultStale, get(t, g.url+path).xcache) })
	}
	wg.Wait()
	o.release()
	require.NoError(t, a.cache.Wait(context.Background()))
	require.NoError(t, b.cache.Wait(context.Background()))
	assert.EqualValues(t, 2, o.calls.Load(), "one refresh across two instances")
	assert.Equal(t, cache.ResultHit, get(t, b.url+path).xcache)

	// Redis gone: served uncached, never a 500.
	r.Stop()
	for range 3 {
		ans := get(t, a.url+path)
		assert.Equal(t, http.StatusOK, ans.status)
		assert.Equal(t, cache.ResultMiss, ans.xcache)
	}
	assert.EqualValues(t, 5, o.calls.Load())
	assert.Equal(t, 3.0, results(a, "error"))

	// Redis back: caching resumes once the store's rest after the outage
	// (RetryStoreAfter, 1 s by default) is over.
	r.Restart(t)
	clk.Advance(time.Second)
	get(t, a.url+path)
	assert.Equal(t, cache.ResultHit, get(t, a.url+path).xcache)
}

func TestRedisColdMissAcrossInstances(t *testing.T) {
	t.Parallel()
	r := edgetest.StartRedis(t)
	o := newOrigin()
	o.block()
	a := startGateway(t, o, cache.Config{Store: cache.NewRedis(redisClient(t, r.URL()), "")})
	b := startGateway(t, o, cache.Config{Store: cache.NewRedis(redisClient(t, r.URL()), "")})

	// Ten cold requests on each instance, all in flight before the origin
	// answers: one fill for both instances.
	var wg sync.WaitGroup
	answers := make([]answer, 20)
	for i := range answers {
		g := a
		if i%2 == 1 {
			g = b
		}
		wg.Go(func() { answers[i] = get(t, g.url+"/v1/pages/product/cold") })
	}
	require.Eventually(t, func() bool { return results(a, "miss")+results(b, "miss") == 20 }, 10*time.Second, 5*time.Millisecond)
	o.release()
	wg.Wait()
	assert.EqualValues(t, 1, o.calls.Load(), "one fan-out across two instances")
	for _, ans := range answers {
		assert.Equal(t, http.StatusOK, ans.status)
		assert.JSONEq(t, `{"id":"cold","call":1}`, ans.body)
	}
}

func TestMetricsRegistered(t *testing.T) {
	t.Parallel()
	g := startGateway(t, newOrigin(), cache.Config{})
	get(t, g.url+"/v1/pages/product/p9")
	get(t, g.url+"/v1/pages/product/p9")
	n, err := testutil.GatherAndCount(g.reg, "shopfront_cache_requests_total")
	require.NoError(t, err)
	assert.Equal(t, 2, n, "hit and miss series")
	assert.Equal(t, 1.0, results(g, "hit"))
	assert.Equal(t, 1.0, results(g, "miss"))
}

// releaseAtEnd releases o when the test ends, in case a failed check left
// it held, and returns the release for the test's own use; both are safe.
// Call it after startGateway, so that it runs before the server's Close,
// which waits for the requests the origin holds.
func releaseAtEnd(t *testing.T, o *origin) func() {
	var once sync.Once
	release := func() { once.Do(o.release) }
	t.Cleanup(release)
	return release
}

// within waits for an answer for up to d; ok is false if none came.
func within(ch <-chan answer, d time.Duration) (answer, bool) {
	select {
	case a := <-ch:
		return a, true
	case <-time.After(d):
		return answer{}, false
	}
}

// TestCoalescedWaiterLeavesWithItsContext holds a fill and sends a second
// request for the same key with a 100 ms budget: it joins the fill, but
// answers when its budget ends instead of waiting for the fill, which still
// serves the first request.
func TestCoalescedWaiterLeavesWithItsContext(t *testing.T) {
	t.Parallel()
	o := newOrigin()
	o.block()
	g := startGateway(t, o, cache.Config{})
	release := releaseAtEnd(t, o)
	url := g.url + "/v1/pages/product/slow"

	first := make(chan answer, 1)
	go func() { first <- get(t, url) }()
	require.Eventually(t, func() bool { return o.calls.Load() == 1 }, 10*time.Second, 5*time.Millisecond)

	waiter := make(chan answer, 1)
	go func() { waiter <- get(t, url, "X-Test-Budget", "100ms") }()
	a, ok := within(waiter, 5*time.Second)
	require.True(t, ok, "the waiter answered while the fill was still held")
	assert.Equal(t, http.StatusInternalServerError, a.status, "echo's plain handler renders the spent budget")
	assert.Equal(t, 2.0, results(g, "miss"))

	release()
	a, ok = within(first, 10*time.Second)
	require.True(t, ok)
	assert.Equal(t, http.StatusOK, a.status)
	assert.JSONEq(t, `{"id":"slow","call":1}`, a.body)
	assert.EqualValues(t, 1, o.calls.Load(), "the waiter that left started no fill of its own")
}

// TestRedisWaitBoundedByContext holds a fill on one instance; a miss of the
// same key on the other instance polls for that fill's entry only as long
// as its own budget lasts (LockTTL is 30 s here), and never fills itself.
// When the request leading the poll leaves, another one waiting on the same
// instance takes over and gets the entry.
func TestRedisWaitBoundedByContext(t *testing.T) {
	t.Parallel()
	r := edgetest.StartRedis(t)
	o := newOrigin()
	o.block()
	cfg := func() cache.Config {
		return cache.Config{Store: cache.NewRedis(redisClient(t, r.URL()), ""), LockTTL: 30 * time.Second}
	}
	a, b := startGateway(t, o, cfg()), startGateway(t, o, cfg())
	release := releaseAtEnd(t, o)
	path := "/v1/pages/product/held"

	filled := make(chan answer, 1)
	go func() { filled <- get(t, a.url+path) }()
	require.Eventually(t, func() bool { return o.calls.Load() == 1 }, 10*time.Second, 5*time.Millisecond, "a holds the lock and fills")

	// A waiter with a short budget answers when the budget ends.
	short := make(chan answer, 1)
	go func() { short <- get(t, b.url+path, "X-Test-Budget", "200ms") }()
	ans, ok := within(short, 5*time.Second)
	require.True(t, ok, "the waiter on b answered within its budget, not after LockTTL")
	assert.Equal(t, http.StatusInternalServerError, ans.status)

	// A leader whose client leaves hands the wait over to the next request.
	ctx, cancel := context.WithCancel(context.Background())
	left := make(chan answer, 1)
	go func() { left <- getCtx(t, ctx, b.url+path) }()
	require.Eventually(t, func() bool { return results(b, "miss") == 2 }, 10*time.Second, 5*time.Millisecond)
	stays := make(chan answer, 1)
	go func() { stays <- get(t, b.url+path) }()
	require.Eventually(t, func() bool { return results(b, "miss") == 3 }, 10*time.Second, 5*time.Millisecond)
	cancel()
	_, ok = within(left, 5*time.Second)
	require.True(t, ok)
	_, ok = within(stays, 300*time.Millisecond)
	assert.False(t, ok, "the remaining request keeps waiting for a's fill")

	release()
	for _, ch := range []chan answer{filled, stays} {
		ans, ok := within(ch, 10*time.Second)
		require.True(t, ok)
		assert.Equal(t, http.StatusOK, ans.status)
		assert.JSONEq(t, `{"id":"held","call":1}`, ans.body)
	}
	assert.EqualValues(t, 1, o.calls.Load(), "one fill for every request of both instances")
}

// TestConfigErrorsInFieldOrder checks that every bad duration is reported,
// in the order of the fields on every run.
func TestConfigErrorsInFieldOrder(t *testing.T) {
	t.Parallel()
	want := "cache fresh must not be negative, got -1s\ncache stale must not be negative, got -2s\n" +
		"cache fill timeout must not be negative, got -3s\ncache lock TTL must not be negative, got -4s\n" +
		"cache poll interval must not be negative, got -5s"
	for range 20 {
		_, err := cache.New(cache.Config{Fresh: -time.Second, Stale: -2 * time.Second, FillTimeout: -3 * time.Second,
			LockTTL: -4 * time.Second, PollInterval: -5 * time.Second})
		assert.EqualError(t, err, want)
	}
}

// TestMissWaitsAtMostFillTimeout holds a fill on one instance: a miss of
// the same key on the other instance, from a client that would wait
// forever, answers once FillTimeout (300 ms) has passed, though the lock
// it waits behind lives 30 s.
func TestMissWaitsAtMostFillTimeout(t *testing.T) {
	t.Parallel()
	r := edgetest.StartRedis(t)
	o := newOrigin()
	o.block()
	cfg := func() cache.Config {
		return cache.Config{Store: cache.NewRedis(redisClient(t, r.URL()), ""), FillTimeout: 300 * time.Millisecond, LockTTL: 30 * time.Second}
	}
	a, b := startGateway(t, o, cfg()), startGateway(t, o, cfg())
	releaseAtEnd(t, o)
	path := "/v1/catalog?q=held"

	first := make(chan answer, 1)
	go func() { first <- get(t, a.url+path) }()
	require.Eventually(t, func() bool { return o.calls.Load() == 1 }, 10*time.Second, 5*time.Millisecond, "a holds the lock and fills")
	waiter := make(chan answer, 1)
	go func() { waiter <- get(t, b.url+path) }()
	ans, ok := within(waiter, 5*time.Second)
	require.True(t, ok, "the miss on b answered after FillTimeout, not after the lock's 30 s")
	assert.Equal(t, http.StatusInternalServerError, ans.status)
	assert.EqualValues(t, 1, o.calls.Load(), "b did not fill behind a's lock")
	ans, ok = within(first, 5*time.Second)
	require.True(t, ok, "a's own miss is bounded the same way")
	assert.Equal(t, http.StatusInternalServerError, ans.status)
}

// countingStore counts the calls that reach its Store.
type countingStore struct {
	cache.Store
	calls atomic.Int64
}

func (s *countingStore) Get(ctx context.Context, key string) (*cache.Entry, error) {
	s.calls.Add(1)
	return s.Store.Get(ctx, key)
}

func (s *countingStore) Set(ctx context.Context, key string, e *cache.Entry, ttl time.Duration) error {
	s.calls.Add(1)
	return s.Store.Set(ctx, key, e, ttl)
}

func (s *countingStore) Lock(ctx context.Context, key string, ttl time.Duration) (func(), bool, error) {
	s.calls.Add(1)
	return s.Store.Lock(ctx, key, ttl)
}

// TestStoreOutage runs the cache on a Redis that accepts connections and
// never answers: the first request pays the client's timeout once, then the
// store rests for RetryStoreAfter (requests served uncached without
// touching it) and is probed again after; meanwhile concurrent misses of
// one key still cost one call of the handler.
func TestStoreOutage(t *testing.T) {
	t.Parallel()
	silent := edgetest.StartSilentRedis(t)
	store := &countingStore{Store: cache.NewRedis(redisClient(t, silent.URL()), "t:")}
	clk := newClock()
	o := newOrigin()
	g := startGateway(t, o, cache.Config{Store: store, Now: clk.Now, RetryStoreAfter: 5 * time.Second})

	a := get(t, g.url+"/v1/pages/product/p1")
	assert.Equal(t, http.StatusOK, a.status)
	assert.Equal(t, cache.ResultMiss, a.xcache)
	assert.Equal(t, int64(1), store.calls.Load(), "one failed lookup, then the store is left alone")
	assert.Equal(t, float64(1), results(g, "error"))

	// Resting: N concurrent cold requests, one handler call, no store call.
	o.block()
	answers := make([]answer, 20)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Go(func() { answers[i] = get(t, g.url+"/v1/pages/product/p2") })
	}
	// The origin is held until all 20 have looked up the store, so all of
	// them are in flight together.
	require.Eventually(t, func() bool { return results(g, "error") == 21 }, 10*time.Second, 5*time.Millisecond)
	o.release()
	wg.Wait()
	for _, a := range answers {
		assert.Equal(t, http.StatusOK, a.status)
		assert.Equal(t, cache.ResultMiss, a.xcache)
		assert.Equal(t, answers[0].body, a.body)
	}
	assert.Equal(t, int64(2), o.calls.Load(), "20 concurrent misses while the store is away, one handler call")
	assert.Equal(t, int64(1), store.calls.Load(), "the resting store is not tried")

	// After RetryStoreAfter the store is probed again.
	clk.Advance(5 * time.Second)
	get(t, g.url+"/v1/pages/product/p3")
	assert.Equal(t, int64(2), store.calls.Load(), "probed once after the rest")
}

// TestLargeEntriesAreNotStored: a response over MaxEntryBytes is served but
// never stored, so one page cannot crowd the shared store.
func TestLargeEntriesAreNotStored(t *testing.T) {
	t.Parallel()
	o := newOrigin()
	g := startGateway(t, o, cache.Config{Now: newClock().Now, MaxEntryBytes: 16})
	for range 2 {
		a := get(t, g.url+"/v1/pages/product/p-large")
		assert.Equal(t, http.StatusOK, a.status)
		assert.Equal(t, cache.ResultMiss, a.xcache)
	}
	assert.EqualValues(t, 2, o.calls.Load(), "each request filled again: the body is over 16 bytes")

	small := startGateway(t, o, cache.Config{Now: newClock().Now, MaxEntryBytes: 1 << 10})
	get(t, small.url+"/v1/pages/product/p-large")
	assert.Equal(t, cache.ResultHit, get(t, small.url+"/v1/pages/product/p-large").xcache)
}
