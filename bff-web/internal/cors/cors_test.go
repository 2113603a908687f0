package cors_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/shopfront/bff-web/internal/cors"
	"github.com/shopfront/shared/edge/problem"
)

const allowed = "https://shop.example.com"

func start(t *testing.T) string {
	t.Helper()
	e := echo.New()
	e.HTTPErrorHandler = problem.Handler(problem.HandlerConfig{Logger: zap.NewNop()})
	mw, err := cors.Config{Origins: []string{allowed, "http://127.0.0.1:3000"}}.ToMiddleware()
	require.NoError(t, err)
	e.Use(mw)
	e.GET("/v1/catalog", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"ok": "yes"}) })
	e.PUT("/v1/cart/items/:id", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestCORS(t *testing.T) {
	t.Parallel()
	url := start(t)
	tests := []struct {
		name         string
		method       string
		path         string
		header       map[string]string
		expectStatus int
		expectHeader map[string]string // "" means absent.
	}{
		{
			name: "ok, allowed origin gets its origin echoed with credentials", method: http.MethodGet, path: "/v1/catalog",
			header:       map[string]string{"Origin": allowed},
			expectStatus: 200,
			expectHeader: map[string]string{"Access-Control-Allow-Origin": allowed, "Access-Control-Allow-Credentials": "true", "Vary": "Origin"},
		},
		{
			name: "ok, allowed preflight has exactly the documented methods, headers and max-age", method: http.MethodOptions, path: "/v1/cart/items/p1",
			header:       map[string]string{"Origin": allowed, "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "content-type,x-csrf-token"},
			expectStatus: 204,
			expectHeader: map[string]string{
				"Access-Control-Allow-Origin":      allowed,
				"Access-Control-Allow-Credentials": "true",
				"Access-Control-Allow-Methods":     "GET,POST,PUT,DELETE",
				"Access-Control-Allow-Headers":     "Content-Type,X-CSRF-Token,X-Request-Id,Authorization",
				"Access-Control-Max-Age":           "600",
			},
		},
		{
			name: "nok, other origin gets no CORS headers on a simple request", method: http.MethodGet, path: "/v1/catalog",
			header:       map[string]string{"Origin": "https://evil.example.com"},
			expectStatus: 200,
			expectHeader: map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Credentials": "", "Vary": "Origin"},
		},
		{
			name: "nok, subdomain of an allowed origin is another origin", method: http.MethodGet, path: "/v1/catalog",
			header:       map[string]string{"Origin": "https://evil.shop.example.com"},
			expectStatus: 200,
			expectHeader: map[string]string{"Access-Control-Allow-Origin": ""},
		},
		{
			name: "nok, other port is another origin", method: http.MethodGet, path: "/v1/catalog",
			header:       map[string]string{"Origin": "http://127.0.0.1:3001"},
			expectStatus: 200,
			expectHeader: map[string]string{"Access-Control-Allow-Origin": ""},
		},
		{
			name: "nok, preflight from another origin is 403 problem+json", method: http.MethodOptions, path: "/v1/cart/items/p1",
			header:       map[string]string{"Origin": "https://evil.example.com", "Access-Control-Request-Method": "PUT"},
			expectStatus: 403,
			expectHeader: map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Methods": "", "Content-Type": problem.ContentType},
		},
		{
			name: "nok, preflight from the null origin is 403", method: http.MethodOptions, path: "/v1/catalog",
			header:       map[string]string{"Origin": "null", "Access-Control-Request-Method": "GET"},
			expectStatus: 403,
			expectHeader: map[string]string{"Access-Control-Allow-Origin": ""},
		},
		{
			name: "nok, an allowed origin as a prefix of another host is another origin", method: http.MethodGet, path: "/v1/catalog",
			header:       map[string]string{"Origin": "https://shop.example.com.evil.net"},
			expectStatus: 200,
			expectHeader: map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Credentials": ""},
		},
		{
			name: "nok, an allowed host as a suffix of another host is another origin", method: http.MethodGet, path: "/v1/catalog",
			header:       map[string]string{"Origin": "https://evilshop.example.com"},
			expectStatus: 200,
			expectHeader: map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Credentials": ""},
		},
		{
			name: "nok, another scheme is another origin", method: http.MethodGet, path: "/v1/catalog",
			header:       map[string]string{"Origin": "http://shop.example.com"},
			expectStatus: 200,
			expectHeader: map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Credentials": ""},
		},
		{
			name: "nok, an explicit default port is not the origin as configured", method: http.MethodGet, path: "/v1/catalog",
			header:       map[string]string{"Origin": "https://shop.example.com:443"},
			expectStatus: 200,
			expectHeader: map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Credentials": ""},
		},
		{
			name: "nok, upper case is not the origin as browsers send it", method: http.MethodGet, path: "/v1/catalog",
			header:       map[string]string{"Origin": "https://SHOP.example.com"},
			expectStatus: 200,
			expectHeader: map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Credentials": ""},
		},
		{
			name: "nok, a trailing slash is not an origin", method: http.MethodGet, path: "/v1/catalog",
			header:       map[string]string{"Origin": "https://shop.example.com/"},
			expectStatus: 200,
			expectHeader: map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Credentials": ""},
		},
		{
			name: "nok, a path after an allowed origin is not an origin", method: http.MethodGet, path: "/v1/catalog",
			header:       map[string]string{"Origin": "https://shop.example.com/evil"},
			expectStatus: 200,
			expectHeader: map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Credentials": ""},
		},
		{
			name: "nok, credentials before an allowed host are another origin", method: http.MethodGet, path: "/v1/catalog",
			header:       map[string]string{"Origin": "https://shop.example.com@evil.example.com"},
			expectStatus: 200,
			expectHeader: map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Credentials": ""},
		},
		{
			name: "nok, the null origin of a sandboxed frame or file is never allowed", method: http.MethodGet, path: "/v1/catalog",
			header:       map[string]string{"Origin": "null"},
			expectStatus: 200,
			expectHeader: map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Credentials": ""},
		},
		{
			name: "nok, an empty-host origin is never allowed", method: http.MethodGet, path: "/v1/catalog",
			header:       map[string]string{"Origin": "https://"},
			expectStatus: 200,
			expectHeader: map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Credentials": ""},
		},
		{
			name: "nok, preflight from an origin with an allowed prefix is 403", method: http.MethodOptions, path: "/v1/cart/items/p1",
			header:       map[string]string{"Origin": "https://shop.example.com.evil.net", "Access-Control-Request-Method": "PUT"},
			expectStatus: 403,
			expectHeader: map[string]string{"Access-Control-Allow-Origin": ""},
		},
		{
			name: "ok, same-origin request without Origin is untouched", method: http.MethodGet, path: "/v1/catalog",
			expectStatus: 200,
			expectHeader: map[string]string{"Access-Control-Allow-Origin": ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(tt.method, url+tt.path, nil)
			require.NoError(t, err)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer res.Body.Close()
			assert.Equal(t, tt.expectStatus, res.StatusCode)
			for k, v := range tt.expectHeader {
				assert.Equal(t, v, res.Header.Get(k), k)
			}
			if tt.expectStatus == http.StatusForbidden {
				var body map[string]any
				require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
				assert.Equal(t, "forbidden", body["error"])
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, o := range []string{"*", "null", "", "https://", "https://shop.example.com/", "shop.example.com", "ftp://x", "https://Shop.example.com", "https://shop.example.com/path"} {
		_, err := cors.Config{Origins: []string{o}}.ToMiddleware()
		assert.Error(t, err, o)
	}
	_, err := cors.Config{Origins: []string{"http://localhost:5173", "https://shop.example.com"}}.ToMiddleware()
	assert.NoError(t, err)
}
