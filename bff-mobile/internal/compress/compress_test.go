package compress_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/bff-mobile/internal/compress"
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
		desc           string
		size           int
		acceptEncoding string
		expectGzip     bool
	}{
		{desc: "ok, above 256 bytes is gzipped", size: 1000, acceptEncoding: "gzip", expectGzip: true},
		{desc: "ok, 257 bytes is gzipped", size: 257, acceptEncoding: "gzip, deflate, br", expectGzip: true},
		{desc: "ok, star accepts gzip", size: 1000, acceptEncoding: "*", expectGzip: true},
		{desc: "nok, 256 bytes is sent as it is", size: 256, acceptEncoding: "gzip"},
		{desc: "nok, small body is sent as it is", size: 40, acceptEncoding: "gzip"},
		{desc: "nok, client does not accept gzip", size: 1000, acceptEncoding: ""},
		{desc: "nok, gzip refused with q=0", size: 1000, acceptEncoding: "gzip;q=0, identity"},
		{desc: "nok, star allowed but gzip refused", size: 1000, acceptEncoding: "*, gzip;q=0"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
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

func TestAcceptsGzip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		given  string
		expect bool
	}{
		{"gzip", true}, {"GZIP", true}, {"x-gzip", true}, {"br;q=1.0, gzip;q=0.8", true}, {"*;q=0.1", true},
		{"", false}, {"identity", false}, {"gzip;q=0", false}, {"gzip; q=0.000", false}, {"*;q=0", false},
		{"br", false}, {"*, gzip;q=0", false}, {"gzip;q=junk", false},
	}
	for _, tt := range tests {
		name := "ok, " + tt.given
		if !tt.expect {
			name = "nok, " + tt.given
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.expect, compress.AcceptsGzip(tt.given))
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
