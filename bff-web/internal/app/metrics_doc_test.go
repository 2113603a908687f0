package app_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/shared/edge/edgetest"
)

// TestMetricsAreDocumented holds the metrics table of docs/operations.md to
// the running gateway: after catalog pages through the cache, a product
// page whose optional recommendations fail (retried, then refused by the
// retry budget, then degraded) and an unknown path, /metrics exports
// exactly the shopfront_* families the table lists for bff-web.
func TestMetricsAreDocumented(t *testing.T) {
	t.Parallel()
	w := bootWeb(t, webOptions{})
	require.NoError(t, w.fakes.SetFault(domain.ServiceRecommendations, domain.Fault{ErrorRate: 1}))
	get := func(path string) int {
		res, err := http.Get(w.url + path)
		require.NoError(t, err)
		res.Body.Close()
		return res.StatusCode
	}
	assert.Equal(t, http.StatusOK, get("/v1/catalog?q=lamp"))
	for range 2 {
		assert.Equal(t, http.StatusOK, get("/v1/pages/product/p-0001"))
	}
	assert.Equal(t, http.StatusNotFound, get("/no/such/route"))
	assert.Equal(t, http.StatusUnauthorized, get("/v1/me"))

	assert.Equal(t, edgetest.DocMetrics(t, "web"), edgetest.ScrapeFamilies(t, strings.TrimPrefix(w.admin, "http://")),
		"shopfront_* families: docs/operations.md (expected) vs /metrics (actual)")
}
