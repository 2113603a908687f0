package compress_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/shopfront/bff-mobile/internal/compress"
	"github.com/shopfront/shared/edge/problem"
)

func TestCompress(t *testing.T) {
	t.Parallel()
	e := echo.New()
	gz, err := compress.Config{}.ToMiddleware()
	require.NoError(t, err)
	e.Use(gz)
	e.GET("/bytes/:n", func(c echo.Context) error {
		n, _ := strconv.Atoi(c.Param("n"))
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, []byte(strings.Repeat("a", n)))
	})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)

	tests := []struct {
		name           string
		size           int
		acceptEncoding string
		expectGzip     bool
	}{
		{name: "ok, above 256 bytes is gzipped", size: 1000, acceptEncoding: "gzip", expectGzip: true},
		{name: "ok, 257 bytes is gzipped", size: 257, acceptEncoding: "gzip, deflate, br", expectGzip: true},
		{name: "ok, star accepts gzip", size: 1000, acceptEncoding: "*", expectGzip: true},
		{name: "nok, 256 bytes is sent as it is", size: 256, acceptEncoding: "gzip"},
		{name: "nok, small body is sent as it is", size: 40, acceptEncoding: "gzip"},
		{name: "nok, client does not accept gzip", size: 1000, acceptEncoding: ""},
		{name: "nok, gzip refused with q=0", size: 1000, acceptEncoding: "gzip;q=0, identity"},
		{name: "nok, star allowed but gzip refused", size: 1000, acceptEncoding: "*, gzip;q=0"},
		{name: "ok, coding names are case-insensitive", size: 1000, acceptEncoding: "GZIP", expectGzip: true},
		{name: "ok, gzip weighed below brotli is still accepted", size: 1000, acceptEncoding: "br;q=1.0, gzip;q=0.8", expectGzip: true},
		{name: "ok, star with a weight accepts gzip", size: 1000, acceptEncoding: "*;q=0.1", expectGzip: true},
		{name: "nok, star refused", size: 1000, acceptEncoding: "*;q=0"},
		{name: "nok, q=0.000 refuses", size: 1000, acceptEncoding: "gzip; q=0.000"},
		{name: "nok, malformed q refuses", size: 1000, acceptEncoding: "gzip;q=junk"},
		{name: "nok, brotli only is not offered", size: 1000, acceptEncoding: "br"},
		{name: "nok, identity only", size: 1000, acceptEncoding: "identity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(http.MethodGet, srv.URL+"/bytes/"+strconv.Itoa(tt.size), nil)
			require.NoError(t, err)
			if tt.acceptEncoding != "" {
				req.Header.Set("Accept-Encoding", tt.acceptEncoding)
			}
			res, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
			require.NoError(t, err)
			defer res.Body.Close()
			b, err := io.ReadAll(res.Body)
			require.NoError(t, err)
			assert.Contains(t, res.Header.Values("Vary"), "Accept-Encoding")
			if tt.expectGzip {
				assert.Equal(t, "gzip", res.Header.Get("Content-Encoding"))
				assert.Less(t, len(b), tt.size)
			} else {
				assert.Empty(t, res.Header.Get("Content-Encoding"))
				assert.Len(t, b, tt.size)
			}
		})
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	_, err := compress.Config{MinLength: -1}.ToMiddleware()
	assert.Error(t, err)
	_, err = compress.Config{Level: 12}.ToMiddleware()
	assert.Error(t, err)
}

// TestCompressErrors renders problems returned inside the middleware: one
// above 256 bytes is gzipped like any body, a small one is sent as it is,
// and the middleware outside still sees the error and the status sent.
func TestCompressErrors(t *testing.T) {
	t.Parallel()
	type seen struct {
		status int
		err    error
	}
	outer := make(chan seen, 16)
	e := echo.New()
	e.HTTPErrorHandler = problem.Handler(problem.HandlerConfig{Logger: zap.NewNop()})
	gz, err := compress.Config{}.ToMiddleware()
	require.NoError(t, err)
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		// Stands where the access log and metrics are: outside, reading
		// the committed status.
		return func(c echo.Context) error {
			err := next(c)
			outer <- seen{status: c.Response().Status, err: err}
			return err
		}
	}, gz)
	e.GET("/problem/:n", func(c echo.Context) error {
		n, _ := strconv.Atoi(c.Param("n"))
		return problem.ValidationFailed(strings.Repeat("d", n))
	})
	e.GET("/missing", func(c echo.Context) error { return echo.ErrNotFound })
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)

	tests := []struct {
		name         string
		path         string
		expectStatus int
		expectGzip   bool
	}{
		{name: "ok, a large problem is gzipped", path: "/problem/400", expectStatus: 400, expectGzip: true},
		{name: "nok, a small problem is sent as it is", path: "/problem/1", expectStatus: 400},
		{name: "ok, an echo error is rendered as a problem", path: "/missing", expectStatus: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, srv.URL+tt.path, nil)
			require.NoError(t, err)
			req.Header.Set("Accept-Encoding", "gzip")
			res, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
			require.NoError(t, err)
			defer res.Body.Close()
			raw, err := io.ReadAll(res.Body)
			require.NoError(t, err)
			assert.Equal(t, tt.expectStatus, res.StatusCode)
			assert.Equal(t, problem.ContentType, res.Header.Get("Content-Type"))
			body := raw
			if tt.expectGzip {
				require.Equal(t, "gzip", res.Header.Get("Content-Encoding"))
				zr, err := gzip.NewReader(bytes.NewReader(raw))
				require.NoError(t, err)
				body, err = io.ReadAll(zr)
				require.NoError(t, err)
				assert.Greater(t, len(body), 256)
				assert.Less(t, len(raw), len(body))
			} else {
				assert.Empty(t, res.Header.Get("Content-Encoding"))
				assert.LessOrEqual(t, len(body), 256)
			}
			var p map[string]any
			require.NoError(t, json.Unmarshal(body, &p), string(body))
			assert.EqualValues(t, tt.expectStatus, p["status"])
			got := <-outer
			assert.Equal(t, tt.expectStatus, got.status, "outside sees the status sent")
			assert.Error(t, got.err, "outside still sees the error")
		})
	}
}

// TestCompressETag gives a gzipped body's strong tag a coding suffix (RFC
// 9110 §8.8.3) and leaves the identity body's and weak tags alone.
func TestCompressETag(t *testing.T) {
	t.Parallel()
	e := echo.New()
	gz, err := compress.Config{}.ToMiddleware()
	require.NoError(t, err)
	e.Use(gz)
	e.GET("/tagged/:n", func(c echo.Context) error {
		n, _ := strconv.Atoi(c.Param("n"))
		c.Response().Header().Set("ETag", c.QueryParam("tag"))
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, []byte(strings.Repeat("a", n)))
	})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	tests := []struct {
		name           string
		size           int
		tag            string
		acceptEncoding string
		expect         string
	}{
		{name: "ok, gzipped body gets the suffix", size: 1000, tag: `"abc"`, acceptEncoding: "gzip", expect: `"abc-gzip"`},
		{name: "nok, identity body keeps its tag", size: 1000, tag: `"abc"`, expect: `"abc"`},
		{name: "nok, small body keeps its tag", size: 10, tag: `"abc"`, acceptEncoding: "gzip", expect: `"abc"`},
		{name: "nok, weak tag is left alone", size: 1000, tag: `W/"abc"`, acceptEncoding: "gzip", expect: `W/"abc"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(http.MethodGet, srv.URL+"/tagged/"+strconv.Itoa(tt.size)+"?tag="+url.QueryEscape(tt.tag), nil)
			require.NoError(t, err)
			if tt.acceptEncoding != "" {
				req.Header.Set("Accept-Encoding", tt.acceptEncoding)
			}
			res, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
			require.NoError(t, err)
			defer res.Body.Close()
			assert.Equal(t, tt.expect, res.Header.Get("ETag"))
		})
	}
}
