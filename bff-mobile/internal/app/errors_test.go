package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/shopfront/bff-mobile/internal/app"
	"github.com/shopfront/bff-mobile/internal/config"
	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/contracts/fakes/fakestest"
	edgeconfig "github.com/shopfront/shared/edge/config"
	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/gateway/gatewaytest"
	"github.com/shopfront/shared/edge/problem"
)

// TestMobileErrorClasses checks one request per error class through the
// whole gateway: the status, the stable code, the problem+json members and
// the headers that go with the class.
func TestMobileErrorClasses(t *testing.T) {
	t.Parallel()
	s := bootReady(t, nil)
	tok := fakestest.UserToken(t, s.fakes, "u-009", "mobile")
	webTok := fakestest.UserToken(t, s.fakes, "u-009", "web")
	tests := []struct {
		name         string
		method, path string
		token, body  string
		fault        string // service to fail with 500, 503 after drop, ...
		given        domain.Fault
		expectStatus int
		expectCode   string
		expectHeader map[string]string
	}{
		{name: "nok, no token", method: http.MethodGet, path: "/v1/home",
			expectStatus: 401, expectCode: "unauthorized", expectHeader: map[string]string{"WWW-Authenticate": "Bearer"}},
		{name: "nok, token of another audience", method: http.MethodGet, path: "/v1/home", token: webTok,
			expectStatus: 401, expectCode: "invalid_token"},
		{name: "nok, bad input", method: http.MethodGet, path: "/v1/search?q=", token: tok,
			expectStatus: 400, expectCode: "validation_failed"},
		{name: "nok, unknown product", method: http.MethodGet, path: "/v1/products/p-9999", token: tok,
			expectStatus: 404, expectCode: "not_found"},
		{name: "nok, unknown route", method: http.MethodGet, path: "/v1/nothing", token: tok,
			expectStatus: 404, expectCode: "not_found"},
		{name: "nok, wrong method", method: http.MethodPost, path: "/v1/home", token: tok,
			expectStatus: 405, expectCode: "method_not_allowed"},
		{name: "nok, not JSON", method: http.MethodPut, path: "/v1/cart/items/p-0001", token: tok, body: "<quantity/>",
			expectStatus: 415, expectCode: "unsupported_media_type"},
		{name: "nok, body too large", method: http.MethodPut, path: "/v1/cart/items/p-0001", token: tok,
			body: `{"quantity":1,"pad":"` + strings.Repeat("x", 2<<20) + `"}`, expectStatus: 413, expectCode: "payload_too_large"},
		{name: "nok, critical upstream 5xx", method: http.MethodGet, path: "/v1/cart", token: tok,
			fault: domain.ServiceCart, given: domain.Fault{ErrorRate: 1, Status: 500}, expectStatus: 502, expectCode: "upstream_unavailable"},
		{name: "nok, critical upstream too slow", method: http.MethodGet, path: "/v1/orders/o-00001", token: tok,
			fault: domain.ServiceOrders, given: domain.Fault{LatencyMs: 2500}, expectStatus: 504, expectCode: "upstream_timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.fault != "" {
				require.NoError(t, s.fakes.SetFault(tt.fault, tt.given))
				defer func() { require.NoError(t, s.fakes.SetFault(tt.fault, domain.Fault{})) }()
			}
			hdr := map[string]string{}
			if tt.body != "" && tt.expectStatus == 415 {
				hdr["Content-Type"] = "application/xml"
			}
			r := call(t, tt.method, s.url+tt.path, tt.token, tt.body, hdr)
			assert.Equal(t, tt.expectStatus, r.StatusCode, string(r.body))
			assert.Equal(t, "application/problem+json", r.Header.Get("Content-Type"))
			var p map[string]any
			require.NoError(t, json.Unmarshal(r.body, &p))
			assert.Equal(t, tt.expectCode, p["error"])
			assert.EqualValues(t, tt.expectStatus, p["status"])
			assert.Equal(t, r.Header.Get("X-Request-Id"), p["requestId"])
			assert.Equal(t, "urn:request:"+r.Header.Get("X-Request-Id"), p["instance"])
			assert.NotEmpty(t, p["type"])
			assert.NotEmpty(t, p["title"])
			if tt.expectStatus >= 500 {
				assert.Equal(t, problem.ServerDetail(tt.expectCode), p["detail"], "a 5xx carries only its fixed sentence")
			}
			for k, v := range tt.expectHeader {
				assert.Contains(t, r.Header.Get(k), v, k)
			}
		})
	}
}

// TestMobileRateLimited exhausts a user's burst: the next request is 429
// rate_limited with Retry-After and the limit headers, another user is
// unaffected, and the bucket refills with time. The limiter's clock stands
// still until the test moves it, so a slow machine cannot refill the bucket
// between requests.
func TestMobileRateLimited(t *testing.T) {
	t.Parallel()
	clock := &heldClock{}
	clock.ns.Store(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	f, base := fakestest.Start(t)
	cfg, err := config.Load(edgeconfig.MapLookup(gatewaytest.Env(base, map[string]string{
		"BFF_CONFIG": edgetest.TempFile(t, "limit.yaml", "mobile:\n  rate_limit: {per_minute: 60, burst: 3}\n"),
	})))
	require.NoError(t, err)
	cfg.Now = clock.Now
	a, _ := gatewaytest.Serve(t, func(ctx context.Context) (*app.App, error) { return app.New(ctx, cfg, zap.NewNop()) })
	gatewaytest.WaitReady(t, a.AdminAddr())
	url := "http://" + a.Addr() + "/v1/cart"
	tok := fakestest.UserToken(t, f, "u-010", "mobile")

	for i := range 3 {
		r := call(t, http.MethodGet, url, tok, "", nil)
		require.Equal(t, http.StatusOK, r.StatusCode)
		assert.Equal(t, "60", r.Header.Get("X-RateLimit-Limit"))
		assert.Equal(t, []string{"2", "1", "0"}[i], r.Header.Get("X-RateLimit-Remaining"))
	}
	r := call(t, http.MethodGet, url, tok, "", nil)
	assert.Equal(t, http.StatusTooManyRequests, r.StatusCode)
	assert.Contains(t, string(r.body), `"error":"rate_limited"`)
	assert.Equal(t, "1", r.Header.Get("Retry-After"), "one token a second")
	assert.Equal(t, "0", r.Header.Get("X-RateLimit-Remaining"))
	assert.Equal(t, `"user";r=0;t=3`, r.Header.Get("RateLimit"), "the whole burst is back in 3 s")

	other := call(t, http.MethodGet, url, fakestest.UserToken(t, f, "u-011", "mobile"), "", nil)
	assert.Equal(t, http.StatusOK, other.StatusCode, "limits are per user")

	clock.Advance(time.Second)
	r = call(t, http.MethodGet, url, tok, "", nil)
	assert.Equal(t, http.StatusOK, r.StatusCode, "a second later one token is back")
	assert.Equal(t, "0", r.Header.Get("X-RateLimit-Remaining"))
}

// heldClock is a clock that moves only when told to.
type heldClock struct{ ns atomic.Int64 }

func (c *heldClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *heldClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }
