// Package fakestest starts the domain-service fakes for tests of any module.
//
//	f, base := fakestest.Start(t)
//	t.Setenv("BFF_UPSTREAM_CATALOG_URL", base+"/catalog") // or fill the config directly
//	tok := fakestest.UserToken(t, f, "u-001", "mobile")
package fakestest

import (
	"net/http/httptest"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/shopfront/contracts/fakes"
)

// Start serves fresh fakes (seed 1) on a loopback httptest server closed
// when the test ends, and returns them with the server's base URL
// (http://127.0.0.1:port, no trailing slash).
func Start(t testing.TB) (*fakes.Fakes, string) {
	t.Helper()
	return StartWith(t, fakes.Options{})
}

// StartWith is Start with options, e.g. a fixed clock.
func StartWith(t testing.TB, opts fakes.Options) (*fakes.Fakes, string) {
	t.Helper()
	f, err := fakes.New(opts)
	if err != nil {
		t.Fatalf("starting fakes: %v", err)
	}
	srv := httptest.NewServer(f.Handler())
	t.Cleanup(srv.Close)
	return f, srv.URL
}

// Token mints claims with the fakes' current key.
func Token(t testing.TB, f *fakes.Fakes, claims jwt.MapClaims) string {
	t.Helper()
	tok, err := f.MintToken(claims)
	if err != nil {
		t.Fatalf("minting token: %v", err)
	}
	return tok
}

// UserToken is the token the password grant issues to user id (e.g. u-001)
// for client "mobile" or "web".
func UserToken(t testing.TB, f *fakes.Fakes, id, client string) string {
	t.Helper()
	return Token(t, f, f.UserClaims(id, client))
}

// PartnerToken is a client-credentials token for partner with scopes.
func PartnerToken(t testing.TB, f *fakes.Fakes, partner string, scopes ...string) string {
	t.Helper()
	return Token(t, f, f.PartnerClaims(partner, scopes...))
}
