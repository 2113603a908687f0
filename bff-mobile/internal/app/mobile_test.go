package app_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/bff-mobile/internal/app"
	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/contracts/fakes"
	"github.com/shopfront/contracts/fakes/fakestest"
	"github.com/shopfront/contracts/public"
	"github.com/shopfront/shared/edge/gateway/gatewaytest"
)

// started is a booted bff-mobile, ready, with its fakes.
type started struct {
	app   *app.App
	fakes *fakes.Fakes
	url   string
}

func bootReady(t testing.TB, env map[string]string) started {
	t.Helper()
	a, f := bootWithFakes(t, env)
	gatewaytest.WaitReady(t, a.AdminAddr())
	return started{app: a, fakes: f, url: "http://" + a.Addr()}
}

type answer struct {
	*http.Response
	body []byte // decoded
	wire int
}

func call(t *testing.T, method, url, token, body string, hdr map[string]string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	out := answer{Response: res, body: raw, wire: len(raw)}
	if res.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		require.NoError(t, err)
		out.body, err = io.ReadAll(zr)
		require.NoError(t, err)
	}
	if strings.HasPrefix(req.URL.Path, "/v1/") {
		conforms(t, req, out)
	}
	return out
}

// conforms checks a response against contracts/public/mobile.yaml.
func conforms(t *testing.T, req *http.Request, a answer) {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(public.Mobile())
	require.NoError(t, err)
	doc.Servers = nil // the relative "/" server; match any host
	router, err := legacy.NewRouter(doc)
	require.NoError(t, err)
	route, params, err := router.FindRoute(req)
	if err != nil && (a.StatusCode == http.StatusNotFound || a.StatusCode == http.StatusMethodNotAllowed) {
		// Not a route of the document, and the gateway agrees.
		return
	}
	require.NoError(t, err)
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 a.StatusCode,
		Header:                 a.Header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(a.body)
	assert.NoError(t, openapi3filter.ValidateResponse(context.Background(), in), "%s %s -> %d", req.Method, req.URL, a.StatusCode)
}

// TestMobileWiring boots the whole gateway against the fakes and checks the
// mobile policies end to end: auth, rate-limit headers, gzip, ETag/304,
// caching and the routes answering per the public document.
func TestMobileWiring(t *testing.T) {
	t.Parallel()
	s := bootReady(t, nil)
	tok := fakestest.UserToken(t, s.fakes, "u-001", "mobile")

	home := call(t, http.MethodGet, s.url+"/v1/home", tok, "", map[string]string{"Accept-Encoding": "gzip"})
	require.Equal(t, http.StatusOK, home.StatusCode, string(home.body))
	assert.Equal(t, "gzip", home.Header.Get("Content-Encoding"))
	assert.Contains(t, home.Header.Values("Vary"), "Accept-Encoding")
	assert.Equal(t, "private, max-age=60", home.Header.Get("Cache-Control"))
	etag := home.Header.Get("ETag")
	assert.Regexp(t, `^"[^"]+"$`, etag, "a strong tag")
	assert.Equal(t, "600", home.Header.Get("X-RateLimit-Limit"))
	assert.NotEmpty(t, home.Header.Get("X-RateLimit-Remaining"))
	assert.NotEmpty(t, home.Header.Get("X-RateLimit-Reset"))
	assert.Equal(t, `"user";q=600;w=60`, home.Header.Get("RateLimit-Policy"))
	assert.NotEmpty(t, home.Header.Get("X-Request-Id"))

	again := call(t, http.MethodGet, s.url+"/v1/home", tok, "", map[string]string{"If-None-Match": etag, "Accept-Encoding": "gzip"})
	assert.Equal(t, http.StatusNotModified, again.StatusCode)
	assert.Empty(t, again.body)
	assert.Equal(t, etag, again.Header.Get("ETag"))

	// A short request id keeps the problem under the 256-byte threshold
	// (a generated id appears twice, in instance and requestId).
	small := call(t, http.MethodGet, s.url+"/v1/orders/o-99999", tok, "", map[string]string{"Accept-Encoding": "gzip", "X-Request-Id": "small-1"})
	assert.Equal(t, http.StatusNotFound, small.StatusCode)
	assert.Empty(t, small.Header.Get("Content-Encoding"), "a small problem is sent as it is")

	for _, path := range []string{"/v1/products/p-0001?lat=48.1&lon=11.6", "/v1/search?q=lamp", "/v1/cart"} {
		r := call(t, http.MethodGet, s.url+path, tok, "", nil)
		assert.Equal(t, http.StatusOK, r.StatusCode, path)
	}
	order := call(t, http.MethodPost, s.url+"/v1/orders", tok, `{"items":[{"productId":"p-0001","quantity":1}],"currency":"USD"}`,
		map[string]string{"Idempotency-Key": "wiring-order-1"})
	assert.Equal(t, http.StatusCreated, order.StatusCode, string(order.body))

	// Unknown paths are 404, not an authentication failure.
	nf := call(t, http.MethodGet, s.url+"/v2/home", "", "", nil)
	assert.Equal(t, http.StatusNotFound, nf.StatusCode)

	// A failed authentication is charged to the client IP's anonymous limit.
	anon := call(t, http.MethodGet, s.url+"/v1/home", "", "", nil)
	assert.Equal(t, http.StatusUnauthorized, anon.StatusCode)
	assert.Equal(t, "application/problem+json", anon.Header.Get("Content-Type"))
	assert.Equal(t, "120", anon.Header.Get("X-RateLimit-Limit"))
	assert.Equal(t, `"anonymous";q=120;w=60`, anon.Header.Get("RateLimit-Policy"))

	metrics, err := http.Get("http://" + s.app.AdminAddr() + "/metrics")
	require.NoError(t, err)
	defer metrics.Body.Close()
	b, err := io.ReadAll(metrics.Body)
	require.NoError(t, err)
	assert.Contains(t, string(b), `route="/v1/home"`)
}

func TestMobileDegradedAndFailing(t *testing.T) {
	t.Parallel()
	s := bootReady(t, nil)
	tok := fakestest.UserToken(t, s.fakes, "u-002", "mobile")

	require.NoError(t, s.fakes.SetFault(domain.ServiceRecommendations, domain.Fault{ErrorRate: 1}))
	r := call(t, http.MethodGet, s.url+"/v1/home", tok, "", nil)
	require.Equal(t, http.StatusOK, r.StatusCode)
	assert.Contains(t, string(r.body), `"degraded":["recommendations"]`)
	assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))

	require.NoError(t, s.fakes.SetFault(domain.ServiceUsers, domain.Fault{ErrorRate: 1, Status: 500}))
	r = call(t, http.MethodGet, s.url+"/v1/home", tok, "", nil)
	assert.Equal(t, http.StatusBadGateway, r.StatusCode)
	assert.Contains(t, string(r.body), `"error":"upstream_unavailable"`)

	metrics, err := http.Get("http://" + s.app.AdminAddr() + "/metrics")
	require.NoError(t, err)
	defer metrics.Body.Close()
	b, err := io.ReadAll(metrics.Body)
	require.NoError(t, err)
	assert.Contains(t, string(b), `shopfront_degraded_sections_total{route="/v1/home",source="recommendations"} 1`)
}

// TestMobileBudgetsFromEnvironment sets the home budget through the
// environment: a payments call slower than the budget is cut off by it and
// the screen is served degraded. The route budget and the per-call timeout
// are raised well above the payments latency, so nothing but the home
// budget can cut that call: had it been ignored, payments would have
// answered and the screen would not be degraded. No elapsed time is
// asserted.
func TestMobileBudgetsFromEnvironment(t *testing.T) {
	t.Parallel()
	s := bootReady(t, map[string]string{
		"BFF_MOBILE_BUDGET_HOME": "800ms",
		"BFF_ROUTE_BUDGET":       "10s",
		"BFF_UPSTREAM_TIMEOUT":   "10s",
	})
	tok := fakestest.UserToken(t, s.fakes, "u-003", "mobile")
	require.NoError(t, s.fakes.SetFault(domain.ServicePayments, domain.Fault{LatencyMs: 3000}))
	r := call(t, http.MethodGet, s.url+"/v1/home", tok, "", nil)
	require.Equal(t, http.StatusOK, r.StatusCode, string(r.body))
	var home struct {
		Degraded []string `json:"degraded"`
	}
	require.NoError(t, json.Unmarshal(r.body, &home), string(r.body))
	assert.Contains(t, home.Degraded, "payments", "the slow optional source is cut off by the home budget")
	assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))
}

// TestMobileIdentityFromTokenOnly sends forged identity headers in every
// spelling and count: upstream sees only what the token says.
func TestMobileIdentityFromTokenOnly(t *testing.T) {
	t.Parallel()
	s := bootReady(t, nil)
	tok := fakestest.UserToken(t, s.fakes, "u-004", "mobile")
	req, err := http.NewRequest(http.MethodGet, s.url+"/v1/cart", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header["X-User-Id"] = []string{"u-001", "u-002"}
	req.Header["x-user-id"] = []string{"u-003"}
	req.Header.Set("X-Partner-Id", "acme")
	req.Header.Set("X-Client", "partner")
	req.Header.Set("X-User-Roles", "admin")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)

	h := s.fakes.LastHeaders(domain.ServiceCart)
	assert.Equal(t, []string{"u-004"}, h.Values("X-User-Id"))
	assert.Equal(t, []string{"mobile"}, h.Values("X-Client"))
	assert.Equal(t, []string{"customer"}, h.Values("X-User-Roles"))
	assert.Empty(t, h.Values("X-Partner-Id"))
	assert.Empty(t, h.Values("Authorization"))
	assert.Equal(t, res.Header.Get("X-Request-Id"), h.Get("X-Request-Id"))
}

// TestMobileTracePropagation: an incoming W3C trace continues to the
// upstream calls of the screen.
func TestMobileTracePropagation(t *testing.T) {
	t.Parallel()
	s := bootReady(t, nil)
	tok := fakestest.UserToken(t, s.fakes, "u-012", "mobile")
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	r := call(t, http.MethodGet, s.url+"/v1/home", tok, "", map[string]string{
		"traceparent": "00-" + traceID + "-00f067aa0ba902b7-01",
	})
	require.Equal(t, http.StatusOK, r.StatusCode)
	for _, svc := range []string{domain.ServiceUsers, domain.ServiceCatalog} {
		tp := s.fakes.LastHeaders(svc).Get("traceparent")
		assert.Contains(t, tp, traceID, svc)
		assert.NotContains(t, tp, "00f067aa0ba902b7", "%s gets a child span, not the caller's", svc)
	}
}
