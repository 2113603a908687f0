package conditional_test

import (
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/bff-mobile/internal/compress"
	"github.com/shopfront/bff-mobile/internal/conditional"
)

var body = `{"greeting":"` + strings.Repeat("hello ", 100) + `"}`

// server serves a few routes through compression and the conditional
// middleware over a real socket.
func server(t *testing.T) *httptest.Server {
	t.Helper()
	e := echo.New()
	gz, err := compress.Config{}.ToMiddleware()
	require.NoError(t, err)
	cond, err := conditional.Config{}.ToMiddleware()
	require.NoError(t, err)
	e.Use(gz, cond)
	e.GET("/screen", func(c echo.Context) error { return c.JSONBlob(http.StatusOK, []byte(body)) })
	e.GET("/degraded", func(c echo.Context) error {
		c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
		return c.JSONBlob(http.StatusOK, []byte(`{"degraded":["recommendations"]}`))
	})
	e.GET("/missing", func(c echo.Context) error { return echo.NewHTTPError(http.StatusNotFound, "no") })
	e.GET("/accepted", func(c echo.Context) error { return c.JSONBlob(http.StatusAccepted, []byte(`{}`)) })
	e.POST("/screen", func(c echo.Context) error { return c.JSONBlob(http.StatusCreated, []byte(body)) })
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, srv *httptest.Server, method, path string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	require.NoError(t, err)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	// The default transport would ask for and decode gzip itself.
	res, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, b
}

func TestConditional(t *testing.T) {
	t.Parallel()
	srv := server(t)
	tag := conditional.ETag([]byte(body))

	tests := []struct {
		name         string
		method, path string
		given        map[string]string
		expectStatus int
		expectETag   string
		expectCC     string
		expectBody   bool
	}{
		{name: "ok, 200 with strong tag and private caching", method: http.MethodGet, path: "/screen",
			expectStatus: 200, expectETag: tag, expectCC: "private, max-age=60", expectBody: true},
		{name: "ok, matching tag answers 304 without body", method: http.MethodGet, path: "/screen",
			given: map[string]string{"If-None-Match": tag}, expectStatus: 304, expectETag: tag, expectCC: "private, max-age=60"},
		{name: "ok, tag in a list matches", method: http.MethodGet, path: "/screen",
			given: map[string]string{"If-None-Match": `"a", ` + tag + `, "b"`}, expectStatus: 304, expectETag: tag, expectCC: "private, max-age=60"},
		{name: "ok, weak form matches under weak comparison", method: http.MethodGet, path: "/screen",
			given: map[string]string{"If-None-Match": "W/" + tag}, expectStatus: 304, expectETag: tag, expectCC: "private, max-age=60"},
		{name: "ok, star matches", method: http.MethodGet, path: "/screen",
			given: map[string]string{"If-None-Match": "*"}, expectStatus: 304, expectETag: tag, expectCC: "private, max-age=60"},
		{name: "ok, 304 through gzip is not encoded", method: http.MethodGet, path: "/screen",
			given: map[string]string{"If-None-Match": tag, "Accept-Encoding": "gzip"}, expectStatus: 304, expectETag: tag, expectCC: "private, max-age=60"},
		{name: "nok, other tag answers the body", method: http.MethodGet, path: "/screen",
			given: map[string]string{"If-None-Match": `"other"`}, expectStatus: 200, expectETag: tag, expectCC: "private, max-age=60", expectBody: true},
		{name: "nok, unquoted tag is malformed and matches nothing", method: http.MethodGet, path: "/screen",
			given: map[string]string{"If-None-Match": strings.Trim(tag, `"`)}, expectStatus: 200, expectETag: tag, expectCC: "private, max-age=60", expectBody: true},
		{name: "ok, handler's no-store is kept and carries no tag", method: http.MethodGet, path: "/degraded",
			expectStatus: 200, expectCC: "no-store", expectBody: true},
		{name: "nok, no-store is never revalidated by star", method: http.MethodGet, path: "/degraded",
			given: map[string]string{"If-None-Match": "*"}, expectStatus: 200, expectCC: "no-store", expectBody: true},
		{name: "nok, no-store is never revalidated by its content's tag", method: http.MethodGet, path: "/degraded",
			given: map[string]string{"If-None-Match": conditional.ETag([]byte(`{"degraded":["recommendations"]}`))}, expectStatus: 200, expectCC: "no-store", expectBody: true},
		{name: "nok, errors carry no tag", method: http.MethodGet, path: "/missing", expectStatus: 404, expectBody: true},
		{name: "nok, other successes carry no tag", method: http.MethodGet, path: "/accepted", expectStatus: 202, expectBody: true},
		{name: "nok, POST is untouched", method: http.MethodPost, path: "/screen",
			given: map[string]string{"If-None-Match": "*"}, expectStatus: 201, expectBody: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, b := do(t, srv, tt.method, tt.path, tt.given)
			assert.Equal(t, tt.expectStatus, res.StatusCode)
			assert.Equal(t, tt.expectETag, res.Header.Get("ETag"))
			assert.Equal(t, tt.expectCC, res.Header.Get("Cache-Control"))
			if tt.expectBody {
				assert.NotEmpty(t, b)
				if tt.expectETag != "" {
					assert.Equal(t, int64(len(b)), res.ContentLength)
				}
			} else {
				assert.Empty(t, b)
				assert.Empty(t, res.Header.Get("Content-Encoding"))
				assert.Empty(t, res.Header.Get("Content-Type"))
			}
		})
	}
}

// TestTagPerCoding gives the gzipped and the identity body of one content
// different strong tags (RFC 9110 §8.8.3), and revalidates either tag to a
// 304 that carries the tag the client named.
func TestTagPerCoding(t *testing.T) {
	t.Parallel()
	srv := server(t)
	plain, plainBody := do(t, srv, http.MethodGet, "/screen", nil)
	gz, gzBody := do(t, srv, http.MethodGet, "/screen", map[string]string{"Accept-Encoding": "gzip"})
	require.Equal(t, "gzip", gz.Header.Get("Content-Encoding"))
	zr, err := gzip.NewReader(strings.NewReader(string(gzBody)))
	require.NoError(t, err)
	unzipped, err := io.ReadAll(zr)
	require.NoError(t, err)
	assert.Equal(t, string(plainBody), string(unzipped))

	identityTag := conditional.ETag(unzipped)
	gzipTag := strings.TrimSuffix(identityTag, `"`) + compress.ETagSuffix + `"`
	assert.Equal(t, identityTag, plain.Header.Get("ETag"))
	assert.Equal(t, gzipTag, gz.Header.Get("ETag"))

	tests := []struct {
		name           string
		given          string
		acceptEncoding string
		expectETag     string
	}{
		{name: "ok, gzip tag revalidates a gzip client", given: gzipTag, acceptEncoding: "gzip", expectETag: gzipTag},
		{name: "ok, identity tag revalidates a gzip client", given: identityTag, acceptEncoding: "gzip", expectETag: identityTag},
		{name: "ok, gzip tag revalidates an identity client", given: gzipTag, expectETag: gzipTag},
		{name: "ok, identity tag revalidates an identity client", given: identityTag, expectETag: identityTag},
		{name: "ok, weak gzip tag matches under weak comparison", given: "W/" + gzipTag, acceptEncoding: "gzip", expectETag: gzipTag},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			hdr := map[string]string{"If-None-Match": tt.given}
			if tt.acceptEncoding != "" {
				hdr["Accept-Encoding"] = tt.acceptEncoding
			}
			res, b := do(t, srv, http.MethodGet, "/screen", hdr)
			assert.Equal(t, http.StatusNotModified, res.StatusCode)
			assert.Empty(t, b)
			assert.Equal(t, tt.expectETag, res.Header.Get("ETag"))
		})
	}
	t.Run("nok, another content's gzip tag answers the body", func(t *testing.T) {
		t.Parallel()
		res, _ := do(t, srv, http.MethodGet, "/screen", map[string]string{"If-None-Match": `"other-gzip"`, "Accept-Encoding": "gzip"})
		assert.Equal(t, http.StatusOK, res.StatusCode)
		assert.Equal(t, gzipTag, res.Header.Get("ETag"))
	})
}

func TestNoneMatchFails(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		given  string
		expect bool
	}{
		{name: "ok, same tag", given: `"x"`, expect: true},
		{name: "ok, weak tag", given: `W/"x"`, expect: true},
		{name: "ok, in a list", given: `"a","x"`, expect: true},
		{name: "ok, star", given: `*`, expect: true},
		{name: "ok, tag holding a comma", given: `"a,b", "x"`, expect: true},
		{name: "ok, tag of the gzipped body", given: `"x-gzip"`, expect: true},
		{name: "nok, other coding suffix", given: `"x-br"`},
		{name: "nok, suffix alone", given: `"-gzip"`},
		{name: "nok, other", given: `"y"`},
		{name: "nok, prefix of the tag", given: `"x`},
		{name: "nok, empty", given: ``},
		{name: "nok, unquoted", given: `x`},
		{name: "nok, after a malformed member", given: `a, "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.expect, conditional.NoneMatchFails(tt.given, `"x"`))
		})
	}
}

// TestTagFollowsTheContent: each version of a screen has its own tag, a
// client holding the old one gets the new body, and answers of different
// sizes and statuses interleaved through the reused writers never carry
// each other's tag, length or body.
func TestTagFollowsTheContent(t *testing.T) {
	t.Parallel()
	var version atomic.Int64
	e := echo.New()
	cond, err := conditional.Config{}.ToMiddleware()
	require.NoError(t, err)
	e.Use(cond)
	e.GET("/screen", func(c echo.Context) error {
		return c.JSONBlob(http.StatusOK, []byte(fmt.Sprintf(`{"version":%d,"pad":%q}`, version.Load(), strings.Repeat("x", int(version.Load())*100))))
	})
	e.GET("/missing", func(c echo.Context) error { return echo.NewHTTPError(http.StatusNotFound, "no") })
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)

	seen := map[string]bool{}
	var prev string
	for v := range int64(20) {
		version.Store(v)
		res, b := do(t, srv, http.MethodGet, "/screen", map[string]string{"If-None-Match": prev})
		require.Equal(t, http.StatusOK, res.StatusCode, "a stale tag gets the body")
		tag := res.Header.Get("ETag")
		assert.Equal(t, conditional.ETag(b), tag)
		assert.Regexp(t, `^"[A-Za-z0-9_-]{11}"$`, tag)
		assert.Equal(t, strconv.Itoa(len(b)), res.Header.Get("Content-Length"))
		assert.False(t, seen[tag], "version %d reuses a tag", v)
		seen[tag] = true

		miss, _ := do(t, srv, http.MethodGet, "/missing", nil)
		assert.Equal(t, http.StatusNotFound, miss.StatusCode)
		assert.Empty(t, miss.Header.Get("ETag"))

		res, b = do(t, srv, http.MethodGet, "/screen", map[string]string{"If-None-Match": tag})
		assert.Equal(t, http.StatusNotModified, res.StatusCode)
		assert.Empty(t, b)
		assert.Equal(t, tag, res.Header.Get("ETag"))
		prev = tag
	}
}
