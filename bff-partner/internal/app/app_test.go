package app_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/shopfront/bff-partner/internal/app"
	"github.com/shopfront/bff-partner/internal/config"
	"github.com/shopfront/contracts/fakes/fakestest"
	edgeconfig "github.com/shopfront/shared/edge/config"
	"github.com/shopfront/shared/edge/gateway/gatewaytest"
)

// boot starts bff-partner on free loopback ports against fresh fakes, configured
// the way main does it (environment through config.Load).
func boot(t *testing.T, env map[string]string) *app.App {
	t.Helper()
	_, base := fakestest.Start(t)
	a, _ := bootWith(t, base, env)
	return a
}

// bootWith starts bff-partner against the given fakes and returns it with
// a stop function that drains it and waits for Run to return (it is also
// called when the test ends).
func bootWith(t *testing.T, base string, env map[string]string) (*app.App, func()) {
	t.Helper()
	return bootWithOptions(t, base, env, app.Options{})
}

func bootWithOptions(t *testing.T, base string, env map[string]string, opts app.Options) (*app.App, func()) {
	t.Helper()
	vars := map[string]string{"BFF_AUDIT_DIR": t.TempDir()}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := config.Load(edgeconfig.MapLookup(gatewaytest.Env(base, vars)))
	require.NoError(t, err)
	return gatewaytest.Serve(t, func(ctx context.Context) (*app.App, error) {
		return app.NewWithOptions(ctx, cfg, zap.NewNop(), opts)
	})
}

// TestWiring checks what the composition root wires on the shared core.
func TestWiring(t *testing.T) {
	t.Parallel()
	gatewaytest.CheckWiring(t, func(t *testing.T, env map[string]string) gatewaytest.Listening { return boot(t, env) })
}

// TestChainDoc: docs/chain.md shows bff-partner's edge chain exactly as the
// composition root installs it.
func TestChainDoc(t *testing.T) {
	t.Parallel()
	a := boot(t, nil)
	gatewaytest.CheckChainDoc(t, app.Name, a.Layers())
}
