package app_test

import (
	"crypto/tls"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/fakes/fakestest"
	"github.com/shopfront/shared/edge/edgetest"
)

// TestPartnerMutualTLS serves bff-partner over HTTPS with
// BFF_TLS_CLIENT_CA_FILE: a partner with a certificate of that CA and an
// API key gets in; one without a certificate, or with another CA's, does
// not even finish the handshake.
func TestPartnerMutualTLS(t *testing.T) {
	t.Parallel()
	p := edgetest.NewPKI(t)

	_, base := fakestest.Start(t)
	a, _ := bootWith(t, base, map[string]string{
		"BFF_PARTNER_KEYS_FILE":  keysFile(t),
		"BFF_TLS_CERT_FILE":      p.CertFile,
		"BFF_TLS_KEY_FILE":       p.KeyFile,
		"BFF_TLS_CLIENT_CA_FILE": p.CAFile,
	})
	client := func(certs ...tls.Certificate) *http.Client {
		return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: p.CAPool, Certificates: certs, MinVersion: tls.VersionTLS12}}}
	}
	get := func(c *http.Client) (*http.Response, error) {
		req, err := http.NewRequest(http.MethodGet, "https://"+a.Addr()+"/v2/products/p-0001", nil)
		require.NoError(t, err)
		req.Header.Set("X-API-Key", keyFull)
		return c.Do(req)
	}

	tests := []struct {
		name  string
		certs []tls.Certificate
		ok    bool
	}{
		{name: "ok, certificate of the partner CA", certs: []tls.Certificate{p.Client}, ok: true},
		{name: "nok, no client certificate"},
		{name: "nok, certificate of another CA", certs: []tls.Certificate{p.Stranger}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := get(client(tt.certs...))
			if !tt.ok {
				assert.Error(t, err, "the handshake fails")
				if res != nil {
					res.Body.Close()
				}
				return
			}
			require.NoError(t, err)
			defer res.Body.Close()
			assert.Equal(t, http.StatusOK, res.StatusCode)
		})
	}
}
