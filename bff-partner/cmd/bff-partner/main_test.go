package main_test

import (
	"net/http"
	"testing"

	"github.com/shopfront/contracts/fakes"
	"github.com/shopfront/contracts/fakes/fakestest"
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
		Attacks: func(t testing.TB, addr string, f *fakes.Fakes) gatewaytest.Target {
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
		},
	}.Test(t)
}
