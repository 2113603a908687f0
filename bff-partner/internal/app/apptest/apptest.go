// Package apptest describes a running bff-partner to the shared test
// corpora, once for the tests of the composition root and of the binary.
package apptest

import (
	"net/http"
	"testing"

	"github.com/shopfront/contracts/fakes"
	"github.com/shopfront/contracts/fakes/fakestest"
	"github.com/shopfront/shared/edge/gateway/gatewaytest"
)

// AttackTarget describes a bff-partner listening on addr, with f behind
// it, for the attack corpus: a client-credentials token of partner acme
// (which the keys file must list) with every scope.
func AttackTarget(t testing.TB, addr string, f *fakes.Fakes) gatewaytest.Target {
	t.Helper()
	claims := f.PartnerClaims("acme", "catalog:read", "inventory:read", "orders:read", "orders:write")
	tok := fakestest.Token(t, f, claims)
	return gatewaytest.Target{
		Addr:            addr,
		Fakes:           f,
		Protected:       "/v2/products",
		Claims:          claims,
		Auth:            func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) },
		BodyPath:        "/v2/orders",
		BodyHeaders:     map[string]string{"Idempotency-Key": "attack-1"},
		TraversalPath:   "/v2/products/",
		TraversalStatus: http.StatusBadRequest,
	}
}
