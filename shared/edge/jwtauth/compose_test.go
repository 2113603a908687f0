package jwtauth_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/jwtauth"
	"github.com/shopfront/shared/edge/problem"
	"github.com/shopfront/shared/edge/ratelimit"
)

// chain builds what a gateway wires: JWT authentication whose failures are
// charged to the client IP's anonymous bucket, then the per-user limit.
func chain(tb testing.TB, v jwtauth.TokenVerifier, lim *ratelimit.Limiter, lookup func(echo.Context) string) *echo.Echo {
	tb.Helper()
	authn, err := jwtauth.Config{Verifier: v, TokenLookup: lookup, ErrorHandler: lim.ChargeFailure}.ToMiddleware()
	require.NoError(tb, err)
	limit, err := ratelimit.Config{Limiter: lim, Policy: ratelimit.PerUser(ratelimit.UserLimit())}.ToMiddleware()
	require.NoError(tb, err)
	e := echo.New()
	e.HTTPErrorHandler = problem.Handler(problem.HandlerConfig{Logger: zap.NewNop()})
	e.GET("/v1/me", func(c echo.Context) error {
		p, _ := auth.FromContext(c.Request().Context())
		return c.String(http.StatusOK, p.Subject)
	}, authn, limit)
	return e
}

func TestAuthFailuresAreChargedToTheAnonymousLimit(t *testing.T) {
	t.Parallel()
	k := edgetest.NewKey(t, edgetest.RS256)
	v := newVerifier(t, edgetest.StartJWKS(t, k), nil)
	lim, err := ratelimit.New(ratelimit.LimiterConfig{Anonymous: ratelimit.Limit{Rate: 1, Burst: 3}})
	require.NoError(t, err)
	srv := httptest.NewServer(chain(t, v, lim, jwtauth.FirstOf(jwtauth.BearerToken, jwtauth.CookieToken("sf_session"))))
	t.Cleanup(srv.Close)
	good := k.Sign(t, edgetest.Claims("alice", iss, aud, time.Hour))

	call := func(authz string, cookie *http.Cookie) (int, http.Header, string) {
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/v1/me", nil)
		require.NoError(t, err)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		if cookie != nil {
			req.AddCookie(cookie)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		code := string(body)
		var p map[string]any
		if json.Unmarshal(body, &p) == nil {
			code, _ = p["error"].(string)
		}
		return resp.StatusCode, resp.Header, code
	}

	status, h, code := call("", nil)
	assert.Equal(t, 401, status)
	assert.Equal(t, problem.CodeUnauthorized, code)
	assert.Equal(t, `"anonymous";q=1;w=60`, h.Get("RateLimit-Policy"))
	assert.Equal(t, "2", h.Get("X-RateLimit-Remaining"))
	status, _, code = call("Bearer forged", nil)
	assert.Equal(t, 401, status)
	assert.Equal(t, problem.CodeInvalidToken, code)
	status, _, _ = call("", &http.Cookie{Name: "sf_session", Value: "forged"})
	assert.Equal(t, 401, status)

	status, h, code = call("Bearer forged", nil)
	assert.Equal(t, 429, status, "the fourth failure from this IP is rate limited")
	assert.Equal(t, problem.CodeRateLimited, code)
	assert.NotEmpty(t, h.Get("Retry-After"))

	status, h, body := call("Bearer "+good, nil)
	assert.Equal(t, 200, status, "a valid user has a bucket of their own")
	assert.Equal(t, "alice", body)
	assert.Equal(t, `"user";q=600;w=60`, h.Get("RateLimit-Policy"))
	assert.Equal(t, "99", h.Get("X-RateLimit-Remaining"))
	status, _, body = call("", &http.Cookie{Name: "sf_session", Value: good})
	assert.Equal(t, 200, status, "the session cookie lookup")
	assert.Equal(t, "alice", body)
}

// BenchmarkAuthRateLimit measures the JWT authentication and rate limit
// middleware (in-process store) in front of a trivial handler.
func BenchmarkAuthRateLimit(b *testing.B) {
	for _, bc := range verifyCases {
		b.Run(bc.name, func(b *testing.B) {
			v, k := benchVerifier(b, bc.alg, bc.cache)
			// A limit the benchmark never reaches, so every request is served.
			lim, err := ratelimit.New(ratelimit.LimiterConfig{})
			require.NoError(b, err)
			authn, err := jwtauth.Config{Verifier: v, ErrorHandler: lim.ChargeFailure}.ToMiddleware()
			require.NoError(b, err)
			limit, err := ratelimit.Config{Limiter: lim, Policy: ratelimit.PerUser(ratelimit.Limit{Rate: 1 << 30, Burst: 1 << 30})}.ToMiddleware()
			require.NoError(b, err)
			e := echo.New()
			e.GET("/", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) }, authn, limit)
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header.Set("Authorization", "Bearer "+k.Sign(b, edgetest.Claims("alice", iss, aud, time.Hour)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				w := httptest.NewRecorder()
				e.ServeHTTP(w, req)
				if w.Code != http.StatusNoContent {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}
