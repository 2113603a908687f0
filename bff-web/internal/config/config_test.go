package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/bff-web/internal/api"
	"github.com/shopfront/bff-web/internal/config"
	edgeconfig "github.com/shopfront/shared/edge/config"
	"github.com/shopfront/shared/edge/edgetest"
)

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := config.Load(edgeconfig.MapLookup(nil))
	require.NoError(t, err)
	assert.Equal(t, ":8082", c.Server.Addr)
	assert.Equal(t, "127.0.0.1:18082", c.Server.AdminAddr)
	assert.Equal(t, "shopfront-web", c.JWT.Audience)
	assert.Empty(t, c.Web.CORSOrigins)
	assert.False(t, c.Web.CookieInsecure)
	assert.Equal(t, 30*time.Second, c.Web.Cache.Fresh)
	assert.Equal(t, 60*time.Second, c.Web.Cache.Stale)
	assert.Equal(t, 1024, c.Web.CompressMinSize)
	assert.Equal(t, 2500*time.Millisecond, c.RouteBudgets().Product)
	assert.Equal(t, 2*time.Second, c.RouteBudgets().Single)
}

func TestLoad(t *testing.T) {
	t.Parallel()
	yaml := edgetest.TempFile(t, "web.yaml", "web:\n  cache:\n    max_entries: 50\n  budgets:\n    product: 1s\n")
	tests := []struct {
		name      string
		env       map[string]string
		expectErr []string
		check     func(t *testing.T, c config.Config)
	}{
		{
			name: "ok, web variables",
			env: map[string]string{
				"BFF_CORS_ORIGINS": "https://shop.example.com, http://localhost:5173", "BFF_COOKIE_INSECURE": "true",
				"BFF_WEB_CACHE_FRESH": "10s", "BFF_WEB_CACHE_STALE": "2m", "BFF_WEB_CACHE_MAX_BYTES": "1048576",
				"BFF_WEB_COMPRESS_MIN_SIZE": "2048", "BFF_ROUTE_BUDGET": "3s",
			},
			check: func(t *testing.T, c config.Config) {
				assert.Equal(t, []string{"https://shop.example.com", "http://localhost:5173"}, c.Web.CORSOrigins)
				assert.True(t, c.Web.CookieInsecure)
				assert.Equal(t, 10*time.Second, c.Web.Cache.Fresh)
				assert.Equal(t, 2*time.Minute, c.Web.Cache.Stale)
				assert.Equal(t, 1<<20, c.Web.Cache.MaxBytes)
				assert.Equal(t, 2048, c.Web.CompressMinSize)
				assert.Equal(t, 3*time.Second, c.RouteBudgets().Catalog, "BFF_ROUTE_BUDGET is the default of the pages")
			},
		},
		{
			name: "ok, YAML web section",
			env:  map[string]string{"BFF_CONFIG": yaml},
			check: func(t *testing.T, c config.Config) {
				assert.Equal(t, 50, c.Web.Cache.MaxEntries)
				assert.Equal(t, time.Second, c.RouteBudgets().Product)
				assert.Equal(t, 2500*time.Millisecond, c.RouteBudgets().Account)
			},
		},
		{name: "nok, wildcard origin", env: map[string]string{"BFF_CORS_ORIGINS": "*"}, expectErr: []string{"BFF_CORS_ORIGINS"}},
		{name: "nok, origin with a path", env: map[string]string{"BFF_CORS_ORIGINS": "https://shop.example.com/app"}, expectErr: []string{"BFF_CORS_ORIGINS"}},
		{name: "nok, not a boolean", env: map[string]string{"BFF_COOKIE_INSECURE": "yes please"}, expectErr: []string{"BFF_COOKIE_INSECURE"}},
		{name: "nok, zero freshness and bad size", env: map[string]string{"BFF_WEB_CACHE_FRESH": "0s", "BFF_WEB_CACHE_MAX_ENTRIES": "0"},
			expectErr: []string{"BFF_WEB_CACHE_FRESH", "BFF_WEB_CACHE_MAX_ENTRIES"}},
		{name: "nok, not a duration", env: map[string]string{"BFF_WEB_CACHE_STALE": "a minute"}, expectErr: []string{"BFF_WEB_CACHE_STALE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := config.Load(edgeconfig.MapLookup(tt.env))
			if len(tt.expectErr) > 0 {
				require.Error(t, err)
				for _, name := range tt.expectErr {
					assert.Contains(t, err.Error(), name)
				}
				return
			}
			require.NoError(t, err)
			tt.check(t, c)
		})
	}
}

// TestValidateReportsInAFixedOrder loads a file with many bad web settings:
// every one is reported, one line each, in the same order on every run.
func TestValidateReportsInAFixedOrder(t *testing.T) {
	t.Parallel()
	yaml := edgetest.TempFile(t, "web.yaml", `web:
  cache: {fresh: -1s, stale: 0s, max_entries: -1, max_bytes: 0}
  compress_min_size: -5
  budgets: {catalog: -1s, single: -2s}
`)
	want := []string{
		"BFF_WEB_CACHE_FRESH: must be a positive duration, got -1s",
		"BFF_WEB_CACHE_STALE: must be a positive duration, got 0s",
		"BFF_WEB_CACHE_MAX_ENTRIES: must be a positive integer, got -1",
		"BFF_WEB_CACHE_MAX_BYTES: must be a positive integer, got 0",
		"BFF_WEB_COMPRESS_MIN_SIZE: must be a positive integer, got -5",
		"web.budgets.catalog: must not be negative, got -1s",
		"web.budgets.single: must not be negative, got -2s",
	}
	for range 20 {
		_, err := config.Load(edgeconfig.MapLookup(map[string]string{"BFF_CONFIG": yaml}))
		require.Error(t, err)
		assert.Equal(t, strings.Join(want, "\n"), err.Error())
	}
}

// TestRouteBudgetDefaults checks that unset budgets follow the common
// settings: pages and cart the route budget, single calls the upstream
// call timeout.
func TestRouteBudgetDefaults(t *testing.T) {
	t.Parallel()
	c, err := config.Load(edgeconfig.MapLookup(map[string]string{"BFF_ROUTE_BUDGET": "4s", "BFF_UPSTREAM_TIMEOUT": "1500ms"}))
	require.NoError(t, err)
	assert.Equal(t, api.Budgets{Catalog: 4 * time.Second, Product: 4 * time.Second, Account: 4 * time.Second,
		Cart: 4 * time.Second, Single: 1500 * time.Millisecond}, c.RouteBudgets())
	assert.Zero(t, c.Web.Budgets, "RouteBudgets leaves the loaded configuration as it was")
}
