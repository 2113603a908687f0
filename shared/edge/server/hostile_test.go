package server_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/shared/edge/server"
)

// hostileRoutes serves /ok (GET) and /thing (POST, DELETE), answering the
// method the handler saw and counting the requests that reached a handler.
func hostileRoutes(reached *atomic.Int64) func(e *echo.Echo) {
	return func(e *echo.Echo) {
		h := func(c echo.Context) error {
			reached.Add(1)
			_, _ = io.Copy(io.Discard, c.Request().Body)
			return c.String(http.StatusOK, c.Request().Method)
		}
		e.GET("/ok", h)
		e.POST("/thing", h)
		e.DELETE("/thing", h)
	}
}

// TestContentCodedBodiesAreRefused: a gateway never inflates a request
// body, so one in any coding but identity is 415 before a handler reads it.
func TestContentCodedBodiesAreRefused(t *testing.T) {
	t.Parallel()
	var reached atomic.Int64
	s := start(t, server.Config{}, server.Options{}, hostileRoutes(&reached))
	tests := []struct {
		name     string
		method   string
		encoding []string
		body     string
		status   int
	}{
		{"nok, gzip body", http.MethodPost, []string{"gzip"}, "\x1f\x8b\x08\x00", http.StatusUnsupportedMediaType},
		{"nok, deflate body", http.MethodPost, []string{"deflate"}, "x", http.StatusUnsupportedMediaType},
		{"nok, br body", http.MethodPost, []string{"br"}, "x", http.StatusUnsupportedMediaType},
		{"nok, identity then gzip", http.MethodPost, []string{"identity, gzip"}, "x", http.StatusUnsupportedMediaType},
		{"nok, gzip on a second field line", http.MethodPost, []string{"identity", "gzip"}, "x", http.StatusUnsupportedMediaType},
		{"nok, unknown coding", http.MethodPost, []string{"x-bomb"}, "x", http.StatusUnsupportedMediaType},
		{"ok, identity", http.MethodPost, []string{"identity"}, "x", http.StatusOK},
		{"ok, IDENTITY", http.MethodPost, []string{"IDENTITY"}, "x", http.StatusOK},
		{"ok, no coding", http.MethodPost, nil, "x", http.StatusOK},
		{"ok, a coding on a request without a body", http.MethodGet, []string{"gzip"}, "", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := "/thing"
			if tt.method == http.MethodGet {
				path = "/ok"
			}
			req, err := http.NewRequest(tt.method, s.url(path), strings.NewReader(tt.body))
			require.NoError(t, err)
			for _, e := range tt.encoding {
				req.Header.Add("Content-Encoding", e)
			}
			before := reached.Load()
			resp, body := getJSONOrText(t, req)
			assert.Equal(t, tt.status, resp.StatusCode)
			if tt.status == http.StatusUnsupportedMediaType {
				assertProblem(t, resp, body, http.StatusUnsupportedMediaType, "unsupported_media_type")
				assert.Equal(t, "identity", resp.Header.Get("Accept-Encoding"))
				assert.Equal(t, before, reached.Load(), "no handler ran")
			}
		})
	}
}

// getJSONOrText sends req and decodes its answer when it is a problem.
func getJSONOrText(t *testing.T, req *http.Request) (*http.Response, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var body map[string]any
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
		body = decodeMap(t, raw)
	}
	return resp, body
}

// TestTraceAndConnectAre405: no route answers TRACE (it would reflect
// credentials) or CONNECT (a gateway is no tunnel), known path or not.
func TestTraceAndConnectAre405(t *testing.T) {
	t.Parallel()
	var reached atomic.Int64
	s := start(t, server.Config{}, server.Options{}, func(e *echo.Echo) {
		hostileRoutes(&reached)(e)
		// Even a route registered for every method does not answer them.
		e.Any("/any", func(c echo.Context) error { reached.Add(1); return c.NoContent(http.StatusNoContent) })
	})
	for _, tc := range []struct{ method, target string }{
		{http.MethodTrace, "/ok"},
		{http.MethodTrace, "/unknown"},
		{http.MethodTrace, "/any"},
		{http.MethodConnect, "shopfront.test:443"},
		{http.MethodConnect, "/ok"},
		{http.MethodConnect, "/any"},
	} {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			conn, err := net.Dial("tcp", s.Addr())
			require.NoError(t, err)
			defer conn.Close()
			require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
			_, err = io.WriteString(conn, tc.method+" "+tc.target+" HTTP/1.1\r\nHost: shopfront.test\r\nAuthorization: Bearer secret\r\nConnection: close\r\n\r\n")
			require.NoError(t, err)
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			require.NoError(t, err)
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
			assert.Equal(t, "method_not_allowed", decodeMap(t, raw)["error"])
			assert.NotContains(t, string(raw), "secret", "nothing reflected")
			assert.Zero(t, reached.Load(), "no handler ran")
		})
	}
}

// TestMethodOverrideHeadersAreIgnored: a POST stays a POST whatever a
// header claims; no override middleware is installed.
func TestMethodOverrideHeadersAreIgnored(t *testing.T) {
	t.Parallel()
	var reached atomic.Int64
	s := start(t, server.Config{}, server.Options{}, hostileRoutes(&reached))
	for _, h := range []string{"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override", "X-Original-Method"} {
		t.Run(h, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, s.url("/thing?_method=DELETE"), strings.NewReader("x"))
			require.NoError(t, err)
			req.Header.Set(h, http.MethodDelete)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, http.MethodPost, string(raw), "the handler saw a POST")
		})
	}
}

func decodeMap(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m), "body %q", raw)
	return m
}
