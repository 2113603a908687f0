// Package apptest describes a running bff-mobile to the shared test
// corpora, once for the tests of the composition root and of the binary.
package apptest

import (
	"net/http"
	"testing"

	"github.com/shopfront/contracts/fakes"
	"github.com/shopfront/contracts/fakes/fakestest"
	"github.com/shopfront/shared/edge/gateway/gatewaytest"
)

// AttackTarget describes a bff-mobile listening on addr, with f behind it,
// for the attack corpus: a user token of u-001.
func AttackTarget(t testing.TB, addr string, f *fakes.Fakes) gatewaytest.Target {
	t.Helper()
	tok := fakestest.UserToken(t, f, "u-001", "mobile")
	return gatewaytest.Target{
		Addr:            addr,
		Fakes:           f,
		Protected:       "/v1/home",
		Claims:          f.UserClaims("u-001", "mobile"),
		Auth:            func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) },
		BodyPath:        "/v1/orders",
		BodyHeaders:     map[string]string{"Idempotency-Key": "attack-1"},
		TraversalPath:   "/v1/products/",
		TraversalStatus: http.StatusNotFound,
	}
}
