package view_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/shared/storefront/view"
)

func TestThumbnail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		given  []domain.Image
		expect string
	}{
		{name: "ok, smallest image", given: []domain.Image{{URL: "big", Width: 1200, Height: 1200}, {URL: "small", Width: 200, Height: 200}, {URL: "mid", Width: 600, Height: 600}}, expect: "small"},
		{name: "ok, first on a tie", given: []domain.Image{{URL: "a", Width: 100, Height: 100}, {URL: "b", Width: 100, Height: 100}}, expect: "a"},
		{name: "ok, no images", given: nil, expect: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := view.Thumbnail(tt.given)
			if tt.expect == "" {
				assert.Nil(t, got)
				return
			}
			require.NotNil(t, got)
			assert.Equal(t, tt.expect, *got)
		})
	}
}

func TestLookup(t *testing.T) {
	t.Parallel()
	l := view.NewLookup(
		[]domain.Product{{ID: "p1", Name: "One", Brand: "B", Images: []domain.Image{{URL: "u1", Width: 1, Height: 1}}}},
		[]domain.Price{{ProductID: "p1", Currency: "USD", Amount: 1999, ListAmount: 2499}},
	)
	assert.Equal(t, "One", *l.Name("p1"))
	assert.Equal(t, "u1", *l.Thumbnail("p1"))
	assert.Equal(t, view.Money{Amount: 1999, Currency: "USD"}, *l.Price("p1"))
	p, ok := l.Product("p1")
	assert.True(t, ok)
	assert.Equal(t, "B", p.Brand)
	pr, ok := l.Pricing("p1")
	assert.True(t, ok)
	assert.EqualValues(t, 2499, pr.ListAmount)

	assert.Nil(t, l.Name("p2"), "an unknown product has no name")
	assert.Nil(t, l.Thumbnail("p2"))
	assert.Nil(t, l.Price("p2"))
	_, ok = l.Product("p2")
	assert.False(t, ok)
	_, ok = l.Pricing("p2")
	assert.False(t, ok)
}

func TestLookupCart(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l := view.NewLookup([]domain.Product{{ID: "p1", Name: "One"}}, nil)
	got := l.Cart(domain.Cart{UserID: "u1", UpdatedAt: at, Items: []domain.CartItem{{ProductID: "p1", Quantity: 2}, {ProductID: "p2", Quantity: 1}}})
	require.Len(t, got.Items, 2)
	assert.Equal(t, at, got.UpdatedAt)
	assert.Equal(t, "One", *got.Items[0].Name)
	assert.Nil(t, got.Items[0].Price, "pricing did not answer")
	assert.Equal(t, view.CartLine{ProductID: "p2", Quantity: 1}, got.Items[1], "an unknown product keeps its id and quantity")
	assert.NotNil(t, l.Cart(domain.Cart{}).Items, "an empty cart is an empty list, not null")
}

func TestOrderOf(t *testing.T) {
	t.Parallel()
	got := view.OrderOf(domain.Order{ID: "o1", UserID: "u1", Status: "placed", Currency: "USD", TotalAmount: 300,
		Items: []domain.OrderItem{{ProductID: "p1", Quantity: 3, UnitAmount: 100}}})
	assert.Equal(t, view.Money{Amount: 300, Currency: "USD"}, got.Total)
	assert.Equal(t, []view.OrderLine{{ProductID: "p1", Quantity: 3, UnitPrice: view.Money{Amount: 100, Currency: "USD"}}}, got.Items)
}
