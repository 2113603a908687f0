package route_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/shared/edge/problem"
	"github.com/shopfront/shared/edge/route"
)

const guarded route.Policy = "guarded"

// deny is a credential check that refuses everything.
func deny(echo.HandlerFunc) echo.HandlerFunc {
	return func(echo.Context) error { return problem.New(http.StatusUnauthorized, problem.CodeUnauthorized, "") }
}

func ok(c echo.Context) error { return c.NoContent(http.StatusNoContent) }

// TestRegisterAnswersRoutingBeforeCredentials: a known path asked with
// another method is 405 with Allow, an unknown path 404, both without
// meeting the policy's credential check; known routes meet it.
func TestRegisterAnswersRoutingBeforeCredentials(t *testing.T) {
	t.Parallel()
	e := echo.New()
	e.HTTPErrorHandler = problem.Handler(problem.HandlerConfig{})
	require.NoError(t, route.Register(e, route.Chains{guarded: {deny}}, []route.Route{
		{Method: http.MethodGet, Path: "/v2/products", Handler: ok, Policy: guarded},
		{Method: http.MethodPost, Path: "/v2/orders", Handler: ok, Policy: guarded},
	}, []route.Route{
		{Method: http.MethodGet, Path: "/openapi.json", Handler: ok, Policy: route.Open},
	}))
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)

	tests := []struct {
		name         string
		method       string
		path         string
		expectStatus int
		expectAllow  string
	}{
		{name: "nok, guarded route", method: http.MethodGet, path: "/v2/products", expectStatus: http.StatusUnauthorized},
		{name: "nok, wrong method of a known path", method: http.MethodDelete, path: "/v2/products", expectStatus: http.StatusMethodNotAllowed, expectAllow: "GET"},
		{name: "nok, unknown path under a guarded prefix", method: http.MethodGet, path: "/v2/nope", expectStatus: http.StatusNotFound},
		{name: "ok, open route", method: http.MethodGet, path: "/openapi.json", expectStatus: http.StatusNoContent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			require.NoError(t, err)
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			_ = res.Body.Close()
			assert.Equal(t, tt.expectStatus, res.StatusCode)
			if tt.expectAllow != "" {
				assert.Contains(t, res.Header.Get("Allow"), tt.expectAllow)
			}
		})
	}
}

func TestRegisterRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		given     []route.Route
		expectErr string
	}{
		{name: "nok, policy without a chain", given: []route.Route{{Method: http.MethodGet, Path: "/a", Handler: ok, Policy: "personal"}},
			expectErr: `no chain for policy "personal"`},
		{name: "nok, no handler", given: []route.Route{{Method: http.MethodGet, Path: "/a", Policy: guarded}},
			expectErr: "needs a Method, Path, Handler and Policy"},
		{name: "nok, same route twice", given: []route.Route{
			{Method: http.MethodGet, Path: "/a", Handler: ok, Policy: guarded},
			{Method: http.MethodGet, Path: "/a", Handler: ok, Policy: guarded},
		}, expectErr: "GET /a registered twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := echo.New()
			err := route.Register(e, route.Chains{guarded: nil}, tt.given)
			assert.ErrorContains(t, err, tt.expectErr)
			assert.Empty(t, e.Routes(), "nothing is registered")
		})
	}
}

// TestLongLived matches requests, after routing, to the routes marked
// LongLived by method and path template, over a real socket.
func TestLongLived(t *testing.T) {
	t.Parallel()
	tables := [][]route.Route{
		{{Method: http.MethodGet, Path: "/v1/events", Handler: ok, Policy: route.Open, LongLived: true}},
		{
			{Method: http.MethodPatch, Path: "/v1/uploads/:id", Handler: ok, Policy: route.Open, LongLived: true},
			{Method: http.MethodDelete, Path: "/v1/uploads/:id", Handler: ok, Policy: route.Open},
		},
	}
	long := route.LongLived(tables...)
	e := echo.New()
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Response().Header().Set("X-Long-Lived", map[bool]string{true: "yes", false: "no"}[long(c)])
			return next(c)
		}
	})
	require.NoError(t, route.Register(e, route.Chains{}, tables...))
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)

	tests := []struct {
		desc   string
		method string
		path   string
		expect string
	}{
		{desc: "ok, a marked route", method: http.MethodGet, path: "/v1/events", expect: "yes"},
		{desc: "ok, a marked route with a parameter", method: http.MethodPatch, path: "/v1/uploads/u-1", expect: "yes"},
		{desc: "nok, another method of the same path", method: http.MethodDelete, path: "/v1/uploads/u-1", expect: "no"},
		{desc: "nok, an unknown path", method: http.MethodGet, path: "/v1/events/x", expect: "no"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			require.NoError(t, err)
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			_ = res.Body.Close()
			assert.Equal(t, tc.expect, res.Header.Get("X-Long-Lived"))
		})
	}
}

// TestRegisterComposesEachChainOnce: a policy's middleware wraps the
// handler once, when the route is registered, outermost first, and every
// request then runs that chain.
func TestRegisterComposesEachChainOnce(t *testing.T) {
	t.Parallel()
	var built []string
	var ran []string
	layer := func(name string) echo.MiddlewareFunc {
		return func(next echo.HandlerFunc) echo.HandlerFunc {
			built = append(built, name)
			return func(c echo.Context) error {
				ran = append(ran, name)
				return next(c)
			}
		}
	}
	e := echo.New()
	require.NoError(t, route.Register(e, route.Chains{guarded: {layer("outer"), layer("inner")}}, []route.Route{
		{Method: http.MethodGet, Path: "/v2/products", Handler: ok, Policy: guarded},
	}))
	assert.Equal(t, []string{"inner", "outer"}, built, "composed at registration, innermost first")
	for range 3 {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v2/products", nil))
		assert.Equal(t, http.StatusNoContent, rec.Code)
	}
	assert.Len(t, built, 2, "requests build nothing")
	assert.Equal(t, []string{"outer", "inner", "outer", "inner", "outer", "inner"}, ran)
}
