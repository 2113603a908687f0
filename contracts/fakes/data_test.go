package fakes_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/contracts/fakes"
	"github.com/shopfront/contracts/fakes/fakestest"
)

// allProducts pages through the catalog.
func allProducts(t *testing.T, base string) []domain.Product {
	t.Helper()
	var out []domain.Product
	for page := 1; ; page++ {
		var p domain.ProductPage
		resp := do(t, "GET", fmt.Sprintf("%s/catalog/products?page=%d&pageSize=100", base, page), "", nil, &p)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		out = append(out, p.Items...)
		if len(p.Items) < 100 {
			require.Equal(t, len(out), p.Total)
			return out
		}
	}
}

func TestDataSet(t *testing.T) {
	t.Parallel()
	_, base := fakestest.Start(t)
	products := allProducts(t, base)
	require.GreaterOrEqual(t, len(products), 200)

	categories, longDesc, noReviews, statuses := map[string]int{}, 0, 0, map[domain.StockStatus]int{}
	for i, p := range products {
		assert.Equal(t, fmt.Sprintf("p-%04d", i+1), p.ID)
		assert.NotEmpty(t, p.Name)
		assert.NotEmpty(t, p.SKU)
		assert.GreaterOrEqual(t, len(p.Images), 1, p.ID)
		assert.LessOrEqual(t, len(p.Images), 4, p.ID)
		categories[p.Category]++
		if len(p.Description) > 280 {
			longDesc++
		}
	}
	assert.GreaterOrEqual(t, len(categories), 6)
	assert.Greater(t, longDesc, len(products)/2, "most descriptions are longer than 280 characters")

	ids := ""
	for _, p := range products {
		ids += p.ID + ","
		var s domain.Stock
		require.Equal(t, http.StatusOK, do(t, "GET", base+"/inventory/stock/"+p.ID, "", nil, &s).StatusCode)
		statuses[s.Status]++
		var rv domain.ReviewPage
		require.Equal(t, http.StatusOK, do(t, "GET", base+"/reviews/products/"+p.ID+"/reviews", "", nil, &rv).StatusCode)
		if rv.Count == 0 {
			noReviews++
		} else {
			assert.InDelta(t, 3, rv.AverageRating, 2)
		}
	}
	assert.Len(t, statuses, 3, "all three stock statuses occur: %v", statuses)
	assert.Positive(t, noReviews)
	assert.Less(t, noReviews, len(products)/2, "most products have reviews")

	var prices domain.PriceList
	do(t, "GET", base+"/pricing/prices?ids="+ids, "", nil, &prices)
	require.Len(t, prices.Items, len(products))
	for _, p := range prices.Items {
		assert.Equal(t, "USD", p.Currency)
		assert.Positive(t, p.Amount)
		assert.GreaterOrEqual(t, p.ListAmount, p.Amount, p.ProductID)
	}

	for i := 1; i <= 20; i++ {
		id := fmt.Sprintf("u-%03d", i)
		var u domain.User
		require.Equal(t, http.StatusOK, do(t, "GET", base+"/users/users/"+id, "", nil, &u).StatusCode)
		assert.NotEmpty(t, u.Tier)
		assert.NotEmpty(t, u.TenantID)
		var orders domain.OrderList
		do(t, "GET", base+"/orders/users/"+id+"/orders", "", nil, &orders)
		assert.GreaterOrEqual(t, len(orders.Items), 3, id)
		for j := 1; j < len(orders.Items); j++ {
			assert.True(t, orders.Items[j-1].CreatedAt.After(orders.Items[j].CreatedAt), "newest first")
		}
		assert.Equal(t, http.StatusOK, do(t, "GET", base+"/cart/carts/"+id, "", nil, nil).StatusCode)
		assert.Equal(t, http.StatusOK, do(t, "GET", base+"/payments/users/"+id+"/balance", "", nil, nil).StatusCode)
		assert.Equal(t, http.StatusOK, do(t, "GET", base+"/notifications/users/"+id+"/unread-count", "", nil, nil).StatusCode)
	}
	assert.Equal(t, http.StatusNotFound, do(t, "GET", base+"/users/users/u-021", "", nil, nil).StatusCode)
}

func TestDeterministic(t *testing.T) {
	t.Parallel()
	_, a := fakestest.Start(t)
	_, b := fakestest.Start(t)
	_, c := fakestest.StartWith(t, fakes.Options{Seed: 7})
	pa, pb, pc := allProducts(t, a), allProducts(t, b), allProducts(t, c)
	assert.Equal(t, pa, pb, "equal seeds give equal data")
	assert.NotEqual(t, pa, pc, "another seed gives other data")
}

func TestSearch(t *testing.T) {
	t.Parallel()
	_, base := fakestest.Start(t)
	tests := []struct {
		name   string
		query  string
		expect func(t *testing.T, p domain.ProductPage)
	}{
		{name: "ok, category", query: "category=books&pageSize=5", expect: func(t *testing.T, p domain.ProductPage) {
			assert.Len(t, p.Items, 5)
			assert.Equal(t, 5, p.PageSize)
			assert.Equal(t, 30, p.Total)
			for _, it := range p.Items {
				assert.Equal(t, "books", it.Category)
			}
		}},
		{name: "ok, text matches name", query: "q=LAMP", expect: func(t *testing.T, p domain.ProductPage) {
			require.NotEmpty(t, p.Items)
			for _, it := range p.Items {
				assert.Contains(t, it.Name, "Lamp")
			}
		}},
		{name: "ok, second page", query: "category=books&page=2&pageSize=20", expect: func(t *testing.T, p domain.ProductPage) {
			assert.Len(t, p.Items, 10)
			assert.Equal(t, 2, p.Page)
		}},
		{name: "ok, nothing", query: "q=zeppelin", expect: func(t *testing.T, p domain.ProductPage) {
			assert.Empty(t, p.Items)
			assert.NotNil(t, p.Items)
			assert.Zero(t, p.Total)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var p domain.ProductPage
			require.Equal(t, http.StatusOK, do(t, "GET", base+"/catalog/products?"+tt.query, "", nil, &p).StatusCode)
			tt.expect(t, p)
		})
	}
}

func TestStoreStock(t *testing.T) {
	t.Parallel()
	_, base := fakestest.Start(t)
	tests := []struct {
		name   string
		query  string
		status int
		stores []string
	}{
		{name: "ok, default radius 25 km", query: "lat=37.7749&lon=-122.4194", status: 200, stores: []string{"s-02", "s-01", "s-03", "s-04"}},
		{name: "ok, small radius", query: "lat=37.7749&lon=-122.4194&radiusKm=3", status: 200, stores: []string{"s-02", "s-01"}},
		{name: "ok, nothing near", query: "lat=0&lon=0&radiusKm=500", status: 200, stores: []string{}},
		{name: "nok, lat out of range", query: "lat=91&lon=0", status: 400},
		{name: "nok, lon missing", query: "lat=1", status: 400},
		{name: "nok, radius not a number", query: "lat=1&lon=1&radiusKm=far", status: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var list domain.StoreStockList
			resp := do(t, "GET", base+"/inventory/stock/p-0001/stores?"+tt.query, "", nil, &list)
			require.Equal(t, tt.status, resp.StatusCode)
			if tt.status != 200 {
				return
			}
			got := []string{}
			for i, s := range list.Items {
				got = append(got, s.StoreID)
				if i > 0 {
					assert.GreaterOrEqual(t, s.DistanceKm, list.Items[i-1].DistanceKm, "nearest first")
				}
			}
			assert.Equal(t, tt.stores, got)
		})
	}
}
