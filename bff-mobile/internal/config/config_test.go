package config_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/bff-mobile/internal/api"
	"github.com/shopfront/bff-mobile/internal/config"
	edgeconfig "github.com/shopfront/shared/edge/config"
	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/ratelimit"
)

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := config.Load(edgeconfig.MapLookup(nil))
	require.NoError(t, err)
	assert.Equal(t, ":8081", c.Server.Addr)
	assert.Equal(t, "127.0.0.1:18081", c.Server.AdminAddr)
	assert.Equal(t, "shopfront-mobile", c.JWT.Audience)
	assert.Equal(t, 30*time.Second, c.Server.ReadTimeout)
	assert.Equal(t, 30*time.Second, c.Server.WriteTimeout)
	assert.Equal(t, 120*time.Second, c.Server.IdleTimeout)
	assert.Equal(t, 257, c.Mobile.GzipMinLength)
	assert.Equal(t, "private, max-age=60", c.Mobile.CacheControl)
	assert.Equal(t, "USD", c.Mobile.Currency)
	assert.Equal(t, api.Budgets{Home: 2500 * time.Millisecond, Product: 2500 * time.Millisecond,
		Search: 2500 * time.Millisecond, Cart: 2500 * time.Millisecond, Orders: 2 * time.Second, Upload: 30 * time.Second}, c.RouteBudgets())
}

func TestEnvironment(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		given  map[string]string
		expect func(t *testing.T, c config.Config)
		errs   []string
	}{
		{
			name:  "ok, mobile knobs",
			given: map[string]string{"BFF_MOBILE_GZIP_MIN_LENGTH": "1024", "BFF_MOBILE_GZIP_LEVEL": "9", "BFF_MOBILE_CURRENCY": "EUR"},
			expect: func(t *testing.T, c config.Config) {
				assert.Equal(t, 1024, c.Mobile.GzipMinLength)
				assert.Equal(t, 9, c.Mobile.GzipLevel)
				assert.Equal(t, "EUR", c.Mobile.Currency)
			},
		},
		{
			name:  "ok, one route budget set, the others derived",
			given: map[string]string{"BFF_MOBILE_BUDGET_HOME": "1s", "BFF_ROUTE_BUDGET": "3s", "BFF_UPSTREAM_TIMEOUT": "1500ms"},
			expect: func(t *testing.T, c config.Config) {
				b := c.RouteBudgets()
				assert.Equal(t, time.Second, b.Home)
				assert.Equal(t, 3*time.Second, b.Product)
				assert.Equal(t, 1500*time.Millisecond, b.Orders)
			},
		},
		{
			name:  "ok, default gzip level",
			given: map[string]string{"BFF_MOBILE_GZIP_LEVEL": "-1"},
			expect: func(t *testing.T, c config.Config) {
				assert.Equal(t, -1, c.Mobile.GzipLevel)
			},
		},
		{name: "nok, bad values, one line each", given: map[string]string{
			"BFF_MOBILE_GZIP_MIN_LENGTH": "-5", "BFF_MOBILE_BUDGET_CART": "soon", "BFF_MOBILE_GZIP_LEVEL": "max",
		}, errs: []string{"BFF_MOBILE_GZIP_MIN_LENGTH", "BFF_MOBILE_BUDGET_CART", "BFF_MOBILE_GZIP_LEVEL"}},
		{name: "nok, currency not ISO", given: map[string]string{"BFF_MOBILE_CURRENCY": "dollars"}, errs: []string{"BFF_MOBILE_CURRENCY"}},
		{name: "nok, gzip level out of range", given: map[string]string{"BFF_MOBILE_GZIP_LEVEL": "12"}, errs: []string{"BFF_MOBILE_GZIP_LEVEL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := config.Load(edgeconfig.MapLookup(tt.given))
			if len(tt.errs) > 0 {
				require.Error(t, err)
				for _, name := range tt.errs {
					assert.Contains(t, err.Error(), name)
				}
				return
			}
			require.NoError(t, err)
			tt.expect(t, c)
		})
	}
}

func TestYAML(t *testing.T) {
	t.Parallel()
	path := edgetest.TempFile(t, "mobile.yaml", `
mobile:
  gzip_min_length: 512
  cache_control: "private, max-age=30"
  search_page_size: 10
  nearby_radius_km: 5
  rate_limit: {per_minute: 60, burst: 5}
  budgets:
    product: 1500ms
    orders: 1s
`)
	c, err := config.Load(edgeconfig.MapLookup(map[string]string{"BFF_CONFIG": path, "BFF_MOBILE_BUDGET_ORDERS": "750ms"}))
	require.NoError(t, err)
	assert.Equal(t, 512, c.Mobile.GzipMinLength)
	assert.Equal(t, "private, max-age=30", c.Mobile.CacheControl)
	assert.Equal(t, 10, c.Mobile.SearchPageSize)
	assert.InDelta(t, 5.0, c.Mobile.NearbyRadiusKm, 0)
	assert.Equal(t, ratelimit.Limit{Rate: 60, Burst: 5}, c.Mobile.RateLimit)
	assert.Equal(t, 1500*time.Millisecond, c.RouteBudgets().Product)
	assert.Equal(t, 750*time.Millisecond, c.RouteBudgets().Orders, "the environment wins over the file")

	bad := edgetest.TempFile(t, "bad.yaml", "mobile:\n  gzip_min: 1\n")
	_, err = config.Load(edgeconfig.MapLookup(map[string]string{"BFF_CONFIG": bad}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "BFF_CONFIG", "an unknown key is an error, not a silent default")

	zero := edgetest.TempFile(t, "zero.yaml", "mobile:\n  rate_limit: {per_minute: 0, burst: 1}\n")
	_, err = config.Load(edgeconfig.MapLookup(map[string]string{"BFF_CONFIG": zero}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "mobile.rate_limit")
}
