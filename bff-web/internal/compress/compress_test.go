package compress_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/bff-web/internal/compress"
)

func start(t *testing.T) string {
	t.Helper()
	e := echo.New()
	mw, err := compress.Config{}.ToMiddleware()
	require.NoError(t, err)
	e.Use(mw)
	big := strings.Repeat(`{"name":"Shopfront product"},`, 100)
	e.Match([]string{http.MethodGet, http.MethodHead}, "/big", func(c echo.Context) error { return c.String(http.StatusOK, big) })
	e.GET("/small", func(c echo.Context) error { return c.String(http.StatusOK, "tiny") })
	e.GET("/exact", func(c echo.Context) error { return c.String(http.StatusOK, strings.Repeat("a", 1024)) })
	e.GET("/under", func(c echo.Context) error { return c.String(http.StatusOK, strings.Repeat("a", 1023)) })
	e.GET("/notmodified", func(c echo.Context) error { return c.NoContent(http.StatusNotModified) })
	e.GET("/precompressed", func(c echo.Context) error {
		c.Response().Header().Set("Content-Encoding", "gzip")
		return c.Blob(http.StatusOK, "application/octet-stream", gz(big))
	})
	e.GET("/error", func(c echo.Context) error {
		return echo.NewHTTPError(http.StatusBadRequest, strings.Repeat("bad input ", 200))
	})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv.URL
}

func gz(s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, _ = w.Write([]byte(s))
	_ = w.Close()
	return b.Bytes()
}

func decode(t *testing.T, enc string, body []byte) string {
	t.Helper()
	var r io.Reader = bytes.NewReader(body)
	switch enc {
	case "br":
		r = brotli.NewReader(r)
	case "gzip":
		zr, err := gzip.NewReader(r)
		require.NoError(t, err)
		r = zr
	}
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	return string(b)
}

func TestCompression(t *testing.T) {
	t.Parallel()
	url := start(t)
	tests := []struct {
		name       string
		path       string
		method     string
		accept     string
		expectEnc  string
		expectCode int
		expectLen  int // decoded length; -1 to skip.
	}{
		{name: "ok, brotli preferred when both are accepted", path: "/big", accept: "gzip, deflate, br", expectEnc: "br", expectLen: 2900},
		{name: "ok, gzip when brotli is not accepted", path: "/big", accept: "gzip", expectEnc: "gzip", expectLen: 2900},
		{name: "ok, q-values respected: br;q=0 refused", path: "/big", accept: "br;q=0, gzip", expectEnc: "gzip", expectLen: 2900},
		{name: "ok, q-values respected: client prefers gzip", path: "/big", accept: "br;q=0.5, gzip;q=1", expectEnc: "gzip", expectLen: 2900},
		{name: "ok, identity when nothing is accepted", path: "/big", accept: "", expectEnc: "", expectLen: 2900},
		{name: "ok, 1024 bytes are compressed", path: "/exact", accept: "br", expectEnc: "br", expectLen: 1024},
		{name: "nok, 1023 bytes are not", path: "/under", accept: "br", expectEnc: "", expectLen: 1023},
		{name: "nok, small bodies untouched", path: "/small", accept: "br, gzip", expectEnc: "", expectLen: 4},
		{name: "nok, 304 has no body and no encoding", path: "/notmodified", accept: "br", expectEnc: "", expectCode: 304, expectLen: 0},
		{name: "ok, HEAD gets the GET's headers and no body", path: "/big", method: http.MethodHead, accept: "br", expectEnc: "br", expectLen: 0},
		{name: "nok, no double compression", path: "/precompressed", accept: "br, gzip", expectEnc: "gzip", expectLen: 2900},
		{name: "ok, large errors are compressed too", path: "/error", accept: "br", expectEnc: "br", expectCode: 400, expectLen: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			req, err := http.NewRequest(method, url+tt.path, nil)
			require.NoError(t, err)
			// Set explicitly, so that net/http does not add gzip and decode transparently.
			req.Header.Set("Accept-Encoding", tt.accept)
			res, err := http.DefaultTransport.RoundTrip(req)
			require.NoError(t, err)
			defer res.Body.Close()
			body, err := io.ReadAll(res.Body)
			require.NoError(t, err)
			code := tt.expectCode
			if code == 0 {
				code = http.StatusOK
			}
			assert.Equal(t, code, res.StatusCode)
			assert.Equal(t, tt.expectEnc, res.Header.Get("Content-Encoding"))
			assert.Contains(t, res.Header.Values("Vary"), "Accept-Encoding")
			if method == http.MethodHead {
				assert.Empty(t, body)
			} else if tt.expectLen >= 0 {
				assert.Len(t, decode(t, tt.expectEnc, body), tt.expectLen)
			}
			if tt.expectEnc != "" && method == http.MethodGet {
				assert.Less(t, len(body), 1024, "the body really is compressed")
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	_, err := compress.Config{MinSize: -1}.ToMiddleware()
	assert.Error(t, err)
	_, err = compress.Config{BrotliLevel: 12}.ToMiddleware()
	assert.Error(t, err)
}

func BenchmarkCompress(b *testing.B) {
	body := []byte(strings.Repeat(`{"id":"p1","name":"Shopfront product","price":{"amount":1999,"currency":"USD"}},`, 60))
	for _, accept := range []string{"br", "gzip", ""} {
		b.Run("accept="+accept, func(b *testing.B) {
			e := echo.New()
			mw, err := compress.Config{}.ToMiddleware()
			require.NoError(b, err)
			h := mw(func(c echo.Context) error { return c.Blob(http.StatusOK, "application/json", body) })
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, "/", nil)
				req.Header.Set("Accept-Encoding", accept)
				rec := httptest.NewRecorder()
				if err := h(e.NewContext(req, rec)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
