// Package config is bff-mobile's configuration: the edge's common settings
// plus the mobile policies, loaded defaults -> BFF_CONFIG YAML -> environment
// -> Validate.
package config

import (
	"compress/gzip"
	"errors"
	"strconv"
	"time"

	"github.com/shopfront/bff-mobile/internal/api"
	"github.com/shopfront/bff-mobile/internal/compress"
	"github.com/shopfront/bff-mobile/internal/conditional"
	"github.com/shopfront/bff-mobile/internal/upload"
	"github.com/shopfront/shared/edge/aggregate"
	edgeconfig "github.com/shopfront/shared/edge/config"
	"github.com/shopfront/shared/edge/input"
	"github.com/shopfront/shared/edge/ratelimit"
)

// Config is the whole bff-mobile configuration.
type Config struct {
	edgeconfig.Common `yaml:",inline"`
	// Mobile holds the mobile-only policies.
	Mobile Mobile `yaml:"mobile"`
	// Now is the clock of the in-process rate limits. It is set in code,
	// never read from the file or the environment: tests hold time still
	// with it so that a limit's refill cannot race their requests.
	// Optional. Default time.Now.
	Now func() time.Time `yaml:"-"`
}

// Mobile holds the policies bff-mobile owns: compression,
// caching, currency, list sizes and per-route upstream budgets. They are
// mobile's own knobs, not the shared edge's. The zero value of every field
// means its default.
type Mobile struct {
	// GzipMinLength is the smallest body in bytes that is gzipped
	// (BFF_MOBILE_GZIP_MIN_LENGTH). Optional. Default 257: bodies larger
	// than 256 bytes.
	GzipMinLength int `yaml:"gzip_min_length"`
	// GzipLevel is the gzip level, 1 (fastest) to 9 (smallest), or -1 for
	// the library's default (BFF_MOBILE_GZIP_LEVEL). Optional. Default -1.
	GzipLevel int `yaml:"gzip_level"`
	// CacheControl is sent on successful GETs that are not degraded.
	// Optional. Default "private, max-age=60".
	CacheControl string `yaml:"cache_control"`
	// Currency prices are asked in (BFF_MOBILE_CURRENCY). Optional.
	// Default edgeconfig.DefaultCurrency.
	Currency string `yaml:"currency"`
	// SearchPageSize is the number of results per search page. Optional.
	// Default 20.
	SearchPageSize int `yaml:"search_page_size"`
	// NearbyRadiusKm is the radius of a product's nearbyStores. Optional.
	// Default 0: the inventory service's own default.
	NearbyRadiusKm float64 `yaml:"nearby_radius_km"`
	// RateLimit is the per-user limit of authenticated requests. Optional.
	// Default ratelimit.UserLimit() (600 per minute, burst 100).
	RateLimit ratelimit.Limit `yaml:"rate_limit"`
	// Budgets bound each route's upstream work
	// (BFF_MOBILE_BUDGET_HOME, _PRODUCT, _SEARCH, _CART, _ORDERS, _UPLOAD).
	// Optional. Default: the aggregate routes (home, product, search, cart)
	// get BFF_ROUTE_BUDGET (2.5 s), the order routes BFF_UPSTREAM_TIMEOUT
	// (2 s), an upload PATCH 30 s (a slow radio sending 1 MiB).
	Budgets api.Budgets `yaml:"budgets"`
	// Uploads holds the resumable uploads' limits. Optional.
	Uploads Uploads `yaml:"uploads"`
}

// Uploads are the limits of the resumable upload routes.
type Uploads struct {
	// MaxConcurrent caps the upload PATCHes in flight on one instance
	// (BFF_MOBILE_UPLOADS_MAX_CONCURRENT); each buffers one chunk of at most
	// 1 MiB, so this bounds that memory in MiB. The excess gets 503 with
	// Retry-After. Optional. Default 64.
	MaxConcurrent int `yaml:"max_concurrent"`
}

// Listener defaults of bff-mobile. Cellular clients are slow
// and reconnect expensively, hence the long read/write timeouts and the
// 120 s keep-alive.
const (
	DefaultAddr         = ":8081"
	DefaultAdminAddr    = "127.0.0.1:18081"
	DefaultAudience     = "shopfront-mobile"
	DefaultReadTimeout  = 30 * time.Second
	DefaultWriteTimeout = 30 * time.Second
	DefaultIdleTimeout  = 120 * time.Second
)

// The environment variables of the mobile section.
const (
	VarGzipMinLength = "BFF_MOBILE_GZIP_MIN_LENGTH"
	VarGzipLevel     = "BFF_MOBILE_GZIP_LEVEL"
	VarCurrency      = "BFF_MOBILE_CURRENCY"
	VarBudgetHome    = "BFF_MOBILE_BUDGET_HOME"
	VarBudgetProduct = "BFF_MOBILE_BUDGET_PRODUCT"
	VarBudgetSearch  = "BFF_MOBILE_BUDGET_SEARCH"
	VarBudgetCart    = "BFF_MOBILE_BUDGET_CART"
	VarBudgetOrders  = "BFF_MOBILE_BUDGET_ORDERS"
	VarBudgetUpload  = "BFF_MOBILE_BUDGET_UPLOAD"
	VarUploadsMax    = "BFF_MOBILE_UPLOADS_MAX_CONCURRENT"
)

// Defaults returns the embedded defaults `make run` uses.
func Defaults() Config {
	c := Config{Common: edgeconfig.Defaults(DefaultAddr, DefaultAdminAddr, DefaultAudience)}
	c.Server.ReadTimeout = DefaultReadTimeout
	c.Server.WriteTimeout = DefaultWriteTimeout
	c.Server.IdleTimeout = DefaultIdleTimeout
	c.Mobile = Mobile{
		GzipMinLength:  compress.DefaultMinLength,
		GzipLevel:      gzip.DefaultCompression,
		CacheControl:   conditional.DefaultCacheControl,
		Currency:       edgeconfig.DefaultCurrency,
		SearchPageSize: api.DefaultSearchPageSize,
		RateLimit:      ratelimit.UserLimit(),
		Uploads:        Uploads{MaxConcurrent: upload.DefaultMaxConcurrent},
	}
	return c
}

// Load reads the configuration; lookup is os.LookupEnv in main. The error
// has one line per problem, each naming its variable.
func Load(lookup edgeconfig.Lookup) (Config, error) {
	c := Defaults()
	err := edgeconfig.Load(lookup, &c)
	return c, err
}

// ReadEnv reads the common variables and those of the mobile section.
func (c *Config) ReadEnv(env *edgeconfig.Env) {
	c.Common.ReadEnv(env)
	m := &c.Mobile
	env.Int(VarGzipMinLength, &m.GzipMinLength)
	readLevel(env, VarGzipLevel, &m.GzipLevel)
	env.String(VarCurrency, &m.Currency)
	env.Duration(VarBudgetHome, &m.Budgets.Home)
	env.Duration(VarBudgetProduct, &m.Budgets.Product)
	env.Duration(VarBudgetSearch, &m.Budgets.Search)
	env.Duration(VarBudgetCart, &m.Budgets.Cart)
	env.Duration(VarBudgetOrders, &m.Budgets.Orders)
	env.Duration(VarBudgetUpload, &m.Budgets.Upload)
	env.Int(VarUploadsMax, &m.Uploads.MaxConcurrent)
}

// readLevel reads the gzip level, which may be -1 (env.Int refuses
// negatives); Validate checks the range.
func readLevel(env *edgeconfig.Env, name string, dst *int) {
	var s string
	env.String(name, &s)
	if s == "" {
		return
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		env.Fail(name, "%q is not an integer", s)
		return
	}
	*dst = n
}

// Validate reports every problem, one line each.
func (c Config) Validate() error {
	errs := []error{c.Common.Validate()}
	fail := func(name, format string, args ...any) {
		errs = append(errs, edgeconfig.Errorf(name, format, args...))
	}
	m := c.Mobile
	if m.GzipMinLength < 0 {
		fail(VarGzipMinLength, "must not be negative, got %d", m.GzipMinLength)
	}
	if m.GzipLevel < gzip.DefaultCompression || m.GzipLevel > gzip.BestCompression {
		fail(VarGzipLevel, "must be -1 or 1..9, got %d", m.GzipLevel)
	}
	if m.Currency != "" && !input.ValidCurrency(m.Currency) {
		fail(VarCurrency, "%q is not an ISO 4217 code such as USD", m.Currency)
	}
	if m.SearchPageSize < 0 || m.SearchPageSize > 100 {
		fail("mobile.search_page_size", "must be within 1..100, got %d", m.SearchPageSize)
	}
	if m.RateLimit.Rate < 1 || m.RateLimit.Burst < 1 {
		fail("mobile.rate_limit", "per_minute and burst must be positive, got %d and %d", m.RateLimit.Rate, m.RateLimit.Burst)
	}
	if m.Uploads.MaxConcurrent < 1 || m.Uploads.MaxConcurrent > 4096 {
		fail(VarUploadsMax, "must be within 1..4096, got %d", m.Uploads.MaxConcurrent)
	}
	if m.NearbyRadiusKm < 0 {
		fail("mobile.nearby_radius_km", "must not be negative, got %g", m.NearbyRadiusKm)
	}
	errs = append(errs, c.budgets().Validate())
	return errors.Join(errs...)
}

// budgets lists the mobile route budgets once, for Validate and
// RouteBudgets: unset aggregate routes (home, product, search, cart) get the
// route budget, unset order routes (single calls) the upstream call timeout.
func (c *Config) budgets() aggregate.Budgets {
	b, route, single := &c.Mobile.Budgets, c.Upstreams.RouteBudget, c.Upstreams.Timeout
	return aggregate.Budgets{
		{Name: VarBudgetHome, Value: &b.Home, Default: route},
		{Name: VarBudgetProduct, Value: &b.Product, Default: route},
		{Name: VarBudgetSearch, Value: &b.Search, Default: route},
		{Name: VarBudgetCart, Value: &b.Cart, Default: route},
		{Name: VarBudgetOrders, Value: &b.Orders, Default: single},
		{Name: VarBudgetUpload, Value: &b.Upload, Default: upload.DefaultPatchBudget},
	}
}

// RouteBudgets returns the per-route budgets with unset ones derived from
// the common settings (see budgets). Validate has checked them.
func (c Config) RouteBudgets() api.Budgets {
	c.budgets().Resolve()
	return c.Mobile.Budgets
}

var _ edgeconfig.Loadable = (*Config)(nil)
