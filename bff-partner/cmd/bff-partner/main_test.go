package main_test

import (
	"net/http"
	"testing"

	"github.com/shopfront/bff-partner/internal/app/apptest"
	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/gateway/gatewaytest"
)

// TestCommand checks the binary: bad config stops start-up with one line
// per problem and exit 2; SIGTERM drains an in-flight product look-up and
// exits 0; the process withstands the attack corpus.
func TestCommand(t *testing.T) {
	t.Parallel()
	gatewaytest.Command{
		Name: "bff-partner",
		// The request below authenticates with a client-credentials JWT,
		// which is accepted only for a partner of the keys file.
		Env: []string{"BFF_PARTNER_KEYS_FILE=" + edgetest.TempFile(t, "keys.yaml", "partners:\n  - id: acme\n    name: Acme\n    keys: []\n")},
		InFlight: gatewaytest.InFlight{
			Path:        "/v2/products/p-0001",
			Credentials: gatewaytest.PartnerBearer("acme", string(auth.ScopeCatalogRead)),
			Identity:    http.Header{"X-User-Id": {"acme-client"}, "X-Partner-Id": {"acme"}, "X-Client": {"partner"}},
		},
		Attacks: apptest.AttackTarget,
	}.Test(t)
}
