package edgetest

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
	"os"
	"path/filepath"
	"testing"
	"time"
)

// PKI is a throwaway public-key infrastructure for TLS tests: a CA, a
// server certificate it signed for 127.0.0.1 and localhost, a client
// certificate it signed and one signed by another CA. The CA, the server
// certificate and its key are also PEM files, as BFF_TLS_CLIENT_CA_FILE,
// BFF_TLS_CERT_FILE and BFF_TLS_KEY_FILE take them.
type PKI struct {
	// CA is the authority's certificate.
	CA *x509.Certificate
	// CAPool holds CA alone, for a client's RootCAs.
	CAPool *x509.CertPool
	// CAFile is CA as a PEM file.
	CAFile string
	// CertFile and KeyFile are the server certificate and its EC private
	// key as PEM files.
	CertFile, KeyFile string
	// Client is a client certificate signed by CA.
	Client tls.Certificate
	// Stranger is a client certificate signed by another CA, which a
	// server trusting CA must refuse.
	Stranger tls.Certificate
}

// NewPKI creates a PKI whose files live in a temporary directory removed
// when the test ends. Certificates are valid from an hour ago to an hour
// from now, so clock skew between steps of a test does not matter.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	dir := t.TempDir()
	caKey, caCert := issue(t, nil, nil, &x509.Certificate{
		Subject: pkix.Name{CommonName: "Shopfront Test CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign,
	})
	p := &PKI{
		CA:       caCert,
		CAPool:   x509.NewCertPool(),
		CAFile:   filepath.Join(dir, "ca.pem"),
		CertFile: filepath.Join(dir, "cert.pem"),
		KeyFile:  filepath.Join(dir, "key.pem"),
	}
	p.CAPool.AddCert(caCert)
	writePEM(t, p.CAFile, "CERTIFICATE", caCert.Raw)

	srvKey, srvCert := issue(t, caKey, caCert, &x509.Certificate{
		Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	writePEM(t, p.CertFile, "CERTIFICATE", srvCert.Raw)
	srvKeyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		t.Fatalf("encoding the server key: %v", err)
	}
	writePEM(t, p.KeyFile, "EC PRIVATE KEY", srvKeyDER)

	cliKey, cliCert := issue(t, caKey, caCert, &x509.Certificate{
		Subject: pkix.Name{CommonName: "acme"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	p.Client = tls.Certificate{Certificate: [][]byte{cliCert.Raw}, PrivateKey: cliKey, Leaf: cliCert}

	otherKey, otherCA := issue(t, nil, nil, &x509.Certificate{
		Subject: pkix.Name{CommonName: "Other CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign,
	})
	strKey, strCert := issue(t, otherKey, otherCA, &x509.Certificate{
		Subject: pkix.Name{CommonName: "mallory"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	p.Stranger = tls.Certificate{Certificate: [][]byte{strCert.Raw}, PrivateKey: strKey, Leaf: strCert}
	return p
}

// issue creates a P-256 key and a certificate from tmpl for it, signed by
// parent's key, or self-signed when parent is nil.
func issue(t testing.TB, parentKey *ecdsa.PrivateKey, parent, tmpl *x509.Certificate) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generating a certificate key: %v", err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatalf("drawing a serial number: %v", err)
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatalf("creating certificate %q: %v", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parsing certificate %q: %v", tmpl.Subject.CommonName, err)
	}
	return key, cert
}

// writePEM writes der as one PEM block of type typ to path, readable by the
// owner only as a private key must be.
func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatalf("writing %s: %v", path, err)
	}
}
