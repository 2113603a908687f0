package fakes_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
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
		name       string
		fault      string
		wantStatus int
		wantFailed func(t *testing.T, failed int)
	}{
		{name: "ok, every request fails with 503 by default", fault: `{"errorRate":1}`, wantStatus: 503,
			wantFailed: func(t *testing.T, failed int) { assert.Equal(t, 100, failed) }},
		{name: "ok, chosen status", fault: `{"errorRate":1,"status":500}`, wantStatus: 500,
			wantFailed: func(t *testing.T, failed int) { assert.Equal(t, 100, failed) }},
		{name: "ok, a status without errorRate fails every request", fault: `{"status":500}`, wantStatus: 500,
			wantFailed: func(t *testing.T, failed int) { assert.Equal(t, 100, failed) }},
		{name: "ok, a status with latency and no errorRate fails every request", fault: `{"latencyMs":1,"status":429}`, wantStatus: 429,
			wantFailed: func(t *testing.T, failed int) { assert.Equal(t, 100, failed) }},
		{name: "ok, half fail", fault: `{"errorRate":0.5}`, wantStatus: 503,
			wantFailed: func(t *testing.T, failed int) { assert.InDelta(t, 50, failed, 20) }},
		{name: "ok, latency only never fails", fault: `{"latencyMs":1}`, wantStatus: 200,
			wantFailed: func(t *testing.T, failed int) { assert.Zero(t, failed) }},
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
					assert.Equal(t, tt.wantStatus, resp.StatusCode)
					assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
					assert.Equal(t, tt.wantStatus, p.Status)
				}
			}
			tt.wantFailed(t, failed)
			assert.Equal(t, http.StatusOK, do(t, "GET", base+"/catalog/products/p-0001", "", nil, nil).StatusCode, "other services are unaffected")

			require.Equal(t, http.StatusNoContent, do(t, "DELETE", base+"/__faults/users", "", nil, nil).StatusCode)
			assert.Equal(t, http.StatusOK, do(t, "GET", base+"/users/users/u-001", "", nil, nil).StatusCode, "cleared")
		})
	}
}

// TestFaultLatency: the faulted service waits at least its latency, and a
// call to another service made meanwhile is not held up. The bound on the
// unfaulted call is relative to a large injected latency, not absolute, so
// a loaded CI machine running -race does not make it flake.
func TestFaultLatency(t *testing.T) {
	t.Parallel()
	const latency = 2 * time.Second
	f, base := fakestest.Start(t)
	require.NoError(t, f.SetFault(domain.ServicePricing, domain.Fault{LatencyMs: int(latency / time.Millisecond)}))

	type result struct {
		status  int
		elapsed time.Duration
	}
	slow := make(chan result, 1)
	go func() {
		start := time.Now()
		resp, err := http.Get(base + "/pricing/prices/p-0001")
		if err != nil {
			slow <- result{}
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		slow <- result{status: resp.StatusCode, elapsed: time.Since(start)}
	}()
	require.Eventually(t, func() bool { return f.Requests(domain.ServicePricing) == 1 }, 10*time.Second, time.Millisecond,
		"the pricing call is waiting out its latency")

	start := time.Now()
	assert.Equal(t, http.StatusOK, do(t, "GET", base+"/catalog/products/p-0001", "", nil, nil).StatusCode)
	assert.Less(t, time.Since(start), latency/2, "only pricing is slow, and it does not hold up catalog")

	r := <-slow
	assert.Equal(t, http.StatusOK, r.status)
	assert.GreaterOrEqual(t, r.elapsed, latency)
}

// TestFaultLatencyHonoursCancellation: a caller that gives up frees the
// handler at once; httptest.Server.Close waits for every handler to return.
func TestFaultLatencyHonoursCancellation(t *testing.T) {
	t.Parallel()
	f, err := fakes.New(fakes.Options{})
	require.NoError(t, err)
	srv := httptest.NewServer(f.Handler())
	require.NoError(t, f.SetFault(domain.ServiceCatalog, domain.Fault{LatencyMs: 20_000}))

	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+"/catalog/products/p-0001", nil)
	require.NoError(t, err)
	_, err = http.DefaultClient.Do(req)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	start := time.Now()
	srv.Close()
	assert.Less(t, time.Since(start), 5*time.Second, "the handler stopped waiting when the client left")
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
