package fakes_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/contracts/fakes"
	"github.com/shopfront/contracts/fakes/fakestest"
)

func TestFaultErrorRate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		fault        string
		expectStatus int
		expectFailed func(t *testing.T, failed int)
	}{
		{name: "ok, every request fails with 503 by default", fault: `{"errorRate":1}`, expectStatus: 503,
			expectFailed: func(t *testing.T, failed int) { assert.Equal(t, 100, failed) }},
		{name: "ok, chosen status", fault: `{"errorRate":1,"status":500}`, expectStatus: 500,
			expectFailed: func(t *testing.T, failed int) { assert.Equal(t, 100, failed) }},
		{name: "ok, a status without errorRate fails every request", fault: `{"status":500}`, expectStatus: 500,
			expectFailed: func(t *testing.T, failed int) { assert.Equal(t, 100, failed) }},
		{name: "ok, a status with latency and no errorRate fails every request", fault: `{"latencyMs":1,"status":429}`, expectStatus: 429,
			expectFailed: func(t *testing.T, failed int) { assert.Equal(t, 100, failed) }},
		{name: "ok, half fail", fault: `{"errorRate":0.5}`, expectStatus: 503,
			expectFailed: func(t *testing.T, failed int) { assert.InDelta(t, 50, failed, 20) }},
		{name: "ok, latency only never fails", fault: `{"latencyMs":1}`, expectStatus: 200,
			expectFailed: func(t *testing.T, failed int) { assert.Zero(t, failed) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, base := fakestest.Start(t)
			require.Equal(t, http.StatusNoContent, do(t, "PUT", base+"/__faults/users", tt.fault, nil, nil).StatusCode)
			failed := 0
			for range 100 {
				var p problem
				resp := do(t, "GET", base+"/users/users/u-001", "", nil, &p)
				if resp.StatusCode != http.StatusOK {
					failed++
					assert.Equal(t, tt.expectStatus, resp.StatusCode)
					assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
					assert.Equal(t, tt.expectStatus, p.Status)
				}
			}
			tt.expectFailed(t, failed)
			assert.Equal(t, http.StatusOK, do(t, "GET", base+"/catalog/products/p-0001", "", nil, nil).StatusCode, "other services are unaffected")

			require.Equal(t, http.StatusNoContent, do(t, "DELETE", base+"/__faults/users", "", nil, nil).StatusCode)
			assert.Equal(t, http.StatusOK, do(t, "GET", base+"/users/users/u-001", "", nil, nil).StatusCode, "cleared")
		})
	}
}

// TestFaultLatency: the faulted service waits exactly its latency, and a
// call to another service made meanwhile is not held up. The handler is
// called in process on fake time, so the claim is exact however loaded the
// machine is.
func TestFaultLatency(t *testing.T) {
	t.Parallel()
	const latency = 2 * time.Second
	f, err := fakes.New(fakes.Options{})
	require.NoError(t, err)
	require.NoError(t, f.SetFault(domain.ServicePricing, domain.Fault{LatencyMs: int(latency / time.Millisecond)}))

	synctest.Test(t, func(t *testing.T) {
		type result struct {
			status  int
			elapsed time.Duration
		}
		slow := make(chan result, 1)
		start := time.Now()
		go func() {
			w := httptest.NewRecorder()
			f.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/pricing/prices/p-0001", nil))
			slow <- result{status: w.Code, elapsed: time.Since(start)}
		}()
		synctest.Wait() // The pricing call is waiting out its latency.
		require.Equal(t, 1, f.Requests(domain.ServicePricing))

		w := httptest.NewRecorder()
		f.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/catalog/products/p-0001", nil))
		assert.Equal(t, http.StatusOK, w.Code)
		assert.Zero(t, time.Since(start), "only pricing is slow, and it does not hold up catalog")

		r := <-slow
		assert.Equal(t, http.StatusOK, r.status)
		assert.Equal(t, latency, r.elapsed)
	})
}

// TestFaultLatencyHonoursCancellation: a caller that gives up frees the
// handler at once, not when the latency has run out.
func TestFaultLatencyHonoursCancellation(t *testing.T) {
	t.Parallel()
	f, err := fakes.New(fakes.Options{})
	require.NoError(t, err)
	require.NoError(t, f.SetFault(domain.ServiceCatalog, domain.Fault{LatencyMs: 20_000}))

	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		f.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequestWithContext(ctx, http.MethodGet, "/catalog/products/p-0001", nil))
		assert.Equal(t, 100*time.Millisecond, time.Since(start), "the handler stopped waiting when the client left")
	})
}

// TestFaultStatusOnly: through the Go API as through PUT /__faults, a
// status without an error rate fails every request with it.
func TestFaultStatusOnly(t *testing.T) {
	t.Parallel()
	f, base := fakestest.Start(t)
	require.NoError(t, f.SetFault(domain.ServiceCart, domain.Fault{Status: http.StatusBadGateway}))
	for range 20 {
		var p problem
		resp := do(t, "GET", base+"/cart/carts/u-001", "", nil, &p)
		assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
		assert.Equal(t, "fault_injected", p.Code)
	}
}

func TestFaultDown(t *testing.T) {
	t.Parallel()
	f, base := fakestest.Start(t)
	require.Equal(t, http.StatusNoContent, do(t, "PUT", base+"/__faults/orders", `{"down":true}`, nil, nil).StatusCode)
	resp, err := http.Get(base + "/orders/orders/o-00001")
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	require.Error(t, err, "no answer, the connection is closed")
	assert.True(t, errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF), "%v", err)
	// net/http retries an idempotent request once on a reused connection.
	assert.GreaterOrEqual(t, f.Requests(domain.ServiceOrders), 1, "the request arrived")

	require.Equal(t, http.StatusNoContent, do(t, "DELETE", base+"/__faults", "", nil, nil).StatusCode)
	assert.Equal(t, http.StatusOK, do(t, "GET", base+"/orders/orders/o-00001", "", nil, nil).StatusCode, "all cleared")
}

func TestFaultAPIValidation(t *testing.T) {
	t.Parallel()
	_, base := fakestest.Start(t)
	tests := []struct {
		name    string
		service string
		body    string
		status  int
	}{
		{name: "ok, valid", service: "users", body: `{"latencyMs":5,"errorRate":0.1,"status":502}`, status: 204},
		{name: "nok, unknown service", service: "billing", body: `{"errorRate":1}`, status: 404},
		{name: "nok, rate above 1", service: "users", body: `{"errorRate":2}`, status: 400},
		{name: "nok, negative latency", service: "users", body: `{"latencyMs":-1}`, status: 400},
		{name: "nok, status not an error", service: "users", body: `{"errorRate":1,"status":200}`, status: 400},
		{name: "nok, unknown field", service: "users", body: `{"latency":5}`, status: 400},
		{name: "nok, not JSON", service: "users", body: `down`, status: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := do(t, "PUT", base+"/__faults/"+tt.service, tt.body, nil, nil)
			assert.Equal(t, tt.status, resp.StatusCode)
			if tt.status >= 400 {
				assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
			}
		})
	}
	t.Run("nok, a rejected fault changes nothing", func(t *testing.T) {
		t.Parallel()
		_, base := fakestest.Start(t)
		do(t, "PUT", base+"/__faults/catalog", `{"errorRate":2}`, nil, nil)
		assert.Equal(t, http.StatusOK, do(t, "GET", base+"/catalog/products/p-0001", "", nil, nil).StatusCode)
	})
}

func TestStats(t *testing.T) {
	t.Parallel()
	f, base := fakestest.Start(t)
	for range 3 {
		do(t, "GET", base+"/catalog/products/p-0001", "", nil, nil)
	}
	do(t, "GET", base+"/users/users/u-404", "", map[string]string{"X-User-Id": "u-001", "X-Request-Id": "r-1"}, nil)

	var stats struct {
		Requests map[string]int `json:"requests"`
	}
	require.Equal(t, http.StatusOK, do(t, "GET", base+"/__stats", "", nil, &stats).StatusCode)
	assert.Equal(t, 3, stats.Requests["catalog"])
	assert.Equal(t, 1, stats.Requests["users"])
	assert.Equal(t, 0, stats.Requests["identity"])
	assert.Len(t, stats.Requests, len(domain.ServiceNames()))
	assert.Equal(t, 3, f.Requests(domain.ServiceCatalog))

	h := f.LastHeaders(domain.ServiceUsers)
	assert.Equal(t, "u-001", h.Get("X-User-Id"))
	assert.Equal(t, "r-1", h.Get("X-Request-Id"))
	h.Set("X-User-Id", "changed")
	assert.Equal(t, "u-001", f.LastHeaders(domain.ServiceUsers).Get("X-User-Id"), "a copy is returned")
	assert.Nil(t, f.LastHeaders(domain.ServicePayments))

	require.Equal(t, http.StatusNoContent, do(t, "DELETE", base+"/__stats", "", nil, nil).StatusCode)
	assert.Zero(t, f.Requests(domain.ServiceCatalog))
	assert.Nil(t, f.LastHeaders(domain.ServiceUsers))
}
