package gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/contracts/fakes/fakestest"
	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/config"
	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/gateway"
	"github.com/shopfront/shared/edge/gateway/gatewaytest"
	"github.com/shopfront/shared/edge/ratelimit"
	"github.com/shopfront/shared/edge/readiness"
	"github.com/shopfront/shared/edge/upstream"
)

// common is the configuration of a gateway on free loopback ports whose
// domain services are at base, read from env like a gateway's loader does.
func common(t *testing.T, base string, env map[string]string) config.Common {
	t.Helper()
	c := config.Defaults("127.0.0.1:0", "127.0.0.1:0", "shopfront-mobile")
	e := config.NewEnv(config.MapLookup(gatewaytest.Env(base, env)))
	c.ReadEnv(e)
	require.NoError(t, e.Err())
	require.NoError(t, c.Validate())
	return c
}

func serve(t *testing.T, cfg config.Common) *gateway.Gateway {
	t.Helper()
	g, _ := gatewaytest.Serve(t, func(ctx context.Context) (*gateway.Gateway, error) {
		return gateway.New(ctx, cfg, gateway.Options{Name: "bff-test", Client: auth.ClientMobile, Logger: zap.NewNop()})
	})
	return g
}

func readyz(t *testing.T, g *gateway.Gateway) (int, readiness.Report) {
	t.Helper()
	res, err := http.Get("http://" + g.AdminAddr() + "/readyz")
	require.NoError(t, err)
	defer res.Body.Close()
	var rep readiness.Report
	require.NoError(t, json.NewDecoder(res.Body).Decode(&rep))
	return res.StatusCode, rep
}

// TestReadyzShowsBreakers opens the catalog breaker against the real fakes:
// /readyz lists every upstream's breaker, reports the open one, and stays
// 200 because breakers are optional.
func TestReadyzShowsBreakers(t *testing.T) {
	t.Parallel()
	f, base := fakestest.Start(t)
	g := serve(t, common(t, base, nil))
	gatewaytest.WaitReady(t, g.AdminAddr())

	status, rep := readyz(t, g)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, readiness.Result{Status: readiness.CheckOK, Required: true}, rep.Checks[gateway.CheckJWKS])
	for _, s := range domain.ServiceNames() {
		assert.Equal(t, readiness.Result{Status: readiness.CheckOK}, rep.Checks[gateway.BreakerCheck(s)], s)
	}
	assert.NotContains(t, rep.Checks, gateway.CheckRedis, "no Redis is configured, so none is checked")
	assert.Len(t, rep.Checks, 1+len(domain.ServiceNames()), "jwks and one breaker per service")

	// A catalog that fails every call opens its breaker (5 consecutive
	// failures); the bound only guards against a breaker that
	// never opens.
	require.NoError(t, f.SetFault(domain.ServiceCatalog, domain.Fault{Down: true}))
	var catalog *upstream.Client
	for _, u := range g.Clients.Upstreams() {
		if u.Service() == domain.ServiceCatalog {
			catalog = u
		}
	}
	require.NotNil(t, catalog)
	for i := 0; i < 20 && catalog.BreakerState() != "open"; i++ {
		var out map[string]any
		assert.Error(t, catalog.Get(context.Background(), upstream.Path("products", "p-0001"), nil, &out))
	}
	require.Equal(t, "open", catalog.BreakerState())

	status, rep = readyz(t, g)
	assert.Equal(t, http.StatusOK, status, "an open breaker does not make the gateway unready")
	assert.Equal(t, readiness.StatusReady, rep.Status)
	open := rep.Checks[gateway.BreakerCheck(domain.ServiceCatalog)]
	assert.Equal(t, readiness.CheckFailing, open.Status)
	assert.False(t, open.Required)
	assert.Contains(t, open.Detail, "circuit breaker open")
	assert.Equal(t, readiness.Result{Status: readiness.CheckOK}, rep.Checks[gateway.BreakerCheck(domain.ServicePricing)],
		"the other services' breakers stay closed")
}

func TestReadyzChecks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		env          func(t *testing.T) map[string]string
		given        func(t *testing.T, g *gateway.Gateway)
		expectStatus int
		expectReport string
		expectCheck  string
		expectResult *readiness.Result // nil: the check is not in the body
	}{
		{
			name:         "ok, no Redis configured: no redis check claims one is fine",
			env:          func(*testing.T) map[string]string { return nil },
			expectStatus: http.StatusOK, expectReport: readiness.StatusReady,
			expectCheck: gateway.CheckRedis,
		},
		{
			name: "ok, Redis configured and up: reported ok, optional",
			env: func(t *testing.T) map[string]string {
				return map[string]string{config.VarRedisURL: edgetest.StartRedis(t).URL()}
			},
			expectStatus: http.StatusOK, expectReport: readiness.StatusReady,
			expectCheck: gateway.CheckRedis, expectResult: &readiness.Result{Status: readiness.CheckOK},
		},
		{
			name: "nok, JWKS unreachable: the required check fails, 503",
			env: func(t *testing.T) map[string]string {
				return map[string]string{config.VarJWKSURL: "http://" + edgetest.DeadAddr(t) + "/jwks.json"}
			},
			expectStatus: http.StatusServiceUnavailable, expectReport: readiness.StatusNotReady,
			expectCheck: gateway.CheckJWKS, expectResult: &readiness.Result{Status: readiness.CheckFailing, Required: true,
				Detail: "JWKS not fetched yet"},
		},
		{
			name: "ok, Redis unreachable: reported, still 200",
			env: func(t *testing.T) map[string]string {
				return map[string]string{config.VarRedisURL: "redis://" + edgetest.DeadAddr(t) + "/0"}
			},
			// A decision finds Redis gone and falls back to local counters.
			given: func(t *testing.T, g *gateway.Gateway) {
				g.Limiter.Allow(context.Background(), ratelimit.Bucket{Policy: ratelimit.PolicyUser, Key: "u-1",
					Limit: ratelimit.Limit{Rate: 60, Burst: 1}})
			},
			expectStatus: http.StatusOK, expectReport: readiness.StatusReady,
			expectCheck: gateway.CheckRedis, expectResult: &readiness.Result{Status: readiness.CheckFailing,
				Detail: ratelimit.ErrRedisUnavailable.Error()},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, base := fakestest.Start(t)
			g := serve(t, common(t, base, tt.env(t)))
			if tt.given != nil {
				tt.given(t, g)
			}
			if tt.expectStatus == http.StatusOK {
				gatewaytest.WaitReady(t, g.AdminAddr())
			}
			status, rep := readyz(t, g)
			assert.Equal(t, tt.expectStatus, status)
			assert.Equal(t, tt.expectReport, rep.Status)
			if tt.expectResult == nil {
				assert.NotContains(t, rep.Checks, tt.expectCheck)
				return
			}
			assert.Equal(t, *tt.expectResult, rep.Checks[tt.expectCheck])
		})
	}
}

func TestNewRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		opts      gateway.Options
		cfg       func(c *config.Common)
		expectErr string
	}{
		{name: "nok, no name", opts: gateway.Options{Client: auth.ClientWeb}, expectErr: "Options.Name is required"},
		{name: "nok, no client", opts: gateway.Options{Name: "bff-test"}, expectErr: "Options.Client is required"},
		{name: "nok, no issuer", opts: gateway.Options{Name: "bff-test", Client: auth.ClientWeb},
			cfg: func(c *config.Common) { c.JWT.Issuer = "" }, expectErr: "building JWT verifier"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, base := fakestest.Start(t)
			cfg := common(t, base, nil)
			// Fixed ports, to prove below that a failed New released them.
			cfg.Server.Addr = "127.0.0.1:" + strconv.Itoa(edgetest.FreePort(t))
			cfg.Server.AdminAddr = "127.0.0.1:" + strconv.Itoa(edgetest.FreePort(t))
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			g, err := gateway.New(context.Background(), cfg, tt.opts)
			assert.Nil(t, g)
			assert.ErrorContains(t, err, tt.expectErr)
			assertFree(t, cfg.Server.Addr, cfg.Server.AdminAddr)
		})
	}
}

// TestCloseReleasesListeners is what a composition root whose own wiring
// failed after New relies on.
func TestCloseReleasesListeners(t *testing.T) {
	t.Parallel()
	_, base := fakestest.Start(t)
	g, err := gateway.New(context.Background(), common(t, base, nil), gateway.Options{Name: "bff-test", Client: auth.ClientPartner})
	require.NoError(t, err)
	addr, admin := g.Addr(), g.AdminAddr()
	require.NoError(t, g.Close(context.Background()))
	assertFree(t, addr, admin)
}

// assertFree asserts that each address can be listened on again.
func assertFree(t *testing.T, addrs ...string) {
	t.Helper()
	for _, addr := range addrs {
		ln, err := net.Listen("tcp", addr)
		if assert.NoError(t, err, "%s is free again", addr) {
			_ = ln.Close()
		}
	}
}

// TestRunDrainsAndStops serves a request through the shared core, then
// cancels: Run returns nil and both listeners are closed.
func TestRunDrainsAndStops(t *testing.T) {
	t.Parallel()
	_, base := fakestest.Start(t)
	cfg := common(t, base, nil)
	g, stop := gatewaytest.Serve(t, func(ctx context.Context) (*gateway.Gateway, error) {
		return gateway.New(ctx, cfg, gateway.Options{Name: "bff-test", Client: auth.ClientWeb})
	})
	res, err := http.Get("http://" + g.Addr() + "/nowhere")
	require.NoError(t, err)
	_ = res.Body.Close()
	assert.Equal(t, http.StatusNotFound, res.StatusCode, "the edge chain answers")
	res, err = http.Get("http://" + g.AdminAddr() + "/metrics")
	require.NoError(t, err)
	body, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	for _, name := range []string{"go_goroutines", "process_open_fds", "shopfront_http_requests_total"} {
		assert.Contains(t, string(body), name, "the registry has the Go, process and edge collectors")
	}

	stop()
	for _, addr := range []string{g.Addr(), g.AdminAddr()} {
		_, err := net.DialTimeout("tcp", addr, time.Second)
		assert.Error(t, err, "%s is closed after Run", addr)
	}
}
