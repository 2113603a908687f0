package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/contracts/fakes/fakestest"
)

func TestCart(t *testing.T) {
	t.Parallel()
	g := start(t)
	tok := g.token(t, "u-003")

	r := g.do(t, http.MethodGet, "/v1/cart", tok, "", nil)
	require.Equal(t, http.StatusOK, r.StatusCode, string(r.body))
	assert.NotEmpty(t, r.Header.Get("ETag"))

	r = g.do(t, http.MethodPut, "/v1/cart/items/p-0042", tok, `{"quantity":7}`, nil)
	require.Equal(t, http.StatusOK, r.StatusCode, string(r.body))
	assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))
	assert.Empty(t, r.Header.Get("ETag"), "changes are not cacheable")
	line := findLine(t, r.json(t), "p-0042")
	require.NotNil(t, line, "the item is in the returned cart")
	assert.EqualValues(t, 7, line["quantity"])
	assert.NotEmpty(t, line["name"])
	assert.Equal(t, "USD", line["price"].(map[string]any)["currency"])

	r = g.do(t, http.MethodGet, "/v1/cart", tok, "", nil)
	assert.NotNil(t, findLine(t, r.json(t), "p-0042"), "the change reached the cart service")

	r = g.do(t, http.MethodDelete, "/v1/cart/items/p-0042", tok, "", nil)
	require.Equal(t, http.StatusOK, r.StatusCode, string(r.body))
	assert.Nil(t, findLine(t, r.json(t), "p-0042"))
}

func findLine(t *testing.T, cart map[string]any, productID string) map[string]any {
	t.Helper()
	for _, it := range cart["items"].([]any) {
		if l := it.(map[string]any); l["productId"] == productID {
			return l
		}
	}
	return nil
}

func TestCartValidation(t *testing.T) {
	t.Parallel()
	g := start(t)
	tok := g.token(t, "u-004")
	before := g.do(t, http.MethodGet, "/v1/cart", tok, "", nil)
	require.Equal(t, http.StatusOK, before.StatusCode)
	g.fakes.ResetStats()

	tests := []struct {
		desc         string
		path         string
		body         string
		contentType  string
		expectStatus int
		expectCode   string
	}{
		{desc: "nok, quantity above 99", path: "/v1/cart/items/p-0001", body: `{"quantity":100}`, expectStatus: 400, expectCode: "validation_failed"},
		{desc: "nok, negative quantity", path: "/v1/cart/items/p-0001", body: `{"quantity":-1}`, expectStatus: 400, expectCode: "validation_failed"},
		{desc: "nok, fractional quantity", path: "/v1/cart/items/p-0001", body: `{"quantity":1.5}`, expectStatus: 400, expectCode: "validation_failed"},
		{desc: "nok, quantity as a string", path: "/v1/cart/items/p-0001", body: `{"quantity":"2"}`, expectStatus: 400, expectCode: "validation_failed"},
		{desc: "nok, quantity missing", path: "/v1/cart/items/p-0001", body: `{}`, expectStatus: 400, expectCode: "validation_failed"},
		{desc: "nok, unknown member", path: "/v1/cart/items/p-0001", body: `{"quantity":1,"userId":"u-001"}`, expectStatus: 400, expectCode: "validation_failed"},
		{desc: "nok, not JSON", path: "/v1/cart/items/p-0001", body: `quantity=1`, expectStatus: 400, expectCode: "validation_failed"},
		{desc: "nok, two values", path: "/v1/cart/items/p-0001", body: `{"quantity":1}{"quantity":2}`, expectStatus: 400, expectCode: "validation_failed"},
		{desc: "nok, wrong media type", path: "/v1/cart/items/p-0001", body: `{"quantity":1}`, contentType: "text/plain", expectStatus: 415, expectCode: "unsupported_media_type"},
		{desc: "nok, bad product id", path: "/v1/cart/items/p%20x", body: `{"quantity":1}`, expectStatus: 400, expectCode: "validation_failed"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			hdr := map[string]string{}
			if tt.contentType != "" {
				hdr["Content-Type"] = tt.contentType
			}
			r := g.do(t, http.MethodPut, tt.path, tok, tt.body, hdr)
			assert.Equal(t, tt.expectStatus, r.StatusCode, string(r.body))
			assert.Equal(t, tt.expectCode, r.json(t)["error"])
		})
	}
	t.Cleanup(func() {
		assert.Zero(t, g.fakes.Requests(domain.ServiceCart), "bad input never reaches the cart service")
	})
}

func TestCartDegraded(t *testing.T) {
	t.Parallel()
	g := start(t)
	require.NoError(t, g.fakes.SetFault(domain.ServiceCatalog, domain.Fault{ErrorRate: 1}))
	r := g.do(t, http.MethodGet, "/v1/cart", g.token(t, "u-001"), "", nil)
	require.Equal(t, http.StatusOK, r.StatusCode)
	m := r.json(t)
	assert.Equal(t, []any{"catalog"}, m["degraded"])
	items := m["items"].([]any)
	require.NotEmpty(t, items)
	assert.Nil(t, items[0].(map[string]any)["name"])
	assert.NotNil(t, items[0].(map[string]any)["price"])
	assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))

	require.NoError(t, g.fakes.SetFault(domain.ServiceCart, domain.Fault{ErrorRate: 1}))
	r = g.do(t, http.MethodGet, "/v1/cart", g.token(t, "u-001"), "", nil)
	assert.Equal(t, http.StatusBadGateway, r.StatusCode, "the cart is critical")
}

func TestCreateOrder(t *testing.T) {
	t.Parallel()
	g := start(t)
	tok := g.token(t, "u-005")
	body := `{"items":[{"productId":"p-0010","quantity":2}],"currency":"USD"}`

	r := g.do(t, http.MethodPost, "/v1/orders", tok, body, map[string]string{"Idempotency-Key": "key-123"})
	require.Equal(t, http.StatusCreated, r.StatusCode, string(r.body))
	m := r.json(t)
	id := m["id"].(string)
	assert.Equal(t, "/v1/orders/"+id, r.Header.Get("Location"))
	assert.Equal(t, "key-123", g.fakes.LastHeaders(domain.ServiceOrders).Get("Idempotency-Key"), "the key is forwarded")
	assert.Equal(t, "u-005", g.fakes.LastHeaders(domain.ServiceOrders).Get("X-User-Id"))

	again := g.do(t, http.MethodPost, "/v1/orders", tok, body, map[string]string{"Idempotency-Key": "key-123"})
	require.Equal(t, http.StatusCreated, again.StatusCode)
	assert.Equal(t, id, again.json(t)["id"], "a retry with the same key returns the first order")

	got := g.do(t, http.MethodGet, "/v1/orders/"+id, tok, "", nil)
	require.Equal(t, http.StatusOK, got.StatusCode, string(got.body))
	o := got.json(t)
	assert.Equal(t, id, o["id"])
	assert.Equal(t, "p-0010", o["items"].([]any)[0].(map[string]any)["productId"])
}

func TestCreateOrderValidation(t *testing.T) {
	t.Parallel()
	g := start(t)
	tok := g.token(t, "u-006")
	tests := []struct {
		desc       string
		body       string
		key        string
		expectPath string
	}{
		{desc: "nok, no items", body: `{"items":[],"currency":"USD"}`, expectPath: "$.items"},
		{desc: "nok, quantity zero", body: `{"items":[{"productId":"p-0001","quantity":0}],"currency":"USD"}`, expectPath: "$.items[0].quantity"},
		{desc: "nok, product id missing", body: `{"items":[{"quantity":1}],"currency":"USD"}`, expectPath: "$.items[0].productId"},
		{desc: "nok, currency lower case", body: `{"items":[{"productId":"p-0001","quantity":1}],"currency":"usd"}`, expectPath: "$.currency"},
		{desc: "nok, user id in the body", body: `{"userId":"u-001","items":[{"productId":"p-0001","quantity":1}],"currency":"USD"}`, expectPath: "$"},
		{desc: "nok, idempotency key with a space", body: `{"items":[{"productId":"p-0001","quantity":1}],"currency":"USD"}`, key: "a b", expectPath: "Idempotency-Key"},
		{desc: "nok, idempotency key too long", body: `{"items":[{"productId":"p-0001","quantity":1}],"currency":"USD"}`, key: strings.Repeat("k", 256), expectPath: "Idempotency-Key"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			hdr := map[string]string{}
			if tt.key != "" {
				hdr["Idempotency-Key"] = tt.key
			}
			r := g.do(t, http.MethodPost, "/v1/orders", tok, tt.body, hdr)
			require.Equal(t, http.StatusBadRequest, r.StatusCode, string(r.body))
			m := r.json(t)
			assert.Equal(t, "validation_failed", m["error"])
			errs := m["errors"].([]any)
			require.NotEmpty(t, errs)
			assert.Equal(t, tt.expectPath, errs[0].(map[string]any)["path"])
		})
	}
	t.Cleanup(func() { assert.Zero(t, g.fakes.Requests(domain.ServiceOrders), "bad input never reaches orders") })
}

func TestOrderOwnership(t *testing.T) {
	t.Parallel()
	g := start(t)
	mine := g.do(t, http.MethodPost, "/v1/orders", g.token(t, "u-007"),
		`{"items":[{"productId":"p-0003","quantity":1}],"currency":"USD"}`, nil)
	require.Equal(t, http.StatusCreated, mine.StatusCode, string(mine.body))
	id := mine.json(t)["id"].(string)

	other := g.do(t, http.MethodGet, "/v1/orders/"+id, g.token(t, "u-008"), "", nil)
	missing := g.do(t, http.MethodGet, "/v1/orders/o-99999", g.token(t, "u-008"), "", nil)
	require.Equal(t, http.StatusNotFound, other.StatusCode)
	require.Equal(t, http.StatusNotFound, missing.StatusCode)
	strip := func(m map[string]any) map[string]any {
		delete(m, "requestId")
		delete(m, "instance")
		return m
	}
	assert.Equal(t, strip(missing.json(t)), strip(other.json(t)), "someone else's order looks exactly like a missing one")
	assert.NotContains(t, string(other.body), "u-007")
}

func TestIdentityComesFromTheTokenOnly(t *testing.T) {
	t.Parallel()
	g := start(t)
	r := g.do(t, http.MethodGet, "/v1/cart", g.token(t, "u-002"), "", map[string]string{
		"X-User-Id": "u-001", "X-Client": "partner", "X-Partner-Id": "acme",
	})
	require.Equal(t, http.StatusOK, r.StatusCode)
	h := g.fakes.LastHeaders(domain.ServiceCart)
	assert.Equal(t, []string{"u-002"}, h.Values("X-User-Id"))
	assert.Equal(t, []string{"mobile"}, h.Values("X-Client"))
	assert.Empty(t, h.Values("X-Partner-Id"))
	assert.Empty(t, h.Values("Authorization"), "the token is never forwarded")
	assert.NotEmpty(t, h.Get("X-Request-Id"))
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	g := start(t)
	claims := func(edit func(jwt.MapClaims)) string {
		c := g.fakes.UserClaims("u-001", "mobile")
		edit(c)
		return fakestest.Token(t, g.fakes, c)
	}
	tests := []struct {
		desc       string
		token      string
		expectCode string
	}{
		{desc: "nok, no token", token: "", expectCode: "unauthorized"},
		{desc: "nok, garbage token", token: "not.a.jwt", expectCode: "invalid_token"},
		{desc: "nok, web audience", token: fakestest.UserToken(t, g.fakes, "u-001", "web"), expectCode: "invalid_token"},
		{desc: "nok, expired", token: claims(func(c jwt.MapClaims) { c["exp"] = c["iat"].(int64) - 120 }), expectCode: "invalid_token"},
		{desc: "nok, other issuer", token: claims(func(c jwt.MapClaims) { c["iss"] = "evil" }), expectCode: "invalid_token"},
	}
	for _, tt := range tests {
		for _, path := range []string{"/v1/home", "/v1/products/p-0001", "/v1/search?q=x", "/v1/cart", "/v1/orders/o-00001"} {
			t.Run(fmt.Sprintf("%s, %s", tt.desc, path), func(t *testing.T) {
				t.Parallel()
				r := g.do(t, http.MethodGet, path, tt.token, "", nil)
				assert.Equal(t, http.StatusUnauthorized, r.StatusCode)
				assert.Equal(t, tt.expectCode, r.json(t)["error"])
			})
		}
	}
	t.Cleanup(func() {
		assert.Zero(t, g.fakes.Requests(domain.ServiceUsers), "rejected requests never reach upstream")
	})
}
