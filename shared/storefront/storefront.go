// Package storefront is the customer-facing cart and order routes that
// bff-mobile and bff-web both serve under the same paths:
//
//	GET    /v1/cart                        the caller's cart with names, thumbnails and prices
//	PUT    /v1/cart/items/{productId}      {quantity}; 0 removes, as the cart service decides
//	DELETE /v1/cart/items/{productId}
//	POST   /v1/orders                      201; Idempotency-Key forwarded
//	GET    /v1/orders/{id}                 404 unless the order is the caller's
//
// with their strict input checks (edge/input) and the cart and order views
// (storefront/view), which the gateways' own screens use as well.
//
// The handlers act for the verified principal only, route, check input and
// shape; every business decision stays in the domain services. Each
// gateway keeps its own policies: authentication, CSRF, rate limits and
// compression are its route middleware, budgets and currency come in
// Config, and its caching policy is the small CacheControl of Config, so
// one handler serves mobile's revalidated reads and web's no-store ones.
package storefront

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	edgeconfig "github.com/shopfront/shared/edge/config"
	"github.com/shopfront/shared/edge/degraded"
	"github.com/shopfront/shared/edge/input"
	"github.com/shopfront/shared/edge/route"
	"github.com/shopfront/shared/edge/services"
)

// NoStore is a Cache-Control value.
const (
	// NoStore is the Cache-Control of degraded answers, and the
	// default of changes.
	NoStore = "no-store"
)

// CacheControl is a gateway's caching policy for the answers of these
// routes. The handler knows which kind of answer it wrote; the gateway
// decides what each kind says.
type CacheControl struct {
	// Read is set on complete answers of GET /v1/cart and GET
	// /v1/orders/{id}. Optional. Default "": the handler sets none, and the
	// gateway's middleware decides (bff-mobile's adds its ETag and
	// `private, max-age=60`).
	Read string
	// Change is set on complete answers of PUT, DELETE and POST. Optional.
	// Default "no-store". It must hold the no-store directive: the answer of
	// a change is personal and outdated by the next one.
	Change string
	// Degraded is set on any answer whose degraded list is not empty.
	// Optional. Default "no-store". It must hold the no-store directive.
	Degraded string
}

// Config configures the routes.
type Config struct {
	// Clients are the domain services. Required.
	Clients *services.Clients
	// CartBudget bounds each cart route: the cart service, then catalog and
	// pricing. Optional. Default edgeconfig.DefaultRouteBudget.
	CartBudget time.Duration
	// OrderBudget bounds each order route, one call. Optional. Default
	// edgeconfig.DefaultUpstreamTimeout.
	OrderBudget time.Duration
	// Currency is the currency cart prices are asked in. Optional. Default
	// edgeconfig.DefaultCurrency.
	Currency string
	// CacheControl is the gateway's caching policy. Optional. Default
	// CacheControl{}: no header on complete reads, no-store on the rest.
	CacheControl CacheControl
	// Degraded counts the sections a cart answer had to leave empty, by
	// route and source; degraded.Sections makes one, which the gateway shares
	// with its own aggregate routes. Optional. Default: not counted.
	Degraded *prometheus.CounterVec
	// Logger receives one warning per failed optional source, with its
	// cause (the client only learns the source's name). Optional. Default
	// zap.NewNop().
	Logger *zap.Logger
}

// Routes serves the cart and order routes.
type Routes struct {
	c        *services.Clients
	cart     time.Duration
	order    time.Duration
	currency string
	cc       CacheControl
	degraded *prometheus.CounterVec
	log      *zap.Logger
}

// New validates cfg and returns the routes.
func New(cfg Config) (*Routes, error) {
	var errs []error
	if cfg.Clients == nil {
		errs = append(errs, errors.New("storefront: Clients is required"))
	}
	if cfg.CartBudget == 0 {
		cfg.CartBudget = edgeconfig.DefaultRouteBudget
	}
	if cfg.OrderBudget == 0 {
		cfg.OrderBudget = edgeconfig.DefaultUpstreamTimeout
	}
	if cfg.CartBudget < 0 || cfg.OrderBudget < 0 {
		errs = append(errs, fmt.Errorf("storefront: budgets (cart %s, orders %s) must not be negative", cfg.CartBudget, cfg.OrderBudget))
	}
	if cfg.Currency == "" {
		cfg.Currency = edgeconfig.DefaultCurrency
	}
	if !input.ValidCurrency(cfg.Currency) {
		errs = append(errs, fmt.Errorf("storefront: Currency %q is not an ISO 4217 code", cfg.Currency))
	}
	if cfg.CacheControl.Change == "" {
		cfg.CacheControl.Change = NoStore
	}
	if cfg.CacheControl.Degraded == "" {
		cfg.CacheControl.Degraded = NoStore
	}
	for name, v := range map[string]string{"Change": cfg.CacheControl.Change, "Degraded": cfg.CacheControl.Degraded} {
		if !hasNoStore(v) {
			errs = append(errs, fmt.Errorf("storefront: CacheControl.%s %q must hold no-store", name, v))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	return &Routes{c: cfg.Clients, cart: cfg.CartBudget, order: cfg.OrderBudget, currency: cfg.Currency,
		cc: cfg.CacheControl, degraded: cfg.Degraded, log: cfg.Logger}, nil
}

// hasNoStore reports whether a Cache-Control value holds the no-store
// directive (RFC 9111 §5.2.2.5; directive names are case-insensitive).
func hasNoStore(v string) bool {
	for d := range strings.SplitSeq(v, ",") {
		if strings.EqualFold(strings.TrimSpace(d), NoStore) {
			return true
		}
	}
	return false
}

// Routes lists the five cart and order routes, each behind policy: the
// gateway's chain of personal routes (authentication, rate limit, CSRF,
// ...), given to route.Register.
func (s *Routes) Routes(policy route.Policy) []route.Route {
	return []route.Route{
		{Method: http.MethodGet, Path: "/v1/cart", Handler: s.Cart, Policy: policy},
		{Method: http.MethodPut, Path: "/v1/cart/items/:productId", Handler: s.SetCartItem, Policy: policy},
		{Method: http.MethodDelete, Path: "/v1/cart/items/:productId", Handler: s.RemoveCartItem, Policy: policy},
		{Method: http.MethodPost, Path: "/v1/orders", Handler: s.CreateOrder, Policy: policy},
		{Method: http.MethodGet, Path: "/v1/orders/:id", Handler: s.Order, Policy: policy},
	}
}

// answer is the kind of an answer, which picks its Cache-Control.
type answer int

const (
	read answer = iota
	change
)

// write counts the degraded sections and writes v with the Cache-Control
// the gateway's policy gives an answer of this kind.
func (s *Routes) write(c echo.Context, status int, kind answer, failed []string, v any) error {
	cc := s.cc.Read
	if kind == change {
		cc = s.cc.Change
	}
	if len(failed) > 0 {
		cc = s.cc.Degraded
		degraded.Count(s.degraded, c, failed)
	}
	if cc != "" {
		c.Response().Header().Set(echo.HeaderCacheControl, cc)
	}
	return c.JSON(status, v)
}
