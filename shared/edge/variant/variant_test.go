package variant_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/shopfront/shared/edge/accesslog"
	"github.com/shopfront/shared/edge/requestid"
	"github.com/shopfront/shared/edge/variant"
)

// TestMiddlewareAndAccessLog serves a route whose handler records two
// variants: the pin header is gone from the request the handler sees, the
// client IP is kept, and the access line names the variants.
func TestMiddlewareAndAccessLog(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.InfoLevel)
	e := echo.New()
	state, err := variant.Config{}.ToMiddleware()
	require.NoError(t, err)
	access, err := accesslog.Config{Logger: zap.New(core)}.ToMiddleware()
	require.NoError(t, err)
	e.Use(state, access)
	var seenHeader []string
	var seen *variant.Request
	e.GET("/p", func(c echo.Context) error {
		seenHeader = c.Request().Header.Values(variant.Header)
		seen = variant.FromContext(c.Request().Context())
		seen.Record("pricing", "stable")
		seen.Record("catalog", "canary")
		seen.Record("catalog", "canary")
		return c.NoContent(http.StatusNoContent)
	})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)

	req, err := http.NewRequest(http.MethodGet, srv.URL+"/p", nil)
	require.NoError(t, err)
	req.Header.Add(variant.Header, "catalog=canary")
	req.Header.Add(variant.Header, "pricing=stable")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()

	assert.Empty(t, seenHeader, "the pin header goes no further than the edge")
	require.NotNil(t, seen)
	assert.Equal(t, "127.0.0.1", seen.ClientIP)
	pin, ok := seen.PinFor("pricing")
	assert.True(t, ok)
	assert.Equal(t, "stable", pin)
	assert.Empty(t, resp.Header.Values(variant.Header), "responses never reveal variants")
	lines := logs.FilterMessage("request").All()
	require.Len(t, lines, 1)
	assert.Equal(t, "catalog=canary, pricing=stable", lines[0].ContextMap()["variants"])
}

func TestPinFor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		pin    string
		expect string
	}{
		{name: "ok, one pin", pin: "catalog=canary", expect: "canary"},
		{name: "ok, among others, spaced", pin: " users=b ,catalog = canary ", expect: "canary"},
		{name: "nok, another service", pin: "catalogue=canary", expect: ""},
		{name: "nok, no value", pin: "catalog=", expect: ""},
		{name: "nok, no equals", pin: "catalog", expect: ""},
		{name: "nok, empty", pin: "", expect: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, _ := (&variant.Request{Pin: tc.pin}).PinFor("catalog")
			assert.Equal(t, tc.expect, got)
		})
	}
}

// TestMiddlewareFillsTheEdgeScope runs the routing state inside the request
// id layer, as the edge chain does: the state goes into the request's scope
// without a copy of the request, and the request id stays readable.
func TestMiddlewareFillsTheEdgeScope(t *testing.T) {
	t.Parallel()
	e := echo.New()
	reqID, err := requestid.Config{}.ToMiddleware()
	require.NoError(t, err)
	state, err := variant.Config{}.ToMiddleware()
	require.NoError(t, err)
	var outer *http.Request
	capture := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error { outer = c.Request(); return next(c) }
	}
	var inner *http.Request
	e.Use(reqID, capture, state)
	e.GET("/p", func(c echo.Context) error {
		inner = c.Request()
		return c.NoContent(http.StatusNoContent)
	})
	req := httptest.NewRequest(http.MethodGet, "/p", nil)
	req.Header.Set(variant.Header, "catalog=canary")
	req.Header.Set(echo.HeaderXRequestID, "r-1")
	e.ServeHTTP(httptest.NewRecorder(), req)

	require.NotNil(t, inner)
	assert.Same(t, outer, inner, "no copy of the request")
	pin, ok := variant.FromContext(inner.Context()).PinFor("catalog")
	assert.True(t, ok)
	assert.Equal(t, "canary", pin)
	assert.Equal(t, "r-1", requestid.FromContext(inner.Context()))
}
