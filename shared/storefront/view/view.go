// Package view owns the shapes of the customer gateways' answers that more
// than one gateway serves: money, the cart and the order, and the lookups
// that fill them from the catalog and pricing services.
package view

import (
	"time"

	"github.com/shopfront/contracts/domain"
)

// Money is an amount in minor units of an ISO 4217 currency, the shape of
// money in every customer gateway answer.
type Money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// MoneyOf returns the price of a product as Money.
func MoneyOf(p domain.Price) Money { return Money{Amount: p.Amount, Currency: p.Currency} }

// Thumbnail returns the URL of the smallest image (by area, the first on a
// tie), or nil without images.
func Thumbnail(images []domain.Image) *string {
	if len(images) == 0 {
		return nil
	}
	best := 0
	for i, im := range images[1:] {
		if im.Width*im.Height < images[best].Width*images[best].Height {
			best = i + 1
		}
	}
	return &images[best].URL
}

// Lookup indexes the second-stage answers of an aggregate (catalog products
// and prices) by product id, so that a list is decorated in one pass. It
// only finds what the services said; it computes nothing.
type Lookup struct {
	products map[string]domain.Product
	prices   map[string]domain.Price
}

// NewLookup indexes products and prices; either may be empty when its
// source failed.
func NewLookup(products []domain.Product, prices []domain.Price) Lookup {
	l := Lookup{products: make(map[string]domain.Product, len(products)), prices: make(map[string]domain.Price, len(prices))}
	for _, p := range products {
		l.products[p.ID] = p
	}
	for _, p := range prices {
		l.prices[p.ProductID] = p
	}
	return l
}

// Product returns the catalog's product id, if the catalog said.
func (l Lookup) Product(id string) (domain.Product, bool) {
	p, ok := l.products[id]
	return p, ok
}

// Pricing returns the pricing service's price of product id, if it said.
func (l Lookup) Pricing(id string) (domain.Price, bool) {
	p, ok := l.prices[id]
	return p, ok
}

// Name returns the product's name, or nil when the catalog did not say.
func (l Lookup) Name(id string) *string {
	p, ok := l.products[id]
	if !ok {
		return nil
	}
	return &p.Name
}

// Thumbnail returns the product's thumbnail, or nil.
func (l Lookup) Thumbnail(id string) *string {
	p, ok := l.products[id]
	if !ok {
		return nil
	}
	return Thumbnail(p.Images)
}

// Price returns the product's price, or nil when pricing did not say.
func (l Lookup) Price(id string) *Money {
	p, ok := l.prices[id]
	if !ok {
		return nil
	}
	m := MoneyOf(p)
	return &m
}

// CartLine is one line of the cart with its product's name, thumbnail and
// unit price; those three are null when their source failed or did not know
// the product.
type CartLine struct {
	ProductID    string  `json:"productId"`
	Quantity     int     `json:"quantity"`
	Name         *string `json:"name"`
	ThumbnailURL *string `json:"thumbnailUrl"`
	Price        *Money  `json:"price"`
}

// Cart is GET /v1/cart and the answer of its changes.
type Cart struct {
	Items     []CartLine `json:"items"`
	UpdatedAt time.Time  `json:"updatedAt"`
	Degraded  []string   `json:"degraded"`
}

// Cart returns the cart with names, thumbnails and prices. Degraded is left
// for the caller, who knows which sources failed.
func (l Lookup) Cart(c domain.Cart) Cart {
	out := Cart{Items: make([]CartLine, 0, len(c.Items)), UpdatedAt: c.UpdatedAt}
	for _, it := range c.Items {
		out.Items = append(out.Items, CartLine{ProductID: it.ProductID, Quantity: it.Quantity,
			Name: l.Name(it.ProductID), ThumbnailURL: l.Thumbnail(it.ProductID), Price: l.Price(it.ProductID)})
	}
	return out
}

// Order is an order of the caller (GET /v1/orders/{id}, POST /v1/orders,
// and the orders of bff-web's account page).
type Order struct {
	ID        string      `json:"id"`
	Status    string      `json:"status"`
	Items     []OrderLine `json:"items"`
	Total     Money       `json:"total"`
	CreatedAt time.Time   `json:"createdAt"`
}

// OrderLine is one line of an order.
type OrderLine struct {
	ProductID string `json:"productId"`
	Quantity  int    `json:"quantity"`
	UnitPrice Money  `json:"unitPrice"`
}

// OrderOf returns the caller's view of an order: the internal user and
// partner ids stay behind.
func OrderOf(o domain.Order) Order {
	out := Order{ID: o.ID, Status: o.Status, CreatedAt: o.CreatedAt,
		Total: Money{Amount: o.TotalAmount, Currency: o.Currency}, Items: make([]OrderLine, 0, len(o.Items))}
	for _, it := range o.Items {
		out.Items = append(out.Items, OrderLine{ProductID: it.ProductID, Quantity: it.Quantity,
			UnitPrice: Money{Amount: it.UnitAmount, Currency: o.Currency}})
	}
	return out
}
