package jwtauth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/fakes"
	"github.com/shopfront/contracts/fakes/fakestest"
	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/jwtauth"
)

// TestTokensOfTheIdentityFake verifies tokens issued by the identity fake's
// token endpoint over HTTP, as the gateways receive them.
func TestTokensOfTheIdentityFake(t *testing.T) {
	t.Parallel()
	f, base := fakestest.Start(t)
	grant := func(form url.Values) string {
		resp, err := http.PostForm(base+"/identity/oauth/token", form)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var out struct {
			AccessToken string `json:"access_token"`
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return out.AccessToken
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	verifier := func(aud string, client auth.Client) *jwtauth.Verifier {
		v, err := jwtauth.NewVerifier(ctx, jwtauth.VerifierConfig{
			JWKSURL: base + "/identity/.well-known/jwks.json", Issuer: fakes.Issuer, Audience: aud, Client: client,
		})
		require.NoError(t, err)
		require.NoError(t, v.Ready(ctx))
		return v
	}
	mobile := verifier(fakes.AudienceMobile, auth.ClientMobile)
	partner := verifier(fakes.AudiencePartner, auth.ClientPartner)

	alice := grant(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"shopfront"}, "client_id": {"mobile"}})
	p, err := mobile.Verify(ctx, alice)
	require.NoError(t, err)
	assert.NotEmpty(t, p.Subject)
	assert.Equal(t, []auth.Role{"customer"}, p.Roles)
	assert.NotEmpty(t, p.Tenant)
	assert.Equal(t, auth.ClientMobile, p.Client)

	_, err = partner.Verify(ctx, alice)
	assert.Error(t, err, "a mobile token is not valid at the partner gateway")

	acme := grant(url.Values{"grant_type": {"client_credentials"}, "client_id": {"acme-client"}, "client_secret": {"acme-secret"}, "scope": {"catalog:read orders:write"}})
	p, err = partner.Verify(ctx, acme)
	require.NoError(t, err)
	assert.Equal(t, "acme", p.Partner)
	assert.Equal(t, []auth.Scope{auth.ScopeCatalogRead, auth.ScopeOrdersWrite}, p.Scopes)

	// Identity rotates its key; the next token's unknown kid is fetched.
	_, err = f.RotateKey()
	require.NoError(t, err)
	bob := grant(url.Values{"grant_type": {"password"}, "username": {"bob"}, "password": {"shopfront"}, "client_id": {"mobile"}})
	_, err = mobile.Verify(ctx, bob)
	require.NoError(t, err)
}
