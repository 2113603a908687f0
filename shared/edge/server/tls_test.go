package server_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/server"
)

func tlsClient(tc *tls.Config) *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true}}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	p := edgetest.NewPKI(t)
	proto := func(e *echo.Echo) {
		e.GET("/proto", func(c echo.Context) error { return c.String(http.StatusOK, c.Request().Proto) })
		e.GET("/tls", func(c echo.Context) error {
			if c.Request().TLS == nil || !c.Request().TLS.HandshakeComplete {
				return c.String(http.StatusOK, "none")
			}
			return c.String(http.StatusOK, "tls")
		})
	}
	s := start(t, server.Config{TLSCertFile: p.CertFile, TLSKeyFile: p.KeyFile}, server.Options{}, proto)

	t.Run("ok, HTTPS speaks HTTP/2", func(t *testing.T) {
		t.Parallel()
		resp, err := tlsClient(&tls.Config{RootCAs: p.CAPool}).Get("https://" + s.Addr() + "/proto")
		require.NoError(t, err)
		defer resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, 2, resp.ProtoMajor)
	})
	t.Run("nok, TLS 1.1 is refused", func(t *testing.T) {
		t.Parallel()
		_, err := tlsClient(&tls.Config{RootCAs: p.CAPool, MaxVersion: tls.VersionTLS11}).Get("https://" + s.Addr() + "/proto")
		assert.Error(t, err)
	})
	t.Run("nok, plain HTTP to the HTTPS port is told so", func(t *testing.T) {
		t.Parallel()
		got := sendRaw(t, s.Addr(), "GET /proto HTTP/1.1\r\nHost: shopfront.test\r\n\r\n")
		assert.Contains(t, got, "HTTP/1.0 400 Bad Request")
		assert.Contains(t, got, "HTTP request to an HTTPS server")
	})
	t.Run("ok, HTTP/1.1 over TLS knows its TLS state", func(t *testing.T) {
		t.Parallel()
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.CAPool}}}
		resp, err := c.Get("https://" + s.Addr() + "/tls")
		require.NoError(t, err)
		defer resp.Body.Close()
		assert.Equal(t, 1, resp.ProtoMajor)
		body, _ := io.ReadAll(resp.Body)
		assert.Equal(t, "tls", string(body), "Request.TLS is set behind the framing watch")
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
	p := edgetest.NewPKI(t)
	s := start(t, server.Config{TLSCertFile: p.CertFile, TLSKeyFile: p.KeyFile, TLSClientCAFile: p.CAFile}, server.Options{},
		func(e *echo.Echo) {
			e.GET("/ok", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
		})
	tests := []struct {
		name  string
		certs []tls.Certificate
		ok    bool
	}{
		{name: "ok, client certificate from the CA", certs: []tls.Certificate{p.Client}, ok: true},
		{name: "nok, no client certificate"},
		{name: "nok, client certificate from another CA", certs: []tls.Certificate{p.Stranger}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, err := tlsClient(&tls.Config{RootCAs: p.CAPool, Certificates: tt.certs}).Get("https://" + s.Addr() + "/ok")
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
