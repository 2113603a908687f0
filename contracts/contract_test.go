package contracts_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/contracts/fakes/fakestest"
	"github.com/shopfront/contracts/openapi"
)

const (
	jsonType  = "application/json"
	formType  = "application/x-www-form-urlencoded"
	octetType = "application/octet-stream"
)

// call is one request to a fake and the status it must get.
type call struct {
	name   string
	method string
	path   string // relative to the service's base URL
	body   string
	ctype  string
	header map[string]string
	status int
	badReq bool // the request breaks the document on purpose: skip its validation
}

// contractCalls reach every endpoint of every service, their 404s and 400s.
var contractCalls = map[string][]call{
	domain.ServiceCatalog: {
		{name: "ok, product", method: "GET", path: "/products/p-0001", status: 200},
		{name: "nok, unknown product", method: "GET", path: "/products/p-9999", status: 404},
		{name: "ok, products by ids", method: "GET", path: "/products?ids=p-0001,p-0002,nope", status: 200},
		{name: "ok, search", method: "GET", path: "/products?q=lamp&category=home&page=1&pageSize=5", status: 200},
		{name: "ok, search past the end", method: "GET", path: "/products?page=999", status: 200},
		{name: "nok, page size out of range", method: "GET", path: "/products?pageSize=1000", status: 400, badReq: true},
	},
	domain.ServiceInventory: {
		{name: "ok, stock", method: "GET", path: "/stock/p-0001", status: 200},
		{name: "ok, stock sold out", method: "GET", path: "/stock/p-0010", status: 200},
		{name: "nok, unknown product", method: "GET", path: "/stock/p-9999", status: 404},
		{name: "ok, stores", method: "GET", path: "/stock/p-0001/stores?lat=37.78&lon=-122.41&radiusKm=30", status: 200},
		{name: "ok, no store nearby", method: "GET", path: "/stock/p-0001/stores?lat=0&lon=0", status: 200},
		{name: "nok, stores of unknown product", method: "GET", path: "/stock/p-9999/stores?lat=37.78&lon=-122.41", status: 404},
		{name: "nok, stores without lat", method: "GET", path: "/stock/p-0001/stores?lon=-122.41", status: 400, badReq: true},
	},
	domain.ServicePricing: {
		{name: "ok, price", method: "GET", path: "/prices/p-0001", status: 200},
		{name: "ok, price in EUR", method: "GET", path: "/prices/p-0001?currency=EUR", status: 200},
		{name: "nok, unknown product", method: "GET", path: "/prices/p-9999", status: 404},
		{name: "ok, prices by ids", method: "GET", path: "/prices?ids=p-0001,p-0002,nope&currency=GBP", status: 200},
		{name: "nok, unknown currency", method: "GET", path: "/prices?ids=p-0001&currency=XYZ", status: 400, badReq: true},
	},
	domain.ServiceReviews: {
		{name: "ok, reviews", method: "GET", path: "/products/p-0001/reviews?page=1&limit=5", status: 200},
		{name: "ok, no reviews", method: "GET", path: "/products/p-0007/reviews", status: 200},
		{name: "nok, unknown product", method: "GET", path: "/products/p-9999/reviews", status: 404},
	},
	domain.ServiceRecommendations: {
		{name: "ok, for user", method: "GET", path: "/users/u-001/recommendations?limit=5", status: 200},
		{name: "nok, unknown user", method: "GET", path: "/users/u-999/recommendations", status: 404},
		{name: "ok, similar", method: "GET", path: "/products/p-0001/similar?limit=6", status: 200},
		{name: "nok, similar to unknown product", method: "GET", path: "/products/p-9999/similar", status: 404},
	},
	domain.ServiceUsers: {
		{name: "ok, user", method: "GET", path: "/users/u-001", status: 200},
		{name: "nok, unknown user", method: "GET", path: "/users/u-999", status: 404},
	},
	domain.ServiceOrders: {
		{name: "ok, orders of user", method: "GET", path: "/users/u-001/orders?limit=3", status: 200},
		{name: "nok, orders of unknown user", method: "GET", path: "/users/u-999/orders", status: 404},
		{name: "ok, order", method: "GET", path: "/orders/o-00001", status: 200},
		{name: "nok, unknown order", method: "GET", path: "/orders/o-99999", status: 404},
		{name: "ok, create for user", method: "POST", path: "/orders", ctype: jsonType, status: 201,
			header: map[string]string{"Idempotency-Key": "contract-1"},
			body:   `{"userId":"u-002","items":[{"productId":"p-0001","quantity":2}],"currency":"USD"}`},
		{name: "ok, create for partner", method: "POST", path: "/orders", ctype: jsonType, status: 201,
			body: `{"partnerId":"acme","items":[{"productId":"p-0002","quantity":1}],"currency":"EUR"}`},
		{name: "nok, unknown product", method: "POST", path: "/orders", ctype: jsonType, status: 400,
			body: `{"userId":"u-002","items":[{"productId":"p-9999","quantity":1}],"currency":"USD"}`},
		{name: "nok, no items", method: "POST", path: "/orders", ctype: jsonType, status: 400, badReq: true,
			body: `{"userId":"u-002","items":[],"currency":"USD"}`},
		{name: "nok, not JSON", method: "POST", path: "/orders", ctype: jsonType, status: 400, badReq: true, body: `{"userId":`},
	},
	domain.ServiceCart: {
		{name: "ok, cart", method: "GET", path: "/carts/u-003", status: 200},
		{name: "nok, unknown user", method: "GET", path: "/carts/u-999", status: 404},
		{name: "ok, set item", method: "PUT", path: "/carts/u-004/items/p-0001", ctype: jsonType, body: `{"quantity":2}`, status: 200},
		{name: "nok, negative quantity", method: "PUT", path: "/carts/u-004/items/p-0001", ctype: jsonType, body: `{"quantity":-1}`, status: 400, badReq: true},
		{name: "nok, unknown product", method: "PUT", path: "/carts/u-004/items/p-9999", ctype: jsonType, body: `{"quantity":1}`, status: 404},
		{name: "ok, remove item", method: "DELETE", path: "/carts/u-005/items/p-0001", status: 200},
		{name: "nok, remove from unknown cart", method: "DELETE", path: "/carts/u-999/items/p-0001", status: 404},
	},
	domain.ServicePayments: {
		{name: "ok, balance", method: "GET", path: "/users/u-001/balance", status: 200},
		{name: "nok, unknown user", method: "GET", path: "/users/u-999/balance", status: 404},
	},
	domain.ServiceNotifications: {
		{name: "ok, unread", method: "GET", path: "/users/u-001/unread-count", status: 200},
		{name: "nok, unknown user", method: "GET", path: "/users/u-999/unread-count", status: 404},
		{name: "nok, events of unknown user", method: "GET", path: "/users/u-999/events", status: 404},
		{name: "nok, events after a malformed id", method: "GET", path: "/users/u-001/events", header: map[string]string{"Last-Event-ID": "x"}, status: 400, badReq: true},
	},
	domain.ServiceIdentity: {
		{name: "ok, password grant", method: "POST", path: "/oauth/token", ctype: formType, status: 200,
			body: "grant_type=password&username=alice&password=shopfront&client_id=mobile"},
		{name: "nok, wrong password", method: "POST", path: "/oauth/token", ctype: formType, status: 401,
			body: "grant_type=password&username=alice&password=nope&client_id=web"},
		{name: "ok, client credentials", method: "POST", path: "/oauth/token", ctype: formType, status: 200,
			body: "grant_type=client_credentials&client_id=acme-client&client_secret=acme-secret&scope=catalog%3Aread"},
		{name: "nok, wrong secret", method: "POST", path: "/oauth/token", ctype: formType, status: 401,
			body: "grant_type=client_credentials&client_id=acme-client&client_secret=nope"},
		{name: "nok, scope not allowed", method: "POST", path: "/oauth/token", ctype: formType, status: 400,
			body: "grant_type=client_credentials&client_id=acme-client&client_secret=acme-secret&scope=admin"},
		{name: "nok, unsupported grant", method: "POST", path: "/oauth/token", ctype: formType, status: 400, badReq: true,
			body: "grant_type=implicit"},
		{name: "ok, jwks", method: "GET", path: "/.well-known/jwks.json", status: 200},
	},
	// The media calls that need an upload of their own are in
	// TestContractMediaFlow.
	domain.ServiceMedia: {
		{name: "ok, create upload", method: "POST", path: "/uploads", ctype: jsonType, status: 201,
			body: `{"userId":"u-001","length":10,"filename":"a.jpg","contentType":"image/jpeg"}`},
		{name: "nok, create without user", method: "POST", path: "/uploads", ctype: jsonType, status: 400, badReq: true,
			body: `{"length":10,"filename":"a.jpg","contentType":"image/jpeg"}`},
		{name: "nok, unknown upload", method: "GET", path: "/uploads/up-nope", status: 404},
		{name: "nok, append to unknown upload", method: "PATCH", path: "/uploads/up-nope", ctype: octetType, body: "abc",
			header: map[string]string{"Upload-Offset": "0"}, status: 404},
		{name: "nok, delete unknown upload", method: "DELETE", path: "/uploads/up-nope", status: 404},
	},
}

// TestContract sends every call to the fakes over real HTTP and checks the
// request and the response against the service's OpenAPI document.
func TestContract(t *testing.T) {
	t.Parallel()
	_, base := fakestest.Start(t)
	for _, service := range domain.ServiceNames() {
		calls := contractCalls[service]
		require.NotEmpty(t, calls, "no contract calls for %s", service)
		doc, err := openapi.Load(t.Context(), service)
		require.NoError(t, err)
		serviceURL := base + "/" + service
		doc.Servers = openapi3.Servers{{URL: serviceURL}}
		router, err := gorillamux.NewRouter(doc)
		require.NoError(t, err)
		covered := map[string]bool{}

		for _, c := range calls {
			route := checkCall(t, router, serviceURL, c)
			covered[route.Method+" "+route.Path] = true
		}
		// Every operation of the document was called at least once.
		for path, item := range doc.Paths.Map() {
			for method := range item.Operations() {
				assert.True(t, covered[method+" "+path], "%s: %s %s never called", service, method, path)
			}
		}
	}
}

func checkCall(t *testing.T, router routers.Router, serviceURL string, c call) *routers.Route {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), c.method, serviceURL+c.path, strings.NewReader(c.body))
	require.NoError(t, err)
	if c.ctype != "" {
		req.Header.Set("Content-Type", c.ctype)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	route, params, err := router.FindRoute(req)
	require.NoError(t, err, "%s %s: no route in the document", c.method, c.path)
	input := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	reqErr := openapi3filter.ValidateRequest(t.Context(), input)
	if c.badReq {
		assert.Error(t, reqErr, "%s: the request should break the document", c.name)
	} else {
		assert.NoError(t, reqErr, "%s: request", c.name)
	}

	send, err := http.NewRequestWithContext(t.Context(), c.method, serviceURL+c.path, strings.NewReader(c.body))
	require.NoError(t, err)
	send.Header = req.Header.Clone()
	resp, err := http.DefaultClient.Do(send)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)

	assert.Equal(t, c.status, resp.StatusCode, "%s: %s", c.name, body)
	if resp.StatusCode >= 400 {
		assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"), c.name)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: input, Status: resp.StatusCode,
		Header: resp.Header, Body: io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	assert.NoError(t, openapi3filter.ValidateResponse(t.Context(), out), "%s: response %s", c.name, body)
	return route
}

// TestUnknownPaths: paths outside every document are problem+json 404s.
func TestUnknownPaths(t *testing.T) {
	t.Parallel()
	_, base := fakestest.Start(t)
	for _, p := range []string{"/catalog/nothing", "/nothing/at/all", "/identity/oauth/authorize", "/"} {
		resp, err := http.Get(base + p)
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, p)
		assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"), p)
	}
}

// TestContractFaults: injected failures are problem+json the documents
// describe, for every service.
func TestContractFaults(t *testing.T) {
	t.Parallel()
	f, base := fakestest.Start(t)
	for _, service := range domain.ServiceNames() {
		doc, err := openapi.Load(t.Context(), service)
		require.NoError(t, err)
		serviceURL := base + "/" + service
		doc.Servers = openapi3.Servers{{URL: serviceURL}}
		router, err := gorillamux.NewRouter(doc)
		require.NoError(t, err)
		require.NoError(t, f.SetFault(service, domain.Fault{ErrorRate: 1, Status: http.StatusBadGateway}))
		c := contractCalls[service][0]
		c.name, c.status = "nok, fault on "+service, http.StatusBadGateway
		checkCall(t, router, serviceURL, c)
	}
}

// TestContractMediaFlow walks one upload through the media document:
// append, the conflict and overrun errors (which write nothing), read,
// expiry and deletion.
func TestContractMediaFlow(t *testing.T) {
	t.Parallel()
	f, base := fakestest.Start(t)
	doc, err := openapi.Load(t.Context(), domain.ServiceMedia)
	require.NoError(t, err)
	serviceURL := base + "/" + domain.ServiceMedia
	doc.Servers = openapi3.Servers{{URL: serviceURL}}
	router, err := gorillamux.NewRouter(doc)
	require.NoError(t, err)

	create := func() string {
		resp, err := http.Post(serviceURL+"/uploads", jsonType,
			strings.NewReader(`{"userId":"u-001","length":6,"filename":"a.png","contentType":"image/png"}`))
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusCreated, resp.StatusCode)
		var u domain.Upload
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&u))
		return u.ID
	}
	id := create()
	at := func(offset string) map[string]string { return map[string]string{"Upload-Offset": offset} }
	for _, c := range []call{
		{name: "ok, append", method: "PATCH", ctype: octetType, body: "abcd", header: at("0"), status: 200},
		{name: "nok, wrong offset", method: "PATCH", ctype: octetType, body: "ef", header: at("0"), status: 409},
		{name: "nok, past the length", method: "PATCH", ctype: octetType, body: "efg", header: at("4"), status: 413},
		{name: "nok, wrong media type", method: "PATCH", ctype: "text/plain", body: "ef", header: at("4"), status: 415, badReq: true},
		{name: "ok, append the rest", method: "PATCH", ctype: octetType, body: "ef", header: at("4"), status: 200},
		{name: "ok, read", method: "GET", status: 200},
	} {
		c.path = "/uploads/" + id
		checkCall(t, router, serviceURL, c)
	}
	data, ok := f.UploadData(id)
	require.True(t, ok)
	assert.Equal(t, "abcdef", string(data), "the failed appends wrote nothing")
	u, _ := f.Upload(id)
	assert.True(t, u.Complete)

	require.True(t, f.ExpireUpload(id))
	checkCall(t, router, serviceURL, call{name: "nok, expired", method: "GET", path: "/uploads/" + id, status: 410})
	checkCall(t, router, serviceURL, call{name: "nok, append to expired", method: "PATCH", path: "/uploads/" + id,
		ctype: octetType, body: "x", header: at("6"), status: 410})

	id = create()
	checkCall(t, router, serviceURL, call{name: "ok, delete", method: "DELETE", path: "/uploads/" + id, status: 204})
	checkCall(t, router, serviceURL, call{name: "nok, deleted", method: "GET", path: "/uploads/" + id, status: 404})
}
