package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/contracts/fakes/fakestest"
	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/gateway"
	"github.com/shopfront/shared/edge/gateway/gatewaytest"
	"github.com/shopfront/shared/edge/jwtauth"
	"github.com/shopfront/shared/edge/problem"
	"github.com/shopfront/shared/edge/ratelimit"
)

// serveProducts boots the shared core of a gateway of kind client against
// the fakes at base, with one route wired the way the gateways wire theirs:
// GET /v1/products/:id behind an optional JWT (failures charged to the
// client IP), the per-user rate limit, and a catalog call.
func serveProducts(t *testing.T, base string, client auth.Client) *gateway.Gateway {
	t.Helper()
	cfg := common(t, base, nil)
	g, _ := gatewaytest.Serve(t, func(ctx context.Context) (*gateway.Gateway, error) {
		g, err := gateway.New(ctx, cfg, gateway.Options{Name: "bff-test", Client: client, Logger: zap.NewNop()})
		if err != nil {
			return nil, err
		}
		authn, err := jwtauth.Config{Verifier: g.Verifier, Optional: true, ErrorHandler: g.Limiter.ChargeFailure}.ToMiddleware()
		if err != nil {
			return nil, err
		}
		limit, err := ratelimit.Config{Limiter: g.Limiter, Policy: ratelimit.PerUser(ratelimit.UserLimit())}.ToMiddleware()
		if err != nil {
			return nil, err
		}
		g.Echo().GET("/v1/products/:id", func(c echo.Context) error {
			p, err := g.Clients.Catalog.Product(c.Request().Context(), c.Param("id"))
			if err != nil {
				return err
			}
			c.Response().Header().Set("ETag", strconv.Quote(p.ID+"-"+p.UpdatedAt.Format(time.RFC3339)))
			c.Response().Header().Set("Cache-Control", "private, max-age=60")
			return c.JSON(http.StatusOK, map[string]string{"id": p.ID, "name": p.Name})
		}, authn, limit)
		return g, nil
	})
	gatewaytest.WaitReady(t, g.AdminAddr())
	return g
}

// TestAnonymousUpstreamCallsCarryClient: the gateway's kind goes upstream
// as X-Client for anonymous requests too (bff-web's catalog pages), and a
// signed-in user's identity still comes from the token only.
func TestAnonymousUpstreamCallsCarryClient(t *testing.T) {
	t.Parallel()
	f, base := fakestest.Start(t)
	g := serveProducts(t, base, auth.ClientWeb)
	tests := []struct {
		name         string
		token        string
		expectUserID []string
	}{
		{name: "ok, anonymous"},
		{name: "ok, signed in", token: fakestest.UserToken(t, f, "u-001", "mobile"), expectUserID: []string{"u-001"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Not parallel: the fakes record the last request's headers.
			req, err := http.NewRequest(http.MethodGet, "http://"+g.Addr()+"/v1/products/p-0001", nil)
			require.NoError(t, err)
			req.Header.Set("X-Client", "partner")
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			_ = resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			h := f.LastHeaders(domain.ServiceCatalog)
			assert.Equal(t, []string{"web"}, h.Values("X-Client"), "the gateway's kind, never the caller's")
			assert.Equal(t, tt.expectUserID, h.Values("X-User-Id"))
		})
	}
}

// TestHeadThroughRoute sends HEAD to a route wired like a gateway's (auth,
// rate limit, upstream call): the GET's status, ETag, Cache-Control,
// Content-Type, Content-Length and rate-limit policy, and no body; the
// same for the problem of an unknown product.
func TestHeadThroughRoute(t *testing.T) {
	t.Parallel()
	_, base := fakestest.Start(t)
	g := serveProducts(t, base, auth.ClientMobile)
	tests := []struct {
		name         string
		path         string
		expectStatus int
	}{
		{name: "ok, product", path: "/v1/products/p-0001", expectStatus: http.StatusOK},
		{name: "nok, unknown product is the upstream's 404", path: "/v1/products/p-none", expectStatus: http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			get := gatewaytest.Raw(t, g.Addr(), http.MethodGet, tt.path)
			head := gatewaytest.Raw(t, g.Addr(), http.MethodHead, tt.path)
			assert.Equal(t, tt.expectStatus, get.Status)
			assert.Equal(t, get.Status, head.Status)
			assert.NotEmpty(t, get.Body)
			assert.Empty(t, head.Body, "HEAD sends no body")
			assert.Equal(t, strconv.Itoa(len(get.Body)), head.Header.Get("Content-Length"))
			// The rest is the GET's, but for what each request changes: the
			// date, the id, and the rate limit it spent.
			for _, h := range []http.Header{get.Header, head.Header} {
				for _, k := range []string{"Date", "X-Request-Id", "X-Ratelimit-Remaining", "X-Ratelimit-Reset", "Ratelimit"} {
					h.Del(k)
				}
			}
			assert.Equal(t, get.Header, head.Header)
			if tt.expectStatus == http.StatusOK {
				assert.NotEmpty(t, head.Header.Get("Etag"))
			}
			assert.Equal(t, `"anonymous";q=120;w=60`, head.Header.Get("Ratelimit-Policy"))
		})
	}
}

// TestUnmatchedRoutesAreRateLimited floods a gateway with requests no route
// matches: they are charged to the client IP's anonymous limit (burst 30),
// carry the rate-limit headers, turn 429 once it is spent, and spend the same
// bucket an anonymous request to a real route does.
func TestUnmatchedRoutesAreRateLimited(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		method, path string
		expectStatus int
	}{
		{name: "nok, unknown path", method: http.MethodGet, path: "/nope", expectStatus: http.StatusNotFound},
		{name: "nok, HEAD of an unknown path", method: http.MethodHead, path: "/nope", expectStatus: http.StatusNotFound},
		{name: "nok, method the route lacks", method: http.MethodPost, path: "/v1/products/p-0001",
			expectStatus: http.StatusMethodNotAllowed},
		{name: "nok, TRACE of an unknown path", method: http.MethodTrace, path: "/nope", expectStatus: http.StatusMethodNotAllowed},
		{name: "nok, TRACE of a route", method: http.MethodTrace, path: "/v1/products/p-0001", expectStatus: http.StatusMethodNotAllowed},
		{name: "nok, CONNECT of an unknown path", method: http.MethodConnect, path: "/nope", expectStatus: http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, base := fakestest.Start(t)
			g := serveProducts(t, base, auth.ClientMobile) // a fresh limiter per case
			do := func(method, path string) (*http.Response, map[string]any) {
				req, err := http.NewRequest(method, "http://"+g.Addr()+path, nil)
				require.NoError(t, err)
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				defer resp.Body.Close()
				var body map[string]any
				_ = json.NewDecoder(resp.Body).Decode(&body)
				return resp, body
			}

			burst := ratelimit.AnonymousLimit().Burst
			for i := range burst {
				resp, _ := do(tt.method, tt.path)
				require.Equal(t, tt.expectStatus, resp.StatusCode, "request %d is within the burst", i+1)
				assert.Equal(t, "120", resp.Header.Get("X-RateLimit-Limit"))
				assert.Equal(t, `"anonymous";q=120;w=60`, resp.Header.Get("RateLimit-Policy"))
				assert.NotEmpty(t, resp.Header.Get("X-RateLimit-Remaining"))
				assert.NotEmpty(t, resp.Header.Get("X-RateLimit-Reset"))
				assert.Regexp(t, `^"anonymous";r=\d+;t=\d+$`, resp.Header.Get("RateLimit"))
			}
			// GCRA refills 2 a second; ten more back to back cannot all pass.
			var limited *http.Response
			var body map[string]any
			for range 10 {
				if resp, b := do(tt.method, tt.path); resp.StatusCode == http.StatusTooManyRequests {
					limited, body = resp, b
					break
				}
			}
			require.NotNil(t, limited, "a flood of unmatched requests is limited")
			assert.NotEmpty(t, limited.Header.Get("Retry-After"))
			assert.Equal(t, "0", limited.Header.Get("X-RateLimit-Remaining"))
			assert.Equal(t, `"anonymous";q=120;w=60`, limited.Header.Get("RateLimit-Policy"))
			assert.Equal(t, problem.ContentType, limited.Header.Get("Content-Type"))
			assert.NotEmpty(t, limited.Header.Get("X-Request-Id"))
			if tt.method != http.MethodHead {
				assert.Equal(t, problem.CodeRateLimited, body["error"])
			}

			// The bucket is the one every anonymous request of this IP spends.
			resp, _ := do(http.MethodGet, "/v1/products/p-0001")
			assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
		})
	}
}
