package app_test

import (
	"context"
	"fmt"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/shopfront/bff-web/internal/app"
	"github.com/shopfront/bff-web/internal/config"
	"github.com/shopfront/contracts/fakes/fakestest"
	edgeconfig "github.com/shopfront/shared/edge/config"
	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/gateway/gatewaytest"
)

// boot starts bff-web on free loopback ports against fresh fakes, configured
// the way main does it (environment through config.Load).
func boot(t *testing.T, env map[string]string) *app.App {
	t.Helper()
	_, base := fakestest.Start(t)
	cfg, err := config.Load(edgeconfig.MapLookup(gatewaytest.Env(base, env)))
	require.NoError(t, err)
	a, _ := gatewaytest.Serve(t, func(ctx context.Context) (*app.App, error) { return app.New(ctx, cfg, zap.NewNop()) })
	return a
}

// TestWiring checks what the composition root wires on the shared core.
func TestWiring(t *testing.T) {
	t.Parallel()
	gatewaytest.CheckWiring(t, func(t *testing.T, env map[string]string) gatewaytest.Listening { return boot(t, env) })
}

// TestFailedWiringReleasesWhatWasOpened makes wiring fail after the
// response cache was built on the gateway's Redis client: New returns the
// error and releases what it opened, the listeners included, so their
// ports can be bound again at once.
func TestFailedWiringReleasesWhatWasOpened(t *testing.T) {
	t.Parallel()
	r := edgetest.StartRedis(t)
	_, base := fakestest.Start(t)
	addr := fmt.Sprintf("127.0.0.1:%d", edgetest.FreePort(t))
	cfg, err := config.Load(edgeconfig.MapLookup(gatewaytest.Env(base, map[string]string{
		"BFF_REDIS_URL": r.URL(), edgeconfig.VarAddr: addr,
	})))
	require.NoError(t, err)
	// A setting Load would have refused: CORS is built after the cache.
	cfg.Web.CORSOrigins = []string{"*"}

	_, err = app.New(t.Context(), cfg, zap.NewNop())
	require.ErrorContains(t, err, "building CORS")

	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err, "the public listener was closed when wiring failed")
	assert.NoError(t, ln.Close())
}

// TestChainDoc: docs/chain.md shows bff-web's edge chain exactly as the
// composition root installs it.
func TestChainDoc(t *testing.T) {
	t.Parallel()
	a := boot(t, nil)
	gatewaytest.CheckChainDoc(t, app.Name, a.Layers())
}
