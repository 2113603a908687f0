package storefront_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/shared/storefront"
	"github.com/shopfront/shared/storefront/view"
)

func TestCart(t *testing.T) {
	t.Parallel()
	s := boot(t, storefront.Config{})
	product, err := s.clients.Catalog.Product(context.Background(), "p-0042")
	require.NoError(t, err)

	r := s.call(t, request{method: http.MethodPut, path: "/v1/cart/items/p-0042", user: "u-003", body: `{"quantity":7}`})
	require.Equal(t, http.StatusOK, r.status, r.body)
	line := cartLine(t, r.object(t), "p-0042")
	require.NotNil(t, line, "the item is in the returned cart")
	assert.EqualValues(t, 7, line["quantity"])
	assert.Equal(t, product.Name, line["name"])
	assert.Equal(t, *view.Thumbnail(product.Images), line["thumbnailUrl"], "the smallest image")
	assert.Equal(t, "USD", line["price"].(map[string]any)["currency"])
	assert.Equal(t, []string{"u-003"}, s.fakes.LastHeaders(domain.ServiceCart).Values("X-User-Id"), "the user is the token's")

	r = s.call(t, request{method: http.MethodGet, path: "/v1/cart", user: "u-003"})
	require.Equal(t, http.StatusOK, r.status, r.body)
	assert.NotNil(t, cartLine(t, r.object(t), "p-0042"), "the change reached the cart service")
	assert.Equal(t, []any{}, r.object(t)["degraded"])

	other := s.call(t, request{method: http.MethodGet, path: "/v1/cart", user: "u-004"})
	require.Equal(t, http.StatusOK, other.status, other.body)
	assert.Nil(t, cartLine(t, other.object(t), "p-0042"), "another user's cart is their own")

	r = s.call(t, request{method: http.MethodDelete, path: "/v1/cart/items/p-0042", user: "u-003"})
	require.Equal(t, http.StatusOK, r.status, r.body)
	assert.Nil(t, cartLine(t, r.object(t), "p-0042"))
}

func TestCartValidation(t *testing.T) {
	t.Parallel()
	s := boot(t, storefront.Config{})
	tests := []struct {
		name          string
		path          string
		body          string
		contentType   string
		expectStatus  int
		expectCode    string
		expectMessage string
	}{
		{name: "nok, quantity above 99", path: "/v1/cart/items/p-0001", body: `{"quantity":100}`, expectStatus: 400, expectCode: "validation_failed", expectMessage: "must be an integer within 0..99"},
		{name: "nok, negative quantity", path: "/v1/cart/items/p-0001", body: `{"quantity":-1}`, expectStatus: 400, expectCode: "validation_failed"},
		{name: "nok, fractional quantity", path: "/v1/cart/items/p-0001", body: `{"quantity":1.5}`, expectStatus: 400, expectCode: "validation_failed", expectMessage: "body /quantity: must be an integer"},
		{name: "nok, quantity as a string", path: "/v1/cart/items/p-0001", body: `{"quantity":"2"}`, expectStatus: 400, expectCode: "validation_failed", expectMessage: "body /quantity: must be an integer"},
		{name: "nok, quantity missing", path: "/v1/cart/items/p-0001", body: `{}`, expectStatus: 400, expectCode: "validation_failed"},
		{name: "nok, unknown member", path: "/v1/cart/items/p-0001", body: `{"quantity":1,"userId":"u-001"}`, expectStatus: 400, expectCode: "validation_failed", expectMessage: "body /userId: is not a known member"},
		{name: "nok, not JSON", path: "/v1/cart/items/p-0001", body: `quantity=1`, expectStatus: 400, expectCode: "validation_failed", expectMessage: "body: is not valid JSON"},
		{name: "nok, two values", path: "/v1/cart/items/p-0001", body: `{"quantity":1}{"quantity":2}`, expectStatus: 400, expectCode: "validation_failed", expectMessage: "must hold a single JSON value"},
		{name: "nok, wrong media type", path: "/v1/cart/items/p-0001", body: `{"quantity":1}`, contentType: "text/plain", expectStatus: 415, expectCode: "unsupported_media_type"},
		{name: "nok, bad product id", path: "/v1/cart/items/p%20x", body: `{"quantity":1}`, expectStatus: 400, expectCode: "validation_failed", expectMessage: "path productId: must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			hdr := map[string]string{}
			if tt.contentType != "" {
				hdr["Content-Type"] = tt.contentType
			}
			r := s.call(t, request{method: http.MethodPut, path: tt.path, user: "u-004", body: tt.body, header: hdr})
			assert.Equal(t, tt.expectStatus, r.status, r.body)
			m := r.object(t)
			assert.Equal(t, tt.expectCode, m["error"])
			assert.Contains(t, m["detail"], tt.expectMessage)
		})
	}
	t.Cleanup(func() {
		assert.Zero(t, s.fakes.Requests(domain.ServiceCart), "bad input never reaches the cart service")
	})
}

func TestCartDegraded(t *testing.T) {
	t.Parallel()
	s := boot(t, storefront.Config{})
	require.NoError(t, s.fakes.SetFault(domain.ServiceCatalog, domain.Fault{ErrorRate: 1}))
	r := s.call(t, request{method: http.MethodGet, path: "/v1/cart", user: "u-001", header: map[string]string{"X-Request-Id": "cart-degraded-1"}})
	require.Equal(t, http.StatusOK, r.status, r.body)
	m := r.object(t)
	assert.Equal(t, []any{"catalog"}, m["degraded"])
	items := m["items"].([]any)
	require.NotEmpty(t, items)
	assert.Nil(t, items[0].(map[string]any)["name"])
	assert.Nil(t, items[0].(map[string]any)["thumbnailUrl"])
	assert.NotNil(t, items[0].(map[string]any)["price"], "pricing still answered")
	assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
	assert.InDelta(t, 1, testutil.ToFloat64(s.degraded.WithLabelValues("/v1/cart", "catalog")), 0)

	entries := s.logs.FilterMessage("optional source failed").All()
	require.Len(t, entries, 1)
	assert.Equal(t, "catalog", entries[0].ContextMap()["source"])
	assert.Equal(t, "cart-degraded-1", entries[0].ContextMap()["requestId"])
	var sameRequest int
	for _, e := range s.logs.FilterLevelExact(zap.WarnLevel).All() {
		if e.ContextMap()["requestId"] == "cart-degraded-1" {
			sameRequest++
		}
	}
	assert.Equal(t, 1, sameRequest, "the failure is logged once, by the route, not again by the client")

	require.NoError(t, s.fakes.SetFault(domain.ServiceCart, domain.Fault{ErrorRate: 1}))
	r = s.call(t, request{method: http.MethodGet, path: "/v1/cart", user: "u-001"})
	assert.Equal(t, http.StatusBadGateway, r.status, "the cart is critical")
	assert.Equal(t, "upstream_unavailable", r.object(t)["error"])
}
