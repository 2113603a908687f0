package validation

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/labstack/echo/v4"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/public"
)

// TestCompiledBodiesAgreeWithKin checks the fast path's verdict against
// kin-openapi's on valid and invalid orders: they must never disagree, or
// an invalid body could slip through.
func TestCompiledBodiesAgreeWithKin(t *testing.T) {
	t.Parallel()
	doc, err := public.Load(context.Background(), "partner.yaml")
	require.NoError(t, err)
	ops, err := compileOperations(doc)
	require.NoError(t, err)
	require.NotNil(t, ops["POST /v2/orders"])
	fast := ops["POST /v2/orders"].body
	require.NotNil(t, fast)
	kin := doc.Paths.Value("/v2/orders").Post.RequestBody.Value.Content.Get("application/json").Schema.Value

	for _, body := range []string{
		`{"items":[{"productId":"p-0001","quantity":1}],"currency":"USD"}`,
		`{"items":[{"productId":"p-0001","quantity":999},{"productId":"a.b_c-d","quantity":1}],"currency":"EUR"}`,
		`{"items":[],"currency":"USD"}`,
		`{"items":[{"productId":"p-0001","quantity":1000}],"currency":"USD"}`,
		`{"items":[{"productId":"p-0001","quantity":1.5}],"currency":"USD"}`,
		`{"items":[{"productId":"p-0001","quantity":"1"}],"currency":"USD"}`,
		`{"items":[{"productId":"","quantity":1}],"currency":"USD"}`,
		`{"items":[{"productId":"p 1","quantity":1}],"currency":"USD"}`,
		`{"items":[{"productId":"p-0001"}],"currency":"USD"}`,
		`{"items":[{"productId":"p-0001","quantity":1}],"currency":"usd"}`,
		`{"items":[{"productId":"p-0001","quantity":1}]}`,
		`{"items":[{"productId":"p-0001","quantity":1}],"currency":"USD","partnerId":"x"}`,
		`{"items":[{"productId":"p-0001","quantity":1,"x":null}],"currency":"USD"}`,
		`{"items":{"productId":"p-0001","quantity":1},"currency":"USD"}`,
		`[]`, `null`, `"order"`,
	} {
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(body)))
		require.NoError(t, err)
		var kv any
		require.NoError(t, json.Unmarshal([]byte(body), &kv))
		fastOK := fast.Validate(v) == nil
		kinOK := kin.VisitJSON(kv, openapi3.EnableJSONSchema2020()) == nil
		assert.Equal(t, kinOK, fastOK, body)
	}
}

// TestCompiledParamsNeverAcceptMore checks the fast path against
// kin-openapi on query, path and header values: whatever it accepts,
// kin-openapi accepts too.
func TestCompiledParamsNeverAcceptMore(t *testing.T) {
	t.Parallel()
	doc, err := public.Load(context.Background(), "partner.yaml")
	require.NoError(t, err)
	ops, err := compileOperations(doc)
	require.NoError(t, err)
	e := echo.New()
	tests := []struct {
		method, route, path, idemKey string
		params                       map[string]string
		fast                         bool
	}{
		{method: "GET", route: "/v2/products", path: "/v2/products", fast: true},
		{method: "GET", route: "/v2/products", path: "/v2/products?page=1&pageSize=100&category=home", fast: true},
		{method: "GET", route: "/v2/products", path: "/v2/products?page=0"},
		{method: "GET", route: "/v2/products", path: "/v2/products?pageSize=101"},
		{method: "GET", route: "/v2/products", path: "/v2/products?pageSize=01"},
		{method: "GET", route: "/v2/products", path: "/v2/products?pageSize=%2B5"},
		{method: "GET", route: "/v2/products", path: "/v2/products?pageSize=5.0"},
		{method: "GET", route: "/v2/products", path: "/v2/products?page=1&page=2"},
		{method: "GET", route: "/v2/products", path: "/v2/products?category="},
		{method: "GET", route: "/v2/products", path: "/v2/products?category=" + strings.Repeat("x", 65)},
		{method: "GET", route: "/v2/products/:id", path: "/v2/products/p-0001", params: map[string]string{"id": "p-0001"}, fast: true},
		{method: "GET", route: "/v2/products/:id", path: "/v2/products/p%200001", params: map[string]string{"id": "p%200001"}},
		{method: "POST", route: "/v2/orders", path: "/v2/orders", idemKey: "k-1", fast: true},
		{method: "POST", route: "/v2/orders", path: "/v2/orders"},
		{method: "POST", route: "/v2/orders", path: "/v2/orders", idemKey: "has space"},
		{method: "POST", route: "/v2/orders", path: "/v2/orders", idemKey: strings.Repeat("k", 256)},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(`{"items":[{"productId":"p-1","quantity":1}],"currency":"USD"}`))
		req.Header.Set("Content-Type", "application/json")
		if tt.idemKey != "" {
			req.Header.Set("Idempotency-Key", tt.idemKey)
		}
		c := e.NewContext(req, httptest.NewRecorder())
		c.SetPath(tt.route)
		var names, values []string
		for k, v := range tt.params {
			names, values = append(names, k), append(values, v)
		}
		c.SetParamNames(names...)
		c.SetParamValues(values...)
		route, ok := FindRoute(doc, tt.method, tt.route)
		require.True(t, ok)
		fast := ops[tt.method+" "+route.Path].paramsValid(c)
		assert.Equal(t, tt.fast, fast, "%s %s %q", tt.method, tt.path, tt.idemKey)
		if fast {
			err := openapi3filter.ValidateRequest(context.Background(), &openapi3filter.RequestValidationInput{
				Request: req, PathParams: tt.params, Route: route,
				Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, ExcludeRequestBody: true},
			})
			assert.NoError(t, err, "kin-openapi accepts what the fast path accepts: %s", tt.path)
		}
	}
}

// TestRoutesResolvedOnce checks the table the middleware resolves at start
// against FindRoute for every operation of the partner document.
func TestRoutesResolvedOnce(t *testing.T) {
	t.Parallel()
	doc, err := public.Load(context.Background(), "partner.yaml")
	require.NoError(t, err)
	ops, err := compileOperations(doc)
	require.NoError(t, err)
	routes := resolveRoutes(doc, ops)
	n := 0
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			n++
			ep := echoPath(path)
			want, ok := FindRoute(doc, method, ep)
			require.True(t, ok, "%s %s", method, ep)
			got, ok := routes[ep][method]
			require.True(t, ok, "%s %s resolved", method, ep)
			assert.Equal(t, want.Path, got.route.Path)
			assert.Same(t, want.Operation, got.route.Operation)
			assert.Same(t, ops[method+" "+path], got.op)
		}
	}
	assert.GreaterOrEqual(t, n, 7, "every partner route")
	assert.Equal(t, "/v2/products/:id", echoPath("/v2/products/{id}"))
	_, ok := routes["/v2/products"][http.MethodDelete]
	assert.False(t, ok, "no operation, no route")
}
