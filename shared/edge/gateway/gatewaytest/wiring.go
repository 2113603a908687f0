package gatewaytest

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/shared/edge/config"
	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/gateway"
	"github.com/shopfront/shared/edge/readiness"
)

// Listening is a booted gateway's pair of listeners (host:port).
type Listening interface {
	Addr() string
	AdminAddr() string
}

// Boot starts a gateway in-process against fresh fakes with env on top of
// its test configuration, serving until the test ends.
type Boot func(t *testing.T, env map[string]string) Listening

// CheckWiring checks, as parallel subtests on gateways booted with boot,
// what every composition root must wire (SPEC §4): /healthz; /readyz 200
// once the JWKS was fetched, with the jwks check and every upstream's
// breaker in its body, 503 while the JWKS cannot be fetched; the edge
// chain's problem+json 404 carrying a kept or replaced request id; /metrics;
// 431 beyond 16 KiB of headers.
func CheckWiring(t *testing.T, boot Boot) {
	t.Helper()
	t.Run("ok, admin endpoints and the edge chain", func(t *testing.T) {
		t.Parallel()
		g := boot(t, nil)
		admin, public := "http://"+g.AdminAddr(), "http://"+g.Addr()

		resp := get(t, admin+"/healthz", nil)
		assert.Equal(t, http.StatusOK, resp.StatusCode)

		// Ready once the JWKS was fetched from the fake identity service.
		WaitReady(t, g.AdminAddr())
		var ready readiness.Report
		resp = get(t, admin+"/readyz", &ready)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, readiness.Result{Status: readiness.CheckOK, Required: true}, ready.Checks[gateway.CheckJWKS])
		for _, s := range domain.ServiceNames() {
			assert.Equal(t, readiness.Result{Status: readiness.CheckOK}, ready.Checks[gateway.BreakerCheck(s)],
				"the breaker of %s is in the body, optional", s)
		}

		var problem map[string]any
		resp = get(t, public+"/definitely/not/a/route", &problem, "X-Request-Id", "wiring-1")
		assert.Equal(t, http.StatusNotFound, resp.StatusCode)
		assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
		assert.Equal(t, "wiring-1", resp.Header.Get("X-Request-Id"))
		for _, k := range []string{"type", "title", "status", "instance", "error", "requestId"} {
			assert.Contains(t, problem, k)
		}
		assert.Equal(t, "not_found", problem["error"])
		assert.Equal(t, "wiring-1", problem["requestId"])

		problem = nil
		resp = get(t, public+"/definitely/not/a/route", &problem, "X-Request-Id", "no spaces allowed")
		got := resp.Header.Get("X-Request-Id")
		assert.NotEqual(t, "no spaces allowed", got)
		assert.Regexp(t, `^[A-Za-z0-9._-]{1,128}$`, got)
		assert.Equal(t, got, problem["requestId"])

		resp = get(t, admin+"/metrics", nil)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
	})
	t.Run("nok, JWKS unreachable: not ready, still alive", func(t *testing.T) {
		t.Parallel()
		g := boot(t, map[string]string{config.VarJWKSURL: "http://" + edgetest.DeadAddr(t) + "/jwks.json"})
		var ready readiness.Report
		resp := get(t, "http://"+g.AdminAddr()+"/readyz", &ready)
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
		assert.Equal(t, readiness.StatusNotReady, ready.Status)
		assert.Equal(t, readiness.CheckFailing, ready.Checks[gateway.CheckJWKS].Status)
		resp = get(t, "http://"+g.AdminAddr()+"/healthz", nil)
		assert.Equal(t, http.StatusOK, resp.StatusCode, "alive though not ready")
	})
	t.Run("nok, headers over 16 KiB: 431", func(t *testing.T) {
		t.Parallel()
		g := boot(t, nil)
		conn, err := net.Dial("tcp", g.Addr())
		require.NoError(t, err)
		defer conn.Close()
		_, err = conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 17<<10) + "\r\n\r\n"))
		require.NoError(t, err)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		require.NoError(t, err)
		defer resp.Body.Close()
		assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode)
	})
}

// get GETs url with the header name/value pairs and decodes the JSON body
// into out when out is not nil.
func get(t *testing.T, url string, out any, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if out != nil {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(out), "decoding %s", url)
	}
	return resp
}
