package app_test

import (
	"strings"
	"testing"

	"github.com/shopfront/bff-web/internal/app/apptest"
	"github.com/shopfront/shared/edge/gateway/gatewaytest"
)

// TestWebAttacks runs the hostile-input corpus against bff-web's real
// listener.
func TestWebAttacks(t *testing.T) {
	t.Parallel()
	w := bootWeb(t, webOptions{})
	gatewaytest.Attacks(t, apptest.AttackTarget(t, strings.TrimPrefix(w.url, "http://"), w.fakes))
}
