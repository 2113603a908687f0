package app_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/shopfront/contracts/fakes/fakestest"
	"github.com/shopfront/shared/edge/gateway/gatewaytest"
)

// TestWebAttacks runs the hostile-input corpus against bff-web's real
// listener.
func TestWebAttacks(t *testing.T) {
	t.Parallel()
	w := bootWeb(t, webOptions{})
	tok := fakestest.UserToken(t, w.fakes, "u-001", "web")
	gatewaytest.Attacks(t, gatewaytest.Target{
		Addr:            strings.TrimPrefix(w.url, "http://"),
		Fakes:           w.fakes,
		Protected:       "/v1/me",
		Claims:          w.fakes.UserClaims("u-001", "web"),
		Auth:            func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) },
		BodyPath:        "/v1/orders",
		BodyHeaders:     map[string]string{"Idempotency-Key": "attack-1"},
		TraversalPath:   "/v1/pages/product/",
		TraversalStatus: http.StatusNotFound,
	})
}
