package jwtauth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/jwtauth"
	"github.com/shopfront/shared/edge/problem"
)

// padded signs a token for alice by k whose length is about size bytes.
func padded(t testing.TB, k *edgetest.Key, size int) string {
	t.Helper()
	c := edgetest.Claims("alice", iss, aud, time.Hour)
	c["pad"] = ""
	base := len(k.Sign(t, c))
	c["pad"] = strings.Repeat("a", max(size-base, 0)*3/4)
	return k.Sign(t, c)
}

// TestTokenOverTheCapIsRefusedUnverified: a token over 8 KiB is
// invalid_token even when correctly signed, and no key is looked up for it:
// an unknown kid, which makes the verifier fetch the key set again for a
// short token, fetches nothing for a long one.
func TestTokenOverTheCapIsRefusedUnverified(t *testing.T) {
	t.Parallel()
	known, stranger := edgetest.NewKey(t, edgetest.ES256), edgetest.NewKey(t, edgetest.ES256)
	jwks := edgetest.StartJWKS(t, known)
	v := newVerifier(t, jwks, func(c *jwtauth.VerifierConfig) {
		c.CacheSize = -1
		c.UnknownKIDRefreshInterval = time.Nanosecond
	})
	ctx := context.Background()

	under := padded(t, known, jwtauth.MaxTokenBytes-200)
	require.LessOrEqual(t, len(under), jwtauth.MaxTokenBytes)
	_, err := v.Verify(ctx, under)
	require.NoError(t, err, "a signed token under the cap is accepted")

	over := padded(t, known, jwtauth.MaxTokenBytes+200)
	require.Greater(t, len(over), jwtauth.MaxTokenBytes)
	_, err = v.Verify(ctx, over)
	var p *problem.Problem
	require.True(t, errors.As(err, &p))
	assert.Equal(t, problem.CodeInvalidToken, p.Code, "the same token over the cap is refused")

	// The control: an unknown kid on a short token costs a key set fetch.
	fetches := jwks.Requests()
	_, err = v.Verify(ctx, padded(t, stranger, 1000))
	require.Error(t, err)
	require.Greater(t, jwks.Requests(), fetches, "an unknown kid is looked up")

	fetches = jwks.Requests()
	for range 50 {
		_, err = v.Verify(ctx, padded(t, stranger, 64<<10))
		require.True(t, errors.As(err, &p))
		assert.Equal(t, problem.CodeInvalidToken, p.Code)
	}
	assert.Equal(t, fetches, jwks.Requests(), "no key was looked up for a token over the cap")
}

// BenchmarkHugeToken compares refusing a 64 KiB token with verifying a
// short one: the refusal does no signature work.
func BenchmarkHugeToken(b *testing.B) {
	k := edgetest.NewKey(b, edgetest.RS256)
	jwks := edgetest.StartJWKS(b, k)
	v, err := jwtauth.NewVerifier(context.Background(), jwtauth.VerifierConfig{
		JWKSURL: jwks.URL, Issuer: iss, Audience: aud, Client: "mobile", CacheSize: -1,
	})
	require.NoError(b, err)
	for _, tc := range []struct {
		name  string
		token string
		ok    bool
	}{
		{"short-verified", padded(b, k, 1000), true},
		{"64KiB-refused", padded(b, k, 64<<10), false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := v.Verify(context.Background(), tc.token); (err == nil) != tc.ok {
					b.Fatal(err)
				}
			}
		})
	}
}
