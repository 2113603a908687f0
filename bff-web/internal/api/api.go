// Package api is bff-web's public API: the handlers of the page
// aggregates, the catalog and the user. Each page is an aggregate of
// domain-service sources shaped into the payloads of view.go; the handlers
// route, check input and shape, and leave every business decision to the
// domain services. The cart and order routes are shared/storefront's, "as in
// bff-mobile, under the same paths", under web's budgets and its personal
// no-store policy.
//
// Authentication, CSRF, rate limiting, caching and compression are
// middleware installed by the composition root around Register's routes.
package api

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/shopfront/shared/edge/auth"
	edgeconfig "github.com/shopfront/shared/edge/config"
	"github.com/shopfront/shared/edge/degraded"
	"github.com/shopfront/shared/edge/route"
	"github.com/shopfront/shared/edge/services"
	"github.com/shopfront/shared/storefront"
)

// Budgets bound each route's upstream work, stages included.
// The configuration validates them and fills their defaults once, at load
// (config.RouteBudgets); a zero budget leaves the route bounded only by its
// upstream calls' own timeouts.
type Budgets struct {
	// Catalog bounds GET /v1/catalog. Optional. Default 0.
	Catalog time.Duration `yaml:"catalog"`
	// Product bounds GET /v1/pages/product/{id}. Optional. Default 0.
	Product time.Duration `yaml:"product"`
	// Account bounds GET /v1/pages/account. Optional. Default 0.
	Account time.Duration `yaml:"account"`
	// Cart bounds the cart routes. Optional. Default
	// edgeconfig.DefaultRouteBudget.
	Cart time.Duration `yaml:"cart"`
	// Single bounds the routes of one call (/v1/me, orders). Optional.
	// Default 0 for /v1/me, storefront's 2 s for orders.
	Single time.Duration `yaml:"single"`
}

// Config configures the API.
type Config struct {
	// Clients are the domain services. Required.
	Clients *services.Clients
	// Budgets bound each route, as config.RouteBudgets resolves them.
	// Optional. Default Budgets{}.
	Budgets Budgets
	// Currency is the currency prices are asked in. Optional. Default
	// edgeconfig.DefaultCurrency.
	Currency string
	// PublicCacheControl is the Cache-Control of anonymous, complete
	// catalog and product pages. Optional. Default
	// "public, max-age=30, stale-while-revalidate=60"; the
	// composition root derives it from the cache's windows.
	PublicCacheControl string
	// DefaultPageSize is the catalog page size without pageSize. Optional.
	// Default 20.
	DefaultPageSize int
	// MaxPageSize bounds pageSize; each card costs one inventory call.
	// Optional. Default 50.
	MaxPageSize int
	// Registry receives shopfront_degraded_sections_total{route,source}.
	// Optional. Default none (counted but not exported).
	Registry prometheus.Registerer
	// Logger receives one warning per failed optional source, with its
	// cause. Optional. Default zap.NewNop().
	Logger *zap.Logger
}

// Defaults of Config.
const (
	DefaultPublicCacheControl = "public, max-age=30, stale-while-revalidate=60"
	DefaultPageSize           = 20
	DefaultMaxPageSize        = 50
)

// Cache-Control of the other answers.
const (
	// privatePage is for catalog and product pages seen by a signed-in
	// user: only the browser may keep them.
	privatePage = "private, max-age=30"
	// personal is for answers that carry the user's data (account, me,
	// cart, orders) and for changes: no cache keeps them.
	personal = "private, no-store"
	// degradedPage is the rule for incomplete answers.
	degradedPage = "no-store"
)

// API serves the web routes.
type API struct {
	c           *services.Clients
	store       *storefront.Routes
	budgets     Budgets
	currency    string
	publicCC    string
	pageSize    int
	maxPageSize int
	degraded    *prometheus.CounterVec
	log         *zap.Logger
}

// New validates cfg and returns the API.
func New(cfg Config) (*API, error) {
	if cfg.Clients == nil {
		return nil, errors.New("api: Clients is required")
	}
	if cfg.Currency == "" {
		cfg.Currency = edgeconfig.DefaultCurrency
	}
	if cfg.PublicCacheControl == "" {
		cfg.PublicCacheControl = DefaultPublicCacheControl
	}
	if cfg.MaxPageSize == 0 {
		cfg.MaxPageSize = DefaultMaxPageSize
	}
	if cfg.DefaultPageSize == 0 {
		cfg.DefaultPageSize = min(DefaultPageSize, cfg.MaxPageSize)
	}
	if cfg.MaxPageSize < 1 || cfg.MaxPageSize > 100 || cfg.DefaultPageSize < 1 || cfg.DefaultPageSize > cfg.MaxPageSize {
		return nil, fmt.Errorf("api: page sizes must satisfy 1 <= DefaultPageSize (%d) <= MaxPageSize (%d) <= 100", cfg.DefaultPageSize, cfg.MaxPageSize)
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	sections := degraded.Sections()
	// Carts and orders are personal data: no cache keeps them, complete,
	// changed or degraded alike.
	store, err := storefront.New(storefront.Config{
		Clients: cfg.Clients, CartBudget: cfg.Budgets.Cart, OrderBudget: cfg.Budgets.Single, Currency: cfg.Currency,
		CacheControl: storefront.CacheControl{Read: personal, Change: personal, Degraded: personal},
		Degraded:     sections, Logger: cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	if cfg.Registry != nil {
		if err := cfg.Registry.Register(sections); err != nil {
			return nil, fmt.Errorf("api: registering metrics: %w", err)
		}
	}
	return &API{c: cfg.Clients, store: store, budgets: cfg.Budgets, currency: cfg.Currency, publicCC: cfg.PublicCacheControl,
		pageSize: cfg.DefaultPageSize, maxPageSize: cfg.MaxPageSize, degraded: sections, log: cfg.Logger}, nil
}

// The policies of the web routes: the composition root gives each its
// chain.
const (
	// CatalogPolicy is GET /v1/catalog's: optional authentication, rate
	// limit, the response cache keyed by CatalogQuery.
	CatalogPolicy route.Policy = "catalog page"
	// ProductPolicy is the product page's: optional authentication, rate
	// limit, the response cache.
	ProductPolicy route.Policy = "product page"
	// PersonalPolicy is the personal routes': required authentication, rate
	// limit, CSRF.
	PersonalPolicy route.Policy = "personal"
)

// CatalogQuery returns the query parameters of GET /v1/catalog, the ones
// its cache key is made of, as a fresh slice.
func CatalogQuery() []string { return []string{"q", "category", "page", "pageSize"} }

// Routes lists the web routes (but the session's), for route.Register.
func (a *API) Routes() []route.Route {
	return append([]route.Route{
		{Method: http.MethodGet, Path: "/v1/catalog", Handler: a.catalog, Policy: CatalogPolicy},
		{Method: http.MethodGet, Path: "/v1/pages/product/:id", Handler: a.productPage, Policy: ProductPolicy},
		{Method: http.MethodGet, Path: "/v1/pages/account", Handler: a.accountPage, Policy: PersonalPolicy},
		{Method: http.MethodGet, Path: "/v1/me", Handler: a.me, Policy: PersonalPolicy},
	}, a.store.Routes(PersonalPolicy)...)
}

// writePage writes a catalog or product page: shareable when anonymous and
// complete, private when signed in, never stored when degraded.
func (a *API) writePage(c echo.Context, degradedParts []string, v any) error {
	cc := a.publicCC
	if _, signedIn := auth.FromContext(c.Request().Context()); signedIn {
		cc = privatePage
	}
	if len(degradedParts) > 0 {
		cc = degradedPage
		degraded.Count(a.degraded, c, degradedParts)
	}
	c.Response().Header().Set(echo.HeaderCacheControl, cc)
	return c.JSON(http.StatusOK, v)
}

// writePersonal writes an answer carrying the user's data.
func writePersonal(c echo.Context, status int, v any) error {
	c.Response().Header().Set(echo.HeaderCacheControl, personal)
	return c.JSON(status, v)
}
