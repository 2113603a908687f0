package api_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/contracts/fakes/fakestest"
)

// TestCartAndOrders checks that bff-mobile serves shared/storefront's cart
// and order routes under its own policy: reads revalidated with an ETag and
// `private, max-age=60`, changes and degraded carts no-store, and every
// answer, errors included, as mobile.yaml describes it. The handlers'
// behaviour is tested in shared/storefront.
func TestCartAndOrders(t *testing.T) {
	t.Parallel()
	g := start(t)
	tok := g.token(t, "u-003")

	r := g.do(t, http.MethodPut, "/v1/cart/items/p-0042", tok, `{"quantity":7}`, nil)
	require.Equal(t, http.StatusOK, r.StatusCode, string(r.body))
	assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))
	assert.Empty(t, r.Header.Get("ETag"), "changes are not cacheable")
	line := findLine(t, r, "p-0042")
	require.NotNil(t, line, "the item is in the returned cart")
	assert.NotEmpty(t, line.ThumbnailURL)

	r = g.do(t, http.MethodGet, "/v1/cart", tok, "", nil)
	require.Equal(t, http.StatusOK, r.StatusCode, string(r.body))
	assert.Equal(t, "private, max-age=60", r.Header.Get("Cache-Control"))
	require.NotEmpty(t, r.Header.Get("ETag"))
	assert.NotNil(t, findLine(t, r, "p-0042"), "the change reached the cart service")
	again := g.do(t, http.MethodGet, "/v1/cart", tok, "", map[string]string{"If-None-Match": r.Header.Get("ETag")})
	assert.Equal(t, http.StatusNotModified, again.StatusCode)
	assert.Empty(t, again.body)

	r = g.do(t, http.MethodDelete, "/v1/cart/items/p-0042", tok, "", nil)
	require.Equal(t, http.StatusOK, r.StatusCode, string(r.body))
	assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))
	assert.Nil(t, findLine(t, r, "p-0042"))

	r = g.do(t, http.MethodPut, "/v1/cart/items/p-0042", tok, `{"quantity":100}`, nil)
	assert.Equal(t, http.StatusBadRequest, r.StatusCode)
	assert.Equal(t, "validation_failed", r.json(t)["error"])
	r = g.do(t, http.MethodPut, "/v1/cart/items/p-0042", tok, `{"quantity":1}`, map[string]string{"Content-Type": "text/plain"})
	assert.Equal(t, http.StatusUnsupportedMediaType, r.StatusCode)

	order := g.do(t, http.MethodPost, "/v1/orders", tok, `{"items":[{"productId":"p-0010","quantity":2}],"currency":"USD"}`,
		map[string]string{"Idempotency-Key": "key-123"})
	require.Equal(t, http.StatusCreated, order.StatusCode, string(order.body))
	assert.Equal(t, "no-store", order.Header.Get("Cache-Control"))
	assert.Equal(t, "key-123", g.fakes.LastHeaders(domain.ServiceOrders).Get("Idempotency-Key"))
	id := decode[created](t, order).ID
	r = g.do(t, http.MethodGet, "/v1/orders/"+id, tok, "", nil)
	require.Equal(t, http.StatusOK, r.StatusCode, string(r.body))
	assert.Equal(t, "private, max-age=60", r.Header.Get("Cache-Control"))
	assert.NotEmpty(t, r.Header.Get("ETag"))
	r = g.do(t, http.MethodGet, "/v1/orders/"+id, g.token(t, "u-004"), "", nil)
	assert.Equal(t, http.StatusNotFound, r.StatusCode, "someone else's order does not exist")
	r = g.do(t, http.MethodPost, "/v1/orders", tok, `{"items":[],"currency":"USD"}`, nil)
	assert.Equal(t, http.StatusBadRequest, r.StatusCode)

	require.NoError(t, g.fakes.SetFault(domain.ServiceCatalog, domain.Fault{ErrorRate: 1}))
	r = g.do(t, http.MethodGet, "/v1/cart", g.token(t, "u-001"), "", nil)
	require.Equal(t, http.StatusOK, r.StatusCode)
	assert.Equal(t, []string{"catalog"}, decode[listScreen](t, r).Degraded)
	assert.Equal(t, "no-store", r.Header.Get("Cache-Control"), "a degraded cart is never cached")
}

// findLine returns the cart line of productID in a cart reply, or nil.
func findLine(t *testing.T, r reply, productID string) *card {
	t.Helper()
	cart := decode[listScreen](t, r)
	for i, l := range cart.Items {
		if l.ProductID == productID {
			return &cart.Items[i]
		}
	}
	return nil
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
		name       string
		token      string
		expectCode string
	}{
		{name: "nok, no token", token: "", expectCode: "unauthorized"},
		{name: "nok, garbage token", token: "not.a.jwt", expectCode: "invalid_token"},
		{name: "nok, web audience", token: fakestest.UserToken(t, g.fakes, "u-001", "web"), expectCode: "invalid_token"},
		{name: "nok, expired", token: claims(func(c jwt.MapClaims) { c["exp"] = c["iat"].(int64) - 120 }), expectCode: "invalid_token"},
		{name: "nok, other issuer", token: claims(func(c jwt.MapClaims) { c["iss"] = "evil" }), expectCode: "invalid_token"},
	}
	for _, tt := range tests {
		for _, path := range []string{"/v1/home", "/v1/products/p-0001", "/v1/search?q=x", "/v1/cart", "/v1/orders/o-00001"} {
			t.Run(fmt.Sprintf("%s, %s", tt.name, path), func(t *testing.T) {
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
