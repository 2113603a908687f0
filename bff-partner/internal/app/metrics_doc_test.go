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
// the running gateway: after a product list, product pages whose pricing
// fails (retried, then refused by the retry budget), an unknown path and an
// anonymous call, /metrics exports exactly the shopfront_* families the
// table lists for bff-partner.
func TestMetricsAreDocumented(t *testing.T) {
	t.Parallel()
	g := startPartner(t, nil)
	assert.Equal(t, http.StatusOK, g.do(call{method: http.MethodGet, path: "/v2/products?pageSize=5", header: key(keyFull)}).status)
	require.NoError(t, g.f.SetFault(domain.ServicePricing, domain.Fault{ErrorRate: 1}))
	for range 2 {
		assert.Equal(t, http.StatusBadGateway, g.do(call{method: http.MethodGet, path: "/v2/products/p-0001", header: key(keyFull)}).status)
	}
	assert.Equal(t, http.StatusNotFound, g.do(call{method: http.MethodGet, path: "/no/such/route"}).status)
	assert.Equal(t, http.StatusUnauthorized, g.do(call{method: http.MethodGet, path: "/v2/products"}).status)

	assert.Equal(t, edgetest.DocMetrics(t, "partner"), edgetest.ScrapeFamilies(t, strings.TrimPrefix(g.admin, "http://")),
		"shopfront_* families: docs/operations.md (expected) vs /metrics (actual)")
}
