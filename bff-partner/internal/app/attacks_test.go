package app_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/shopfront/contracts/fakes/fakestest"
	"github.com/shopfront/shared/edge/gateway/gatewaytest"
)

// TestPartnerAttacks runs the hostile-input corpus against bff-partner's
// real listener, with a client-credentials token of a partner in the keys
// file.
func TestPartnerAttacks(t *testing.T) {
	t.Parallel()
	g := startPartner(t, nil)
	claims := g.f.PartnerClaims("acme", "catalog:read", "inventory:read", "orders:read", "orders:write")
	tok := fakestest.Token(t, g.f, claims)
	gatewaytest.Attacks(t, gatewaytest.Target{
		Addr:            strings.TrimPrefix(g.url, "http://"),
		Fakes:           g.f,
		Protected:       "/v2/products",
		Claims:          claims,
		Auth:            func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) },
		BodyPath:        "/v2/orders",
		BodyHeaders:     map[string]string{"Idempotency-Key": "attack-1"},
		TraversalPath:   "/v2/products/",
		TraversalStatus: http.StatusBadRequest,
	})
}
