package app_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/contracts/fakes/fakestest"
	"github.com/shopfront/shared/edge/edgetest"
)

// TestMetricsAreDocumented holds the metrics table of docs/operations.md to
// the running gateway: after a screen, a cart, an unknown path, an
// anonymous call and a failing optional source (retried, then refused by
// the retry budget, then degraded), /metrics exports exactly the
// shopfront_* families the table lists for bff-mobile.
func TestMetricsAreDocumented(t *testing.T) {
	t.Parallel()
	s := bootReady(t, nil)
	tok := fakestest.UserToken(t, s.fakes, "u-003", "mobile")
	require.NoError(t, s.fakes.SetFault(domain.ServiceRecommendations, domain.Fault{ErrorRate: 1}))
	for range 2 {
		r := call(t, http.MethodGet, s.url+"/v1/home", tok, "", nil)
		require.Equal(t, http.StatusOK, r.StatusCode)
	}
	assert.Equal(t, http.StatusOK, call(t, http.MethodGet, s.url+"/v1/cart", tok, "", nil).StatusCode)
	assert.Equal(t, http.StatusNotFound, call(t, http.MethodGet, s.url+"/no/such/route", "", "", nil).StatusCode)
	assert.Equal(t, http.StatusUnauthorized, call(t, http.MethodGet, s.url+"/v1/home", "", "", nil).StatusCode)

	assert.Equal(t, edgetest.DocMetrics(t, "mobile"), edgetest.ScrapeFamilies(t, s.app.AdminAddr()),
		"shopfront_* families: docs/operations.md (expected) vs /metrics (actual)")
}
