package api

import (
	"time"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/shared/storefront/view"
)

// The web payloads. Web pages are richer than mobile screens:
// every image and the whole description. The cart and order payloads and
// Money are shared/storefront's, as bff-mobile serves them too. Mapping only
// shapes data; prices, stock and ratings are the domain services' answers as
// they are.

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
	Price        *view.Money         `json:"price"`
	ListPrice    *view.Money         `json:"listPrice"`
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
	Price        *view.Money   `json:"price"`
	ListPrice    *view.Money   `json:"listPrice"`
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

// AccountPage is GET /v1/pages/account.
type AccountPage struct {
	User                User         `json:"user"`
	Orders              []view.Order `json:"orders"`
	Balance             *view.Money  `json:"balance"`
	UnreadNotifications *int         `json:"unreadNotifications"`
	Degraded            []string     `json:"degraded"`
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

// pricesOf returns a product's price and its list price before any
// reduction, each a money object of its own; the list price is nil when
// the pricing service gives none.
func pricesOf(p domain.Price) (price, list *view.Money) {
	m := view.MoneyOf(p)
	if p.ListAmount == 0 {
		return &m, nil
	}
	return &m, &view.Money{Amount: p.ListAmount, Currency: p.Currency}
}

// image returns the first image's URL, the one a list shows, or nil.
func image(images []domain.Image) *string {
	if len(images) == 0 {
		return nil
	}
	return &images[0].URL
}

// lookup is the product lookup of shared/storefront with the stock of the
// catalog page's products.
type lookup struct {
	view.Lookup
	stock map[string]domain.StockStatus
}

func newLookup(products []domain.Product, prices []domain.Price, stock map[string]domain.StockStatus) lookup {
	return lookup{Lookup: view.NewLookup(products, prices), stock: stock}
}

// card is product id in a list: its name, first image and price, and with
// full its brand, category and availability.
func (l lookup) card(id string, full bool) Card {
	c := Card{ProductID: id}
	if p, ok := l.Product(id); ok {
		c.Name, c.ImageURL = &p.Name, image(p.Images)
		if full {
			c.Brand, c.Category = &p.Brand, &p.Category
		}
	}
	if p, ok := l.Pricing(id); ok {
		c.Price, c.ListPrice = pricesOf(p)
	}
	if s, ok := l.stock[id]; ok {
		c.Availability = &s
	}
	return c
}
