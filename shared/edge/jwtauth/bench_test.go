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

// BenchmarkVerify measures the verification of one token on its own (the
// key set already fetched): with the verified-token cache, a repeat token
// skips the signature check; without it, every call checks the signature.
func BenchmarkVerify(b *testing.B) {
	for _, bc := range []struct {
		name  string
		alg   string
		cache int
	}{
		{"cached/RS256", edgetest.RS256, 0},
		{"uncached/RS256", edgetest.RS256, -1},
		{"uncached/ES256", edgetest.ES256, -1},
		{"uncached/EdDSA", edgetest.EdDSA, -1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			k := edgetest.NewKey(b, bc.alg)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			v, err := jwtauth.NewVerifier(ctx, jwtauth.VerifierConfig{
				JWKSURL: edgetest.StartJWKS(b, k).URL, Issuer: iss, Audience: aud, Client: auth.ClientMobile, CacheSize: bc.cache,
			})
			require.NoError(b, err)
			require.NoError(b, v.Ready(ctx))
			token := k.Sign(b, edgetest.Claims("alice", iss, aud, time.Hour))
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
