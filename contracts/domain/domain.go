// Package domain holds the Go types of the domain services' payloads.
// The OpenAPI documents in contracts/openapi are the source of truth; these
// types mirror them field for field and are what the gateways decode into.
package domain

import "time"

// Image is one picture of a product.
type Image struct {
	URL    string `json:"url"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
}

// Product is the catalog's product.
type Product struct {
	ID          string    `json:"id"`
	SKU         string    `json:"sku"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Brand       string    `json:"brand"`
	Category    string    `json:"category"`
	Images      []Image   `json:"images"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// ProductList is the catalog's answer to GET /products?ids=...
type ProductList struct {
	Items []Product `json:"items"`
}

// ProductPage is the catalog's answer to a search, GET /products?q=&category=&page=&pageSize=.
type ProductPage struct {
	Items    []Product `json:"items"`
	Page     int       `json:"page"`
	PageSize int       `json:"pageSize"`
	Total    int       `json:"total"`
}

// StockStatus is the inventory's coarse availability.
type StockStatus string

// Stock statuses of the inventory service.
const (
	InStock    StockStatus = "in_stock"
	LowStock   StockStatus = "low_stock"
	OutOfStock StockStatus = "out_of_stock"
)

// Stock is the inventory of one product.
type Stock struct {
	ProductID string      `json:"productId"`
	Available int         `json:"available"`
	Status    StockStatus `json:"status"`
}

// StoreStock is the availability of a product in one store near a point.
type StoreStock struct {
	StoreID    string  `json:"storeId"`
	Name       string  `json:"name"`
	DistanceKm float64 `json:"distanceKm"`
	Available  int     `json:"available"`
}

// StoreStockList is the inventory's answer to GET /stock/{id}/stores.
type StoreStockList struct {
	Items []StoreStock `json:"items"`
}

// Price is the pricing service's price of one product, in minor units.
type Price struct {
	ProductID  string `json:"productId"`
	Currency   string `json:"currency"`
	Amount     int64  `json:"amount"`
	ListAmount int64  `json:"listAmount"`
}

// PriceList is the pricing service's answer to GET /prices?ids=...
type PriceList struct {
	Items []Price `json:"items"`
}

// Review is one customer review.
type Review struct {
	ID        string    `json:"id"`
	Author    string    `json:"author"`
	Rating    int       `json:"rating"`
	Title     string    `json:"title"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"createdAt"`
}

// ReviewPage is the reviews service's answer for one product.
type ReviewPage struct {
	ProductID     string   `json:"productId"`
	AverageRating float64  `json:"averageRating"`
	Count         int      `json:"count"`
	Items         []Review `json:"items"`
}

// Recommendation is one recommended product with its score.
type Recommendation struct {
	ProductID string  `json:"productId"`
	Score     float64 `json:"score"`
}

// RecommendationList is the recommendations service's answer.
type RecommendationList struct {
	Items []Recommendation `json:"items"`
}

// User is the users service's user.
type User struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	Tier      string    `json:"tier"`
	TenantID  string    `json:"tenantId"`
	CreatedAt time.Time `json:"createdAt"`
}

// OrderItem is one line of an order.
type OrderItem struct {
	ProductID  string `json:"productId"`
	Quantity   int    `json:"quantity"`
	UnitAmount int64  `json:"unitAmount"`
}

// Order is the orders service's order. UserID is empty for partner orders
// and PartnerID is empty for orders placed by users.
type Order struct {
	ID          string      `json:"id"`
	UserID      string      `json:"userId"`
	PartnerID   string      `json:"partnerId"`
	Status      string      `json:"status"`
	Items       []OrderItem `json:"items"`
	TotalAmount int64       `json:"totalAmount"`
	Currency    string      `json:"currency"`
	CreatedAt   time.Time   `json:"createdAt"`
}

// OrderList is the orders service's answer to GET /users/{id}/orders.
type OrderList struct {
	Items []Order `json:"items"`
}

// LineItem is one requested line of a new order.
type LineItem struct {
	ProductID string `json:"productId"`
	Quantity  int    `json:"quantity"`
}

// CreateOrder is the body of POST /orders.
type CreateOrder struct {
	UserID    string     `json:"userId,omitempty"`
	PartnerID string     `json:"partnerId,omitempty"`
	Items     []LineItem `json:"items"`
	Currency  string     `json:"currency"`
}

// CartItem is one line of a cart.
type CartItem struct {
	ProductID string `json:"productId"`
	Quantity  int    `json:"quantity"`
}

// Cart is the cart service's cart of one user.
type Cart struct {
	UserID    string     `json:"userId"`
	Items     []CartItem `json:"items"`
	UpdatedAt time.Time  `json:"updatedAt"`
}

// SetQuantity is the body of PUT /carts/{userId}/items/{productId}.
type SetQuantity struct {
	Quantity int `json:"quantity"`
}

// Balance is the payments service's balance of one user, in minor units.
type Balance struct {
	UserID   string `json:"userId"`
	Currency string `json:"currency"`
	Amount   int64  `json:"amount"`
}

// UnreadCount is the notifications service's count of unread notifications.
type UnreadCount struct {
	UserID string `json:"userId"`
	Unread int    `json:"unread"`
}

// Token is the identity service's answer to POST /oauth/token.
type Token struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
}

// Upload is the media service's resumable upload: the bytes received so far
// (Offset of Length) of one file a user is sending. The service keeps it
// until ExpiresAt; after that it answers 410.
type Upload struct {
	ID          string    `json:"id"`
	UserID      string    `json:"userId"`
	Length      int64     `json:"length"`
	Offset      int64     `json:"offset"`
	Filename    string    `json:"filename"`
	ContentType string    `json:"contentType"`
	ExpiresAt   time.Time `json:"expiresAt"`
	Complete    bool      `json:"complete"`
}

// CreateUpload is the body of the media service's POST /uploads.
type CreateUpload struct {
	UserID      string `json:"userId"`
	Length      int64  `json:"length"`
	Filename    string `json:"filename"`
	ContentType string `json:"contentType"`
}

// HeaderUploadOffset carries the offset of a media PATCH and, on its 409,
// the upload's current offset.
const HeaderUploadOffset = "Upload-Offset"

// Fault is the body of the fakes' PUT /__faults/{service}. The fakes apply
// it in field order: wait, drop the connection, fail.
type Fault struct {
	// LatencyMs delays every request. Optional. Default 0.
	LatencyMs int `json:"latencyMs"`
	// ErrorRate is the share of requests failed with Status, 0..1.
	// Optional. Default 0, or 1 when Status is set.
	ErrorRate float64 `json:"errorRate"`
	// Status of failed requests, 400..599. Optional. Default 503.
	Status int `json:"status"`
	// Down closes the connection without an answer. Optional. Default false.
	Down bool `json:"down"`
}

// Service names, in the documented order. They are the path prefixes of the fakes,
// the lower-case part of BFF_UPSTREAM_<SERVICE>_URL and the names listed in
// an aggregate's `degraded` array.
const (
	ServiceCatalog         = "catalog"
	ServiceInventory       = "inventory"
	ServicePricing         = "pricing"
	ServiceReviews         = "reviews"
	ServiceRecommendations = "recommendations"
	ServiceUsers           = "users"
	ServiceOrders          = "orders"
	ServiceCart            = "cart"
	ServicePayments        = "payments"
	ServiceNotifications   = "notifications"
	ServiceIdentity        = "identity"
	ServiceMedia           = "media"
)

// ServiceNames returns the twelve domain services in the documented order.
func ServiceNames() []string {
	return []string{ServiceCatalog, ServiceInventory, ServicePricing, ServiceReviews, ServiceRecommendations,
		ServiceUsers, ServiceOrders, ServiceCart, ServicePayments, ServiceNotifications, ServiceIdentity,
		ServiceMedia}
}
