package edgetest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// Signing algorithms a Key can use; the gateways accept exactly these.
const (
	RS256 = "RS256"
	ES256 = "ES256"
	EdDSA = "EdDSA"
)

// Key is a signing key with its JWKS metadata, for minting test tokens.
type Key struct {
	// ID is the kid, unique per process.
	ID string
	// Alg is RS256, ES256 or EdDSA.
	Alg string
	// Private signs the tokens; its public half goes into the JWKS.
	Private crypto.Signer
}

var keySeq atomic.Int64

// NewKey generates a fresh key for alg (RS256, ES256 or EdDSA) with a unique kid.
func NewKey(t testing.TB, alg string) *Key {
	t.Helper()
	var (
		priv crypto.Signer
		err  error
	)
	switch alg {
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("edgetest.NewKey: unsupported alg %q", alg)
	}
	if err != nil {
		t.Fatalf("generating %s key: %v", alg, err)
	}
	return &Key{ID: alg + "-" + strconv.FormatInt(keySeq.Add(1), 10), Alg: alg, Private: priv}
}

// Public returns the public half of the key.
func (k *Key) Public() crypto.PublicKey { return k.Private.Public() }

func (k *Key) method() jwt.SigningMethod {
	switch k.Alg {
	case RS256:
		return jwt.SigningMethodRS256
	case ES256:
		return jwt.SigningMethodES256
	default:
		return jwt.SigningMethodEdDSA
	}
}

// Sign returns a compact JWT of claims signed by k with its kid in the header.
func (k *Key) Sign(t testing.TB, claims jwt.Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(k.method(), claims)
	tok.Header["kid"] = k.ID
	s, err := tok.SignedString(k.Private)
	if err != nil {
		t.Fatalf("signing token: %v", err)
	}
	return s
}

// Claims returns valid claims for sub, issued now by iss for aud and expiring
// after ttl. Tests add or override members (roles, tenant, scope, partner,
// exp, nbf) on the returned map.
func Claims(sub, iss, aud string, ttl time.Duration) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"sub": sub, "iss": iss, "aud": aud,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(ttl).Unix(),
	}
}

// JWKS is an httptest server publishing the public halves of a key set that
// a test can rotate, as an identity service does.
type JWKS struct {
	// URL is the JWKS document's address.
	URL string

	mu       sync.Mutex
	body     []byte
	requests atomic.Int64
	down     atomic.Bool
}

// StartJWKS serves keys' public halves at <URL> until the test ends.
func StartJWKS(t testing.TB, keys ...*Key) *JWKS {
	t.Helper()
	j := &JWKS{}
	j.SetKeys(t, keys...)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		j.requests.Add(1)
		if j.down.Load() {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		j.mu.Lock()
		body := j.body
		j.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	j.URL = srv.URL + "/.well-known/jwks.json"
	return j
}

// SetKeys replaces the published key set (key rotation or revocation).
func (j *JWKS) SetKeys(t testing.TB, keys ...*Key) {
	t.Helper()
	set := jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{}}
	for _, k := range keys {
		jwk, err := jwkset.NewJWKFromKey(k.Public(), jwkset.JWKOptions{
			Metadata: jwkset.JWKMetadataOptions{ALG: jwkset.ALG(k.Alg), KID: k.ID, USE: jwkset.UseSig},
		})
		if err != nil {
			t.Fatalf("encoding JWK %s: %v", k.ID, err)
		}
		set.Keys = append(set.Keys, jwk.Marshal())
	}
	body, err := json.Marshal(set)
	if err != nil {
		t.Fatalf("encoding JWKS: %v", err)
	}
	j.mu.Lock()
	j.body = body
	j.mu.Unlock()
}

// SetDown makes the server answer 503 (true) or serve the keys again (false).
func (j *JWKS) SetDown(down bool) { j.down.Store(down) }

// Requests returns how many times the JWKS was fetched.
func (j *JWKS) Requests() int { return int(j.requests.Load()) }
