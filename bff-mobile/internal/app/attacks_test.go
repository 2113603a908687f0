package app_test

import (
	"testing"

	"github.com/shopfront/bff-mobile/internal/app/apptest"
	"github.com/shopfront/shared/edge/gateway/gatewaytest"
)

// TestMobileAttacks runs the hostile-input corpus against bff-mobile's
// real listener.
func TestMobileAttacks(t *testing.T) {
	t.Parallel()
	s := bootReady(t, nil)
	gatewaytest.Attacks(t, apptest.AttackTarget(t, s.app.Addr(), s.fakes))
}
