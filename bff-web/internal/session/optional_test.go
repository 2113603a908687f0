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
		desc        string
		given       map[string]string
		wantStatus  int
		wantUser    string
		wantExpired bool
		wantCharged int64
	}{
		{desc: "ok, no token is anonymous", wantStatus: 200},
		{desc: "ok, a valid cookie signs in", given: map[string]string{"Cookie": "sf_session=good"}, wantStatus: 200, wantUser: "u-001"},
		{desc: "ok, a stale cookie is anonymous and expired", given: map[string]string{"Cookie": "sf_session=stale; sf_csrf=x"},
			wantStatus: 200, wantExpired: true},
		{desc: "nok, a stale Bearer token is 401", given: map[string]string{"Authorization": "Bearer stale"}, wantStatus: 401, wantCharged: 1},
		{desc: "nok, a stale Bearer token beside a good cookie is 401", given: map[string]string{"Authorization": "Bearer stale", "Cookie": "sf_session=good"},
			wantStatus: 401, wantCharged: 1},
		{desc: "nok, a cookie before any JWKS is 503, the cookie kept", given: map[string]string{"Cookie": "sf_session=early"}, wantStatus: 503, wantCharged: 1},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
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
			assert.Equal(t, tt.wantStatus, res.StatusCode, body)
			assert.Equal(t, tt.wantCharged, charged.Load(), "failures answered are charged, cookies turned anonymous are not")
			if tt.wantStatus != http.StatusOK {
				return
			}
			assert.Equal(t, tt.wantUser, body)
			if !tt.wantExpired {
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
