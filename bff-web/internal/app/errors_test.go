package app_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"

	"github.com/shopfront/bff-web/internal/api"
	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/contracts/fakes/fakestest"
	"github.com/shopfront/shared/edge/degraded"
	"github.com/shopfront/shared/edge/problem"
)

// TestErrorClasses checks one answer of each error class bff-web produces:
// status, problem+json body with the stable code, the request id as
// instance, and only a fixed detail sentence on 5xx.
func TestErrorClasses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		env          map[string]string
		fault        map[string]domain.Fault
		method       string
		path         string
		body         string
		header       map[string]string
		bearer       bool
		session      bool
		expectStatus int
		expectCode   string
	}{
		{name: "nok, missing credentials", method: http.MethodGet, path: "/v1/me", expectStatus: 401, expectCode: "unauthorized"},
		{name: "nok, forged token", method: http.MethodGet, path: "/v1/me", header: map[string]string{"Authorization": "Bearer a.b.c"}, expectStatus: 401, expectCode: "invalid_token"},
		{name: "nok, forged Bearer token on an optional route", method: http.MethodGet, path: "/v1/catalog", header: map[string]string{"Authorization": "Bearer a.b.c"}, expectStatus: 401, expectCode: "invalid_token"},
		{name: "nok, bad page", method: http.MethodGet, path: "/v1/catalog?page=x", expectStatus: 400, expectCode: "validation_failed"},
		{name: "nok, bad product id", method: http.MethodGet, path: "/v1/pages/product/" + "%20bad", expectStatus: 400, expectCode: "validation_failed"},
		{name: "nok, unknown product", method: http.MethodGet, path: "/v1/pages/product/p-9999", expectStatus: 404, expectCode: "not_found"},
		{name: "nok, bad quantity", method: http.MethodPut, path: "/v1/cart/items/p-0001", body: `{"quantity":-1}`, bearer: true, expectStatus: 400, expectCode: "validation_failed"},
		{name: "nok, not JSON", method: http.MethodPost, path: "/v1/orders", body: `x`, header: map[string]string{"Content-Type": "text/plain"}, bearer: true, expectStatus: 415, expectCode: "unsupported_media_type"},
		{name: "nok, forged session cookie on a personal route", method: http.MethodDelete, path: "/v1/cart/items/p-0001", header: map[string]string{"Cookie": "sf_session=x; sf_csrf=y"}, expectStatus: 401, expectCode: "invalid_token"},
		{name: "nok, session cookie without CSRF header", method: http.MethodDelete, path: "/v1/cart/items/p-0001", session: true, expectStatus: 403, expectCode: "csrf_failed"},
		{name: "nok, preflight from another origin", method: http.MethodOptions, path: "/v1/cart",
			header: map[string]string{"Origin": "https://evil.example.com", "Access-Control-Request-Method": "GET"}, expectStatus: 403, expectCode: "forbidden"},
		{name: "nok, critical source failing", fault: map[string]domain.Fault{domain.ServiceCatalog: {Status: 500, ErrorRate: 1}},
			method: http.MethodGet, path: "/v1/catalog", expectStatus: 502, expectCode: "upstream_unavailable"},
		{name: "nok, critical source slow", env: map[string]string{"BFF_UPSTREAM_TIMEOUT": "150ms"}, fault: map[string]domain.Fault{domain.ServiceUsers: {LatencyMs: 1000}},
			method: http.MethodGet, path: "/v1/me", bearer: true, expectStatus: 504, expectCode: "upstream_timeout"},
		{name: "nok, unknown route", method: http.MethodGet, path: "/v2/catalog", expectStatus: 404, expectCode: "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := bootWeb(t, webOptions{env: tt.env})
			for s, f := range tt.fault {
				require.NoError(t, w.fakes.SetFault(s, f))
			}
			header := map[string]string{"X-Request-Id": "err-" + strconv.Itoa(tt.expectStatus)}
			for k, v := range tt.header {
				header[k] = v
			}
			if tt.session {
				header["Cookie"] = "sf_session=" + fakestest.UserToken(t, w.fakes, "u-001", "web") + "; sf_csrf=y"
			}
			if tt.bearer {
				header["Authorization"] = "Bearer " + fakestest.UserToken(t, w.fakes, "u-001", "web")
			}
			a := newClient(t, nil).do(tt.method, w.url+tt.path, tt.body, header)
			assert.Equal(t, tt.expectStatus, a.status, string(a.body))
			assert.Equal(t, "application/problem+json", a.header.Get("Content-Type"))
			assert.Equal(t, tt.expectCode, a.json["error"])
			assert.EqualValues(t, tt.expectStatus, a.json["status"])
			assert.Equal(t, header["X-Request-Id"], a.json["requestId"])
			assert.Equal(t, "urn:request:"+header["X-Request-Id"], a.json["instance"])
			assert.NotEmpty(t, a.json["title"])
			if tt.expectStatus >= 500 {
				assert.Equal(t, problem.ServerDetail(tt.expectCode), a.json["detail"], "a 5xx carries only its fixed sentence")
			}
		})
	}
}

// TestRateLimited drains an anonymous client's burst: the 429 carries the
// rate-limit headers, and failed authentication counts against the same IP.
func TestRateLimited(t *testing.T) {
	t.Parallel()
	w := bootWeb(t, webOptions{})
	c := newClient(t, nil)
	// Failed logins and forged tokens are charged to the client IP too.
	for range 10 {
		a := c.do(http.MethodGet, w.url+"/v1/me", "", map[string]string{"Authorization": "Bearer a.b.c"})
		require.Equal(t, http.StatusUnauthorized, a.status)
	}
	var last answer
	for range 25 {
		last = c.do(http.MethodGet, w.url+"/v1/catalog?pageSize=1", "", nil)
		if last.status == http.StatusTooManyRequests {
			break
		}
	}
	require.Equal(t, http.StatusTooManyRequests, last.status, "burst 30 drained by 10 failures and at most 20 reads")
	assert.Equal(t, "rate_limited", last.json["error"])
	assert.NotEmpty(t, last.header.Get("Retry-After"))
	assert.Equal(t, "120", last.header.Get("X-RateLimit-Limit"))
	assert.Equal(t, "0", last.header.Get("X-RateLimit-Remaining"))
	assert.Equal(t, `"anonymous";q=120;w=60`, last.header.Get("RateLimit-Policy"))

	// Another client IP is not affected.
	a := newClient(t, nil).do(http.MethodGet, w.url+"/v1/catalog?pageSize=1", "", nil)
	assert.Equal(t, http.StatusOK, a.status)
}

// TestDegradedPages checks that optional sources degrade their sections and
// mark the answer no-store.
func TestDegradedPages(t *testing.T) {
	t.Parallel()
	w := bootWeb(t, webOptions{})
	ct := newContract(t)
	require.NoError(t, w.fakes.SetFault(domain.ServicePricing, domain.Fault{Status: 500, ErrorRate: 1}))
	require.NoError(t, w.fakes.SetFault(domain.ServicePayments, domain.Fault{Status: 500, ErrorRate: 1}))

	a := newClient(t, ct).do(http.MethodGet, w.url+"/v1/catalog?pageSize=3", "", nil)
	require.Equal(t, http.StatusOK, a.status)
	assert.Equal(t, []any{"pricing"}, a.json["degraded"])
	var catalog api.Catalog
	require.NoError(t, json.Unmarshal(a.body, &catalog))
	require.NotEmpty(t, catalog.Items)
	assert.Nil(t, catalog.Items[0].Price)
	assert.Nil(t, catalog.Items[0].ListPrice)
	assert.Equal(t, "no-store", a.header.Get("Cache-Control"))

	tok := map[string]string{"Authorization": "Bearer " + fakestest.UserToken(t, w.fakes, "u-002", "web")}
	a = newClient(t, ct).do(http.MethodGet, w.url+"/v1/pages/account", "", tok)
	require.Equal(t, http.StatusOK, a.status)
	account := decode[webPage](t, a)
	assert.Equal(t, []string{"payments"}, account.Degraded)
	assert.Nil(t, a.json["balance"])
	assert.Equal(t, "u-002", account.User.ID)

	require.NoError(t, w.fakes.SetFault(domain.ServiceUsers, domain.Fault{Status: 500, ErrorRate: 1}))
	a = newClient(t, ct).do(http.MethodGet, w.url+"/v1/pages/account", "", tok)
	assert.Equal(t, http.StatusBadGateway, a.status, "users is critical")
}

// TestDegradedSectionIsLoggedAtWarn checks that a page whose optional
// source fails writes one Warn line naming the route, the source and the
// request id, as every gateway does: the client only learns the source's
// name, the operator needs the cause.
func TestDegradedSectionIsLoggedAtWarn(t *testing.T) {
	t.Parallel()
	w := bootWeb(t, webOptions{})
	require.NoError(t, w.fakes.SetFault(domain.ServicePricing, domain.Fault{Status: 500, ErrorRate: 1}))
	a := newClient(t, newContract(t)).do(http.MethodGet, w.url+"/v1/catalog?pageSize=2", "",
		map[string]string{"X-Request-Id": "web-degraded-1"})
	require.Equal(t, http.StatusOK, a.status, string(a.body))

	var lines []map[string]any
	for _, e := range w.logs.FilterMessage(degraded.Message).All() {
		if f := e.ContextMap(); f["requestId"] == "web-degraded-1" {
			assert.Equal(t, zapcore.WarnLevel, e.Level)
			lines = append(lines, f)
		}
	}
	require.Len(t, lines, 1)
	assert.Equal(t, "/v1/catalog", lines[0]["route"])
	assert.Equal(t, domain.ServicePricing, lines[0]["source"])
	assert.NotEmpty(t, lines[0]["error"])
}
