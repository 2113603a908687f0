// Package services holds the typed clients of the domain services,
// one per service, each over a routing.Route that picks the variant of
// every call (a service without routing has one), each variant its own
// upstream.Client with its own breaker, budget and metrics series, all
// over one connection pool. Gateways call
// these, never raw URLs: paths are built and escaped here, answers decoded
// into contracts/domain types, failures returned as *upstream.Error.
package services

import (
	"errors"
	"fmt"
	"strings"

	"github.com/shopfront/contracts/domain"

	"github.com/shopfront/shared/edge/routing"
	"github.com/shopfront/shared/edge/upstream"
)

// Config holds the upstream configuration of every domain service, by name.
type Config struct {
	// Catalog is the catalog service. Required (BaseURL).
	Catalog upstream.Config `yaml:"catalog"`
	// Inventory is the inventory service. Required (BaseURL).
	Inventory upstream.Config `yaml:"inventory"`
	// Pricing is the pricing service. Required (BaseURL).
	Pricing upstream.Config `yaml:"pricing"`
	// Reviews is the reviews service. Required (BaseURL).
	Reviews upstream.Config `yaml:"reviews"`
	// Recommendations is the recommendations service. Required (BaseURL).
	Recommendations upstream.Config `yaml:"recommendations"`
	// Users is the users service. Required (BaseURL).
	Users upstream.Config `yaml:"users"`
	// Orders is the orders service. Required (BaseURL).
	Orders upstream.Config `yaml:"orders"`
	// Cart is the cart service. Required (BaseURL).
	Cart upstream.Config `yaml:"cart"`
	// Payments is the payments service. Required (BaseURL).
	Payments upstream.Config `yaml:"payments"`
	// Notifications is the notifications service. Required (BaseURL).
	Notifications upstream.Config `yaml:"notifications"`
	// Identity is the identity service. Required (BaseURL).
	Identity upstream.Config `yaml:"identity"`

	// Routing shares services' calls between their variants. Optional.
	// Default: each service has one variant at its BaseURL.
	Routing routing.Config `yaml:"routing"`
	// RoutingFile is the BFF_CONFIG file whose routing section
	// Router().Reload and Router().Watch re-read. Optional. Default "": no
	// reloads.
	RoutingFile string `yaml:"-"`
	// Media is the media service. Required (BaseURL).
	Media upstream.Config `yaml:"media"`
}

// DefaultConfig returns the configuration of every service at root/<service>,
// the layout of the fakes, with
// every other field at its default.
func DefaultConfig(root string) Config {
	root = strings.TrimRight(root, "/")
	return ConfigFrom(upstream.Config{}, func(service string) string { return root + "/" + service })
}

// ConfigFrom returns a Config giving every service the settings of each
// (timeout, breaker, retry) and the base URL url(service), e.g.
// ConfigFrom(upstream.Config{Timeout: cfg.Upstreams.Timeout}, cfg.Upstreams.URL)
// with the gateway's loaded configuration.
func ConfigFrom(each upstream.Config, url func(service string) string) Config {
	var c Config
	for _, e := range c.entries() {
		*e.cfg = each
		e.cfg.BaseURL = url(e.name)
	}
	return c
}

type entry struct {
	name string
	cfg  *upstream.Config
}

// entries lists the services in the documented order with their configuration.
func (c *Config) entries() []entry {
	return []entry{
		{domain.ServiceCatalog, &c.Catalog},
		{domain.ServiceInventory, &c.Inventory},
		{domain.ServicePricing, &c.Pricing},
		{domain.ServiceReviews, &c.Reviews},
		{domain.ServiceRecommendations, &c.Recommendations},
		{domain.ServiceUsers, &c.Users},
		{domain.ServiceOrders, &c.Orders},
		{domain.ServiceCart, &c.Cart},
		{domain.ServicePayments, &c.Payments},
		{domain.ServiceNotifications, &c.Notifications},
		{domain.ServiceIdentity, &c.Identity},
		{domain.ServiceMedia, &c.Media},
	}
}

// Validate reports the problems of every service at once, each prefixed
// with the service's name.
func (c Config) Validate() error {
	var errs []error
	for _, e := range c.entries() {
		if err := e.cfg.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("upstream %s: %w", e.name, err))
		}
	}
	if err := c.Routing.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Clients are the typed clients of all domain services, one field per
// domain service.
type Clients struct {
	Catalog         *Catalog
	Inventory       *Inventory
	Pricing         *Pricing
	Reviews         *Reviews
	Recommendations *Recommendations
	Users           *Users
	Orders          *Orders
	Cart            *Cart
	Payments        *Payments
	Notifications   *Notifications
	Identity        *Identity
	Media           *Media

	router *routing.Router
	all    []*routing.Route
}

// New validates cfg and builds every client. Unless opts.Transport is set,
// the clients share one connection pool (upstream.NewTransport): services
// are often behind one host, a load balancer, and a pool per service would
// keep a connection per service for every request in flight where one
// pool lends the same connection to each stage's calls in turn.
func New(cfg Config, opts upstream.Options) (*Clients, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Transport == nil {
		opts.Transport = upstream.NewTransport()
	}
	var bases []routing.Base
	for _, e := range cfg.entries() {
		bases = append(bases, routing.Base{Name: e.name, Config: *e.cfg})
	}
	router, err := routing.New(bases, cfg.Routing, routing.Options{Upstream: opts, File: cfg.RoutingFile})
	if err != nil {
		return nil, err
	}
	up := make(map[string]*routing.Route, len(bases))
	var all []*routing.Route
	for _, b := range bases {
		up[b.Name] = router.Route(b.Name)
		all = append(all, up[b.Name])
	}
	return &Clients{
		Catalog:         &Catalog{c: up[domain.ServiceCatalog]},
		Inventory:       &Inventory{c: up[domain.ServiceInventory]},
		Pricing:         &Pricing{c: up[domain.ServicePricing]},
		Reviews:         &Reviews{c: up[domain.ServiceReviews]},
		Recommendations: &Recommendations{c: up[domain.ServiceRecommendations]},
		Users:           &Users{c: up[domain.ServiceUsers]},
		Orders:          &Orders{c: up[domain.ServiceOrders]},
		Cart:            &Cart{c: up[domain.ServiceCart]},
		Payments:        &Payments{c: up[domain.ServicePayments]},
		Notifications:   &Notifications{c: up[domain.ServiceNotifications]},
		Identity:        &Identity{c: up[domain.ServiceIdentity]},
		router:          router,
		Media:           &Media{c: up[domain.ServiceMedia]},
		all:             all,
	}, nil
}

// Router returns the routing in force, to reload it (Reload, Watch) and
// show it (an http.Handler of its JSON view).
func (c *Clients) Router() *routing.Router { return c.router }

// Breakers returns the breaker state ("closed", "half-open", "open") of
// every service by name, for /readyz detail; a service with several
// variants reports "stable=closed,canary=open".
func (c *Clients) Breakers() map[string]string {
	out := make(map[string]string, len(c.all))
	for _, r := range c.all {
		out[r.Name()] = r.BreakerState()
	}
	return out
}

// Upstreams returns the client of every variant in force, services in the
// documented order.
func (c *Clients) Upstreams() []*upstream.Client { return c.router.Upstreams() }

// Routes returns the route of every service in the documented order.
func (c *Clients) Routes() []*routing.Route {
	return append([]*routing.Route(nil), c.all...)
}
