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

	"github.com/andybalholm/brotli"
	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/shopfront/shared/edge/compress"
	"github.com/shopfront/shared/edge/problem"
)

// seen is what a middleware outside the compressor observes: the stands-in
// for the access log, metrics and tracing.
type seen struct {
	status int
	err    error
}

// start serves a few routes through the compressor over a real socket.
func start(t *testing.T, cfg compress.Config) (string, chan seen) {
	t.Helper()
	outer := make(chan seen, 64)
	e := echo.New()
	e.HTTPErrorHandler = problem.Handler(problem.HandlerConfig{Logger: zap.NewNop()})
	mw, err := cfg.ToMiddleware()
	require.NoError(t, err)
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			err := next(c)
			outer <- seen{status: c.Response().Status, err: err}
			return err
		}
	}, mw)
	e.Match([]string{http.MethodGet, http.MethodHead}, "/bytes/:n", func(c echo.Context) error {
		n, _ := strconv.Atoi(c.Param("n"))
		if tag := c.QueryParam("tag"); tag != "" {
			c.Response().Header().Set("ETag", tag)
		}
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, []byte(strings.Repeat("a", n)))
	})
	e.GET("/notmodified", func(c echo.Context) error {
		c.Response().Header().Set("ETag", `"abc"`)
		return c.NoContent(http.StatusNotModified)
	})
	e.GET("/precompressed", func(c echo.Context) error {
		c.Response().Header().Set("Content-Encoding", "gzip")
		c.Response().Header().Set("ETag", `"own"`)
		return c.Blob(http.StatusOK, "application/octet-stream", gz(strings.Repeat("a", 5000)))
	})
	e.GET("/problem/:n", func(c echo.Context) error {
		n, _ := strconv.Atoi(c.Param("n"))
		return problem.ValidationFailed(strings.Repeat("d", n))
	})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv.URL, outer
}

func gz(s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, _ = w.Write([]byte(s))
	_ = w.Close()
	return b.Bytes()
}

// get sends one request without the transport's own gzip handling and
// returns the response with its body decoded per Content-Encoding.
func get(t *testing.T, method, url string, hdr map[string]string) (res *http.Response, raw, decoded []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	require.NoError(t, err)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err = (&http.Transport{DisableCompression: true}).RoundTrip(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err = io.ReadAll(res.Body)
	require.NoError(t, err)
	if len(raw) == 0 {
		// A HEAD or a 304: nothing to decode.
		return res, raw, raw
	}
	var r io.Reader = bytes.NewReader(raw)
	switch res.Header.Get("Content-Encoding") {
	case "gzip":
		zr, err := gzip.NewReader(r)
		require.NoError(t, err)
		r = zr
	case "br":
		r = brotli.NewReader(r)
	}
	decoded, err = io.ReadAll(r)
	require.NoError(t, err)
	return res, raw, decoded
}

func TestNegotiation(t *testing.T) {
	t.Parallel()
	gzipOnly, _ := start(t, compress.Config{MinSize: 257})
	both, _ := start(t, compress.Config{MinSize: 1024, Brotli: true})
	tests := []struct {
		name       string
		server     string
		size       int
		method     string
		accept     string
		expectEnc  string
		expectCode int
	}{
		{name: "ok, gzip above the threshold", server: gzipOnly, size: 1000, accept: "gzip", expectEnc: "gzip"},
		{name: "ok, exactly the threshold is compressed", server: gzipOnly, size: 257, accept: "gzip, deflate, br", expectEnc: "gzip"},
		{name: "nok, one byte under the threshold is sent as it is", server: gzipOnly, size: 256, accept: "gzip"},
		{name: "ok, coding names are case-insensitive", server: gzipOnly, size: 1000, accept: "GZIP", expectEnc: "gzip"},
		{name: "ok, a lower q still accepts", server: gzipOnly, size: 1000, accept: "br;q=1.0, gzip;q=0.8", expectEnc: "gzip"},
		{name: "nok, nothing accepted", server: gzipOnly, size: 1000, accept: ""},
		{name: "nok, identity only", server: gzipOnly, size: 1000, accept: "identity"},
		{name: "nok, gzip refused with q=0", server: gzipOnly, size: 1000, accept: "gzip;q=0, identity"},
		{name: "nok, gzip refused with q=0.000", server: gzipOnly, size: 1000, accept: "gzip; q=0.000"},
		{name: "nok, malformed q refuses", server: gzipOnly, size: 1000, accept: "gzip;q=junk"},
		{name: "nok, a coding not offered", server: gzipOnly, size: 1000, accept: "br"},
		{name: "ok, star accepts gzip", server: gzipOnly, size: 1000, accept: "*", expectEnc: "gzip"},
		{name: "ok, star with a weight accepts gzip", server: gzipOnly, size: 1000, accept: "*;q=0.1", expectEnc: "gzip"},
		{name: "nok, star refused with q=0", server: gzipOnly, size: 1000, accept: "*;q=0"},
		{name: "nok, star allowed but gzip refused", server: gzipOnly, size: 1000, accept: "*, gzip;q=0"},
		{name: "ok, brotli when both are accepted alike", server: both, size: 2000, accept: "gzip, deflate, br", expectEnc: "br"},
		{name: "ok, the client's weights decide", server: both, size: 2000, accept: "br;q=0.5, gzip", expectEnc: "gzip"},
		{name: "ok, star gives brotli when gzip is weighed lower", server: both, size: 2000, accept: "gzip;q=0.5, *", expectEnc: "br"},
		{name: "nok, under the web threshold", server: both, size: 1023, accept: "br"},
		{name: "ok, HEAD gets the GET's coding and no body", server: both, size: 2000, method: http.MethodHead, accept: "br", expectEnc: "br"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			res, raw, body := get(t, method, tt.server+"/bytes/"+strconv.Itoa(tt.size), map[string]string{"Accept-Encoding": tt.accept})
			assert.Equal(t, http.StatusOK, res.StatusCode)
			assert.Equal(t, tt.expectEnc, res.Header.Get("Content-Encoding"))
			assert.Contains(t, res.Header.Values("Vary"), "Accept-Encoding")
			switch {
			case method == http.MethodHead:
				assert.Empty(t, raw)
			case tt.expectEnc != "":
				assert.Len(t, body, tt.size)
				assert.Less(t, len(raw), tt.size, "the body really is compressed")
			default:
				assert.Len(t, raw, tt.size)
			}
		})
	}
}

// TestUntouched leaves a 304 and a body its handler encoded as they are.
func TestUntouched(t *testing.T) {
	t.Parallel()
	srv, _ := start(t, compress.Config{MinSize: 1, Brotli: true})
	res, raw, _ := get(t, http.MethodGet, srv+"/notmodified", map[string]string{"Accept-Encoding": "br, gzip"})
	assert.Equal(t, http.StatusNotModified, res.StatusCode)
	assert.Empty(t, res.Header.Get("Content-Encoding"))
	assert.Equal(t, `"abc"`, res.Header.Get("ETag"))
	assert.Empty(t, raw)

	res, _, body := get(t, http.MethodGet, srv+"/precompressed", map[string]string{"Accept-Encoding": "br, gzip"})
	assert.Equal(t, "gzip", res.Header.Get("Content-Encoding"), "never encoded twice")
	assert.Equal(t, `"own"`, res.Header.Get("ETag"), "the handler's tag already names its coding")
	assert.Len(t, body, 5000)
}

// TestErrors renders problems returned inside the middleware through the
// compressor, and the middleware outside still sees the error and the
// status sent.
func TestErrors(t *testing.T) {
	t.Parallel()
	srv, outer := start(t, compress.Config{MinSize: 257})
	tests := []struct {
		name       string
		path       string
		expectGzip bool
	}{
		{name: "ok, a large problem is compressed", path: "/problem/400", expectGzip: true},
		{name: "nok, a small problem is sent as it is", path: "/problem/1"},
	}
	for _, tt := range tests {
		// Not parallel: each request is paired with what the outside saw.
		t.Run(tt.name, func(t *testing.T) {
			res, raw, body := get(t, http.MethodGet, srv+tt.path, map[string]string{"Accept-Encoding": "gzip"})
			assert.Equal(t, http.StatusBadRequest, res.StatusCode)
			assert.Equal(t, problem.ContentType, res.Header.Get("Content-Type"))
			if tt.expectGzip {
				assert.Equal(t, "gzip", res.Header.Get("Content-Encoding"))
				assert.Less(t, len(raw), len(body))
			} else {
				assert.Empty(t, res.Header.Get("Content-Encoding"))
			}
			var p map[string]any
			require.NoError(t, json.Unmarshal(body, &p), string(body))
			assert.Equal(t, "validation_failed", p["error"])
			got := <-outer
			assert.Equal(t, http.StatusBadRequest, got.status, "outside sees the status sent")
			assert.Error(t, got.err, "outside still sees the error")
		})
	}
}

// TestETag gives a compressed body's strong tag its coding as a suffix (RFC
// 9110 §8.8.3) and leaves the identity body's and weak tags alone.
func TestETag(t *testing.T) {
	t.Parallel()
	srv, _ := start(t, compress.Config{MinSize: 257, Brotli: true})
	tests := []struct {
		name   string
		size   int
		tag    string
		accept string
		expect string
	}{
		{name: "ok, gzipped body gets -gzip", size: 1000, tag: `"abc"`, accept: "gzip", expect: `"abc-gzip"`},
		{name: "ok, brotli body gets -br", size: 1000, tag: `"abc"`, accept: "br", expect: `"abc-br"`},
		{name: "nok, identity body keeps its tag", size: 1000, tag: `"abc"`, expect: `"abc"`},
		{name: "nok, small body keeps its tag", size: 10, tag: `"abc"`, accept: "gzip", expect: `"abc"`},
		{name: "nok, weak tag is left alone", size: 1000, tag: `W/"abc"`, accept: "gzip", expect: `W/"abc"`},
		{name: "nok, a tag already suffixed is not suffixed twice", size: 1000, tag: `"abc-gzip"`, accept: "gzip", expect: `"abc-gzip"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, _, _ := get(t, http.MethodGet, srv+"/bytes/"+strconv.Itoa(tt.size)+"?tag="+url.QueryEscape(tt.tag),
				map[string]string{"Accept-Encoding": tt.accept})
			assert.Equal(t, tt.expect, res.Header.Get("ETag"))
		})
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		given compress.Config
		ok    bool
	}{
		{name: "ok, zero value", ok: true},
		{name: "ok, huffman only", given: compress.Config{GzipLevel: gzip.HuffmanOnly}, ok: true},
		{name: "nok, negative threshold", given: compress.Config{MinSize: -1}},
		{name: "nok, gzip level 10", given: compress.Config{GzipLevel: 10}},
		{name: "nok, gzip level -3", given: compress.Config{GzipLevel: -3}},
		{name: "nok, brotli level 12", given: compress.Config{Brotli: true, BrotliLevel: 12}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := tt.given.ToMiddleware()
			if tt.ok {
				assert.NoError(t, err)
			} else {
				assert.Error(t, err)
			}
		})
	}
}

// BenchmarkCompress measures the adapter around a 4.8 KB JSON body per
// accepted coding, the empty one being the cost of passing through.
//
//	go test -run '^$' -bench Compress -benchmem ./edge/compress/
func BenchmarkCompress(b *testing.B) {
	body := []byte(strings.Repeat(`{"id":"p1","name":"Shopfront product","price":{"amount":1999,"currency":"USD"}},`, 60))
	e := echo.New()
	mw, err := compress.Config{MinSize: 257, Brotli: true}.ToMiddleware()
	require.NoError(b, err)
	h := mw(func(c echo.Context) error { return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, body) })
	for _, accept := range []string{"br", "gzip", "*", ""} {
		b.Run("accept="+accept, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header.Set("Accept-Encoding", accept)
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				if err := h(e.NewContext(req, rec)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestWithoutAcceptEncoding: a request with no Accept-Encoding field at all
// gets its answer as it is, with Vary naming the field once, and a problem
// returned inside is rendered there and still seen outside.
func TestWithoutAcceptEncoding(t *testing.T) {
	t.Parallel()
	srv, outer := start(t, compress.Config{MinSize: 257, Brotli: true})
	tests := []struct {
		name         string
		method       string
		path         string
		expectStatus int
		expectLen    int
		expectErr    bool
	}{
		{name: "ok, a large body as it is", method: http.MethodGet, path: "/bytes/1000", expectStatus: http.StatusOK, expectLen: 1000},
		{name: "ok, HEAD without a body", method: http.MethodHead, path: "/bytes/1000", expectStatus: http.StatusOK},
		{name: "nok, a problem is rendered inside", method: http.MethodGet, path: "/problem/400", expectStatus: http.StatusBadRequest,
			expectLen: -1, expectErr: true},
	}
	for _, tt := range tests {
		// Not parallel: each request is paired with what the outside saw.
		t.Run(tt.name, func(t *testing.T) {
			res, raw, _ := get(t, tt.method, srv+tt.path, nil)
			assert.Equal(t, tt.expectStatus, res.StatusCode)
			assert.Empty(t, res.Header.Get("Content-Encoding"))
			assert.Equal(t, []string{"Accept-Encoding"}, res.Header.Values("Vary"))
			if tt.expectLen >= 0 {
				assert.Len(t, raw, tt.expectLen)
			} else {
				assert.Contains(t, string(raw), "validation_failed")
			}
			got := <-outer
			assert.Equal(t, tt.expectStatus, got.status, "outside sees the status sent")
			assert.Equal(t, tt.expectErr, got.err != nil, "outside sees the error")
		})
	}
}
