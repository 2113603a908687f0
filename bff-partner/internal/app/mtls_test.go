package app_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/fakes/fakestest"
)

func issue(t *testing.T, parentKey *ecdsa.PrivateKey, parent *x509.Certificate, tmpl *x509.Certificate) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	n, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	require.NoError(t, err)
	tmpl.SerialNumber = n
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return key, cert
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
	return p
}

// TestPartnerMutualTLS serves bff-partner over HTTPS with
// BFF_TLS_CLIENT_CA_FILE: a partner with a certificate of that CA and an
// API key gets in; one without a certificate, or with another CA's, does
// not even finish the handshake.
func TestPartnerMutualTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := &x509.Certificate{Subject: pkix.Name{CommonName: "Partner CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caKey, caCert := issue(t, nil, nil, ca)
	srvKey, srvCert := issue(t, caKey, caCert, &x509.Certificate{Subject: pkix.Name{CommonName: "localhost"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	cliKey, cliCert := issue(t, caKey, caCert, &x509.Certificate{Subject: pkix.Name{CommonName: "acme"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	otherKey, otherCA := issue(t, nil, nil, &x509.Certificate{Subject: pkix.Name{CommonName: "Other CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign})
	strKey, strCert := issue(t, otherKey, otherCA, &x509.Certificate{Subject: pkix.Name{CommonName: "mallory"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	srvKeyDER, err := x509.MarshalECPrivateKey(srvKey)
	require.NoError(t, err)

	_, base := fakestest.Start(t)
	a, _ := bootWith(t, base, map[string]string{
		"BFF_PARTNER_KEYS_FILE":  keysFile(t),
		"BFF_TLS_CERT_FILE":      writePEM(t, dir, "cert.pem", "CERTIFICATE", srvCert.Raw),
		"BFF_TLS_KEY_FILE":       writePEM(t, dir, "key.pem", "EC PRIVATE KEY", srvKeyDER),
		"BFF_TLS_CLIENT_CA_FILE": writePEM(t, dir, "ca.pem", "CERTIFICATE", caCert.Raw),
	})
	roots := x509.NewCertPool()
	roots.AddCert(caCert)
	client := func(certs ...tls.Certificate) *http.Client {
		return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs, MinVersion: tls.VersionTLS12}}}
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
		{name: "ok, certificate of the partner CA", certs: []tls.Certificate{{Certificate: [][]byte{cliCert.Raw}, PrivateKey: cliKey}}, ok: true},
		{name: "nok, no client certificate"},
		{name: "nok, certificate of another CA", certs: []tls.Certificate{{Certificate: [][]byte{strCert.Raw}, PrivateKey: strKey}}},
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
