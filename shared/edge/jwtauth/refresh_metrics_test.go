package jwtauth_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/jwtauth"
)

// TestRefreshFailuresAreCounted gives operators the signal behind the
// "JWKS not refreshed" alert: while the identity service's JWKS is down,
// every failed background refresh counts, and the count stands still once
// it is back.
func TestRefreshFailuresAreCounted(t *testing.T) {
	t.Parallel()
	jwks := edgetest.StartJWKS(t, edgetest.NewKey(t, edgetest.RS256))
	reg := prometheus.NewRegistry()
	newVerifier(t, jwks, func(c *jwtauth.VerifierConfig) {
		c.Registry = reg
		c.RefreshInterval = 20 * time.Millisecond
	})
	failures := func() float64 {
		mfs, err := reg.Gather()
		require.NoError(t, err)
		for _, mf := range mfs {
			if mf.GetName() == "shopfront_jwks_refresh_failures_total" {
				return mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
		t.Fatal("shopfront_jwks_refresh_failures_total is not registered")
		return 0
	}
	n, err := testutil.GatherAndCount(reg, "shopfront_jwks_refresh_failures_total")
	require.NoError(t, err)
	require.Equal(t, 1, n, "exported before any failure")

	jwks.SetDown(true)
	// Waits for background refreshes to happen; no bound on their speed.
	require.Eventually(t, func() bool { return failures() >= 2 }, 10*time.Second, 10*time.Millisecond)
	jwks.SetDown(false)
	require.Eventually(t, func() bool {
		before := failures()
		time.Sleep(100 * time.Millisecond)
		return failures() == before
	}, 10*time.Second, time.Millisecond, "refreshes succeed again")
	assert.Positive(t, failures())
}
