package jwtauth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/jwtauth"
	"github.com/shopfront/shared/edge/problem"
)

// TestVerifyWithoutKeySet starts a verifier while identity is down: a token
// that only a key could judge gets 503 upstream_unavailable with
// Retry-After (the gateway's dependency is down, not the token wrong),
// while tokens that are wrong on their face stay 401 invalid_token.
func TestVerifyWithoutKeySet(t *testing.T) {
	t.Parallel()
	k := edgetest.NewKey(t, edgetest.RS256)
	jwks := edgetest.StartJWKS(t, k)
	jwks.SetDown(true)
	v := newVerifier(t, jwks, nil)
	require.ErrorIs(t, v.Ready(context.Background()), jwtauth.ErrNotReady)

	none := jwt.NewWithClaims(jwt.SigningMethodNone, edgetest.Claims("alice", iss, aud, time.Hour))
	none.Header["kid"] = k.ID
	alg, err := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)

	tests := []struct {
		name         string
		given        string
		expectStatus int
		expectCode   string
	}{
		{name: "nok, valid-looking token: 503, identity is down",
			given: k.Sign(t, edgetest.Claims("alice", iss, aud, time.Hour)), expectStatus: http.StatusServiceUnavailable,
			expectCode: problem.CodeUpstreamUnavailable},
		{name: "nok, token of an unknown signer: 503, no key set to say so",
			given:        edgetest.NewKey(t, edgetest.ES256).Sign(t, edgetest.Claims("alice", iss, aud, time.Hour)),
			expectStatus: http.StatusServiceUnavailable, expectCode: problem.CodeUpstreamUnavailable},
		{name: "nok, malformed: 401", given: "not.a.jwt", expectStatus: http.StatusUnauthorized,
			expectCode: problem.CodeInvalidToken},
		{name: "nok, alg none: 401", given: alg, expectStatus: http.StatusUnauthorized,
			expectCode: problem.CodeInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := v.Verify(context.Background(), tt.given)
			require.Error(t, err)
			assert.Nil(t, p)
			pr := problem.Resolve(err)
			assert.Equal(t, tt.expectStatus, pr.Status)
			assert.Equal(t, tt.expectCode, pr.Code)
			if tt.expectStatus == http.StatusServiceUnavailable {
				assert.Equal(t, "5", pr.Header.Get("Retry-After"))
				assert.Empty(t, pr.Header.Get("WWW-Authenticate"), "the credentials are not at fault")
				assert.ErrorIs(t, err, jwtauth.ErrNotReady)
			} else {
				assert.Equal(t, `Bearer error="invalid_token"`, pr.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

// TestMiddlewareWithoutKeySet is the same outage over a real listener: the
// client gets a problem+json 503 with Retry-After, then, once identity is
// back and the set fetched, its token is accepted.
func TestMiddlewareWithoutKeySet(t *testing.T) {
	t.Parallel()
	k := edgetest.NewKey(t, edgetest.RS256)
	jwks := edgetest.StartJWKS(t, k)
	jwks.SetDown(true)
	v := newVerifier(t, jwks, nil)
	mw, err := jwtauth.Config{Verifier: v}.ToMiddleware()
	require.NoError(t, err)
	url := serve(t, mw)
	token := k.Sign(t, edgetest.Claims("alice", iss, aud, time.Hour))

	call := func() (*http.Response, map[string]any) {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp, body
	}
	resp, body := call()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, problem.ContentType, resp.Header.Get("Content-Type"))
	assert.Equal(t, "5", resp.Header.Get("Retry-After"))
	assert.Equal(t, problem.CodeUpstreamUnavailable, body["error"])

	jwks.SetDown(false)
	require.Eventually(t, func() bool { return v.Ready(context.Background()) == nil }, 10*time.Second, 20*time.Millisecond)
	resp, body = call()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "alice", body["Subject"])
}

// TestUnknownKIDAfterFetchStaysInvalid: once a key set was fetched, an
// unknown kid is the token's fault even while identity is down again.
func TestUnknownKIDAfterFetchStaysInvalid(t *testing.T) {
	t.Parallel()
	k := edgetest.NewKey(t, edgetest.RS256)
	jwks := edgetest.StartJWKS(t, k)
	v := newVerifier(t, jwks, nil)
	require.NoError(t, v.Ready(context.Background()))
	jwks.SetDown(true)

	_, err := v.Verify(context.Background(), edgetest.NewKey(t, edgetest.RS256).Sign(t, edgetest.Claims("alice", iss, aud, time.Hour)))
	require.Error(t, err)
	pr := problem.Resolve(err)
	assert.Equal(t, http.StatusUnauthorized, pr.Status)
	assert.Equal(t, problem.CodeInvalidToken, pr.Code)
	assert.NotErrorIs(t, err, jwtauth.ErrNotReady)
}
