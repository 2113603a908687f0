package storefront_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/shared/storefront"
)

const oneLine = `{"items":[{"productId":"p-0010","quantity":2}],"currency":"USD"}`

func TestCreateOrder(t *testing.T) {
	t.Parallel()
	s := boot(t, storefront.Config{})
	key := map[string]string{"Idempotency-Key": "key-123"}

	r := s.call(t, request{method: http.MethodPost, path: "/v1/orders", user: "u-005", body: oneLine, header: key})
	require.Equal(t, http.StatusCreated, r.status, r.body)
	o := r.object(t)
	id := o["id"].(string)
	assert.Equal(t, "/v1/orders/"+id, r.header.Get("Location"))
	up := s.fakes.LastHeaders(domain.ServiceOrders)
	assert.Equal(t, "key-123", up.Get("Idempotency-Key"), "the key is forwarded")
	assert.Equal(t, "u-005", up.Get("X-User-Id"), "the order is the token's user's")
	assert.Empty(t, up.Get("Authorization"), "the token is never forwarded")
	assert.NotContains(t, r.body, "userId", "internal ids stay behind")
	line := o["items"].([]any)[0].(map[string]any)
	assert.Equal(t, "p-0010", line["productId"])
	assert.Equal(t, "USD", line["unitPrice"].(map[string]any)["currency"])

	again := s.call(t, request{method: http.MethodPost, path: "/v1/orders", user: "u-005", body: oneLine, header: key})
	require.Equal(t, http.StatusCreated, again.status, again.body)
	assert.Equal(t, id, again.object(t)["id"], "a retry with the same key returns the first order")

	got := s.call(t, request{method: http.MethodGet, path: "/v1/orders/" + id, user: "u-005"})
	require.Equal(t, http.StatusOK, got.status, got.body)
	assert.Equal(t, o, got.object(t), "the order reads back as it was created")
}

func TestCreateOrderValidation(t *testing.T) {
	t.Parallel()
	s := boot(t, storefront.Config{})
	tests := []struct {
		name       string
		body       string
		key        []string
		expectIn   string
		expectPath string
	}{
		{name: "nok, no items", body: `{"items":[],"currency":"USD"}`, expectIn: "body", expectPath: "/items"},
		{name: "nok, too many lines", body: `{"items":[` + strings.Repeat(`{"productId":"p-0001","quantity":1},`, 100) + `{"productId":"p-0001","quantity":1}],"currency":"USD"}`, expectIn: "body", expectPath: "/items"},
		{name: "nok, quantity zero", body: `{"items":[{"productId":"p-0001","quantity":0}],"currency":"USD"}`, expectIn: "body", expectPath: "/items/0/quantity"},
		{name: "nok, product id missing", body: `{"items":[{"quantity":1}],"currency":"USD"}`, expectIn: "body", expectPath: "/items/0/productId"},
		{name: "nok, currency lower case", body: `{"items":[{"productId":"p-0001","quantity":1}],"currency":"usd"}`, expectIn: "body", expectPath: "/currency"},
		{name: "nok, user id in the body", body: `{"userId":"u-001","items":[{"productId":"p-0001","quantity":1}],"currency":"USD"}`, expectIn: "body", expectPath: "/userId"},
		{name: "nok, quantity of the second line as a string", body: `{"items":[{"productId":"p-0001","quantity":1},{"productId":"p-0002","quantity":"2"}],"currency":"USD"}`, expectIn: "body", expectPath: "/items/1/quantity"},
		{name: "nok, unknown member of a line", body: `{"items":[{"productId":"p-0001","quantity":1,"price":1}],"currency":"USD"}`, expectIn: "body", expectPath: "/items/0/price"},
		{name: "nok, items not an array", body: `{"items":{},"currency":"USD"}`, expectIn: "body", expectPath: "/items"},
		{name: "nok, body not an object", body: `[1]`, expectIn: "body", expectPath: ""},
		{name: "nok, idempotency key with a space", body: oneLine, key: []string{"a b"}, expectIn: "header", expectPath: "Idempotency-Key"},
		{name: "nok, idempotency key too long", body: oneLine, key: []string{strings.Repeat("k", 256)}, expectIn: "header", expectPath: "Idempotency-Key"},
		{name: "nok, two idempotency keys", body: oneLine, key: []string{"k1", "k2"}, expectIn: "header", expectPath: "Idempotency-Key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := s.call(t, request{method: http.MethodPost, path: "/v1/orders", user: "u-006", body: tt.body,
				keys: tt.key})
			require.Equal(t, http.StatusBadRequest, r.status, r.body)
			m := r.object(t)
			assert.Equal(t, "validation_failed", m["error"])
			errs, ok := m["errors"].([]any)
			require.True(t, ok, "errors lists each problem: %v", m)
			require.NotEmpty(t, errs)
			require.Len(t, errs, 1, "one problem, one entry: %v", errs)
			assert.Equal(t, tt.expectIn, errs[0].(map[string]any)["in"])
			assert.Equal(t, tt.expectPath, errs[0].(map[string]any)["path"])
			assert.NotEmpty(t, errs[0].(map[string]any)["message"])
		})
	}
	t.Cleanup(func() { assert.Zero(t, s.fakes.Requests(domain.ServiceOrders), "bad input never reaches orders") })
}

func TestOrderOwnership(t *testing.T) {
	t.Parallel()
	s := boot(t, storefront.Config{})
	mine := s.call(t, request{method: http.MethodPost, path: "/v1/orders", user: "u-007", body: oneLine})
	require.Equal(t, http.StatusCreated, mine.status, mine.body)
	id := mine.object(t)["id"].(string)

	other := s.call(t, request{method: http.MethodGet, path: "/v1/orders/" + id, user: "u-008"})
	missing := s.call(t, request{method: http.MethodGet, path: "/v1/orders/o-99999", user: "u-008"})
	require.Equal(t, http.StatusNotFound, other.status, other.body)
	require.Equal(t, http.StatusNotFound, missing.status, missing.body)
	strip := func(m map[string]any) map[string]any {
		delete(m, "requestId")
		delete(m, "instance")
		return m
	}
	assert.Equal(t, strip(missing.object(t)), strip(other.object(t)), "someone else's order looks exactly like a missing one")
	assert.NotContains(t, other.body, "u-007")

	bad := s.call(t, request{method: http.MethodGet, path: "/v1/orders/o%2F1", user: "u-008"})
	// An id holding a separator once decoded would walk the upstream's
	// paths: no order has it.
	assert.Equal(t, http.StatusNotFound, bad.status, "a path id is checked before any call")
}
