package fakes_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/contracts/fakes"
	"github.com/shopfront/contracts/fakes/fakestest"
)

// verify checks tok against the JWKS served by the fakes, as a gateway does.
func verify(t *testing.T, base, tok, aud string) (jwt.MapClaims, error) {
	t.Helper()
	resp, err := http.Get(base + "/identity/.well-known/jwks.json")
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	kf, err := keyfunc.NewJWKSetJSON(raw)
	require.NoError(t, err)
	claims := jwt.MapClaims{}
	_, err = jwt.ParseWithClaims(tok, claims, kf.Keyfunc, jwt.WithIssuer(fakes.Issuer), jwt.WithAudience(aud),
		jwt.WithValidMethods([]string{"RS256"}))
	return claims, err
}

// tokenRequest posts a form to the token endpoint.
func tokenRequest(t *testing.T, base string, form url.Values, basicUser, basicPass string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "POST", base+"/identity/oauth/token", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicUser != "" {
		req.SetBasicAuth(basicUser, basicPass)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, body
}

func TestTokenGrants(t *testing.T) {
	t.Parallel()
	now := time.Now().Truncate(time.Second)
	f, base := fakestest.StartWith(t, fakes.Options{Clock: func() time.Time { return now }})
	allScopes := "catalog:read inventory:read orders:read orders:write"
	tests := []struct {
		name         string
		form         url.Values
		basic        [2]string
		expectAud    string
		expectClaims jwt.MapClaims
	}{
		{name: "ok, password grant for mobile", expectAud: fakes.AudienceMobile,
			form:         url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"shopfront"}, "client_id": {"mobile"}},
			expectClaims: jwt.MapClaims{"sub": "u-001", "roles": []any{"customer"}, "tenant": "tenant-north"}},
		{name: "ok, password grant for web", expectAud: fakes.AudienceWeb,
			form:         url.Values{"grant_type": {"password"}, "username": {"bob"}, "password": {"shopfront"}, "client_id": {"web"}},
			expectClaims: jwt.MapClaims{"sub": "u-002", "roles": []any{"customer"}, "tenant": "tenant-south"}},
		{name: "ok, client credentials, all scopes", expectAud: fakes.AudiencePartner,
			form:         url.Values{"grant_type": {"client_credentials"}, "client_id": {"acme-client"}, "client_secret": {"acme-secret"}},
			expectClaims: jwt.MapClaims{"sub": "acme-client", "partner": "acme", "scope": allScopes}},
		{name: "ok, client credentials, requested subset", expectAud: fakes.AudiencePartner,
			form:         url.Values{"grant_type": {"client_credentials"}, "client_id": {"acme-client"}, "client_secret": {"acme-secret"}, "scope": {"orders:read catalog:read"}},
			expectClaims: jwt.MapClaims{"sub": "acme-client", "partner": "acme", "scope": "orders:read catalog:read"}},
		{name: "ok, client credentials with HTTP Basic", expectAud: fakes.AudiencePartner, basic: [2]string{"acme-client", "acme-secret"},
			form:         url.Values{"grant_type": {"client_credentials"}, "scope": {"inventory:read"}},
			expectClaims: jwt.MapClaims{"sub": "acme-client", "partner": "acme", "scope": "inventory:read"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, body := tokenRequest(t, base, tt.form, tt.basic[0], tt.basic[1])
			require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
			assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
			var tok domain.Token
			require.NoError(t, json.Unmarshal(body, &tok))
			assert.Equal(t, "Bearer", tok.TokenType)
			assert.Equal(t, 3600, tok.ExpiresIn)

			claims, err := verify(t, base, tok.AccessToken, tt.expectAud)
			require.NoError(t, err)
			for k, v := range tt.expectClaims {
				assert.Equal(t, v, claims[k], k)
			}
			assert.Equal(t, float64(now.Unix()), claims["iat"])
			assert.Equal(t, float64(now.Unix()), claims["nbf"])
			assert.Equal(t, float64(now.Add(time.Hour).Unix()), claims["exp"])

			parsed, _, err := jwt.NewParser().ParseUnverified(tok.AccessToken, jwt.MapClaims{})
			require.NoError(t, err)
			assert.Equal(t, f.KeyID(), parsed.Header["kid"])
			assert.Equal(t, "RS256", parsed.Header["alg"])
		})
	}
}

func TestTokenErrors(t *testing.T) {
	t.Parallel()
	_, base := fakestest.Start(t)
	tests := []struct {
		name       string
		form       url.Values
		basic      [2]string
		status     int
		expectCode string
	}{
		{name: "nok, wrong password", status: 401, expectCode: "invalid_grant",
			form: url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"secret"}, "client_id": {"mobile"}}},
		{name: "nok, unknown user", status: 401, expectCode: "invalid_grant",
			form: url.Values{"grant_type": {"password"}, "username": {"zed"}, "password": {"shopfront"}, "client_id": {"mobile"}}},
		{name: "nok, password grant for partner client", status: 401, expectCode: "invalid_client",
			form: url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"shopfront"}, "client_id": {"partner"}}},
		{name: "nok, wrong client secret", status: 401, expectCode: "invalid_client",
			form: url.Values{"grant_type": {"client_credentials"}, "client_id": {"acme-client"}, "client_secret": {"acme"}}},
		{name: "nok, wrong Basic secret", status: 401, expectCode: "invalid_client", basic: [2]string{"acme-client", "nope"},
			form: url.Values{"grant_type": {"client_credentials"}}},
		{name: "nok, scope not allowed", status: 400, expectCode: "invalid_scope",
			form: url.Values{"grant_type": {"client_credentials"}, "client_id": {"acme-client"}, "client_secret": {"acme-secret"}, "scope": {"catalog:read admin"}}},
		{name: "nok, no grant type", status: 400, expectCode: "unsupported_grant_type", form: url.Values{"username": {"alice"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, body := tokenRequest(t, base, tt.form, tt.basic[0], tt.basic[1])
			assert.Equal(t, tt.status, resp.StatusCode)
			assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
			var p problem
			require.NoError(t, json.Unmarshal(body, &p))
			assert.Equal(t, tt.expectCode, p.Code)
			assert.NotContains(t, string(body), "access_token")
		})
	}
	t.Run("nok, JSON body", func(t *testing.T) {
		t.Parallel()
		var p problem
		resp := do(t, "POST", base+"/identity/oauth/token", `{"grant_type":"password"}`, nil, &p)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Equal(t, "invalid_request", p.Code)
	})
}

func TestMintAndRotate(t *testing.T) {
	t.Parallel()
	f, base := fakestest.Start(t)
	first := f.KeyID()

	custom := f.UserClaims("u-009", "web")
	custom["roles"] = []string{"customer", "admin"}
	tok := fakestest.Token(t, f, custom)
	claims, err := verify(t, base, tok, fakes.AudienceWeb)
	require.NoError(t, err)
	assert.Equal(t, []any{"customer", "admin"}, claims["roles"])
	assert.Equal(t, "u-009", claims["sub"])

	expired := f.UserClaims("u-001", "mobile")
	expired["exp"] = time.Now().Add(-time.Hour).Unix()
	_, err = verify(t, base, fakestest.Token(t, f, expired), fakes.AudienceMobile)
	assert.ErrorIs(t, err, jwt.ErrTokenExpired, "minted claims are signed as given")

	partner := fakestest.PartnerToken(t, f, "globex", "catalog:read")
	claims, err = verify(t, base, partner, fakes.AudiencePartner)
	require.NoError(t, err)
	assert.Equal(t, "globex", claims["partner"])
	assert.Equal(t, "catalog:read", claims["scope"])

	second, err := f.RotateKey()
	require.NoError(t, err)
	assert.NotEqual(t, first, second)
	assert.Equal(t, second, f.KeyID())
	var set fakes.JWKSet
	do(t, "GET", base+"/identity/.well-known/jwks.json", "", nil, &set)
	require.Len(t, set.Keys, 2)
	assert.Equal(t, second, set.Keys[0].Kid, "the current key comes first")
	assert.Equal(t, first, set.Keys[1].Kid, "the previous key stays published")

	fresh := fakestest.UserToken(t, f, "u-001", "mobile")
	parsed, _, err := jwt.NewParser().ParseUnverified(fresh, jwt.MapClaims{})
	require.NoError(t, err)
	assert.Equal(t, second, parsed.Header["kid"])
	_, err = verify(t, base, fresh, fakes.AudienceMobile)
	require.NoError(t, err)
	_, err = verify(t, base, tok, fakes.AudienceWeb)
	require.NoError(t, err, "tokens of the previous key still verify")

	_, err = f.RotateKey()
	require.NoError(t, err)
	_, err = verify(t, base, tok, fakes.AudienceWeb)
	assert.Error(t, err, "two rotations later the first key is gone")
}
