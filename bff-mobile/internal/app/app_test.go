package app_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/shopfront/bff-mobile/internal/app"
	"github.com/shopfront/bff-mobile/internal/config"
	"github.com/shopfront/contracts/fakes"
	"github.com/shopfront/contracts/fakes/fakestest"
	edgeconfig "github.com/shopfront/shared/edge/config"
	"github.com/shopfront/shared/edge/gateway/gatewaytest"
)

// boot starts bff-mobile on free loopback ports against fresh fakes, configured
// the way main does it (environment through config.Load).
func boot(t *testing.T, env map[string]string) *app.App {
	t.Helper()
	a, _ := bootWithFakes(t, env)
	return a
}

// bootWithFakes is boot that also returns the fakes, to mint tokens and
// inject faults.
func bootWithFakes(t testing.TB, env map[string]string) (*app.App, *fakes.Fakes) {
	t.Helper()
	f, base := fakestest.Start(t)
	cfg, err := config.Load(edgeconfig.MapLookup(gatewaytest.Env(base, env)))
	require.NoError(t, err)
	a, _ := gatewaytest.Serve(t, func(ctx context.Context) (*app.App, error) { return app.New(ctx, cfg, zap.NewNop()) })
	return a, f
}

// TestWiring checks what the composition root wires on the shared core.
func TestWiring(t *testing.T) {
	t.Parallel()
	gatewaytest.CheckWiring(t, func(t *testing.T, env map[string]string) gatewaytest.Listening { return boot(t, env) })
}

// TestChainDoc: docs/chain.md shows bff-mobile's edge chain exactly as the
// composition root installs it.
func TestChainDoc(t *testing.T) {
	t.Parallel()
	a := boot(t, nil)
	gatewaytest.CheckChainDoc(t, app.Name, a.Layers())
}
