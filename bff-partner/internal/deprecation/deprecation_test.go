package deprecation_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/shopfront/bff-partner/internal/deprecation"
	"github.com/shopfront/shared/edge/problem"
)

func TestHeaders(t *testing.T) {
	t.Parallel()
	mw, err := deprecation.Config{Prefix: "/v1", Deprecated: time.Unix(1780272000, 0),
		Sunset: time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC), Link: "https://docs.example/v1"}.ToMiddleware()
	require.NoError(t, err)
	e := echo.New()
	e.HTTPErrorHandler = problem.Handler(problem.HandlerConfig{Logger: zap.NewNop()})
	e.Pre(mw)
	ok := func(c echo.Context) error { return c.String(http.StatusOK, "ok") }
	e.GET("/v1/products", ok)
	e.GET("/v1/fails", func(echo.Context) error { return problem.Unauthorized("no") })
	e.GET("/v2/products", ok)
	e.GET("/v10/products", ok)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)

	tests := []struct {
		name       string
		path       string
		status     int
		deprecated bool
	}{
		{name: "ok, v1 success", path: "/v1/products", status: 200, deprecated: true},
		{name: "ok, v1 error", path: "/v1/fails", status: 401, deprecated: true},
		{name: "ok, v1 unknown route", path: "/v1/nope", status: 404, deprecated: true},
		{name: "ok, v2 untouched", path: "/v2/products", status: 200},
		{name: "ok, v10 is not v1", path: "/v10/products", status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := http.Get(srv.URL + tt.path)
			require.NoError(t, err)
			res.Body.Close()
			assert.Equal(t, tt.status, res.StatusCode)
			if !tt.deprecated {
				assert.Empty(t, res.Header.Get("Deprecation"))
				assert.Empty(t, res.Header.Get("Sunset"))
				return
			}
			assert.Equal(t, "@1780272000", res.Header.Get("Deprecation"))
			assert.Equal(t, "Tue, 01 Jun 2027 00:00:00 GMT", res.Header.Get("Sunset"))
			assert.Equal(t, `<https://docs.example/v1>; rel="deprecation"; type="text/html"`, res.Header.Get("Link"))
		})
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	_, err := deprecation.Config{Prefix: "v1", Deprecated: time.Now(), Link: "x"}.ToMiddleware()
	assert.Error(t, err)
	_, err = deprecation.Config{Prefix: "/v1", Link: "x"}.ToMiddleware()
	assert.Error(t, err)
	_, err = deprecation.Config{Prefix: "/v1", Deprecated: time.Now()}.ToMiddleware()
	assert.Error(t, err)
}
