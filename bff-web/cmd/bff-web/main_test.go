package main_test

import (
	"net/http"
	"testing"

	"github.com/shopfront/bff-web/internal/app/apptest"
	"github.com/shopfront/shared/edge/gateway/gatewaytest"
)

// TestCommand checks the binary: bad config stops start-up with one line
// per problem and exit 2; SIGTERM drains an in-flight catalog page and
// exits 0; the process withstands the attack corpus.
func TestCommand(t *testing.T) {
	t.Parallel()
	gatewaytest.Command{Name: "bff-web", InFlight: gatewaytest.InFlight{
		Path:        "/v1/catalog?q=a",
		Credentials: gatewaytest.UserBearer("u-001", "web"),
		Identity:    http.Header{"X-User-Id": {"u-001"}, "X-Client": {"web"}},
	}, Attacks: apptest.AttackTarget}.Test(t)
}
