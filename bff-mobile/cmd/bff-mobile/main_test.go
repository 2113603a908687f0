package main_test

import (
	"net/http"
	"testing"

	"github.com/shopfront/bff-mobile/internal/app/apptest"
	"github.com/shopfront/shared/edge/gateway/gatewaytest"
)

// TestCommand checks the binary: bad config stops start-up with one line
// per problem and exit 2; SIGTERM drains an in-flight search and exits 0;
// the process withstands the attack corpus.
func TestCommand(t *testing.T) {
	t.Parallel()
	gatewaytest.Command{Name: "bff-mobile", InFlight: gatewaytest.InFlight{
		Path:        "/v1/search?q=a",
		Credentials: gatewaytest.UserBearer("u-001", "mobile"),
		Identity:    http.Header{"X-User-Id": {"u-001"}, "X-Client": {"mobile"}},
	}, Attacks: apptest.AttackTarget}.Test(t)
}
