package app_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
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

// TestFailedWiringClosesRedis makes wiring fail after the response cache's
// Redis client was made: New returns the error and the client is closed,
// not left open behind a gateway nobody will run.
func TestFailedWiringClosesRedis(t *testing.T) {
	t.Parallel()
	r := edgetest.StartRedis(t)
	_, base := fakestest.Start(t)
	cfg, err := config.Load(edgeconfig.MapLookup(gatewaytest.Env(base, map[string]string{"BFF_REDIS_URL": r.URL()})))
	require.NoError(t, err)
	// A setting Load would have refused: CORS is built after the cache.
	cfg.Web.CORSOrigins = []string{"*"}
	var rdb *redis.Client
	_, err = app.NewWithOptions(t.Context(), cfg, zap.NewNop(), app.Options{NewRedis: func(o *redis.Options) *redis.Client {
		rdb = redis.NewClient(o)
		return rdb
	}})
	require.ErrorContains(t, err, "building CORS")
	require.NotNil(t, rdb, "the cache's Redis client was made before wiring failed")
	assert.ErrorIs(t, rdb.Ping(context.Background()).Err(), redis.ErrClosed)
}
