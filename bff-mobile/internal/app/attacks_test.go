package app_test

import (
	"net/http"
	"testing"

	"github.com/shopfront/contracts/fakes/fakestest"
	"github.com/shopfront/shared/edge/gateway/gatewaytest"
)

// TestMobileAttacks runs the hostile-input corpus against bff-mobile's
// real listener.
func TestMobileAttacks(t *testing.T) {
	t.Parallel()
	s := bootReady(t, nil)
	tok := fakestest.UserToken(t, s.fakes, "u-001", "mobile")
	gatewaytest.Attacks(t, gatewaytest.Target{
		Addr:            s.app.Addr(),
		Fakes:           s.fakes,
		Protected:       "/v1/home",
		Claims:          s.fakes.UserClaims("u-001", "mobile"),
		Auth:            func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) },
		BodyPath:        "/v1/orders",
		BodyHeaders:     map[string]string{"Idempotency-Key": "attack-1"},
		TraversalPath:   "/v1/products/",
		TraversalStatus: http.StatusNotFound,
	})
}
