package fakes

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/shopfront/contracts/domain"
)

// Issuer is the iss of every token the identity fake signs.
const Issuer = "shopfront-identity"

// Audiences of the three gateways.
const (
	AudienceMobile  = "shopfront-mobile"
	AudienceWeb     = "shopfront-web"
	AudiencePartner = "shopfront-partner"
)

// tokenTTL is the lifetime of issued tokens.
const tokenTTL = time.Hour

// passwordClients maps the client_id of the password grant to its audience.
var passwordClients = map[string]string{"mobile": AudienceMobile, "web": AudienceWeb}

func (f *Fakes) identityRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /oauth/token", f.token)
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "max-age=300")
		writeJSON(w, http.StatusOK, f.JWKS())
	})
}

// oauthError writes an RFC 6749 §5.2 error as problem+json, the code in `error`.
func oauthError(w http.ResponseWriter, status int, code, detail string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="shopfront-identity"`)
	}
	writeProblem(w, status, code, detail)
}

// token is the OAuth 2.0 token endpoint (RFC 6749 §4.3 and §4.4).
func (f *Fakes) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded")
		return
	}
	now := f.clock()
	claims := jwt.MapClaims{"iss": Issuer, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(tokenTTL).Unix()}
	switch r.PostForm.Get("grant_type") {
	case "password":
		aud, ok := passwordClients[r.PostForm.Get("client_id")]
		if !ok {
			oauthError(w, http.StatusUnauthorized, "invalid_client", "client_id must be mobile or web")
			return
		}
		u, ok := f.checkPassword(r.PostForm.Get("username"), r.PostForm.Get("password"))
		if !ok {
			oauthError(w, http.StatusUnauthorized, "invalid_grant", "wrong username or password")
			return
		}
		claims["aud"], claims["sub"], claims["roles"], claims["tenant"] = aud, u.ID, []string{"customer"}, u.TenantID
	case "client_credentials":
		id, secret, basic := r.BasicAuth()
		if !basic {
			id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		if !equalSecret(id, DemoClientID) || !equalSecret(secret, DemoClientSecret) {
			oauthError(w, http.StatusUnauthorized, "invalid_client", "unknown client or wrong secret")
			return
		}
		scopes := demoClientScopes
		if requested := strings.Fields(r.PostForm.Get("scope")); len(requested) > 0 {
			for _, s := range requested {
				if !slices.Contains(demoClientScopes, s) {
					oauthError(w, http.StatusBadRequest, "invalid_scope", fmt.Sprintf("scope %q is not allowed for this client", s))
					return
				}
			}
			scopes = requested
		}
		claims["aud"], claims["sub"], claims["partner"], claims["scope"] = AudiencePartner, id, DemoPartnerID, strings.Join(scopes, " ")
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be password or client_credentials")
		return
	}
	tok, err := f.MintToken(claims)
	if err != nil {
		writeProblem(w, http.StatusInternalServerError, "internal_error", "")
		return
	}
	// RFC 6749 §5.1: token responses must not be cached.
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, domain.Token{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int(tokenTTL.Seconds())})
}

// checkPassword finds the demo user and compares the password in constant time.
func (f *Fakes) checkPassword(username, password string) (domain.User, bool) {
	id, known := f.data.byName[username]
	if !equalSecret(password, DemoPassword) || !known {
		return domain.User{}, false
	}
	return f.data.users[f.data.userIdx[id]], true
}

// equalSecret compares two secrets in constant time, hashing first so that
// their lengths do not leak either.
func equalSecret(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// MintToken signs claims exactly as given with the current key (RS256, its
// kid in the header). Tests use it for tokens the token endpoint would never
// issue: expired, wrong audience, foreign roles.
func (f *Fakes) MintToken(claims jwt.MapClaims) (string, error) {
	f.mu.Lock()
	k := f.keys[len(f.keys)-1]
	f.mu.Unlock()
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = k.kid
	s, err := t.SignedString(k.key)
	if err != nil {
		return "", fmt.Errorf("signing token: %w", err)
	}
	return s, nil
}

// UserClaims returns the claims the password grant would issue to user id
// for client ("mobile" or "web"), ready to be altered and minted.
func (f *Fakes) UserClaims(id, client string) jwt.MapClaims {
	now := f.clock()
	tenant := ""
	if i, ok := f.data.userIdx[id]; ok {
		tenant = f.data.users[i].TenantID
	}
	return jwt.MapClaims{
		"iss": Issuer, "aud": passwordClients[client], "sub": id, "roles": []string{"customer"}, "tenant": tenant,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(tokenTTL).Unix(),
	}
}

// PartnerClaims returns client-credentials claims for partner with scopes.
func (f *Fakes) PartnerClaims(partner string, scopes ...string) jwt.MapClaims {
	now := f.clock()
	return jwt.MapClaims{
		"iss": Issuer, "aud": AudiencePartner, "sub": partner + "-client", "partner": partner, "scope": strings.Join(scopes, " "),
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(tokenTTL).Unix(),
	}
}

// RotateKey makes a new signing key and returns its kid. New tokens are
// signed with it; the JWKS then lists it and the previous key, so tokens
// issued just before the rotation stay verifiable and keys older than that
// disappear.
func (f *Fakes) RotateKey() (string, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", fmt.Errorf("generating RSA key: %w", err)
	}
	sum := sha256.Sum256(key.N.Bytes())
	kid := hex.EncodeToString(sum[:8])
	f.mu.Lock()
	f.keys = append(f.keys, signingKey{kid: kid, key: key})
	if len(f.keys) > 2 {
		f.keys = slices.Clone(f.keys[len(f.keys)-2:])
	}
	f.mu.Unlock()
	return kid, nil
}

// KeyID returns the kid of the current signing key.
func (f *Fakes) KeyID() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.keys[len(f.keys)-1].kid
}

// JWK is one public key of a JWKS (RFC 7517, RFC 7518 §6.3.1).
type JWK struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// JWKSet is the JSON Web Key Set served at /identity/.well-known/jwks.json.
type JWKSet struct {
	Keys []JWK `json:"keys"`
}

// JWKS returns the published keys, newest first. Written by hand because the
// set is two fields per key; jwt/v5 parses keys but does not publish them.
func (f *Fakes) JWKS() JWKSet {
	f.mu.Lock()
	defer f.mu.Unlock()
	set := JWKSet{Keys: make([]JWK, 0, len(f.keys))}
	for i := len(f.keys) - 1; i >= 0; i-- {
		pub := f.keys[i].key.PublicKey
		set.Keys = append(set.Keys, JWK{
			Kty: "RSA", Use: "sig", Alg: "RS256", Kid: f.keys[i].kid,
			N: base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
			E: base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		})
	}
	return set
}

// PublicKey returns the current signing key's public half.
func (f *Fakes) PublicKey() *rsa.PublicKey {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &f.keys[len(f.keys)-1].key.PublicKey
}
