package session_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/shopfront/bff-web/internal/session"
	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/jwtauth"
	"github.com/shopfront/shared/edge/problem"
)

// verifier is a fake identity: "good" verifies, "stale" is signed with a
// key no longer published, and "early" arrives before any JWKS was fetched.
type verifier struct{}

func (verifier) Verify(_ context.Context, token string) (*auth.Principal, error) {
	switch token {
	case "good":
		return &auth.Principal{Subject: "u-001"}, nil
	case "early":
		return nil, jwtauth.KeysUnavailable(jwtauth.ErrNotReady)
	}
	return nil, jwtauth.InvalidToken(errors.New("unknown kid"))
}

func TestOptionalAuth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		given         map[string]string
		expectStatus  int
		expectUser    string
		expectExpired bool
		expectCharged int64
	}{
		{name: "ok, no token is anonymous", expectStatus: 200},
		{name: "ok, a valid cookie signs in", given: map[string]string{"Cookie": "sf_session=good"}, expectStatus: 200, expectUser: "u-001"},
		{name: "ok, a stale cookie is anonymous and expired", given: map[string]string{"Cookie": "sf_session=stale; sf_csrf=x"},
			expectStatus: 200, expectExpired: true},
		{name: "nok, a stale Bearer token is 401", given: map[string]string{"Authorization": "Bearer stale"}, expectStatus: 401, expectCharged: 1},
		{name: "nok, a stale Bearer token beside a good cookie is 401", given: map[string]string{"Authorization": "Bearer stale", "Cookie": "sf_session=good"},
			expectStatus: 401, expectCharged: 1},
		{name: "nok, a cookie before any JWKS is 503, the cookie kept", given: map[string]string{"Cookie": "sf_session=early"}, expectStatus: 503, expectCharged: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var charged atomic.Int64
			mw, err := session.OptionalAuthConfig{Auth: jwtauth.Config{Verifier: verifier{}, ErrorHandler: func(_ echo.Context, err error) error {
				charged.Add(1)
				return err
			}}}.ToMiddleware()
			require.NoError(t, err)
			e := echo.New()
			e.HTTPErrorHandler = problem.Handler(problem.HandlerConfig{Logger: zap.NewNop()})
			e.GET("/v1/catalog", func(c echo.Context) error {
				c.Response().Header().Set(echo.HeaderCacheControl, "public, max-age=30")
				user := ""
				if p, ok := auth.FromContext(c.Request().Context()); ok {
					user = p.Subject
				}
				return c.String(http.StatusOK, user)
			}, mw)
			srv := httptest.NewServer(e)
			t.Cleanup(srv.Close)

			res, body := do(t, http.MethodGet, srv.URL+"/v1/catalog", "", "", tt.given)
			assert.Equal(t, tt.expectStatus, res.StatusCode, body)
			assert.Equal(t, tt.expectCharged, charged.Load(), "failures answered are charged, cookies turned anonymous are not")
			if tt.expectStatus != http.StatusOK {
				return
			}
			assert.Equal(t, tt.expectUser, body)
			if !tt.expectExpired {
				assert.Empty(t, res.Cookies())
				assert.Equal(t, "public, max-age=30", res.Header.Get("Cache-Control"))
				return
			}
			got := cookies(res)
			require.Len(t, got, 2)
			for name, httpOnly := range map[string]bool{session.CookieSession: true, session.CookieCSRF: false} {
				ck := got[name]
				require.NotNil(t, ck, name)
				assert.Equal(t, -1, ck.MaxAge, "%s: Max-Age=0", name)
				assert.True(t, ck.Secure, "%s: Secure by default", name)
				assert.Equal(t, httpOnly, ck.HttpOnly, name)
				assert.Equal(t, "/", ck.Path, name)
				assert.Equal(t, http.SameSiteLaxMode, ck.SameSite, name)
			}
			assert.Equal(t, "private, no-store", res.Header.Get("Cache-Control"), "the handler's public is overridden")
		})
	}
	_, err := session.OptionalAuthConfig{}.ToMiddleware()
	assert.Error(t, err, "a verifier is required")
}
