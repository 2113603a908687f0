package app_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/shared/edge/problem"
)

// TestPartnerWrongMethod checks that a known path asked with a method it
// does not serve is 405 method_not_allowed with an Allow header (RFC 9110
// §15.5.6), not 404, whatever the credentials, and that /v1 keeps its
// deprecation headers on that error too.
func TestPartnerWrongMethod(t *testing.T) {
	t.Parallel()
	g := startPartner(t, nil)
	tests := []struct {
		name        string
		given       call
		expectAllow string
		v1          bool
	}{
		{name: "nok, DELETE /v2/products", given: call{method: "DELETE", path: "/v2/products"}, expectAllow: "GET"},
		{name: "nok, DELETE /v2/products with a valid key", given: call{method: "DELETE", path: "/v2/products", header: key(keyFull)},
			expectAllow: "GET"},
		{name: "nok, GET /v2/orders", given: call{method: "GET", path: "/v2/orders", header: key(keyFull)}, expectAllow: "POST"},
		{name: "nok, PUT /v2/orders/o-1", given: call{method: "PUT", path: "/v2/orders/o-1", body: order, header: key(keyFull)},
			expectAllow: "GET"},
		{name: "nok, POST /v2/inventory/p-0001", given: call{method: "POST", path: "/v2/inventory/p-0001", header: key(keyFull)},
			expectAllow: "GET"},
		{name: "nok, POST /v1/products with a valid key", given: call{method: "POST", path: "/v1/products", body: "{}", header: key(keyFull)},
			expectAllow: "GET", v1: true},
		{name: "nok, DELETE /v1/products/p-0001", given: call{method: "DELETE", path: "/v1/products/p-0001"}, expectAllow: "GET", v1: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := g.do(tt.given)
			assert.Equal(t, http.StatusMethodNotAllowed, r.status, string(r.body))
			assert.Equal(t, problem.ContentType, r.header.Get("Content-Type"))
			assert.Equal(t, problem.CodeMethodNotAllowed, r.code())
			assert.NotEmpty(t, r.json["requestId"])
			assert.Contains(t, r.header.Get("Allow"), tt.expectAllow)
			if tt.v1 {
				assertDeprecated(t, r)
			} else {
				assert.Empty(t, r.header.Get("Deprecation"))
			}
		})
	}

	// An unknown path is still 404, and a right method still works.
	r := g.do(call{method: "GET", path: "/v2/nowhere", header: key(keyFull)})
	assert.Equal(t, http.StatusNotFound, r.status)
	assert.Equal(t, problem.CodeNotFound, r.code())
	r = g.do(call{method: "GET", path: "/v1/nowhere"})
	assert.Equal(t, http.StatusNotFound, r.status)
	assertDeprecated(t, r)
	r = g.do(call{method: "GET", path: "/v2/products/p-0001", route: "/v2/products/:id", header: key(keyFull)})
	assert.Equal(t, http.StatusOK, r.status)
	assert.Zero(t, g.f.Requests(domain.ServiceOrders), "no refused method reached the orders service")
}
