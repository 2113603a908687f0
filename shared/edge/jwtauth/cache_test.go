package jwtauth_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/jwtauth"
	"github.com/shopfront/shared/edge/problem"
)

// flip returns tok with the byte at i (counted from the end when negative)
// changed to another base64url character.
func flip(tok string, i int) string {
	if i < 0 {
		i += len(tok)
	}
	b := []byte(tok)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// TestCacheNeverAcceptsAnAlteredToken: with a token verified and cached, a
// copy with one byte of its signature or claims changed is verified on its
// own and refused, however often it is sent, and refusing it does not evict
// or poison the original's entry.
func TestCacheNeverAcceptsAnAlteredToken(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{edgetest.RS256, edgetest.ES256, edgetest.EdDSA} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			k := edgetest.NewKey(t, alg)
			v := newVerifier(t, edgetest.StartJWKS(t, k), nil)
			ctx := context.Background()
			tok := k.Sign(t, edgetest.Claims("alice", iss, aud, time.Hour))
			_, err := v.Verify(ctx, tok)
			require.NoError(t, err)

			payload := strings.Index(tok, ".") + 5
			for name, bad := range map[string]string{
				"nok, last signature byte":  flip(tok, -2),
				"nok, first signature byte": flip(tok, strings.LastIndex(tok, ".")+1),
				"nok, a claims byte":        flip(tok, payload),
				"nok, signature cut short":  tok[:len(tok)-4],
			} {
				for range 3 {
					p, err := v.Verify(ctx, bad)
					require.Error(t, err, name)
					assert.Nil(t, p, name)
					assert.Equal(t, problem.CodeInvalidToken, problem.Resolve(err).Code, name)
				}
			}
			p, err := v.Verify(ctx, tok)
			require.NoError(t, err, "the original still verifies")
			assert.Equal(t, "alice", p.Subject)
		})
	}
}

// TestCachedTokenIsCheckedAgainAfterTheMaxAge: a cached token is trusted
// without a signature check only for CacheTTL. Identity replaces the key
// behind a kid (same kid, new key material): within CacheTTL the cached
// token is still accepted, as its kid is still published; after it, the
// token is verified again, against the new key, and refused.
func TestCachedTokenIsCheckedAgainAfterTheMaxAge(t *testing.T) {
	t.Parallel()
	k := edgetest.NewKey(t, edgetest.ES256)
	jwks := edgetest.StartJWKS(t, k)
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	v := newVerifier(t, jwks, func(c *jwtauth.VerifierConfig) {
		c.Now = func() time.Time { return time.Unix(0, now.Load()) }
		c.CacheTTL = time.Minute
		c.RefreshInterval = 20 * time.Millisecond
	})
	ctx := context.Background()
	tok := k.Sign(t, edgetest.Claims("alice", iss, aud, time.Hour))
	_, err := v.Verify(ctx, tok)
	require.NoError(t, err)

	imposter := edgetest.NewKey(t, edgetest.ES256)
	imposter.ID = k.ID
	jwks.SetKeys(t, imposter)
	probe := imposter.Sign(t, edgetest.Claims("probe", iss, aud, time.Hour))
	require.Eventually(t, func() bool {
		_, err := v.Verify(ctx, probe)
		return err == nil
	}, 10*time.Second, 20*time.Millisecond, "the background refresh picked up the new key")

	_, err = v.Verify(ctx, tok)
	require.NoError(t, err, "within CacheTTL the cached token is trusted")

	now.Add(int64(time.Minute + time.Second))
	_, err = v.Verify(ctx, tok)
	require.Error(t, err, "after CacheTTL the token is verified again")
	assert.Equal(t, problem.CodeInvalidToken, problem.Resolve(err).Code)
}
