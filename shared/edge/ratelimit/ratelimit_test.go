package ratelimit_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/problem"
	"github.com/shopfront/shared/edge/ratelimit"
)

// fakeClock is a settable clock.
type fakeClock struct{ ns atomic.Int64 }

func newClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func TestMemoryStoreGCRA(t *testing.T) {
	t.Parallel()
	clock := newClock()
	s := ratelimit.NewMemoryStore(0, clock.Now)
	lim := ratelimit.Limit{Rate: 60, Burst: 5} // one token per second
	ctx := context.Background()

	for i := range 5 {
		r, err := s.Allow(ctx, "k", lim)
		require.NoError(t, err)
		assert.True(t, r.Allowed, "request %d within burst", i)
		assert.Equal(t, 4-i, r.Remaining)
		assert.Equal(t, time.Duration(i+1)*time.Second, r.ResetAfter)
	}
	r, _ := s.Allow(ctx, "k", lim)
	assert.False(t, r.Allowed)
	assert.Equal(t, 0, r.Remaining)
	assert.Equal(t, time.Second, r.RetryAfter)
	assert.Equal(t, 5*time.Second, r.ResetAfter)

	other, _ := s.Allow(ctx, "other", lim)
	assert.True(t, other.Allowed, "keys have their own buckets")

	clock.Advance(time.Second)
	r, _ = s.Allow(ctx, "k", lim)
	assert.True(t, r.Allowed, "one token back after one emission interval")
	r, _ = s.Allow(ctx, "k", lim)
	assert.False(t, r.Allowed)

	clock.Advance(time.Hour)
	r, _ = s.Allow(ctx, "k", lim)
	assert.True(t, r.Allowed)
	assert.Equal(t, 4, r.Remaining, "an idle bucket refills to the burst, not beyond")
}

func TestMemoryStoreIsBounded(t *testing.T) {
	t.Parallel()
	s := ratelimit.NewMemoryStore(64, nil)
	lim := ratelimit.Limit{Rate: 1, Burst: 1}
	for i := range 10_000 {
		r, _ := s.Allow(context.Background(), strconv.Itoa(i), lim)
		require.True(t, r.Allowed)
	}
	r, _ := s.Allow(context.Background(), "0", lim)
	assert.True(t, r.Allowed, "the oldest keys were evicted instead of growing without bound")
}

// server serves mws in front of a 200 handler over a real listener, with the
// problem renderer, trusting X-Forwarded-For from loopback (as the server
// package does for BFF_TRUSTED_PROXIES) so tests can vary the client IP.
func server(t *testing.T, mws ...echo.MiddlewareFunc) string {
	t.Helper()
	e := echo.New()
	e.HTTPErrorHandler = problem.Handler(problem.HandlerConfig{Logger: zap.NewNop()})
	e.IPExtractor = echo.ExtractIPFromXFFHeader(echo.TrustLoopback(true))
	e.GET("/", func(c echo.Context) error { return c.String(http.StatusOK, "ok") }, mws...)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv.URL
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
}

func get(t *testing.T, url string, header map[string]string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

// asPrincipal is a stand-in authentication middleware: X-Test-User becomes
// the principal's subject, X-Test-Partner/X-Test-Key a partner credential.
func asPrincipal(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header
		if h.Get("X-Test-User") == "" {
			return next(c)
		}
		p := &auth.Principal{Subject: h.Get("X-Test-User"), Partner: h.Get("X-Test-Partner"), KeyID: h.Get("X-Test-Key")}
		c.SetRequest(c.Request().WithContext(auth.WithPrincipal(c.Request().Context(), p)))
		return next(c)
	}
}

func TestMiddlewareHeaders(t *testing.T) {
	t.Parallel()
	clock := newClock()
	reg := prometheus.NewRegistry()
	lim, err := ratelimit.New(ratelimit.LimiterConfig{Anonymous: ratelimit.Limit{Rate: 60, Burst: 2}, Now: clock.Now, Registry: reg})
	require.NoError(t, err)
	mw, err := ratelimit.Config{Limiter: lim, Policy: ratelimit.PerUser(ratelimit.Limit{Rate: 600, Burst: 100})}.ToMiddleware()
	require.NoError(t, err)
	url := server(t, asPrincipal, mw)
	now := clock.Now().Unix()

	tests := []struct {
		name         string
		given        map[string]string
		expectStatus int
		expectHeader map[string]string
	}{
		{name: "ok, first anonymous request", expectStatus: 200, expectHeader: map[string]string{
			"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "1", "X-RateLimit-Reset": strconv.FormatInt(now+1, 10),
			"RateLimit-Policy": `"anonymous";q=60;w=60`, "RateLimit": `"anonymous";r=1;t=1`,
		}},
		{name: "ok, second anonymous request empties the burst", expectStatus: 200, expectHeader: map[string]string{
			"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": strconv.FormatInt(now+2, 10), "RateLimit": `"anonymous";r=0;t=2`,
		}},
		{name: "nok, third anonymous request is limited", expectStatus: 429, expectHeader: map[string]string{
			"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": strconv.FormatInt(now+2, 10),
			"RateLimit-Policy": `"anonymous";q=60;w=60`, "RateLimit": `"anonymous";r=0;t=2`, "Retry-After": "1",
		}},
		{name: "ok, another client IP has its own bucket", given: map[string]string{"X-Forwarded-For": "203.0.113.9"}, expectStatus: 200,
			expectHeader: map[string]string{"X-RateLimit-Remaining": "1"}},
		{name: "ok, a user is charged per user", given: map[string]string{"X-Test-User": "alice"}, expectStatus: 200, expectHeader: map[string]string{
			"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "99", "RateLimit-Policy": `"user";q=600;w=60`, "RateLimit": `"user";r=99;t=1`,
		}},
	}
	for _, tt := range tests { // sequential: the cases share buckets in order
		t.Run(tt.name, func(t *testing.T) {
			r := get(t, url, tt.given)
			require.Equal(t, tt.expectStatus, r.status)
			for k, v := range tt.expectHeader {
				assert.Equal(t, v, r.header.Get(k), k)
			}
			if tt.expectStatus == 429 {
				assert.Equal(t, problem.CodeRateLimited, r.body["error"])
				assert.Equal(t, problem.ContentType, r.header.Get("Content-Type"))
			} else {
				assert.Empty(t, r.header.Get("Retry-After"))
			}
		})
	}
	assert.Equal(t, 1.0, counter(t, reg, "shopfront_ratelimit_decisions_total", "limited", "anonymous"))
	assert.Equal(t, 3.0, counter(t, reg, "shopfront_ratelimit_decisions_total", "allowed", "anonymous"))
	assert.Equal(t, 1.0, counter(t, reg, "shopfront_ratelimit_decisions_total", "allowed", "user"))
}

// counter returns the value of the counter name whose label values are
// values, in label-name order (decision before policy), or 0 when absent.
func counter(t *testing.T, g prometheus.Gatherer, name string, values ...string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(values) {
				continue
			}
			for i, l := range m.GetLabel() {
				if l.GetValue() != values[i] {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func TestRetryAfterAtLeastOneSecond(t *testing.T) {
	t.Parallel()
	clock := newClock()
	lim, err := ratelimit.New(ratelimit.LimiterConfig{Anonymous: ratelimit.Limit{Rate: 6000, Burst: 1}, Now: clock.Now})
	require.NoError(t, err)
	mw, err := ratelimit.Config{Limiter: lim}.ToMiddleware()
	require.NoError(t, err)
	url := server(t, mw)
	require.Equal(t, 200, get(t, url, nil).status)
	r := get(t, url, nil)
	require.Equal(t, 429, r.status)
	assert.Equal(t, "1", r.header.Get("Retry-After"), "10 ms rounds up to a whole second")
}

func TestPartnerPolicyUsesPlanPerCredential(t *testing.T) {
	t.Parallel()
	clock := newClock()
	lim, err := ratelimit.New(ratelimit.LimiterConfig{Now: clock.Now})
	require.NoError(t, err)
	plans := map[string]ratelimit.Limit{"acme": {Rate: 30, Burst: 2}}
	mw, err := ratelimit.Config{Limiter: lim, Policy: ratelimit.PerPartner(func(id string) ratelimit.Limit {
		if l, ok := plans[id]; ok {
			return l
		}
		return ratelimit.PartnerLimit()
	})}.ToMiddleware()
	require.NoError(t, err)
	url := server(t, asPrincipal, mw)
	key1 := map[string]string{"X-Test-User": "acme", "X-Test-Partner": "acme", "X-Test-Key": "acme-1"}
	key2 := map[string]string{"X-Test-User": "acme", "X-Test-Partner": "acme", "X-Test-Key": "acme-2"}
	other := map[string]string{"X-Test-User": "globex-client", "X-Test-Partner": "globex"}

	r := get(t, url, key1)
	assert.Equal(t, `"partner";q=30;w=60`, r.header.Get("RateLimit-Policy"))
	assert.Equal(t, 200, get(t, url, key1).status)
	assert.Equal(t, 429, get(t, url, key1).status)
	assert.Equal(t, 200, get(t, url, key2).status, "each key has its own bucket")
	r = get(t, url, other)
	assert.Equal(t, 200, r.status)
	assert.Equal(t, "100", r.header.Get("X-RateLimit-Limit"), "default plan")
	assert.Equal(t, "19", r.header.Get("X-RateLimit-Remaining"))

	plans["broken"] = ratelimit.Limit{}
	r = get(t, url, map[string]string{"X-Test-User": "b", "X-Test-Partner": "broken"})
	assert.Equal(t, 200, r.status)
	assert.Equal(t, "120", r.header.Get("X-RateLimit-Limit"), "a zero plan falls back to the anonymous limit")
}

func TestChargeFailureLimitsFailedAuthentication(t *testing.T) {
	t.Parallel()
	lim, err := ratelimit.New(ratelimit.LimiterConfig{Anonymous: ratelimit.Limit{Rate: 1, Burst: 3}})
	require.NoError(t, err)
	// A stand-in authenticator that rejects every request, wired the way
	// jwtauth.Config.ErrorHandler and apikey.Config.ErrorHandler are.
	reject := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if c.Request().Header.Get("Authorization") != "" {
				return lim.ChargeFailure(c, problem.New(401, problem.CodeInvalidToken, "bad token"))
			}
			return next(c)
		}
	}
	mw, err := ratelimit.Config{Limiter: lim}.ToMiddleware()
	require.NoError(t, err)
	url := server(t, reject, mw)
	bad := map[string]string{"Authorization": "Bearer x"}

	for range 3 {
		r := get(t, url, bad)
		require.Equal(t, 401, r.status)
		assert.Equal(t, problem.CodeInvalidToken, r.body["error"])
		assert.NotEmpty(t, r.header.Get("X-RateLimit-Remaining"))
	}
	r := get(t, url, bad)
	assert.Equal(t, 429, r.status, "failed attempts drain the IP's anonymous bucket")
	assert.Equal(t, 429, get(t, url, nil).status, "and anonymous requests of that IP share it")
	assert.Equal(t, 401, get(t, url, map[string]string{"Authorization": "Bearer x", "X-Forwarded-For": "198.51.100.7"}).status)
}

func TestAnonymousBucketPerIPv6Prefix(t *testing.T) {
	t.Parallel()
	lim, err := ratelimit.New(ratelimit.LimiterConfig{Anonymous: ratelimit.Limit{Rate: 1, Burst: 2}})
	require.NoError(t, err)
	mw, err := ratelimit.Config{Limiter: lim}.ToMiddleware()
	require.NoError(t, err)
	url := server(t, mw)
	from := func(ip string) map[string]string { return map[string]string{"X-Forwarded-For": ip} }

	tests := []struct {
		name         string
		givenIP      string
		expectStatus int
	}{
		{name: "ok, first address of a /64", givenIP: "2001:db8:1:2::a", expectStatus: 200},
		{name: "ok, another address of the /64 shares its bucket", givenIP: "2001:db8:1:2:ffff:ffff:ffff:ffff", expectStatus: 200},
		{name: "nok, rotating inside the /64 gets no fresh bucket", givenIP: "2001:db8:1:2::b", expectStatus: 429},
		{name: "ok, the next /64 is another client", givenIP: "2001:db8:1:3::a", expectStatus: 200},
		{name: "ok, an IPv4 address is its own bucket", givenIP: "203.0.113.1", expectStatus: 200},
		{name: "ok, its IPv4-mapped form shares that bucket", givenIP: "::ffff:203.0.113.1", expectStatus: 200},
		{name: "nok, so a third request of that address is limited", givenIP: "203.0.113.1", expectStatus: 429},
		{name: "ok, the neighbouring IPv4 address is not", givenIP: "203.0.113.2", expectStatus: 200},
	}
	for _, tt := range tests { // sequential: the cases share buckets in order
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.expectStatus, get(t, url, from(tt.givenIP)).status)
		})
	}
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	_, err := ratelimit.New(ratelimit.LimiterConfig{RedisTimeout: -time.Second, Anonymous: ratelimit.Limit{Rate: -1, Burst: 1}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "durations")
	assert.Contains(t, err.Error(), "Anonymous")
	_, err = ratelimit.Config{}.ToMiddleware()
	assert.Error(t, err)
}

// TestMiddlewareHeadersAreIndependent: a later layer adding a value to one
// rate-limit field leaves the others as they were.
func TestMiddlewareHeadersAreIndependent(t *testing.T) {
	t.Parallel()
	lim, err := ratelimit.New(ratelimit.LimiterConfig{Anonymous: ratelimit.Limit{Rate: 60, Burst: 2}, Now: newClock().Now})
	require.NoError(t, err)
	mw, err := ratelimit.Config{Limiter: lim}.ToMiddleware()
	require.NoError(t, err)
	e := echo.New()
	e.GET("/", func(c echo.Context) error {
		h := c.Response().Header()
		h.Add("X-RateLimit-Limit", "added")
		h.Add("X-RateLimit-Remaining", "added")
		return c.NoContent(http.StatusNoContent)
	}, mw)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	require.Equal(t, http.StatusNoContent, rec.Code)
	assert.Equal(t, []string{"60", "added"}, rec.Header().Values("X-RateLimit-Limit"))
	assert.Equal(t, []string{"1", "added"}, rec.Header().Values("X-RateLimit-Remaining"))
	assert.Len(t, rec.Header().Values("X-RateLimit-Reset"), 1)
	assert.Equal(t, `"anonymous";q=60;w=60`, rec.Header().Get("RateLimit-Policy"))
}
