// Package api holds bff-partner's routes: they call the domain
// services through the shared typed clients and shape the answers into the
// partner document's views (contracts/public/partner.yaml). Decisions stay
// in the services: the gateway routes, scopes and shapes.
package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/shared/edge/aggregate"
	"github.com/shopfront/shared/edge/auth"
	edgeconfig "github.com/shopfront/shared/edge/config"
	"github.com/shopfront/shared/edge/problem"
	"github.com/shopfront/shared/edge/route"
	"github.com/shopfront/shared/edge/services"
	"github.com/shopfront/shared/storefront/view"
)

// DefaultPageSize is the page size of the list routes.
const DefaultPageSize = 20

// Config configures the routes.
type Config struct {
	// Clients are the domain services. Required.
	Clients *services.Clients
	// Currency of the prices. Optional. Default edgeconfig.DefaultCurrency.
	Currency string
	// RouteBudget bounds a route's upstream calls. Optional. Default
	// edgeconfig.DefaultRouteBudget.
	RouteBudget time.Duration
}

// API serves the partner routes.
type API struct {
	c        *services.Clients
	currency string
	budget   time.Duration
}

// New validates cfg and returns the routes.
func New(cfg Config) (*API, error) {
	if cfg.Clients == nil {
		return nil, errors.New("api: Clients is required")
	}
	if cfg.Currency == "" {
		cfg.Currency = edgeconfig.DefaultCurrency
	}
	if cfg.RouteBudget == 0 {
		cfg.RouteBudget = edgeconfig.DefaultRouteBudget
	}
	return &API{c: cfg.Clients, currency: cfg.Currency, budget: cfg.RouteBudget}, nil
}

// Product is the v2 product.
type Product struct {
	ID          string         `json:"id"`
	SKU         string         `json:"sku"`
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Brand       string         `json:"brand"`
	Category    string         `json:"category"`
	Images      []domain.Image `json:"images"`
	Price       *view.Money    `json:"price"`
	UpdatedAt   time.Time      `json:"updatedAt"`
}

// ProductPage is a v2 page of products.
type ProductPage struct {
	Items    []Product `json:"items"`
	Page     int       `json:"page"`
	PageSize int       `json:"pageSize"`
	Total    int       `json:"total"`
}

// Inventory is the v2 stock of a product.
type Inventory struct {
	ProductID string             `json:"productId"`
	Available int                `json:"available"`
	Status    domain.StockStatus `json:"status"`
}

// OrderItem is a line of a v2 order.
type OrderItem struct {
	ProductID string     `json:"productId"`
	Quantity  int        `json:"quantity"`
	UnitPrice view.Money `json:"unitPrice"`
}

// Order is the v2 order; the user id of the domain order is not shown.
type Order struct {
	ID        string      `json:"id"`
	PartnerID string      `json:"partnerId"`
	Status    string      `json:"status"`
	Items     []OrderItem `json:"items"`
	Total     view.Money  `json:"total"`
	CreatedAt time.Time   `json:"createdAt"`
}

// CreateOrder is the body of POST /v2/orders, validated against the
// document before it gets here.
type CreateOrder struct {
	Items    []domain.LineItem `json:"items"`
	Currency string            `json:"currency"`
}

// ProductV1 is the deprecated v1 product: one image, a decimal price.
type ProductV1 struct {
	ID          string  `json:"id"`
	SKU         string  `json:"sku"`
	Name        string  `json:"name"`
	Description string  `json:"description"`
	Brand       string  `json:"brand"`
	Category    string  `json:"category"`
	ImageURL    *string `json:"imageUrl"`
	Price       *string `json:"price"`
	Currency    string  `json:"currency"`
}

// ProductPageV1 is a v1 page of products.
type ProductPageV1 struct {
	Items    []ProductV1 `json:"items"`
	Page     int         `json:"page"`
	PageSize int         `json:"pageSize"`
	Total    int         `json:"total"`
}

// route bounds a single-call route by the route budget. Aggregated routes
// give the budget to aggregate.Run instead, which applies it once.
func (a *API) route(c echo.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.Request().Context(), a.budget)
}

// page fetches a catalog page and its prices: the search first, then the
// prices of the products found. Both are critical: a partner integration
// must not mistake a missing price for a free product.
func (a *API) page(c echo.Context) (domain.ProductPage, map[string]domain.Price, error) {
	q := services.Search{Category: c.QueryParam("category"), Page: intParam(c, "page", 1),
		PageSize: intParam(c, "pageSize", DefaultPageSize)}
	var pg domain.ProductPage
	var prices []domain.Price
	_, err := aggregate.Run(c.Request().Context(), a.budget,
		aggregate.Critical(domain.ServiceCatalog, func(ctx context.Context) (err error) {
			pg, err = a.c.Catalog.Search(ctx, q)
			return err
		}),
		aggregate.Then(aggregate.Critical(domain.ServicePricing, func(ctx context.Context) (err error) {
			ids := make([]string, 0, len(pg.Items))
			for _, p := range pg.Items {
				ids = append(ids, p.ID)
			}
			prices, err = a.c.Pricing.Prices(ctx, ids, a.currency)
			return err
		})),
	)
	if err != nil {
		return pg, nil, err
	}
	if pg.Page == 0 {
		pg.Page = q.Page
	}
	if pg.PageSize == 0 {
		pg.PageSize = q.PageSize
	}
	return pg, byProduct(prices), nil
}

// product fetches one product and its price in parallel.
func (a *API) product(c echo.Context) (domain.Product, map[string]domain.Price, error) {
	id := c.Param("id")
	var p domain.Product
	var prices []domain.Price
	_, err := aggregate.Run(c.Request().Context(), a.budget,
		aggregate.Critical(domain.ServiceCatalog, func(ctx context.Context) (err error) {
			p, err = a.c.Catalog.Product(ctx, id)
			return err
		}),
		aggregate.Critical(domain.ServicePricing, func(ctx context.Context) (err error) {
			prices, err = a.c.Pricing.Prices(ctx, []string{id}, a.currency)
			return err
		}),
	)
	return p, byProduct(prices), err
}

// The policies of the partner routes, one per scope a route requires: the
// composition root gives each its chain (credentials, plan rate limit, the
// scope, validation against the partner document, ...).
const (
	CatalogReadPolicy   route.Policy = "scope " + route.Policy(auth.ScopeCatalogRead)
	InventoryReadPolicy route.Policy = "scope " + route.Policy(auth.ScopeInventoryRead)
	OrdersReadPolicy    route.Policy = "scope " + route.Policy(auth.ScopeOrdersRead)
	// OrdersWritePolicy adds idempotency to its scope's chain.
	OrdersWritePolicy route.Policy = "scope " + route.Policy(auth.ScopeOrdersWrite) + ", idempotent"
)

// Routes lists the partner API's routes, for route.Register.
func (a *API) Routes() []route.Route {
	return []route.Route{
		{Method: http.MethodGet, Path: "/v2/products", Handler: a.ListProducts, Policy: CatalogReadPolicy},
		{Method: http.MethodGet, Path: "/v2/products/:id", Handler: a.GetProduct, Policy: CatalogReadPolicy},
		{Method: http.MethodGet, Path: "/v2/inventory/:productId", Handler: a.GetInventory, Policy: InventoryReadPolicy},
		{Method: http.MethodPost, Path: "/v2/orders", Handler: a.CreateOrder, Policy: OrdersWritePolicy},
		{Method: http.MethodGet, Path: "/v2/orders/:id", Handler: a.GetOrder, Policy: OrdersReadPolicy},

		{Method: http.MethodGet, Path: "/v1/products", Handler: a.ListProductsV1, Policy: CatalogReadPolicy},
		{Method: http.MethodGet, Path: "/v1/products/:id", Handler: a.GetProductV1, Policy: CatalogReadPolicy},
	}
}

// ListProducts is GET /v2/products.
func (a *API) ListProducts(c echo.Context) error {
	pg, prices, err := a.page(c)
	if err != nil {
		return err
	}
	out := ProductPage{Items: make([]Product, 0, len(pg.Items)), Page: pg.Page, PageSize: pg.PageSize, Total: pg.Total}
	for _, p := range pg.Items {
		out.Items = append(out.Items, productV2(p, prices))
	}
	return c.JSON(http.StatusOK, out)
}

// GetProduct is GET /v2/products/{id}.
func (a *API) GetProduct(c echo.Context) error {
	p, prices, err := a.product(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, productV2(p, prices))
}

// GetInventory is GET /v2/inventory/{productId}.
func (a *API) GetInventory(c echo.Context) error {
	ctx, cancel := a.route(c)
	defer cancel()
	s, err := a.c.Inventory.Stock(ctx, c.Param("productId"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, Inventory{ProductID: s.ProductID, Available: s.Available, Status: s.Status})
}

// CreateOrder is POST /v2/orders. The partner comes from the credential;
// the body cannot name one (the document rejects unknown fields).
func (a *API) CreateOrder(c echo.Context) error {
	p, ok := auth.FromContext(c.Request().Context())
	if !ok || p.Partner == "" {
		return problem.Unauthorized("A partner credential is required.")
	}
	var body CreateOrder
	if err := json.NewDecoder(c.Request().Body).Decode(&body); err != nil {
		return problem.ValidationFailed("The request body is not valid JSON.").Wrap(err)
	}
	ctx, cancel := a.route(c)
	defer cancel()
	o, err := a.c.Orders.Create(ctx, domain.CreateOrder{PartnerID: p.Partner, Items: body.Items, Currency: body.Currency},
		upstreamKey(p.Partner, c.Request().Header.Get("Idempotency-Key")))
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/v2/orders/"+o.ID)
	return c.JSON(http.StatusCreated, orderV2(o))
}

// GetOrder is GET /v2/orders/{id}: 404 unless the order is the caller's
// partner's, so partners cannot probe each other's order ids.
func (a *API) GetOrder(c echo.Context) error {
	p, ok := auth.FromContext(c.Request().Context())
	if !ok || p.Partner == "" {
		return problem.Unauthorized("A partner credential is required.")
	}
	ctx, cancel := a.route(c)
	defer cancel()
	o, err := a.c.Orders.Get(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	if o.PartnerID != p.Partner {
		return problem.NotFound("The requested resource was not found.")
	}
	return c.JSON(http.StatusOK, orderV2(o))
}

// ListProductsV1 is the deprecated GET /v1/products.
func (a *API) ListProductsV1(c echo.Context) error {
	pg, prices, err := a.page(c)
	if err != nil {
		return err
	}
	out := ProductPageV1{Items: make([]ProductV1, 0, len(pg.Items)), Page: pg.Page, PageSize: pg.PageSize, Total: pg.Total}
	for _, p := range pg.Items {
		out.Items = append(out.Items, a.productV1(p, prices))
	}
	return c.JSON(http.StatusOK, out)
}

// GetProductV1 is the deprecated GET /v1/products/{id}.
func (a *API) GetProductV1(c echo.Context) error {
	p, prices, err := a.product(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, a.productV1(p, prices))
}

func productV2(p domain.Product, prices map[string]domain.Price) Product {
	out := Product{ID: p.ID, SKU: p.SKU, Name: p.Name, Description: p.Description, Brand: p.Brand,
		Category: p.Category, Images: p.Images, UpdatedAt: p.UpdatedAt}
	if out.Images == nil {
		out.Images = []domain.Image{}
	}
	if pr, ok := prices[p.ID]; ok {
		out.Price = &view.Money{Amount: pr.Amount, Currency: pr.Currency}
	}
	return out
}

func (a *API) productV1(p domain.Product, prices map[string]domain.Price) ProductV1 {
	out := ProductV1{ID: p.ID, SKU: p.SKU, Name: p.Name, Description: p.Description, Brand: p.Brand,
		Category: p.Category, Currency: a.currency}
	if len(p.Images) > 0 {
		out.ImageURL = &p.Images[0].URL
	}
	if pr, ok := prices[p.ID]; ok {
		s := Decimal(pr.Amount, pr.Currency)
		out.Price, out.Currency = &s, pr.Currency
	}
	return out
}

func orderV2(o domain.Order) Order {
	out := Order{ID: o.ID, PartnerID: o.PartnerID, Status: o.Status, Items: make([]OrderItem, 0, len(o.Items)),
		Total: view.Money{Amount: o.TotalAmount, Currency: o.Currency}, CreatedAt: o.CreatedAt}
	for _, it := range o.Items {
		out.Items = append(out.Items, OrderItem{ProductID: it.ProductID, Quantity: it.Quantity,
			UnitPrice: view.Money{Amount: it.UnitAmount, Currency: o.Currency}})
	}
	return out
}

// minorDigits are the ISO 4217 exponents that are not 2.
var minorDigits = map[string]int{"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "BHD": 3, "KWD": 3, "JOD": 3, "OMR": 3, "TND": 3}

// Decimal formats minor units as the v1 decimal string: 1999 USD is "19.99".
func Decimal(amount int64, currency string) string {
	digits, ok := minorDigits[currency]
	if !ok {
		digits = 2
	}
	sign := ""
	if amount < 0 {
		sign, amount = "-", -amount
	}
	if digits == 0 {
		return sign + strconv.FormatInt(amount, 10)
	}
	div := int64(1)
	for range digits {
		div *= 10
	}
	return fmt.Sprintf("%s%d.%0*d", sign, amount/div, digits, amount%div)
}

func byProduct(prices []domain.Price) map[string]domain.Price {
	m := make(map[string]domain.Price, len(prices))
	for _, p := range prices {
		m[p.ProductID] = p
	}
	return m
}

func intParam(c echo.Context, name string, def int) int {
	if n, err := strconv.Atoi(c.QueryParam(name)); err == nil {
		return n
	}
	return def
}

// upstreamKey derives the Idempotency-Key sent to the orders service from
// the partner and the client's key, so keys stay scoped per partner there
// too and the client's bytes never travel as they are.
func upstreamKey(partner, key string) string {
	if key == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(partner + "\x00" + key))
	return hex.EncodeToString(sum[:])
}
