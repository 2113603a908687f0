package server_test

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

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/shared/edge/server"
)

// pki is a throw-away CA with a server and a client certificate.
type pki struct {
	caPool       *x509.CertPool
	caFile       string
	certFile     string
	keyFile      string
	clientCert   tls.Certificate
	strangerCert tls.Certificate
}

func newPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	caKey, caCert, caDER := makeCert(t, nil, nil, &x509.Certificate{
		Subject: pkix.Name{CommonName: "Shopfront Test CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign,
	})
	p := pki{caPool: x509.NewCertPool(), caFile: filepath.Join(dir, "ca.pem"),
		certFile: filepath.Join(dir, "cert.pem"), keyFile: filepath.Join(dir, "key.pem")}
	p.caPool.AddCert(caCert)
	writePEM(t, p.caFile, "CERTIFICATE", caDER)

	srvKey, _, srvDER := makeCert(t, caKey, caCert, &x509.Certificate{
		Subject: pkix.Name{CommonName: "localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	writePEM(t, p.certFile, "CERTIFICATE", srvDER)
	keyDER, err := x509.MarshalECPrivateKey(srvKey)
	require.NoError(t, err)
	writePEM(t, p.keyFile, "EC PRIVATE KEY", keyDER)

	cliKey, _, cliDER := makeCert(t, caKey, caCert, &x509.Certificate{
		Subject: pkix.Name{CommonName: "acme"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	p.clientCert = tls.Certificate{Certificate: [][]byte{cliDER}, PrivateKey: cliKey}

	// A client certificate from another CA must not pass.
	otherKey, otherCA, _ := makeCert(t, nil, nil, &x509.Certificate{
		Subject: pkix.Name{CommonName: "Other CA"}, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	})
	strKey, _, strDER := makeCert(t, otherKey, otherCA, &x509.Certificate{
		Subject: pkix.Name{CommonName: "mallory"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	p.strangerCert = tls.Certificate{Certificate: [][]byte{strDER}, PrivateKey: strKey}
	return p
}

func makeCert(t *testing.T, parentKey *ecdsa.PrivateKey, parent *x509.Certificate, tmpl *x509.Certificate) (*ecdsa.PrivateKey, *x509.Certificate, []byte) {
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
	return key, cert, der
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
}

func tlsClient(tc *tls.Config) *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true}}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	proto := func(e *echo.Echo) {
		e.GET("/proto", func(c echo.Context) error { return c.String(http.StatusOK, c.Request().Proto) })
	}
	s := start(t, server.Config{TLSCertFile: p.certFile, TLSKeyFile: p.keyFile}, server.Options{}, proto)

	t.Run("ok, HTTPS speaks HTTP/2", func(t *testing.T) {
		t.Parallel()
		resp, err := tlsClient(&tls.Config{RootCAs: p.caPool}).Get("https://" + s.Addr() + "/proto")
		require.NoError(t, err)
		defer resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, 2, resp.ProtoMajor)
	})
	t.Run("nok, TLS 1.1 is refused", func(t *testing.T) {
		t.Parallel()
		_, err := tlsClient(&tls.Config{RootCAs: p.caPool, MaxVersion: tls.VersionTLS11}).Get("https://" + s.Addr() + "/proto")
		assert.Error(t, err)
	})
	t.Run("ok, admin stays plain HTTP", func(t *testing.T) {
		t.Parallel()
		resp, err := http.Get(s.adminURL("/healthz"))
		require.NoError(t, err)
		defer resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
	})
}

func TestMutualTLS(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	s := start(t, server.Config{TLSCertFile: p.certFile, TLSKeyFile: p.keyFile, TLSClientCAFile: p.caFile}, server.Options{},
		func(e *echo.Echo) {
			e.GET("/ok", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
		})
	tests := []struct {
		name  string
		certs []tls.Certificate
		ok    bool
	}{
		{name: "ok, client certificate from the CA", certs: []tls.Certificate{p.clientCert}, ok: true},
		{name: "nok, no client certificate"},
		{name: "nok, client certificate from another CA", certs: []tls.Certificate{p.strangerCert}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, err := tlsClient(&tls.Config{RootCAs: p.caPool, Certificates: tt.certs}).Get("https://" + s.Addr() + "/ok")
			if !tt.ok {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, http.StatusNoContent, resp.StatusCode)
		})
	}
}
