// Package api is bff-mobile's public API: the handlers of the
// mobile screens. Each screen is declared as an aggregate of domain-service
// sources and shaped into the compact views of package view; the handlers
// route, check input and shape, and leave every business decision to the
// domain services. The cart and order routes are shared/storefront's, which
// bff-web serves too, under mobile's budgets and caching policy.
//
// Authentication, rate limiting, compression and revalidation are
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

	"github.com/shopfront/shared/edge/aggregate"
	edgeconfig "github.com/shopfront/shared/edge/config"
	"github.com/shopfront/shared/edge/degraded"
	"github.com/shopfront/shared/edge/route"
	"github.com/shopfront/shared/edge/services"
	"github.com/shopfront/shared/storefront"
)

// Budgets bound each route's upstream work, stages included.
// Every field is a whole route's budget. The configuration validates them
// and fills their defaults once, at load (config.RouteBudgets); a zero
// budget leaves the route bounded only by its upstream calls' own timeouts.
type Budgets struct {
	// Home bounds GET /v1/home. Optional. Default 0.
	Home time.Duration `yaml:"home"`
	// Product bounds GET /v1/products/{id}. Optional. Default 0.
	Product time.Duration `yaml:"product"`
	// Search bounds GET /v1/search (catalog, then pricing). Optional.
	// Default 0.
	Search time.Duration `yaml:"search"`
	// Cart bounds the cart routes (cart, then catalog and pricing).
	// Optional. Default
	// edgeconfig.DefaultRouteBudget.
	Cart time.Duration `yaml:"cart"`
	// Orders bounds the order routes, single calls. Optional. Default
	// storefront's 2 s.
	Orders time.Duration `yaml:"orders"`
	// Upload bounds a PATCH of the resumable uploads (package upload),
	// reading the chunk from the phone included. Optional. Default 30 s.
	Upload time.Duration `yaml:"upload"`
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
	// SearchPageSize is the number of search results per page. Optional.
	// Default 20.
	SearchPageSize int
	// NearbyRadiusKm is the radius of nearbyStores. Optional. Default 0:
	// the inventory service's own default.
	NearbyRadiusKm float64
	// Logger receives one warning per failed optional source, with its
	// cause. Optional. Default zap.NewNop().
	Logger *zap.Logger
	// Registry receives shopfront_degraded_sections_total{route,source}.
	// Optional. Default: counted but not exported.
	Registry prometheus.Registerer
}

// Defaults of Config.
const (
	DefaultSearchPageSize = 20
)

// API serves the mobile routes.
type API struct {
	c        *services.Clients
	store    *storefront.Routes
	budgets  Budgets
	currency string
	pageSize int
	radiusKm float64
	degraded *prometheus.CounterVec
	log      *zap.Logger
}

// New validates cfg and returns the API.
func New(cfg Config) (*API, error) {
	if cfg.Clients == nil {
		return nil, errors.New("api: Clients is required")
	}
	if cfg.Currency == "" {
		cfg.Currency = edgeconfig.DefaultCurrency
	}
	if cfg.SearchPageSize == 0 {
		cfg.SearchPageSize = DefaultSearchPageSize
	}
	if cfg.SearchPageSize < 1 || cfg.SearchPageSize > 100 {
		return nil, fmt.Errorf("api: SearchPageSize %d must be within 1..100", cfg.SearchPageSize)
	}
	if cfg.NearbyRadiusKm < 0 {
		return nil, fmt.Errorf("api: NearbyRadiusKm %g must not be negative", cfg.NearbyRadiusKm)
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	sections := degraded.Sections()
	store, err := storefront.New(storefront.Config{
		Clients: cfg.Clients, CartBudget: cfg.Budgets.Cart, OrderBudget: cfg.Budgets.Orders, Currency: cfg.Currency,
		// Complete reads get no Cache-Control from the handler: the
		// conditional middleware adds the ETag and `private, max-age=60`.
		// Changes and degraded carts are no-store, the default.
		CacheControl: storefront.CacheControl{},
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
	return &API{c: cfg.Clients, store: store, budgets: cfg.Budgets, currency: cfg.Currency,
		pageSize: cfg.SearchPageSize, radiusKm: cfg.NearbyRadiusKm, degraded: sections, log: cfg.Logger}, nil
}

// AuthenticatedPolicy is the policy of every mobile route: JWT, per-user rate
// limit, revalidation (ETag/304 and Cache-Control).
const AuthenticatedPolicy route.Policy = "authenticated"

// Routes lists the mobile routes, all behind AuthenticatedPolicy, for
// route.Register.
func (a *API) Routes() []route.Route {
	return append([]route.Route{
		{Method: http.MethodGet, Path: "/v1/home", Handler: a.home, Policy: AuthenticatedPolicy},
		{Method: http.MethodGet, Path: "/v1/products/:id", Handler: a.product, Policy: AuthenticatedPolicy},
		{Method: http.MethodGet, Path: "/v1/search", Handler: a.search, Policy: AuthenticatedPolicy},
	}, a.store.Routes(AuthenticatedPolicy)...)
}

// writeView writes a GET answer. A degraded view must not be reused by any
// cache, so it says no-store; otherwise the conditional
// middleware adds the mobile caching policy and the ETag.
func (a *API) writeView(c echo.Context, failed []string, v any) error {
	degraded.Count(a.degraded, c, failed)
	if len(failed) > 0 {
		c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	}
	return c.JSON(http.StatusOK, v)
}

// observe logs the failures of optional sources of the answer to c.
func (a *API) observe(c echo.Context) aggregate.Part { return degraded.Log(a.log, c) }
