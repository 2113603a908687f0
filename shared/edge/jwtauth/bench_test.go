package jwtauth_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/jwtauth"
)

// verifyCases are the verifier set-ups the benchmarks compare: the
// verified-token cache on (CacheSize 0, its default) and off (-1), where
// every call checks the signature, for each signing algorithm.
var verifyCases = []struct {
	name  string
	alg   string
	cache int
}{
	{"cached/RS256", edgetest.RS256, 0},
	{"uncached/RS256", edgetest.RS256, -1},
	{"cached/ES256", edgetest.ES256, 0},
	{"uncached/ES256", edgetest.ES256, -1},
	{"cached/EdDSA", edgetest.EdDSA, 0},
	{"uncached/EdDSA", edgetest.EdDSA, -1},
}

// benchVerifier is a verifier of a key of alg, its key set already
// fetched from a local JWKS server.
func benchVerifier(b *testing.B, alg string, cache int) (*jwtauth.Verifier, *edgetest.Key) {
	b.Helper()
	k := edgetest.NewKey(b, alg)
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	v, err := jwtauth.NewVerifier(ctx, jwtauth.VerifierConfig{
		JWKSURL: edgetest.StartJWKS(b, k).URL, Issuer: iss, Audience: aud, Client: auth.ClientMobile, CacheSize: cache,
	})
	require.NoError(b, err)
	require.NoError(b, v.Ready(ctx))
	return v, k
}

// BenchmarkVerify measures the verification of one token on its own: a
// repeat token with the cache skips the signature check.
func BenchmarkVerify(b *testing.B) {
	for _, bc := range verifyCases {
		b.Run(bc.name, func(b *testing.B) {
			v, k := benchVerifier(b, bc.alg, bc.cache)
			token := k.Sign(b, edgetest.Claims("alice", iss, aud, time.Hour))
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				p, err := v.Verify(ctx, token)
				if err != nil || p.Subject != "alice" {
					b.Fatalf("verify: %v", err)
				}
			}
		})
	}
}
