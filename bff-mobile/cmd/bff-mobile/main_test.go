package main_test

import (
	"net/http"
	"testing"

	"github.com/shopfront/contracts/fakes"
	"github.com/shopfront/contracts/fakes/fakestest"
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
	}, Attacks: func(t testing.TB, addr string, f *fakes.Fakes) gatewaytest.Target {
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
	}}.Test(t)
}
