package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/shopfront/bff-partner/internal/app"
	"github.com/shopfront/bff-partner/internal/config"
	"github.com/shopfront/contracts/fakes/fakestest"
	edgeconfig "github.com/shopfront/shared/edge/config"
	"github.com/shopfront/shared/edge/edgetest"
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
	vars := map[string]string{"BFF_AUDIT_DIR": t.TempDir()}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := config.Load(edgeconfig.MapLookup(gatewaytest.Env(base, vars)))
	require.NoError(t, err)
	return gatewaytest.Serve(t, func(ctx context.Context) (*app.App, error) { return app.New(ctx, cfg, zap.NewNop()) })
}

func get(t *testing.T, url string, hdr map[string]string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp, body
}

func TestWiring(t *testing.T) {
	t.Parallel()
	a := boot(t, nil)
	admin, public := "http://"+a.AdminAddr(), "http://"+a.Addr()

	resp, _ := get(t, admin+"/healthz", nil)
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	// Ready once the JWKS was fetched from the fake identity service.
	require.Eventually(t, func() bool {
		resp, _ := get(t, admin+"/readyz", nil)
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond)
	_, ready := get(t, admin+"/readyz", nil)
	assert.Equal(t, "ok", ready["checks"].(map[string]any)["jwks"].(map[string]any)["status"])

	resp, body := get(t, public+"/definitely/not/a/route", map[string]string{"X-Request-Id": "wiring-1"})
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	assert.Equal(t, "wiring-1", resp.Header.Get("X-Request-Id"))
	for _, k := range []string{"type", "title", "status", "instance", "error", "requestId"} {
		assert.Contains(t, body, k)
	}
	assert.Equal(t, "not_found", body["error"])
	assert.Equal(t, "wiring-1", body["requestId"])

	resp, body = get(t, public+"/definitely/not/a/route", map[string]string{"X-Request-Id": "no spaces allowed"})
	got := resp.Header.Get("X-Request-Id")
	assert.NotEqual(t, "no spaces allowed", got)
	assert.Regexp(t, `^[A-Za-z0-9._-]{1,128}$`, got)
	assert.Equal(t, got, body["requestId"])

	resp, _ = get(t, admin+"/metrics", nil)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestNotReadyWithoutJWKS(t *testing.T) {
	t.Parallel()
	dead := "http://" + edgetest.DeadAddr(t)
	a := boot(t, map[string]string{"BFF_JWT_JWKS_URL": dead + "/jwks.json"})
	resp, body := get(t, "http://"+a.AdminAddr()+"/readyz", nil)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "not_ready", body["status"])
	resp, _ = get(t, "http://"+a.AdminAddr()+"/healthz", nil)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "alive though not ready")
}

func TestHeaderCap(t *testing.T) {
	t.Parallel()
	a := boot(t, nil)
	conn, err := net.Dial("tcp", a.Addr())
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 17<<10) + "\r\n\r\n"))
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode)
}
