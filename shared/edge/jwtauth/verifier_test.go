package jwtauth_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/jwtauth"
	"github.com/shopfront/shared/edge/problem"
)

const (
	iss = "shopfront-identity"
	aud = "shopfront-mobile"
)

func newVerifier(t *testing.T, jwks *edgetest.JWKS, mod func(*jwtauth.VerifierConfig)) *jwtauth.Verifier {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cfg := jwtauth.VerifierConfig{JWKSURL: jwks.URL, Issuer: iss, Audience: aud, Client: auth.ClientMobile}
	if mod != nil {
		mod(&cfg)
	}
	v, err := jwtauth.NewVerifier(ctx, cfg)
	require.NoError(t, err)
	return v
}

func TestVerify(t *testing.T) {
	t.Parallel()
	rs, es, ed := edgetest.NewKey(t, edgetest.RS256), edgetest.NewKey(t, edgetest.ES256), edgetest.NewKey(t, edgetest.EdDSA)
	stranger := edgetest.NewKey(t, edgetest.RS256)
	jwks := edgetest.StartJWKS(t, rs, es, ed)
	v := newVerifier(t, jwks, func(c *jwtauth.VerifierConfig) { c.CacheSize = -1 })

	with := func(k *edgetest.Key, mod func(jwt.MapClaims)) string {
		c := edgetest.Claims("alice", iss, aud, time.Hour)
		if mod != nil {
			mod(c)
		}
		return k.Sign(t, c)
	}
	now := time.Now()
	pubDER, err := x509.MarshalPKIXPublicKey(rs.Public())
	require.NoError(t, err)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})

	hmacWithPublicKey := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, edgetest.Claims("alice", iss, aud, time.Hour))
		tok.Header["kid"] = rs.ID
		s, err := tok.SignedString(pubPEM)
		require.NoError(t, err)
		return s
	}
	algNone := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodNone, edgetest.Claims("alice", iss, aud, time.Hour))
		tok.Header["kid"] = rs.ID
		s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		require.NoError(t, err)
		return s
	}
	tamperSig := func() string {
		s := with(rs, nil)
		i := strings.LastIndexByte(s, '.')
		// Flip a bit of the decoded signature: flipping a bit of its text
		// may make an invalid base64url character ('Z' ^ 1 is '['), which
		// fails as malformed instead of as a bad signature.
		sig, err := base64.RawURLEncoding.DecodeString(s[i+1:])
		require.NoError(t, err)
		sig[5] ^= 1
		return s[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
	}
	tamperPayload := func() string {
		good := strings.Split(with(rs, nil), ".")
		evil := strings.Split(with(rs, func(c jwt.MapClaims) { c["sub"] = "mallory" }), ".")
		return good[0] + "." + evil[1] + "." + good[2]
	}

	tests := []struct {
		name   string
		given  string
		expect string // "" = accepted
	}{
		{name: "ok, RS256", given: with(rs, nil)},
		{name: "ok, ES256", given: with(es, nil)},
		{name: "ok, EdDSA", given: with(ed, nil)},
		{name: "ok, nbf within leeway", given: with(rs, func(c jwt.MapClaims) { c["nbf"] = now.Add(20 * time.Second).Unix() })},
		{name: "ok, expired within leeway", given: with(rs, func(c jwt.MapClaims) { c["exp"] = now.Add(-20 * time.Second).Unix() })},
		{name: "ok, audience among several", given: with(rs, func(c jwt.MapClaims) { c["aud"] = []string{"other", aud} })},
		{name: "nok, alg none", given: algNone(), expect: "signing method none is invalid"},
		{name: "nok, HMAC with the public key as secret", given: hmacWithPublicKey(), expect: "signing method HS256 is invalid"},
		{name: "nok, expired", given: with(rs, func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() }), expect: "token is expired"},
		{name: "nok, nbf beyond leeway", given: with(rs, func(c jwt.MapClaims) { c["nbf"] = now.Add(2 * time.Minute).Unix() }), expect: "token is not valid yet"},
		{name: "nok, wrong issuer", given: with(rs, func(c jwt.MapClaims) { c["iss"] = "evil" }), expect: "invalid issuer"},
		{name: "nok, wrong audience", given: with(rs, func(c jwt.MapClaims) { c["aud"] = "shopfront-web" }), expect: "invalid audience"},
		{name: "nok, no exp", given: with(rs, func(c jwt.MapClaims) { delete(c, "exp") }), expect: "exp claim is required"},
		{name: "nok, no sub", given: with(rs, func(c jwt.MapClaims) { delete(c, "sub") }), expect: "no sub"},
		{name: "nok, unknown kid", given: with(stranger, nil), expect: "not found"},
		{name: "nok, tampered signature", given: tamperSig(), expect: "signature is invalid"},
		{name: "nok, tampered payload", given: tamperPayload(), expect: "signature is invalid"},
		{name: "nok, malformed", given: "not.a.jwt", expect: "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := v.Verify(context.Background(), tt.given)
			if tt.expect == "" {
				require.NoError(t, err)
				assert.Equal(t, "alice", p.Subject)
				assert.Equal(t, auth.ClientMobile, p.Client)
				return
			}
			require.Error(t, err)
			assert.Nil(t, p)
			assert.Contains(t, err.Error(), tt.expect)
			pr := problem.Resolve(err)
			assert.Equal(t, http.StatusUnauthorized, pr.Status)
			assert.Equal(t, problem.CodeInvalidToken, pr.Code)
			assert.Equal(t, `Bearer error="invalid_token"`, pr.Header.Get("WWW-Authenticate"))
		})
	}
}

func TestVerifyClaims(t *testing.T) {
	t.Parallel()
	k := edgetest.NewKey(t, edgetest.ES256)
	v := newVerifier(t, edgetest.StartJWKS(t, k), nil)
	c := edgetest.Claims("client-7", iss, aud, time.Hour)
	c["roles"] = []string{"admin", "buyer"}
	c["tenant"] = "t1"
	c["scope"] = "catalog:read  orders:write"
	c["partner"] = "acme"

	p, err := v.Verify(context.Background(), k.Sign(t, c))
	require.NoError(t, err)
	assert.Equal(t, &auth.Principal{
		Subject: "client-7", Roles: []auth.Role{"admin", "buyer"}, Tenant: "t1",
		Scopes:  []auth.Scope{auth.ScopeCatalogRead, auth.ScopeOrdersWrite},
		Partner: "acme", Client: auth.ClientMobile,
		Expires: time.Unix(c["exp"].(int64), 0),
	}, p)
}

func TestRotationWithoutRestart(t *testing.T) {
	t.Parallel()
	old, next := edgetest.NewKey(t, edgetest.RS256), edgetest.NewKey(t, edgetest.EdDSA)
	jwks := edgetest.StartJWKS(t, old)
	v := newVerifier(t, jwks, nil)
	ctx := context.Background()
	oldTok := old.Sign(t, edgetest.Claims("alice", iss, aud, time.Hour))
	_, err := v.Verify(ctx, oldTok)
	require.NoError(t, err)

	// Identity publishes a new key and signs with it: the unknown kid makes
	// the gateway fetch the set again.
	jwks.SetKeys(t, next)
	_, err = v.Verify(ctx, next.Sign(t, edgetest.Claims("bob", iss, aud, time.Hour)))
	require.NoError(t, err)

	// The old key is gone from the new set, so its token (cached before) is
	// no longer accepted.
	_, err = v.Verify(ctx, oldTok)
	require.Error(t, err)
	assert.Equal(t, problem.CodeInvalidToken, problem.Resolve(err).Code)
}

func TestBackgroundRefreshRevokesCachedTokens(t *testing.T) {
	t.Parallel()
	a, b := edgetest.NewKey(t, edgetest.ES256), edgetest.NewKey(t, edgetest.ES256)
	jwks := edgetest.StartJWKS(t, a, b)
	v := newVerifier(t, jwks, func(c *jwtauth.VerifierConfig) { c.RefreshInterval = 50 * time.Millisecond })
	tok := a.Sign(t, edgetest.Claims("alice", iss, aud, time.Hour))
	_, err := v.Verify(context.Background(), tok)
	require.NoError(t, err)

	jwks.SetKeys(t, b)
	require.Eventually(t, func() bool {
		_, err := v.Verify(context.Background(), tok)
		return err != nil
	}, 5*time.Second, 20*time.Millisecond)
}

func TestUnknownKIDRefreshIsRateLimited(t *testing.T) {
	t.Parallel()
	jwks := edgetest.StartJWKS(t, edgetest.NewKey(t, edgetest.RS256))
	v := newVerifier(t, jwks, nil)
	require.Equal(t, 1, jwks.Requests())
	stranger := edgetest.NewKey(t, edgetest.RS256)

	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := edgetest.Claims(fmt.Sprint("u", i), iss, aud, time.Hour)
			_, err := v.Verify(context.Background(), stranger.Sign(t, c))
			assert.Error(t, err)
		}()
	}
	wg.Wait()
	assert.Equal(t, 2, jwks.Requests(), "one start-up fetch and one refresh for the whole flood")
}

func TestCachedTokenStillExpires(t *testing.T) {
	t.Parallel()
	k := edgetest.NewKey(t, edgetest.RS256)
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	v := newVerifier(t, edgetest.StartJWKS(t, k), func(c *jwtauth.VerifierConfig) {
		c.Now = func() time.Time { return time.Unix(0, now.Load()) }
		c.CacheTTL = time.Hour
	})
	tok := k.Sign(t, edgetest.Claims("alice", iss, aud, time.Minute))
	_, err := v.Verify(context.Background(), tok)
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), tok)
	require.NoError(t, err, "cached")

	now.Add(int64(2 * time.Minute))
	_, err = v.Verify(context.Background(), tok)
	require.ErrorContains(t, err, "token is expired")
}

func TestReadyOnceJWKSFetched(t *testing.T) {
	t.Parallel()
	k := edgetest.NewKey(t, edgetest.RS256)
	jwks := edgetest.StartJWKS(t, k)
	jwks.SetDown(true)
	v := newVerifier(t, jwks, func(c *jwtauth.VerifierConfig) { c.Logger = zap.NewNop() })
	require.ErrorIs(t, v.Ready(context.Background()), jwtauth.ErrNotReady)
	_, err := v.Verify(context.Background(), k.Sign(t, edgetest.Claims("alice", iss, aud, time.Hour)))
	require.Error(t, err, "no keys yet")

	jwks.SetDown(false)
	require.Eventually(t, func() bool { return v.Ready(context.Background()) == nil }, 5*time.Second, 20*time.Millisecond)
	_, err = v.Verify(context.Background(), k.Sign(t, edgetest.Claims("alice", iss, aud, time.Hour)))
	require.NoError(t, err)
}

func TestNewVerifierValidates(t *testing.T) {
	t.Parallel()
	_, err := jwtauth.NewVerifier(context.Background(), jwtauth.VerifierConfig{JWKSURL: "jwks.json"})
	require.Error(t, err)
	for _, want := range []string{"JWKSURL", "Issuer", "Audience", "Client"} {
		assert.Contains(t, err.Error(), want)
	}
}

// serve runs mw in front of a handler echoing the principal, over a real
// listener with Shopfront's problem renderer.
func serve(t *testing.T, mw echo.MiddlewareFunc) string {
	t.Helper()
	e := echo.New()
	e.HTTPErrorHandler = problem.Handler(problem.HandlerConfig{Logger: zap.NewNop()})
	e.GET("/", func(c echo.Context) error {
		p, ok := auth.FromContext(c.Request().Context())
		if !ok {
			return c.String(http.StatusOK, "anonymous")
		}
		return c.JSON(http.StatusOK, p)
	}, mw)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestMiddleware(t *testing.T) {
	t.Parallel()
	k := edgetest.NewKey(t, edgetest.RS256)
	v := newVerifier(t, edgetest.StartJWKS(t, k), nil)
	good := k.Sign(t, edgetest.Claims("alice", iss, aud, time.Hour))
	expired := k.Sign(t, edgetest.Claims("alice", iss, aud, -time.Hour))
	required, err := jwtauth.Config{Verifier: v}.ToMiddleware()
	require.NoError(t, err)
	optional, err := jwtauth.Config{Verifier: v, Optional: true}.ToMiddleware()
	require.NoError(t, err)
	reqURL, optURL := serve(t, required), serve(t, optional)

	tests := []struct {
		name       string
		url        string
		authz      string
		expectCode int
		expectErr  string
		expectWWW  string
		expectBody string
	}{
		{name: "ok, bearer", url: reqURL, authz: "Bearer " + good, expectCode: 200, expectBody: `"Subject":"alice"`},
		{name: "ok, scheme case-insensitive", url: reqURL, authz: "bearer " + good, expectCode: 200, expectBody: `"Client":"mobile"`},
		{name: "ok, optional without token", url: optURL, expectCode: 200, expectBody: "anonymous"},
		{name: "nok, missing", url: reqURL, expectCode: 401, expectErr: "unauthorized", expectWWW: "Bearer"},
		{name: "nok, basic auth is no bearer", url: reqURL, authz: "Basic YWxpY2U6eA==", expectCode: 401, expectErr: "unauthorized", expectWWW: "Bearer"},
		{name: "nok, expired", url: reqURL, authz: "Bearer " + expired, expectCode: 401, expectErr: "invalid_token", expectWWW: `Bearer error="invalid_token"`},
		{name: "nok, optional with invalid token", url: optURL, authz: "Bearer garbage", expectCode: 401, expectErr: "invalid_token", expectWWW: `Bearer error="invalid_token"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(http.MethodGet, tt.url, nil)
			require.NoError(t, err)
			if tt.authz != "" {
				req.Header.Set("Authorization", tt.authz)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			assert.Equal(t, tt.expectCode, resp.StatusCode)
			if tt.expectErr != "" {
				var p map[string]any
				require.NoError(t, json.Unmarshal(body, &p))
				assert.Equal(t, tt.expectErr, p["error"])
				assert.Equal(t, problem.ContentType, resp.Header.Get("Content-Type"))
				assert.Equal(t, tt.expectWWW, resp.Header.Get("WWW-Authenticate"))
				assert.NotContains(t, string(body), "token is expired", "causes stay in logs")
			}
			assert.Contains(t, string(body), tt.expectBody)
		})
	}
}
