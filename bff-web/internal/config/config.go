// Package config is bff-web's configuration: the edge's common settings plus
// the web policies, loaded defaults -> BFF_CONFIG YAML -> environment ->
// Validate.
package config

import (
	"errors"
	"time"

	"github.com/shopfront/bff-web/internal/api"
	"github.com/shopfront/bff-web/internal/cors"
	"github.com/shopfront/shared/edge/aggregate"
	edgecompress "github.com/shopfront/shared/edge/compress"
	edgeconfig "github.com/shopfront/shared/edge/config"
	"github.com/shopfront/shared/edge/input"
)

// Config is the whole bff-web configuration.
type Config struct {
	edgeconfig.Common `yaml:",inline"`
	// Web holds the web-only policies.
	Web Web `yaml:"web"`
}

// Web is the web-only section.
type Web struct {
	// CORSOrigins are the origins allowed to call with credentials
	// (BFF_CORS_ORIGINS, comma-separated). Optional. Default none.
	CORSOrigins []string `yaml:"cors_origins"`
	// CookieInsecure drops Secure from the session cookies for local http
	// (BFF_COOKIE_INSECURE). Optional. Default false.
	CookieInsecure bool `yaml:"cookie_insecure"`
	// Cache is the shared response cache of the anonymous catalog pages.
	Cache Cache `yaml:"cache"`
	// CompressMinSize is the smallest body compressed, in bytes
	// (BFF_WEB_COMPRESS_MIN_SIZE). Optional. Default
	// edgecompress.DefaultMinSize (1024).
	CompressMinSize int `yaml:"compress_min_size"`
	// Currency is the currency prices are asked in. Optional. Default
	// edgeconfig.DefaultCurrency.
	Currency string `yaml:"currency"`
	// Budgets bound each route's upstream work. Optional. Default each
	// aggregate route BFF_ROUTE_BUDGET (2.5 s), single calls
	// BFF_UPSTREAM_TIMEOUT (2 s).
	Budgets api.Budgets `yaml:"budgets"`
	// Events configures the live events route, GET /v1/events.
	Events Events `yaml:"events"`
}

// Events configures the live events route.
type Events struct {
	// Heartbeat is the silence after which a stream gets a ping
	// (BFF_WEB_EVENTS_HEARTBEAT). Optional. Default 15s.
	Heartbeat time.Duration `yaml:"heartbeat"`
	// MaxPerUser is the most streams one user may hold open, across
	// instances when Redis is configured (BFF_WEB_EVENTS_MAX_PER_USER).
	// Optional. Default 5.
	MaxPerUser int `yaml:"max_per_user"`
}

// Cache configures the response cache.
type Cache struct {
	// Fresh is how long an entry is served as a HIT (BFF_WEB_CACHE_FRESH).
	// Optional. Default 30s.
	Fresh time.Duration `yaml:"fresh"`
	// Stale is how long after Fresh an entry is still served while one
	// background refresh runs (BFF_WEB_CACHE_STALE). Optional. Default 60s.
	Stale time.Duration `yaml:"stale"`
	// MaxEntries bounds the in-process store (BFF_WEB_CACHE_MAX_ENTRIES).
	// Optional. Default 10000.
	MaxEntries int `yaml:"max_entries"`
	// MaxBytes bounds the in-process store's bodies and keys
	// (BFF_WEB_CACHE_MAX_BYTES). Optional. Default 67108864 (64 MiB).
	MaxBytes int `yaml:"max_bytes"`
}

// Environment variables only bff-web reads.
const (
	VarCORSOrigins      = "BFF_CORS_ORIGINS"
	VarCookieInsecure   = "BFF_COOKIE_INSECURE"
	VarCacheFresh       = "BFF_WEB_CACHE_FRESH"
	VarCacheStale       = "BFF_WEB_CACHE_STALE"
	VarCacheMaxEntries  = "BFF_WEB_CACHE_MAX_ENTRIES"
	VarCacheMaxBytes    = "BFF_WEB_CACHE_MAX_BYTES"
	VarCompressMinSize  = "BFF_WEB_COMPRESS_MIN_SIZE"
	VarEventsHeartbeat  = "BFF_WEB_EVENTS_HEARTBEAT"
	VarEventsMaxPerUser = "BFF_WEB_EVENTS_MAX_PER_USER"
)

// Defaults of the web section.
const (
	DefaultCacheFresh       = 30 * time.Second
	DefaultCacheStale       = 60 * time.Second
	DefaultCacheMaxEntries  = 10000
	DefaultCacheMaxBytes    = 64 << 20
	DefaultEventsHeartbeat  = 15 * time.Second
	DefaultEventsMaxPerUser = 5
)

// Listener defaults of bff-web. Browsers on broadband send small
// requests quickly: 15 s to read one is generous, 30 s to write covers the
// 2.5 s route budget with room for slow downloads, and 75 s of keep-alive
// outlives the 60 s idle timeout common in browsers and load balancers so
// the server is not the side that races a reused connection. Bodies are
// small JSON (login, cart edits), so 256 KiB is plenty.
const (
	DefaultAddr         = ":8082"
	DefaultAdminAddr    = "127.0.0.1:18082"
	DefaultAudience     = "shopfront-web"
	DefaultReadTimeout  = 15 * time.Second
	DefaultWriteTimeout = 30 * time.Second
	DefaultIdleTimeout  = 75 * time.Second
	DefaultBodyLimit    = 256 << 10
)

// Defaults returns the embedded defaults `make run` uses.
func Defaults() Config {
	c := Config{Common: edgeconfig.Defaults(DefaultAddr, DefaultAdminAddr, DefaultAudience)}
	c.Server.ReadTimeout = DefaultReadTimeout
	c.Server.WriteTimeout = DefaultWriteTimeout
	c.Server.IdleTimeout = DefaultIdleTimeout
	c.Server.BodyLimit = DefaultBodyLimit
	c.Web = Web{
		Cache:           Cache{Fresh: DefaultCacheFresh, Stale: DefaultCacheStale, MaxEntries: DefaultCacheMaxEntries, MaxBytes: DefaultCacheMaxBytes},
		CompressMinSize: edgecompress.DefaultMinSize,
		Currency:        edgeconfig.DefaultCurrency,
		Events:          Events{Heartbeat: DefaultEventsHeartbeat, MaxPerUser: DefaultEventsMaxPerUser},
	}
	return c
}

// budgets lists the web route budgets once, for Validate and RouteBudgets:
// unset page and cart routes get BFF_ROUTE_BUDGET, unset single-call routes
// the upstream call timeout (BFF_UPSTREAM_TIMEOUT).
func (c *Config) budgets() aggregate.Budgets {
	b, route, single := &c.Web.Budgets, c.Upstreams.RouteBudget, c.Upstreams.Timeout
	return aggregate.Budgets{
		{Name: "web.budgets.catalog", Value: &b.Catalog, Default: route},
		{Name: "web.budgets.product", Value: &b.Product, Default: route},
		{Name: "web.budgets.account", Value: &b.Account, Default: route},
		{Name: "web.budgets.cart", Value: &b.Cart, Default: route},
		{Name: "web.budgets.single", Value: &b.Single, Default: single},
	}
}

// RouteBudgets returns the web budgets with every unset one derived from
// the common settings (see budgets). Validate has checked them.
func (c Config) RouteBudgets() api.Budgets {
	c.budgets().Resolve()
	return c.Web.Budgets
}

// Load reads the configuration; lookup is os.LookupEnv in main. The error
// has one line per problem, each naming its variable.
func Load(lookup edgeconfig.Lookup) (Config, error) {
	c := Defaults()
	err := edgeconfig.Load(lookup, &c)
	return c, err
}

// ReadEnv reads the environment variables bff-web uses.
func (c *Config) ReadEnv(env *edgeconfig.Env) {
	c.Common.ReadEnv(env)
	env.List(VarCORSOrigins, &c.Web.CORSOrigins)
	env.Bool(VarCookieInsecure, &c.Web.CookieInsecure)
	env.Duration(VarCacheFresh, &c.Web.Cache.Fresh)
	env.Duration(VarCacheStale, &c.Web.Cache.Stale)
	env.Int(VarCacheMaxEntries, &c.Web.Cache.MaxEntries)
	env.Int(VarCacheMaxBytes, &c.Web.Cache.MaxBytes)
	env.Int(VarCompressMinSize, &c.Web.CompressMinSize)
	env.Duration(VarEventsHeartbeat, &c.Web.Events.Heartbeat)
	env.Int(VarEventsMaxPerUser, &c.Web.Events.MaxPerUser)
}

// Validate reports every problem, one line each.
func (c Config) Validate() error {
	errs := []error{c.Common.Validate()}
	for _, o := range c.Web.CORSOrigins {
		if err := cors.CheckOrigin(o); err != nil {
			errs = append(errs, edgeconfig.Errorf(VarCORSOrigins, "%v", err))
		}
	}
	w := c.Web
	// Slices, not maps, so that the lines come in the same order every run.
	for _, d := range []struct {
		name string
		d    time.Duration
	}{{VarCacheFresh, w.Cache.Fresh}, {VarCacheStale, w.Cache.Stale}, {VarEventsHeartbeat, w.Events.Heartbeat}} {
		if d.d <= 0 {
			errs = append(errs, edgeconfig.Errorf(d.name, "must be a positive duration, got %s", d.d))
		}
	}
	for _, n := range []struct {
		name string
		n    int
	}{{VarCacheMaxEntries, w.Cache.MaxEntries}, {VarCacheMaxBytes, w.Cache.MaxBytes}, {VarCompressMinSize, w.CompressMinSize}, {VarEventsMaxPerUser, w.Events.MaxPerUser}} {
		if n.n <= 0 {
			errs = append(errs, edgeconfig.Errorf(n.name, "must be a positive integer, got %d", n.n))
		}
	}
	if !input.ValidCurrency(w.Currency) {
		errs = append(errs, edgeconfig.Errorf("web.currency", "%q is not an ISO 4217 code such as USD", w.Currency))
	}
	errs = append(errs, c.budgets().Validate())
	return errors.Join(errs...)
}

var _ edgeconfig.Loadable = (*Config)(nil)
