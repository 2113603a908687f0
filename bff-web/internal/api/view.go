package api

import (
	"time"

	"github.com/shopfront/contracts/domain"
)

// The web payloads. Web pages are richer than mobile screens (SPEC §6):
// every image and the whole description. Mapping only shapes data; prices,
// stock and ratings are the domain services' answers as they are.

// Money is an amount in minor units of an ISO 4217 currency.
type Money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// Price is a product's price and its list price before any reduction.
type Price struct {
	Amount     int64  `json:"amount"`
	ListAmount int64  `json:"listAmount"`
	Currency   string `json:"currency"`
}

// Availability is the inventory's stock of a product.
type Availability struct {
	Status    domain.StockStatus `json:"status"`
	Available int                `json:"available"`
}

// Card is a product in a list. Fields from an optional source are null when
// it failed or did not know the product.
type Card struct {
	ProductID    string              `json:"productId"`
	Name         *string             `json:"name"`
	Brand        *string             `json:"brand,omitempty"`
	Category     *string             `json:"category,omitempty"`
	ImageURL     *string             `json:"imageUrl"`
	Price        *Price              `json:"price"`
	Availability *domain.StockStatus `json:"availability,omitempty"`
}

// Catalog is GET /v1/catalog.
type Catalog struct {
	Items    []Card   `json:"items"`
	Page     int      `json:"page"`
	PageSize int      `json:"pageSize"`
	Total    int      `json:"total"`
	Degraded []string `json:"degraded"`
}

// Product is the full product of the product page.
type Product struct {
	ID          string         `json:"id"`
	SKU         string         `json:"sku"`
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Brand       string         `json:"brand"`
	Category    string         `json:"category"`
	Images      []domain.Image `json:"images"`
	UpdatedAt   time.Time      `json:"updatedAt"`
}

// Rating is the reviews' summary of a product.
type Rating struct {
	Average float64 `json:"average"`
	Count   int     `json:"count"`
}

// Reviews is the first page of a product's reviews with their summary.
type Reviews struct {
	Rating Rating          `json:"rating"`
	Page   int             `json:"page"`
	Items  []domain.Review `json:"items"`
}

// ProductPage is GET /v1/pages/product/{id}.
type ProductPage struct {
	Product      Product       `json:"product"`
	Price        *Price        `json:"price"`
	Availability *Availability `json:"availability"`
	Reviews      *Reviews      `json:"reviews"`
	Similar      []Card        `json:"similar"`
	Degraded     []string      `json:"degraded"`
}

// User is the signed-in user.
type User struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	Tier      string    `json:"tier"`
	CreatedAt time.Time `json:"createdAt"`
}

// Order is an order of the caller.
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

// AccountPage is GET /v1/pages/account.
type AccountPage struct {
	User                User     `json:"user"`
	Orders              []Order  `json:"orders"`
	Balance             *Money   `json:"balance"`
	UnreadNotifications *int     `json:"unreadNotifications"`
	Degraded            []string `json:"degraded"`
}

// CartLine is one line of the cart with its product's name and price.
type CartLine struct {
	ProductID string  `json:"productId"`
	Quantity  int     `json:"quantity"`
	Name      *string `json:"name"`
	ImageURL  *string `json:"imageUrl"`
	Price     *Money  `json:"price"`
}

// Cart is GET /v1/cart and the answer of its changes.
type Cart struct {
	Items     []CartLine `json:"items"`
	UpdatedAt time.Time  `json:"updatedAt"`
	Degraded  []string   `json:"degraded"`
}

func userOf(u domain.User) User {
	return User{ID: u.ID, Name: u.Name, Email: u.Email, Tier: u.Tier, CreatedAt: u.CreatedAt}
}

func productOf(p domain.Product) Product {
	images := p.Images
	if images == nil {
		images = []domain.Image{}
	}
	return Product{ID: p.ID, SKU: p.SKU, Name: p.Name, Description: p.Description, Brand: p.Brand,
		Category: p.Category, Images: images, UpdatedAt: p.UpdatedAt}
}

func priceOf(p domain.Price) *Price {
	return &Price{Amount: p.Amount, ListAmount: p.ListAmount, Currency: p.Currency}
}

func orderOf(o domain.Order) Order {
	out := Order{ID: o.ID, Status: o.Status, CreatedAt: o.CreatedAt,
		Total: Money{Amount: o.TotalAmount, Currency: o.Currency}, Items: make([]OrderLine, 0, len(o.Items))}
	for _, it := range o.Items {
		out.Items = append(out.Items, OrderLine{ProductID: it.ProductID, Quantity: it.Quantity,
			UnitPrice: Money{Amount: it.UnitAmount, Currency: o.Currency}})
	}
	return out
}

// image returns the first image's URL, the one a list shows, or nil.
func image(images []domain.Image) *string {
	if len(images) == 0 {
		return nil
	}
	return &images[0].URL
}

// lookup indexes second-stage answers by product id.
type lookup struct {
	products map[string]domain.Product
	prices   map[string]domain.Price
	stock    map[string]domain.StockStatus
}

func newLookup(products []domain.Product, prices []domain.Price, stock map[string]domain.StockStatus) lookup {
	l := lookup{products: make(map[string]domain.Product, len(products)), prices: make(map[string]domain.Price, len(prices)), stock: stock}
	for _, p := range products {
		l.products[p.ID] = p
	}
	for _, p := range prices {
		l.prices[p.ProductID] = p
	}
	return l
}

func (l lookup) card(id string, full bool) Card {
	c := Card{ProductID: id}
	if p, ok := l.products[id]; ok {
		c.Name, c.ImageURL = &p.Name, image(p.Images)
		if full {
			c.Brand, c.Category = &p.Brand, &p.Category
		}
	}
	if p, ok := l.prices[id]; ok {
		c.Price = priceOf(p)
	}
	if s, ok := l.stock[id]; ok {
		c.Availability = &s
	}
	return c
}

func (l lookup) cart(c domain.Cart) Cart {
	out := Cart{Items: make([]CartLine, 0, len(c.Items)), UpdatedAt: c.UpdatedAt}
	for _, it := range c.Items {
		line := CartLine{ProductID: it.ProductID, Quantity: it.Quantity}
		if p, ok := l.products[it.ProductID]; ok {
			line.Name, line.ImageURL = &p.Name, image(p.Images)
		}
		if p, ok := l.prices[it.ProductID]; ok {
			line.Price = &Money{Amount: p.Amount, Currency: p.Currency}
		}
		out.Items = append(out.Items, line)
	}
	return out
}
