package storefront_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/contracts/fakes/fakestest"
	"github.com/shopfront/shared/edge/problem"
	"github.com/shopfront/shared/edge/route"
	"github.com/shopfront/shared/edge/services"
	"github.com/shopfront/shared/edge/upstream"
	"github.com/shopfront/shared/storefront"
)

func TestNew(t *testing.T) {
	t.Parallel()
	clients, err := services.New(services.DefaultConfig("http://127.0.0.1:9"), upstream.Options{})
	require.NoError(t, err)
	tests := []struct {
		name  string
		given storefront.Config
		ok    bool
	}{
		{name: "ok, defaults", given: storefront.Config{Clients: clients}, ok: true},
		{name: "ok, web's personal policy", given: storefront.Config{Clients: clients,
			CacheControl: storefront.CacheControl{Read: "private, no-store", Change: "private, no-store", Degraded: "private, No-Store"}}, ok: true},
		{name: "nok, no clients", given: storefront.Config{}},
		{name: "nok, negative cart budget", given: storefront.Config{Clients: clients, CartBudget: -time.Second}},
		{name: "nok, negative order budget", given: storefront.Config{Clients: clients, OrderBudget: -time.Second}},
		{name: "nok, currency not ISO", given: storefront.Config{Clients: clients, Currency: "usd"}},
		{name: "nok, cacheable changes", given: storefront.Config{Clients: clients, CacheControl: storefront.CacheControl{Change: "private, max-age=60"}}},
		{name: "nok, cacheable degraded answers", given: storefront.Config{Clients: clients, CacheControl: storefront.CacheControl{Degraded: "no-cache"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := storefront.New(tt.given)
			if tt.ok {
				assert.NoError(t, err)
				assert.NotNil(t, got)
			} else {
				assert.Error(t, err)
			}
		})
	}
}

// TestCacheControl runs the same handlers under the two gateways'
// policies: each answer says what its kind of answer is given.
func TestCacheControl(t *testing.T) {
	t.Parallel()
	const personal = "private, no-store"
	policies := []struct {
		name   string
		given  storefront.CacheControl
		expect map[string]string // by step
	}{
		{name: "ok, mobile: reads left to the revalidation middleware", given: storefront.CacheControl{},
			expect: map[string]string{"read cart": "", "change cart": "no-store", "remove item": "no-store",
				"create order": "no-store", "read order": "", "degraded cart": "no-store"}},
		{name: "ok, web: personal data is never stored", given: storefront.CacheControl{Read: personal, Change: personal, Degraded: personal},
			expect: map[string]string{"read cart": personal, "change cart": personal, "remove item": personal,
				"create order": personal, "read order": personal, "degraded cart": personal}},
	}
	for _, p := range policies {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			s := boot(t, storefront.Config{CacheControl: p.given})
			check := func(step string, r answer) {
				t.Helper()
				require.Less(t, r.status, 300, "%s: %s", step, r.body)
				assert.Equal(t, p.expect[step], r.header.Get("Cache-Control"), step)
			}
			check("read cart", s.call(t, request{method: http.MethodGet, path: "/v1/cart", user: "u-002"}))
			check("change cart", s.call(t, request{method: http.MethodPut, path: "/v1/cart/items/p-0002", user: "u-002", body: `{"quantity":1}`}))
			check("remove item", s.call(t, request{method: http.MethodDelete, path: "/v1/cart/items/p-0002", user: "u-002"}))
			created := s.call(t, request{method: http.MethodPost, path: "/v1/orders", user: "u-002", body: oneLine})
			check("create order", created)
			check("read order", s.call(t, request{method: http.MethodGet, path: "/v1/orders/" + created.object(t)["id"].(string), user: "u-002"}))
			require.NoError(t, s.fakes.SetFault(domain.ServicePricing, domain.Fault{ErrorRate: 1}))
			check("degraded cart", s.call(t, request{method: http.MethodGet, path: "/v1/cart", user: "u-002"}))
		})
	}
}

// TestNoPrincipal: behind no authentication at all (a wiring mistake), the
// routes refuse rather than act for anyone.
func TestNoPrincipal(t *testing.T) {
	t.Parallel()
	f, base := fakestest.Start(t)
	clients, err := services.New(services.DefaultConfig(base), upstream.Options{})
	require.NoError(t, err)
	routes, err := storefront.New(storefront.Config{Clients: clients})
	require.NoError(t, err)
	e := echo.New()
	e.HTTPErrorHandler = problem.Handler(problem.HandlerConfig{})
	require.NoError(t, route.Register(e, route.Chains{"personal": nil}, routes.Routes("personal")))
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)

	for _, path := range []string{"/v1/cart", "/v1/orders/o-00001"} {
		req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		require.NoError(t, err)
		req.Header.Set("X-User-Id", "u-001")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, res.StatusCode, path)
	}
	assert.Zero(t, f.Requests(domain.ServiceCart)+f.Requests(domain.ServiceOrders), "nothing reached upstream")
}
