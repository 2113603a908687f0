package app_test

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/shared/edge/edgetest"
)

// TestSilentRedis runs bff-web on a Redis that accepts connections and
// never answers: the catalog and product pages are served uncached before a
// 1 s client gives up, rate limited per instance, and the gateway still
// stops at once.
func TestSilentRedis(t *testing.T) {
	t.Parallel()
	rds := edgetest.StartSilentRedis(t)
	w := bootWeb(t, webOptions{env: map[string]string{"BFF_REDIS_URL": rds.URL()}})
	hc := &http.Client{Timeout: time.Second}
	for _, path := range []string{"/v1/catalog", "/v1/pages/product/p-0003", "/v1/catalog?page=2", "/v1/pages/product/p-0003"} {
		req, err := http.NewRequest(http.MethodGet, w.url+path, nil)
		require.NoError(t, err)
		res, err := hc.Do(req)
		require.NoError(t, err, "%s answered before the 1 s client timeout", path)
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		assert.Equal(t, http.StatusOK, res.StatusCode, path)
		assert.Equal(t, "MISS", res.Header.Get("X-Cache"), "%s served uncached", path)
		assert.NotEmpty(t, res.Header.Get("X-RateLimit-Limit"), "%s limited by the per-instance fallback", path)
	}
	assert.Positive(t, rds.Accepted(), "the gateway did reach the silent Redis")

	stopped := make(chan struct{})
	go func() { w.stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("the gateway did not stop: something still waits on the silent Redis")
	}
}
