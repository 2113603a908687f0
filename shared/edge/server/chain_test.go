package server_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/shopfront/shared/edge/gateway/gatewaytest"
	"github.com/shopfront/shared/edge/requestid"
	"github.com/shopfront/shared/edge/server"
)

// TestChainDoc: docs/chain.md shows the edge chain of a server without
// gateway layers exactly as New installs it.
func TestChainDoc(t *testing.T) {
	t.Parallel()
	s, err := server.New(server.Config{Addr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0"}, server.Options{Name: "bff-test"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	gatewaytest.CheckChainDoc(t, "edge", s.Layers())
}

// trace is a layer that appends its name to the X-Trace response header and
// records whether the request already had its id and lost X-User-Id.
func trace(name string) server.Layer {
	return server.Layer{Name: name, Middleware: func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Response().Header()
			h.Add("X-Trace", name)
			if requestid.FromContext(c.Request().Context()) != "" {
				h.Add("X-Trace-Id-Seen", name)
			}
			if c.Request().Header.Get("X-User-Id") != "" {
				h.Add("X-Trace-Identity-Seen", name)
			}
			return next(c)
		}
	}}
}

// TestInstallPutsSlotsInTheirPlace: Pre layers run before routing, after
// the identity headers are stripped and before the request id exists;
// Unmatched layers run only for requests no route matches; Outer layers
// run for every request, after the edge chain.
func TestInstallPutsSlotsInTheirPlace(t *testing.T) {
	t.Parallel()
	s, err := server.New(server.Config{Addr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0"}, server.Options{Name: "bff-test", Logger: zap.NewNop()})
	require.NoError(t, err)
	require.NoError(t, s.Install(server.Chain{
		Pre:       []server.Layer{trace("pre-1"), trace("pre-2")},
		Unmatched: []server.Layer{trace("unmatched")},
		Outer:     []server.Layer{trace("outer")},
	}))
	s.Echo().GET("/v1/ping", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
	r := serve(t, s)

	tests := []struct {
		name         string
		method       string
		path         string
		expectStatus int
		expectTrace  string
	}{
		{name: "ok, matched route", method: http.MethodGet, path: "/v1/ping", expectStatus: http.StatusNoContent, expectTrace: "pre-1,pre-2,outer"},
		{name: "ok, HEAD of a GET route", method: http.MethodHead, path: "/v1/ping", expectStatus: http.StatusNoContent, expectTrace: "pre-1,pre-2,outer"},
		{name: "nok, unknown path", method: http.MethodGet, path: "/v1/nope", expectStatus: http.StatusNotFound, expectTrace: "pre-1,pre-2,unmatched,outer"},
		{name: "nok, wrong method", method: http.MethodDelete, path: "/v1/ping", expectStatus: http.StatusMethodNotAllowed, expectTrace: "pre-1,pre-2,unmatched,outer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := newReq(t, tt.method, r.url(tt.path), map[string]string{"X-User-Id": "admin"})
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			_ = resp.Body.Close()
			assert.Equal(t, tt.expectStatus, resp.StatusCode)
			assert.Equal(t, tt.expectTrace, strings.Join(resp.Header.Values("X-Trace"), ","))
			assert.Empty(t, resp.Header.Values("X-Trace-Identity-Seen"), "identity headers are gone before any slot")
			ids := resp.Header.Values("X-Trace-Id-Seen")
			assert.NotContains(t, ids, "pre-1", "Pre runs ahead of the request id")
			assert.Contains(t, ids, "outer", "Outer runs after the request id")
		})
	}
}

// serve runs s for one test.
func serve(t *testing.T, s *server.Server) *running {
	t.Helper()
	r := &running{Server: s, done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	waitUp(t, r.adminURL("/healthz"))
	return r
}

func TestInstallRefuses(t *testing.T) {
	t.Parallel()
	ok := func(next echo.HandlerFunc) echo.HandlerFunc { return next }
	tests := []struct {
		name      string
		given     []server.Chain
		expectErr string
	}{
		{name: "nok, a layer without a name", given: []server.Chain{{Outer: []server.Layer{{Middleware: ok}}}}, expectErr: "Chain.Outer[0] needs a Name"},
		{name: "nok, a layer without middleware", given: []server.Chain{{Pre: []server.Layer{{Name: "audit"}}}}, expectErr: "Chain.Pre[0] needs a Name"},
		{name: "nok, installed twice", given: []server.Chain{{}, {}}, expectErr: "Install called twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := server.New(server.Config{Addr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0"}, server.Options{Name: "bff-test"})
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.Close() })
			var last error
			for _, c := range tt.given {
				last = s.Install(c)
			}
			assert.ErrorContains(t, last, tt.expectErr)
		})
	}
}

// TestPreLayerErrorIsRendered: an error a Pre layer returns, before any
// route is found, is rendered once as a problem, as echo renders it.
func TestPreLayerErrorIsRendered(t *testing.T) {
	t.Parallel()
	s, err := server.New(server.Config{Addr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0"}, server.Options{Name: "bff-test", Logger: zap.NewNop()})
	require.NoError(t, err)
	var reached atomic.Bool
	require.NoError(t, s.Install(server.Chain{Pre: []server.Layer{{Name: "refuse", Middleware: func(echo.HandlerFunc) echo.HandlerFunc {
		return func(echo.Context) error { return echo.NewHTTPError(http.StatusTooManyRequests) }
	}}}}))
	s.Echo().GET("/v1/ping", func(c echo.Context) error {
		reached.Store(true)
		return c.NoContent(http.StatusNoContent)
	})
	r := serve(t, s)

	resp, err := http.Get(r.url("/v1/ping"))
	require.NoError(t, err)
	_ = resp.Body.Close()

	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	assert.False(t, reached.Load())
}
