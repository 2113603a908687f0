package jwtauth_test

import (
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
)

// TestOnInvalid: an optional route's OnInvalid decides whether a failing
// token goes on anonymously (and may change the answer) or fails with 401;
// ErrorHandler only sees the failures that are answered, and a required
// route never asks OnInvalid.
func TestOnInvalid(t *testing.T) {
	t.Parallel()
	k := edgetest.NewKey(t, edgetest.RS256)
	v := newVerifier(t, edgetest.StartJWKS(t, k), nil)
	expired := k.Sign(t, edgetest.Claims("alice", iss, aud, -time.Hour))
	good := k.Sign(t, edgetest.Claims("alice", iss, aud, time.Hour))

	tests := []struct {
		name           string
		optional       bool
		anonymous      bool
		token          string
		expectStatus   int
		expectBody     string
		expectAsked    bool
		expectHandled  bool
		expectMarkerOn bool
	}{
		{name: "ok, optional, OnInvalid lets a failing token through anonymously", optional: true, anonymous: true,
			token: expired, expectStatus: http.StatusOK, expectBody: "anonymous", expectAsked: true, expectMarkerOn: true},
		{name: "nok, optional, OnInvalid refuses", optional: true, token: expired,
			expectStatus: http.StatusUnauthorized, expectAsked: true, expectHandled: true},
		{name: "nok, required routes never ask", anonymous: true, token: expired,
			expectStatus: http.StatusUnauthorized, expectHandled: true},
		{name: "ok, a valid token is not a failure", optional: true, anonymous: true, token: good,
			expectStatus: http.StatusOK, expectBody: "alice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var asked, handled bool
			authn, err := jwtauth.Config{
				Verifier: v, Optional: tt.optional,
				OnInvalid: func(c echo.Context, err error) bool {
					asked = true
					if tt.anonymous {
						c.Response().Header().Set("X-Stale", "expired")
					}
					return tt.anonymous
				},
				ErrorHandler: func(_ echo.Context, err error) error { handled = true; return err },
			}.ToMiddleware()
			require.NoError(t, err)
			e := echo.New()
			e.HTTPErrorHandler = problem.Handler(problem.HandlerConfig{Logger: zap.NewNop()})
			e.GET("/v1/catalog", func(c echo.Context) error {
				if p, ok := auth.FromContext(c.Request().Context()); ok {
					return c.String(http.StatusOK, p.Subject)
				}
				return c.String(http.StatusOK, "anonymous")
			}, authn)
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, "/v1/catalog", nil)
			req.Header.Set("Authorization", "Bearer "+tt.token)
			e.ServeHTTP(rec, req)

			assert.Equal(t, tt.expectStatus, rec.Code)
			if tt.expectBody != "" {
				assert.Equal(t, tt.expectBody, rec.Body.String())
			}
			assert.Equal(t, tt.expectAsked, asked, "OnInvalid asked")
			assert.Equal(t, tt.expectHandled, handled, "ErrorHandler called")
			assert.Equal(t, tt.expectMarkerOn, rec.Header().Get("X-Stale") == "expired")
		})
	}
}
