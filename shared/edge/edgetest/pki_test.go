package edgetest

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPKI(t *testing.T) {
	t.Parallel()
	p := NewPKI(t)
	srv, err := tls.LoadX509KeyPair(p.CertFile, p.KeyFile)
	require.NoError(t, err, "the server certificate and key files form a pair")
	raw, err := os.ReadFile(p.CAFile)
	require.NoError(t, err)
	block, _ := pem.Decode(raw)
	require.NotNil(t, block, "the CA file is PEM")
	assert.Equal(t, p.CA.Raw, block.Bytes, "the CA file holds the CA")

	leaf, err := x509.ParseCertificate(srv.Certificate[0])
	require.NoError(t, err)
	tests := []struct {
		name   string
		cert   *x509.Certificate
		host   string
		usage  x509.ExtKeyUsage
		expect bool
	}{
		{name: "ok, server certificate for 127.0.0.1", cert: leaf, host: "127.0.0.1", usage: x509.ExtKeyUsageServerAuth, expect: true},
		{name: "ok, server certificate for localhost", cert: leaf, host: "localhost", usage: x509.ExtKeyUsageServerAuth, expect: true},
		{name: "nok, server certificate for another host", cert: leaf, host: "example.com", usage: x509.ExtKeyUsageServerAuth},
		{name: "ok, client certificate of the CA", cert: p.Client.Leaf, usage: x509.ExtKeyUsageClientAuth, expect: true},
		{name: "nok, client certificate of another CA", cert: p.Stranger.Leaf, usage: x509.ExtKeyUsageClientAuth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := tt.cert.Verify(x509.VerifyOptions{Roots: p.CAPool, DNSName: tt.host,
				KeyUsages: []x509.ExtKeyUsage{tt.usage}, CurrentTime: time.Now()})
			if tt.expect {
				assert.NoError(t, err)
			} else {
				assert.Error(t, err)
			}
		})
	}
}
