package app_test

import (
	"strings"
	"testing"

	"github.com/shopfront/bff-partner/internal/app/apptest"
	"github.com/shopfront/shared/edge/gateway/gatewaytest"
)

// TestPartnerAttacks runs the hostile-input corpus against bff-partner's
// real listener, with a client-credentials token of a partner in the keys
// file.
func TestPartnerAttacks(t *testing.T) {
	t.Parallel()
	g := startPartner(t, nil)
	gatewaytest.Attacks(t, apptest.AttackTarget(t, strings.TrimPrefix(g.url, "http://"), g.f))
}
