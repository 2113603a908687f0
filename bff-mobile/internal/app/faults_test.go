package app_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/shopfront/bff-mobile/internal/app"
	"github.com/shopfront/bff-mobile/internal/config"
	"github.com/shopfront/contracts/fakes/fakestest"
	edgeconfig "github.com/shopfront/shared/edge/config"
	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/gateway/gatewaytest"
)

// TestMobileSilentRedis runs bff-mobile on a Redis that accepts
// connections and never answers: anonymous and signed-in requests are
// answered before a 1 s client gives up (each Redis call is cut off at its
// 100 ms cap and the rate limit falls back to per-instance counters, whose
// headers still come back), and the gateway still stops at once.
func TestMobileSilentRedis(t *testing.T) {
	t.Parallel()
	rds := edgetest.StartSilentRedis(t)
	f, base := fakestest.Start(t)
	cfg, err := config.Load(edgeconfig.MapLookup(gatewaytest.Env(base, map[string]string{"BFF_REDIS_URL": rds.URL()})))
	require.NoError(t, err)
	a, stop := gatewaytest.Serve(t, func(ctx context.Context) (*app.App, error) { return app.New(ctx, cfg, zap.NewNop()) })
	gatewaytest.WaitReady(t, a.AdminAddr())
	tok := fakestest.UserToken(t, f, "u-001", "mobile")

	hc := &http.Client{Timeout: time.Second}
	for _, tc := range []struct {
		path   string
		token  string
		status int
	}{
		// An unknown path is charged to the anonymous per-IP limit.
		{"/v1/nope", "", http.StatusNotFound},
		{"/v1/products/p-0001", tok, http.StatusOK},
		{"/v1/home", tok, http.StatusOK},
		{"/v1/search?q=lamp", tok, http.StatusOK},
		{"/v1/home", tok, http.StatusOK},
	} {
		req, err := http.NewRequest(http.MethodGet, "http://"+a.Addr()+tc.path, nil)
		require.NoError(t, err)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		res, err := hc.Do(req)
		require.NoError(t, err, "%s answered before the 1 s client timeout", tc.path)
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		assert.Equal(t, tc.status, res.StatusCode, tc.path)
		assert.NotEmpty(t, res.Header.Get("X-RateLimit-Limit"), "%s limited by the per-instance fallback", tc.path)
	}
	assert.Positive(t, rds.Accepted(), "the gateway did reach the silent Redis")

	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("the gateway did not stop: something still waits on the silent Redis")
	}
}
