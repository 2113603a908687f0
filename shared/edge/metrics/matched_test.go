package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/shared/edge/metrics"
)

// TestMatched checks metrics.Matched against echo's routing: the answer is
// the same before the handler runs (as the Skipper of the rate limit of
// unmatched requests sees it) and after (as labels, logs and spans see it).
func TestMatched(t *testing.T) {
	t.Parallel()
	type seen struct {
		before, after bool
		route         string
	}
	var (
		mu   sync.Mutex
		last seen
	)
	e := echo.New()
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			before := metrics.Matched(c)
			err := next(c)
			mu.Lock()
			last = seen{before: before, after: metrics.Matched(c), route: metrics.Route(c)}
			mu.Unlock()
			return err
		}
	})
	e.GET("/v1/products/:id", func(c echo.Context) error {
		if c.Param("id") == "missing" {
			return echo.ErrNotFound // a declared route answering 404 itself
		}
		return c.NoContent(http.StatusNoContent)
	})
	e.POST("/v1/orders", func(c echo.Context) error { return c.NoContent(http.StatusCreated) })
	e.RouteNotFound("/v3/*", func(c echo.Context) error { return c.NoContent(http.StatusNotFound) })
	g := e.Group("/v2", func(next echo.HandlerFunc) echo.HandlerFunc { return next })
	g.GET("/products", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)

	tests := []struct {
		name          string
		method, path  string
		expectStatus  int
		expectMatched bool
		expectRoute   string
	}{
		{name: "ok, GET route", method: http.MethodGet, path: "/v1/products/p-1", expectStatus: http.StatusNoContent,
			expectMatched: true, expectRoute: "/v1/products/:id"},
		{name: "ok, a declared route that answers 404", method: http.MethodGet, path: "/v1/products/missing",
			expectStatus: http.StatusNotFound, expectMatched: true, expectRoute: "/v1/products/:id"},
		{name: "ok, a group route", method: http.MethodGet, path: "/v2/products", expectStatus: http.StatusNoContent,
			expectMatched: true, expectRoute: "/v2/products"},
		{name: "ok, a group's catch-all 404 runs the group's middleware", method: http.MethodGet, path: "/v2/nope",
			expectStatus: http.StatusNotFound, expectMatched: true, expectRoute: "/v2/*"},
		{name: "ok, a RouteNotFound route", method: http.MethodGet, path: "/v3/anything", expectStatus: http.StatusNotFound,
			expectMatched: true, expectRoute: "/v3/*"},
		{name: "nok, unknown path", method: http.MethodGet, path: "/nope", expectStatus: http.StatusNotFound,
			expectRoute: metrics.Unmatched},
		{name: "nok, prefix of routes", method: http.MethodGet, path: "/v1/", expectStatus: http.StatusNotFound,
			expectRoute: metrics.Unmatched},
		{name: "nok, 405 for a method the route lacks", method: http.MethodPost, path: "/v1/products/p-1",
			expectStatus: http.StatusMethodNotAllowed, expectRoute: metrics.Unmatched},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Not parallel: the middleware records the last request.
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			require.NoError(t, err)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			assert.Equal(t, tt.expectStatus, resp.StatusCode)
			mu.Lock()
			got := last
			mu.Unlock()
			assert.Equal(t, seen{before: tt.expectMatched, after: tt.expectMatched, route: tt.expectRoute}, got)
		})
	}
}

// BenchmarkMatched measures metrics.Matched, which every request runs
// several times (rate limit Skipper, labels, access log, span).
func BenchmarkMatched(b *testing.B) {
	e := echo.New()
	e.GET("/v1/ping/:id", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
	c := e.NewContext(httptest.NewRequest(http.MethodGet, "/v1/ping/42", nil), httptest.NewRecorder())
	e.Router().Find(http.MethodGet, "/v1/ping/42", c)
	b.ReportAllocs()
	for b.Loop() {
		if !metrics.Matched(c) {
			b.Fatal("a matched route reported unmatched")
		}
	}
}
