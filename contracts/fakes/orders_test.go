package fakes_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/contracts/fakes"
	"github.com/shopfront/contracts/fakes/fakestest"
)

func TestCreateOrder(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	_, base := fakestest.StartWith(t, fakes.Options{Clock: func() time.Time { return now }})

	var p1, p2 domain.Price
	do(t, "GET", base+"/pricing/prices/p-0001", "", nil, &p1)
	do(t, "GET", base+"/pricing/prices/p-0002", "", nil, &p2)
	var o domain.Order
	resp := do(t, "POST", base+"/orders/orders",
		`{"userId":"u-003","items":[{"productId":"p-0001","quantity":2},{"productId":"p-0002","quantity":1}],"currency":"USD"}`, nil, &o)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	assert.Equal(t, "u-003", o.UserID)
	assert.Empty(t, o.PartnerID)
	assert.Equal(t, "pending", o.Status)
	assert.Equal(t, now, o.CreatedAt)
	require.Len(t, o.Items, 2)
	assert.Equal(t, p1.Amount, o.Items[0].UnitAmount, "unit price comes from pricing")
	assert.Equal(t, 2*p1.Amount+p2.Amount, o.TotalAmount)

	var got domain.Order
	require.Equal(t, http.StatusOK, do(t, "GET", base+"/orders/orders/"+o.ID, "", nil, &got).StatusCode)
	assert.Equal(t, o, got)
	var list domain.OrderList
	do(t, "GET", base+"/orders/users/u-003/orders?limit=1", "", nil, &list)
	require.Len(t, list.Items, 1)
	assert.Equal(t, o.ID, list.Items[0].ID, "the new order is the newest")

	var eur domain.Order
	do(t, "POST", base+"/orders/orders", `{"partnerId":"acme","items":[{"productId":"p-0001","quantity":1}],"currency":"EUR"}`, nil, &eur)
	assert.Equal(t, "acme", eur.PartnerID)
	assert.Less(t, eur.TotalAmount, p1.Amount, "EUR amounts are converted")
}

func TestCreateOrderValidation(t *testing.T) {
	t.Parallel()
	_, base := fakestest.Start(t)
	tests := []struct {
		name string
		body string
	}{
		{name: "nok, no owner", body: `{"items":[{"productId":"p-0001","quantity":1}],"currency":"USD"}`},
		{name: "nok, both owners", body: `{"userId":"u-001","partnerId":"acme","items":[{"productId":"p-0001","quantity":1}],"currency":"USD"}`},
		{name: "nok, unknown user", body: `{"userId":"u-404","items":[{"productId":"p-0001","quantity":1}],"currency":"USD"}`},
		{name: "nok, unknown product", body: `{"userId":"u-001","items":[{"productId":"p-9999","quantity":1}],"currency":"USD"}`},
		{name: "nok, zero quantity", body: `{"userId":"u-001","items":[{"productId":"p-0001","quantity":0}],"currency":"USD"}`},
		{name: "nok, no items", body: `{"userId":"u-001","items":[],"currency":"USD"}`},
		{name: "nok, unknown currency", body: `{"userId":"u-001","items":[{"productId":"p-0001","quantity":1}],"currency":"XXX"}`},
		{name: "nok, unknown field", body: `{"userId":"u-001","items":[{"productId":"p-0001","quantity":1}],"currency":"USD","coupon":"FREE"}`},
		{name: "nok, wrong type", body: `{"userId":"u-001","items":[{"productId":"p-0001","quantity":"1"}],"currency":"USD"}`},
		{name: "nok, not JSON", body: `userId=u-001`},
	}
	// The group returns once its parallel cases are done.
	t.Run("cases", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				var p problem
				resp := do(t, "POST", base+"/orders/orders", tt.body, nil, &p)
				assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
				assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
				assert.Equal(t, "validation_failed", p.Code)
			})
		}
	})
	var list domain.OrderList
	do(t, "GET", base+"/orders/users/u-001/orders?limit=100", "", nil, &list)
	for _, o := range list.Items {
		assert.NotEqual(t, "pending", o.Status, "no order from a bad request")
	}
}

func TestCreateOrderIdempotency(t *testing.T) {
	t.Parallel()
	_, base := fakestest.Start(t)
	body := `{"userId":"u-006","items":[{"productId":"p-0003","quantity":1}],"currency":"USD"}`
	key := map[string]string{"Idempotency-Key": "k-123"}
	count := func() int {
		var list domain.OrderList
		do(t, "GET", base+"/orders/users/u-006/orders?limit=100", "", nil, &list)
		return len(list.Items)
	}
	before := count()

	// Concurrent first attempts still make one order.
	const n = 8
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var o domain.Order
			resp := do(t, "POST", base+"/orders/orders", body, key, &o)
			assert.Equal(t, http.StatusCreated, resp.StatusCode)
			ids[i] = o.ID
		})
	}
	wg.Wait()
	for _, id := range ids {
		assert.Equal(t, ids[0], id, "same key, same order")
	}
	assert.Equal(t, before+1, count(), "one order for one key")

	var replay domain.Order
	resp := do(t, "POST", base+"/orders/orders", body, key, &replay)
	assert.Equal(t, "true", resp.Header.Get("Idempotent-Replayed"))
	assert.Equal(t, ids[0], replay.ID)

	var p problem
	resp = do(t, "POST", base+"/orders/orders", `{"userId":"u-006","items":[{"productId":"p-0004","quantity":1}],"currency":"USD"}`, key, &p)
	assert.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	assert.Equal(t, "idempotency_key_reused", p.Code)

	var other domain.Order
	do(t, "POST", base+"/orders/orders", body, map[string]string{"Idempotency-Key": "k-456"}, &other)
	assert.NotEqual(t, ids[0], other.ID, "another key, another order")
	var unkeyed domain.Order
	do(t, "POST", base+"/orders/orders", body, nil, &unkeyed)
	assert.NotEqual(t, other.ID, unkeyed.ID, "no key, a new order each time")
	assert.Equal(t, before+3, count())
}

func TestCart(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	_, base := fakestest.StartWith(t, fakes.Options{Clock: func() time.Time { return now }})
	cart := base + "/cart/carts/u-007"
	quantity := func(c domain.Cart, pid string) int {
		for _, it := range c.Items {
			if it.ProductID == pid {
				return it.Quantity
			}
		}
		return 0
	}
	var c domain.Cart
	require.Equal(t, http.StatusOK, do(t, "GET", cart, "", nil, &c).StatusCode)
	lines := len(c.Items)

	require.Equal(t, http.StatusOK, do(t, "PUT", cart+"/items/p-0200", `{"quantity":3}`, nil, &c).StatusCode)
	assert.Equal(t, 3, quantity(c, "p-0200"))
	assert.Len(t, c.Items, lines+1)
	assert.Equal(t, now, c.UpdatedAt)

	do(t, "PUT", cart+"/items/p-0200", `{"quantity":5}`, nil, &c)
	assert.Equal(t, 5, quantity(c, "p-0200"), "PUT sets, it does not add")
	assert.Len(t, c.Items, lines+1)

	resp := do(t, "PUT", cart+"/items/p-0200", `{"quantity":-2}`, nil, nil)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	do(t, "GET", cart, "", nil, &c)
	assert.Equal(t, 5, quantity(c, "p-0200"), "a bad request changes nothing")

	do(t, "PUT", cart+"/items/p-0200", `{"quantity":0}`, nil, &c)
	assert.Zero(t, quantity(c, "p-0200"), "quantity 0 removes")
	assert.Len(t, c.Items, lines)

	do(t, "PUT", cart+"/items/p-0201", `{"quantity":1}`, nil, &c)
	require.Equal(t, http.StatusOK, do(t, "DELETE", cart+"/items/p-0201", "", nil, &c).StatusCode)
	assert.Zero(t, quantity(c, "p-0201"))
	require.Equal(t, http.StatusOK, do(t, "DELETE", cart+"/items/p-0201", "", nil, &c).StatusCode, "deleting twice is fine")
	assert.Len(t, c.Items, lines)

	assert.Equal(t, http.StatusNotFound, do(t, "PUT", cart+"/items/p-9999", `{"quantity":1}`, nil, nil).StatusCode)
	assert.Equal(t, http.StatusNotFound, do(t, "PUT", base+"/cart/carts/u-404/items/p-0001", `{"quantity":1}`, nil, nil).StatusCode)
}
