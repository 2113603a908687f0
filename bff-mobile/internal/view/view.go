// Package view holds bff-mobile's screen payloads and the mapping from the
// domain services' payloads to them. Mobile payloads are compact:
// one thumbnail instead of an image list, descriptions cut to 280 characters,
// money as {amount, currency}. The cart and order payloads, the product
// lookup and Money are shared/storefront's, as bff-web serves them too.
// Mapping only shapes data; it never computes prices, stock or anything else
// a domain service owns.
package view

import (
	"slices"
	"time"

	"github.com/shopfront/contracts/domain"
	storeview "github.com/shopfront/shared/storefront/view"
)

// MaxText is the longest description or review body sent to the app, in
// characters (runes), so that screens stay compact.
const MaxText = 280

// User is the signed-in user as the home screen shows it.
type User struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Tier string `json:"tier"`
}

// Card is a product in a list. Name, ThumbnailURL and Price are null when
// their source (catalog or pricing) failed or did not know the product.
type Card struct {
	ProductID    string           `json:"productId"`
	Name         *string          `json:"name"`
	ThumbnailURL *string          `json:"thumbnailUrl"`
	Price        *storeview.Money `json:"price"`
}

// OrderSummary is an order on the home screen.
type OrderSummary struct {
	ID        string             `json:"id"`
	Status    string             `json:"status"`
	CreatedAt time.Time          `json:"createdAt"`
	Total     storeview.Money    `json:"total"`
	Items     []OrderSummaryItem `json:"items"`
}

// OrderSummaryItem is a line of an order on the home screen.
type OrderSummaryItem struct {
	ProductID    string  `json:"productId"`
	Quantity     int     `json:"quantity"`
	Name         *string `json:"name"`
	ThumbnailURL *string `json:"thumbnailUrl"`
}

// Home is GET /v1/home.
type Home struct {
	User                User             `json:"user"`
	RecentOrders        []OrderSummary   `json:"recentOrders"`
	Recommendations     []Card           `json:"recommendations"`
	UnreadNotifications *int             `json:"unreadNotifications"`
	Balance             *storeview.Money `json:"balance"`
	Degraded            []string         `json:"degraded"`
}

// Product is the compact product of the product screen.
type Product struct {
	ID           string  `json:"id"`
	SKU          string  `json:"sku"`
	Name         string  `json:"name"`
	Description  string  `json:"description"`
	Brand        string  `json:"brand"`
	Category     string  `json:"category"`
	ThumbnailURL *string `json:"thumbnailUrl"`
}

// Availability is the inventory's stock of a product.
type Availability struct {
	Status    domain.StockStatus `json:"status"`
	Available int                `json:"available"`
}

// Rating is the reviews' summary of a product.
type Rating struct {
	Average float64 `json:"average"`
	Count   int     `json:"count"`
}

// Review is one review, its body cut to MaxText.
type Review struct {
	ID        string    `json:"id"`
	Author    string    `json:"author"`
	Rating    int       `json:"rating"`
	Title     string    `json:"title"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"createdAt"`
}

// Store is a store near the caller with the product in stock.
type Store struct {
	StoreID    string  `json:"storeId"`
	Name       string  `json:"name"`
	DistanceKm float64 `json:"distanceKm"`
	Available  int     `json:"available"`
}

// ProductScreen is GET /v1/products/{id}. NearbyStores is left out unless
// the caller sent lat and lon.
type ProductScreen struct {
	Product      Product          `json:"product"`
	Price        *storeview.Money `json:"price"`
	Availability *Availability    `json:"availability"`
	Rating       *Rating          `json:"rating"`
	TopReviews   []Review         `json:"topReviews"`
	Similar      []Card           `json:"similar"`
	NearbyStores *[]Store         `json:"nearbyStores,omitempty"`
	Degraded     []string         `json:"degraded"`
}

// SearchPage is GET /v1/search.
type SearchPage struct {
	Items    []Card   `json:"items"`
	Page     int      `json:"page"`
	Total    int      `json:"total"`
	Degraded []string `json:"degraded"`
}

// Cut returns s cut to at most n runes, never splitting a UTF-8 sequence.
func Cut(s string, n int) string {
	if len(s) <= n {
		// n runes need at least n bytes; a shorter string fits.
		return s
	}
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos]
		}
		i++
	}
	return s
}

// Compact returns the mobile product of p.
func Compact(p domain.Product) Product {
	return Product{
		ID: p.ID, SKU: p.SKU, Name: p.Name, Description: Cut(p.Description, MaxText),
		Brand: p.Brand, Category: p.Category, ThumbnailURL: storeview.Thumbnail(p.Images),
	}
}

// Lookup is the product lookup of shared/storefront with the mobile lists
// it fills.
type Lookup struct{ storeview.Lookup }

// NewLookup indexes products and prices; either may be empty when its
// source failed.
func NewLookup(products []domain.Product, prices []domain.Price) Lookup {
	return Lookup{storeview.NewLookup(products, prices)}
}

// Card returns the card of product id.
func (l Lookup) Card(id string) Card {
	return Card{ProductID: id, Name: l.Name(id), ThumbnailURL: l.Thumbnail(id), Price: l.Price(id)}
}

// Cards returns the cards of ids, in order.
func (l Lookup) Cards(ids []string) []Card {
	out := make([]Card, 0, len(ids))
	for _, id := range ids {
		out = append(out, l.Card(id))
	}
	return out
}

// OrderSummaries returns the home screen's orders with item names and
// thumbnails.
func (l Lookup) OrderSummaries(orders []domain.Order) []OrderSummary {
	out := make([]OrderSummary, 0, len(orders))
	for _, o := range orders {
		s := OrderSummary{ID: o.ID, Status: o.Status, CreatedAt: o.CreatedAt,
			Total: storeview.Money{Amount: o.TotalAmount, Currency: o.Currency}, Items: make([]OrderSummaryItem, 0, len(o.Items))}
		for _, it := range o.Items {
			s.Items = append(s.Items, OrderSummaryItem{ProductID: it.ProductID, Quantity: it.Quantity,
				Name: l.Name(it.ProductID), ThumbnailURL: l.Thumbnail(it.ProductID)})
		}
		out = append(out, s)
	}
	return out
}

// Reviews returns the first n reviews in the order the reviews service gave
// them, bodies cut to MaxText.
func Reviews(rs []domain.Review, n int) []Review {
	rs = rs[:min(n, len(rs))]
	out := make([]Review, 0, len(rs))
	for _, r := range rs {
		out = append(out, Review{ID: r.ID, Author: r.Author, Rating: r.Rating, Title: r.Title,
			Body: Cut(r.Body, MaxText), CreatedAt: r.CreatedAt})
	}
	return out
}

// Stores returns the nearby stores.
func Stores(ss []domain.StoreStock) []Store {
	out := make([]Store, 0, len(ss))
	for _, s := range ss {
		out = append(out, Store{StoreID: s.StoreID, Name: s.Name, DistanceKm: s.DistanceKm, Available: s.Available})
	}
	return out
}

// ProductIDs returns the distinct product ids of the lists, in first-seen
// order, for one second-stage call per service.
func ProductIDs(orders []domain.Order, recs []domain.Recommendation) []string {
	var ids []string
	add := func(id string) {
		if id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	for _, o := range orders {
		for _, it := range o.Items {
			add(it.ProductID)
		}
	}
	for _, r := range recs {
		add(r.ProductID)
	}
	return ids
}

// RecommendedIDs returns the product ids of recommendations, at most n.
func RecommendedIDs(recs []domain.Recommendation, n int) []string {
	recs = recs[:min(n, len(recs))]
	ids := make([]string, 0, len(recs))
	for _, r := range recs {
		ids = append(ids, r.ProductID)
	}
	return ids
}
