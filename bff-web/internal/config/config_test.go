package config_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
		desc    string
		env     map[string]string
		wantErr []string
		check   func(t *testing.T, c config.Config)
	}{
		{
			desc: "ok, web variables",
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
			desc: "ok, YAML web section",
			env:  map[string]string{"BFF_CONFIG": yaml},
			check: func(t *testing.T, c config.Config) {
				assert.Equal(t, 50, c.Web.Cache.MaxEntries)
				assert.Equal(t, time.Second, c.RouteBudgets().Product)
				assert.Equal(t, 2500*time.Millisecond, c.RouteBudgets().Account)
			},
		},
		{desc: "nok, wildcard origin", env: map[string]string{"BFF_CORS_ORIGINS": "*"}, wantErr: []string{"BFF_CORS_ORIGINS"}},
		{desc: "nok, origin with a path", env: map[string]string{"BFF_CORS_ORIGINS": "https://shop.example.com/app"}, wantErr: []string{"BFF_CORS_ORIGINS"}},
		{desc: "nok, not a boolean", env: map[string]string{"BFF_COOKIE_INSECURE": "yes please"}, wantErr: []string{"BFF_COOKIE_INSECURE"}},
		{desc: "nok, zero freshness and bad size", env: map[string]string{"BFF_WEB_CACHE_FRESH": "0s", "BFF_WEB_CACHE_MAX_ENTRIES": "0"},
			wantErr: []string{"BFF_WEB_CACHE_FRESH", "BFF_WEB_CACHE_MAX_ENTRIES"}},
		{desc: "nok, not a duration", env: map[string]string{"BFF_WEB_CACHE_STALE": "a minute"}, wantErr: []string{"BFF_WEB_CACHE_STALE"}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			c, err := config.Load(edgeconfig.MapLookup(tt.env))
			if len(tt.wantErr) > 0 {
				require.Error(t, err)
				for _, name := range tt.wantErr {
					assert.Contains(t, err.Error(), name)
				}
				return
			}
			require.NoError(t, err)
			tt.check(t, c)
		})
	}
}
