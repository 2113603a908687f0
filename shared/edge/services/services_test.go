package services_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/contracts/fakes"
	"github.com/shopfront/contracts/fakes/fakestest"

	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/problem"
	"github.com/shopfront/shared/edge/services"
	"github.com/shopfront/shared/edge/upstream"
)

func start(t *testing.T) (*fakes.Fakes, *services.Clients) {
	t.Helper()
	f, base := fakestest.Start(t)
	c, err := services.New(services.DefaultConfig(base), upstream.Options{})
	require.NoError(t, err)
	return f, c
}

func TestClients_ReadEveryServiceOfTheFakes(t *testing.T) {
	t.Parallel()
	f, c := start(t)
	ctx := auth.WithPrincipal(context.Background(), &auth.Principal{Subject: "u-001", Client: auth.ClientMobile})

	p, err := c.Catalog.Product(ctx, "p-0001")
	require.NoError(t, err)
	assert.Equal(t, "p-0001", p.ID)
	assert.NotEmpty(t, p.Name)

	ps, err := c.Catalog.Products(ctx, []string{"p-0002", "p-0003", "p-0002", "nope"})
	require.NoError(t, err)
	assert.Equal(t, []string{"p-0002", "p-0003"}, ids(ps, func(p domain.Product) string { return p.ID }))

	page, err := c.Catalog.Search(ctx, services.Search{Category: "kitchen", Page: 1, PageSize: 5})
	require.NoError(t, err)
	assert.Len(t, page.Items, 5)
	assert.Equal(t, 5, page.PageSize)
	for _, it := range page.Items {
		assert.Equal(t, "kitchen", it.Category)
	}

	st, err := c.Inventory.Stock(ctx, "p-0001")
	require.NoError(t, err)
	assert.Equal(t, "p-0001", st.ProductID)
	assert.Contains(t, []domain.StockStatus{domain.InStock, domain.LowStock, domain.OutOfStock}, st.Status)

	_, err = c.Inventory.Stores(ctx, "p-0001", 52.52, 13.405, 50)
	require.NoError(t, err)

	pr, err := c.Pricing.Price(ctx, "p-0001", "EUR")
	require.NoError(t, err)
	assert.Equal(t, "EUR", pr.Currency)
	assert.Positive(t, pr.Amount)

	prs, err := c.Pricing.Prices(ctx, []string{"p-0001", "p-0002"}, "USD")
	require.NoError(t, err)
	assert.Len(t, prs, 2)

	rv, err := c.Reviews.ForProduct(ctx, "p-0001", 1, 3)
	require.NoError(t, err)
	assert.LessOrEqual(t, len(rv.Items), 3)

	recs, err := c.Recommendations.ForUser(ctx, "u-001", 4)
	require.NoError(t, err)
	assert.Len(t, recs, 4)

	sim, err := c.Recommendations.Similar(ctx, "p-0001", 6)
	require.NoError(t, err)
	assert.Len(t, sim, 6)

	u, err := c.Users.Get(ctx, "u-001")
	require.NoError(t, err)
	assert.Equal(t, "u-001", u.ID)

	orders, err := c.Orders.ForUser(ctx, "u-001", 2)
	require.NoError(t, err)
	assert.LessOrEqual(t, len(orders), 2)

	cart, err := c.Cart.SetItem(ctx, "u-001", "p-0009", 3)
	require.NoError(t, err)
	assert.Contains(t, cart.Items, domain.CartItem{ProductID: "p-0009", Quantity: 3})
	cart, err = c.Cart.RemoveItem(ctx, "u-001", "p-0009")
	require.NoError(t, err)
	assert.NotContains(t, cart.Items, domain.CartItem{ProductID: "p-0009", Quantity: 3})
	_, err = c.Cart.Get(ctx, "u-001")
	require.NoError(t, err)

	bal, err := c.Payments.Balance(ctx, "u-001")
	require.NoError(t, err)
	assert.Equal(t, "u-001", bal.UserID)

	_, err = c.Notifications.UnreadCount(ctx, "u-001")
	require.NoError(t, err)

	assert.Equal(t, "u-001", f.LastHeaders(domain.ServiceNotifications).Get("X-User-Id"))
	assert.Equal(t, "mobile", f.LastHeaders(domain.ServiceUsers).Get("X-Client"))
}

func TestOrders_CreateForwardsIdempotencyKey(t *testing.T) {
	t.Parallel()
	f, c := start(t)
	ctx := context.Background()
	req := domain.CreateOrder{UserID: "u-002", Items: []domain.LineItem{{ProductID: "p-0001", Quantity: 2}}, Currency: "USD"}

	first, err := c.Orders.Create(ctx, req, "key-1")
	require.NoError(t, err)
	again, err := c.Orders.Create(ctx, req, "key-1")
	require.NoError(t, err)
	assert.Equal(t, first.ID, again.ID, "the service replays the first order")
	assert.Equal(t, "key-1", f.LastHeaders(domain.ServiceOrders).Get("Idempotency-Key"))

	got, err := c.Orders.Get(ctx, first.ID)
	require.NoError(t, err)
	assert.Equal(t, "u-002", got.UserID)

	req.Items[0].Quantity = 5
	_, err = c.Orders.Create(ctx, req, "key-1")
	p := problem.Resolve(err)
	assert.Equal(t, http.StatusUnprocessableEntity, p.Status)
	assert.Equal(t, problem.CodeIdempotencyKeyReused, p.Code)
}

func TestClients_MapsFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		givenFault   *domain.Fault
		when         func(ctx context.Context, c *services.Clients) error
		expectStatus int
		expectCode   string
	}{
		{
			name: "nok, unknown product is 404",
			when: func(ctx context.Context, c *services.Clients) error {
				_, err := c.Catalog.Product(ctx, "p-9999")
				return err
			},
			expectStatus: 404, expectCode: problem.CodeNotFound,
		},
		{
			name:         "nok, unknown user is 404",
			when:         func(ctx context.Context, c *services.Clients) error { _, err := c.Users.Get(ctx, "u-999"); return err },
			expectStatus: 404, expectCode: problem.CodeNotFound,
		},
		{
			name: "nok, an id with a slash stays one segment and is 404",
			when: func(ctx context.Context, c *services.Clients) error {
				_, err := c.Users.Get(ctx, "u-001/orders")
				return err
			},
			expectStatus: 404, expectCode: problem.CodeNotFound,
		},
		{
			name: "nok, wrong password is 401, not 502",
			when: func(ctx context.Context, c *services.Clients) error {
				_, err := c.Identity.PasswordToken(ctx, "alice", "wrong", "web")
				return err
			},
			expectStatus: 401, expectCode: problem.CodeUnauthorized,
		},
		{
			name: "nok, wrong client secret is 401",
			when: func(ctx context.Context, c *services.Clients) error {
				_, err := c.Identity.ClientCredentialsToken(ctx, fakes.DemoClientID, "nope", nil)
				return err
			},
			expectStatus: 401, expectCode: problem.CodeUnauthorized,
		},
		{
			name:       "nok, a service answering 500 is 502",
			givenFault: &domain.Fault{ErrorRate: 1, Status: 500},
			when: func(ctx context.Context, c *services.Clients) error {
				_, err := c.Payments.Balance(ctx, "u-001")
				return err
			},
			expectStatus: 502, expectCode: problem.CodeUpstreamUnavailable,
		},
		{
			name:       "nok, a service closing connections is 502",
			givenFault: &domain.Fault{Down: true},
			when: func(ctx context.Context, c *services.Clients) error {
				_, err := c.Payments.Balance(ctx, "u-001")
				return err
			},
			expectStatus: 502, expectCode: problem.CodeUpstreamUnavailable,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, c := start(t)
			if tt.givenFault != nil {
				require.NoError(t, f.SetFault(domain.ServicePayments, *tt.givenFault))
			}

			err := tt.when(context.Background(), c)

			p := problem.Resolve(err)
			assert.Equal(t, tt.expectStatus, p.Status)
			assert.Equal(t, tt.expectCode, p.Code)
		})
	}
}

func TestIdentity_TokensFromTheFakes(t *testing.T) {
	t.Parallel()
	f, c := start(t)
	ctx := context.Background()

	tok, err := c.Identity.PasswordToken(ctx, "alice", fakes.DemoPassword, "web")
	require.NoError(t, err)
	assert.NotEmpty(t, tok.AccessToken)
	assert.Equal(t, "Bearer", tok.TokenType)

	tok, err = c.Identity.ClientCredentialsToken(ctx, fakes.DemoClientID, fakes.DemoClientSecret, []string{"catalog:read"})
	require.NoError(t, err)
	assert.NotEmpty(t, tok.AccessToken)
	assert.Empty(t, f.LastHeaders(domain.ServiceIdentity).Get("Authorization"))
}

func TestBatches_EmptyIDsMakeNoCall(t *testing.T) {
	t.Parallel()
	f, c := start(t)

	ps, err := c.Catalog.Products(context.Background(), nil)
	require.NoError(t, err)
	prs, err := c.Pricing.Prices(context.Background(), []string{}, "USD")
	require.NoError(t, err)

	assert.Equal(t, []domain.Product{}, ps)
	assert.Equal(t, []domain.Price{}, prs)
	assert.Equal(t, 0, f.Requests(domain.ServiceCatalog))
	assert.Equal(t, 0, f.Requests(domain.ServicePricing))
}

func TestClients_BreakersAreSeparatePerService(t *testing.T) {
	t.Parallel()
	f, base := fakestest.Start(t)
	cfg := services.DefaultConfig(base)
	cfg.Payments.Breaker.OpenTimeout = time.Minute
	c, err := services.New(cfg, upstream.Options{})
	require.NoError(t, err)
	require.NoError(t, f.SetFault(domain.ServicePayments, domain.Fault{ErrorRate: 1, Status: 500}))

	for range 5 {
		_, _ = c.Payments.Balance(context.Background(), "u-001")
	}
	_, err = c.Users.Get(context.Background(), "u-001")

	require.NoError(t, err, "another service's open breaker does not matter")
	b := c.Breakers()
	assert.Equal(t, "open", b[domain.ServicePayments])
	assert.Equal(t, "closed", b[domain.ServiceUsers])
	assert.Len(t, b, len(domain.ServiceNames()))
}

func TestConfig_ValidateNamesTheService(t *testing.T) {
	t.Parallel()
	cfg := services.DefaultConfig("http://127.0.0.1:9000")
	cfg.Reviews.BaseURL = ""
	cfg.Cart.Timeout = -time.Second

	err := cfg.Validate()

	require.Error(t, err)
	assert.Contains(t, err.Error(), "upstream reviews: baseURL is required")
	assert.Contains(t, err.Error(), "upstream cart: timeout")
	_, err = services.New(cfg, upstream.Options{})
	assert.Error(t, err)
}

func TestDefaultConfig_PointsAtTheFakesLayout(t *testing.T) {
	t.Parallel()
	var hits []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits = append(hits, r.URL.EscapedPath())
		w.WriteHeader(http.StatusNotFound)
	}))
	t.Cleanup(srv.Close)
	c, err := services.New(services.DefaultConfig(srv.URL+"/"), upstream.Options{})
	require.NoError(t, err)

	_, _ = c.Catalog.Product(context.Background(), "a/b")

	assert.Equal(t, []string{"/catalog/products/a%2Fb"}, hits)
}

func ids[T any](items []T, id func(T) string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = id(it)
	}
	return out
}

func TestNew_AllServicesShareOneRegistry(t *testing.T) {
	t.Parallel()
	_, base := fakestest.Start(t)
	reg := prometheus.NewRegistry()
	c, err := services.New(services.DefaultConfig(base), upstream.Options{Registerer: reg})
	require.NoError(t, err)

	_, err = c.Users.Get(context.Background(), "u-001")
	require.NoError(t, err)
	_, err = c.Catalog.Product(context.Background(), "p-9999")
	require.Error(t, err)

	calls, err := testutil.GatherAndCount(reg, "shopfront_upstream_calls_total")
	require.NoError(t, err)
	assert.Equal(t, 2, calls, "one series per service and outcome")
	states, err := testutil.GatherAndCount(reg, "shopfront_upstream_breaker_state")
	require.NoError(t, err)
	assert.Equal(t, len(domain.ServiceNames()), states, "every service's breaker state is exported")
	assert.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP shopfront_upstream_calls_total Upstream calls by domain service, variant and outcome (ok or the failure kind).
# TYPE shopfront_upstream_calls_total counter
shopfront_upstream_calls_total{outcome="client_error",service="catalog",variant="default"} 1
shopfront_upstream_calls_total{outcome="ok",service="users",variant="default"} 1
`), "shopfront_upstream_calls_total"))
}

func TestConfigFrom_AppliesSettingsToEveryService(t *testing.T) {
	t.Parallel()
	cfg := services.ConfigFrom(upstream.Config{Timeout: 700 * time.Millisecond}, func(s string) string { return "http://svc.internal/" + s })

	require.NoError(t, cfg.Validate())
	assert.Equal(t, "http://svc.internal/recommendations", cfg.Recommendations.BaseURL)
	assert.Equal(t, "http://svc.internal/identity", cfg.Identity.BaseURL)
	assert.Equal(t, 700*time.Millisecond, cfg.Cart.Timeout)
}
