package api_test

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/shopfront/bff-mobile/internal/api"
	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/contracts/fakes"
	"github.com/shopfront/contracts/fakes/fakestest"
	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/services"
	"github.com/shopfront/shared/edge/upstream"
)

func TestHome(t *testing.T) {
	t.Parallel()
	g := start(t)
	r := g.do(t, http.MethodGet, "/v1/home", g.token(t, "u-001"), "", nil)
	require.Equal(t, http.StatusOK, r.StatusCode, string(r.body))
	home := decode[homeScreen](t, r)
	assert.Equal(t, "u-001", home.User.ID)
	assert.Equal(t, []string{}, home.Degraded)
	require.NotEmpty(t, home.Recommendations)
	assert.LessOrEqual(t, len(home.Recommendations), 10)
	card := home.Recommendations[0]
	assert.NotEmpty(t, card.Name, "second stage filled names")
	assert.NotEmpty(t, card.ThumbnailURL)
	require.NotNil(t, card.Price)
	assert.Equal(t, "USD", card.Price.Currency)
	assert.LessOrEqual(t, len(home.RecentOrders), 5)
	if len(home.RecentOrders) > 0 {
		require.NotEmpty(t, home.RecentOrders[0].Items)
		item := home.RecentOrders[0].Items[0]
		assert.NotEmpty(t, item.Name)
		assert.NotEmpty(t, item.ThumbnailURL)
	}
	assert.NotEmpty(t, home.Balance)
	assert.NotEmpty(t, home.UnreadNotifications)
	assert.Equal(t, "private, max-age=60", r.Header.Get("Cache-Control"))
	assert.NotEmpty(t, r.Header.Get("ETag"))
}

// TestHomeIsParallel proves the fan-out where the calls land: with every
// source 200 ms slow, the five first-stage calls are in flight at once at
// the fakes, and catalog and pricing overlap in the second stage. Those
// overlaps are events a sequential gateway could not produce, whatever the
// machine's load.
//
// The only wall-clock bound left is coarse: the screen takes at least its
// two 200 ms stages and less than the 1.4 s that calling the seven sources
// one after another would take; the best of three runs is compared, since
// a loaded machine can only slow a run down. How fast the screen really is
// is measured by BenchmarkHomeSlowSources.
func TestHomeIsParallel(t *testing.T) {
	f, err := fakes.New(fakes.Options{})
	require.NoError(t, err)
	calls := &callLog{}
	fakeSrv := httptest.NewServer(calls.wrap(f.Handler()))
	t.Cleanup(fakeSrv.Close)
	g := startWith(t, f, fakeSrv.URL, services.DefaultConfig(fakeSrv.URL))
	for _, s := range domain.ServiceNames() {
		require.NoError(t, f.SetFault(s, domain.Fault{LatencyMs: 200}))
	}
	tok := g.token(t, "u-001")
	home := func() time.Duration {
		calls.reset()
		begin := time.Now()
		r := g.do(t, http.MethodGet, "/v1/home", tok, "", nil)
		took := time.Since(begin)
		require.Equal(t, http.StatusOK, r.StatusCode, string(r.body))
		var body struct {
			Degraded []string `json:"degraded"`
		}
		require.NoError(t, json.Unmarshal(r.body, &body), string(r.body))
		require.Equal(t, []string{}, body.Degraded)
		return took
	}
	home()
	best := time.Duration(math.MaxInt64)
	for range 3 {
		best = min(best, home())
		assert.GreaterOrEqual(t, calls.peak(), 5, "users, orders, recommendations, notifications and payments in flight at once")
		assert.True(t, calls.overlap(domain.ServiceCatalog, domain.ServicePricing), "catalog and pricing in flight at once")
	}
	const sources = 7 // Five in the first stage, catalog and pricing in the second.
	sequential := sources * 200 * time.Millisecond
	assert.GreaterOrEqual(t, best, 400*time.Millisecond, "two stages of 200 ms each")
	assert.Less(t, best, sequential, "a coarse bound: faster than calling every source in turn")
}

// callLog records when each call reached the fakes and when it was
// answered, to measure concurrency where the calls land.
type callLog struct {
	mu    sync.Mutex
	calls []call
}

type call struct {
	service    string
	start, end time.Time
}

func (l *callLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		service, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		start := time.Now()
		next.ServeHTTP(w, r)
		l.mu.Lock()
		l.calls = append(l.calls, call{service: service, start: start, end: time.Now()})
		l.mu.Unlock()
	})
}

func (l *callLog) reset() {
	l.mu.Lock()
	l.calls = nil
	l.mu.Unlock()
}

// peak returns the most calls in flight at one instant.
func (l *callLog) peak() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	most := 0
	for _, c := range l.calls {
		n := 0
		for _, o := range l.calls {
			if !o.start.After(c.start) && o.end.After(c.start) {
				n++
			}
		}
		most = max(most, n)
	}
	return most
}

// overlap reports whether a call to a and a call to b were in flight at
// one instant.
func (l *callLog) overlap(a, b string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, x := range l.calls {
		for _, y := range l.calls {
			if x.service == a && y.service == b && x.start.Before(y.end) && y.start.Before(x.end) {
				return true
			}
		}
	}
	return false
}

func TestHomeDegraded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		given         []string
		expect        []string
		expectMissing []string
	}{
		{name: "ok, recommendations failing", given: []string{"recommendations"}, expect: []string{"recommendations"}},
		{name: "ok, several optional sources failing, sorted", given: []string{"payments", "notifications", "orders"},
			expect: []string{"notifications", "orders", "payments"}, expectMissing: []string{"balance", "unreadNotifications"}},
		{name: "ok, second stage failing", given: []string{"pricing", "catalog"}, expect: []string{"catalog", "pricing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := start(t)
			for _, s := range tt.given {
				require.NoError(t, g.fakes.SetFault(s, domain.Fault{ErrorRate: 1, Status: http.StatusInternalServerError}))
			}
			r := g.do(t, http.MethodGet, "/v1/home", g.token(t, "u-001"), "", nil)
			require.Equal(t, http.StatusOK, r.StatusCode, string(r.body))
			home := decode[homeScreen](t, r)
			assert.Equal(t, tt.expect, home.Degraded)
			assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))
			m := r.json(t)
			for _, k := range tt.expectMissing {
				assert.Nil(t, m[k], k)
			}
			assert.Equal(t, "u-001", home.User.ID)
		})
	}
}

func TestHomeUsersFailing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		given        domain.Fault
		expectStatus int
		expectCode   string
	}{
		{name: "nok, users answers 500", given: domain.Fault{ErrorRate: 1, Status: 500}, expectStatus: 502, expectCode: "upstream_unavailable"},
		{name: "nok, users answers 503", given: domain.Fault{ErrorRate: 1, Status: 503}, expectStatus: 502, expectCode: "upstream_unavailable"},
		{name: "nok, users drops the connection", given: domain.Fault{Down: true}, expectStatus: 502, expectCode: "upstream_unavailable"},
		{name: "nok, users slower than the call timeout", given: domain.Fault{LatencyMs: 3000}, expectStatus: 504, expectCode: "upstream_timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := start(t)
			require.NoError(t, g.fakes.SetFault(domain.ServiceUsers, tt.given))
			r := g.do(t, http.MethodGet, "/v1/home", g.token(t, "u-001"), "", nil)
			assert.Equal(t, tt.expectStatus, r.StatusCode)
			assert.Equal(t, "application/problem+json", r.Header.Get("Content-Type"))
			m := r.json(t)
			assert.Equal(t, tt.expectCode, m["error"])
			assert.NotContains(t, string(r.body), "fault_injected", "the upstream's body never reaches the client")
		})
	}
}

func TestHomeUsersRefused(t *testing.T) {
	t.Parallel()
	f, base := fakestest.Start(t)
	cfg := services.DefaultConfig(base)
	cfg.Users.BaseURL = "http://" + edgetest.DeadAddr(t) + "/users"
	g := startWith(t, f, base, cfg)
	r := g.do(t, http.MethodGet, "/v1/home", g.token(t, "u-001"), "", nil)
	assert.Equal(t, http.StatusServiceUnavailable, r.StatusCode)
	assert.Equal(t, "upstream_unavailable", r.json(t)["error"])
}

func TestProduct(t *testing.T) {
	t.Parallel()
	g := start(t)
	tok := g.token(t, "u-001")
	tests := []struct {
		name         string
		path         string
		expectStatus int
		expectStores bool
		expectErrors string // the `errors` member of a 400
	}{
		{name: "ok, without location", path: "/v1/products/p-0001", expectStatus: 200},
		{name: "ok, with location", path: "/v1/products/p-0001?lat=52.52&lon=13.40", expectStatus: 200, expectStores: true},
		{name: "nok, unknown product", path: "/v1/products/p-9999", expectStatus: 404},
		{name: "nok, only lat", path: "/v1/products/p-0001?lat=52.5", expectStatus: 400,
			expectErrors: `[{"in":"query","path":"lon","message":"is required with the other coordinate"}]`},
		{name: "nok, lat out of range", path: "/v1/products/p-0001?lat=91&lon=0", expectStatus: 400,
			expectErrors: `[{"in":"query","path":"lat","message":"must be a number within -90..90"}]`},
		{name: "nok, lon not a number", path: "/v1/products/p-0001?lat=1&lon=east", expectStatus: 400,
			expectErrors: `[{"in":"query","path":"lon","message":"must be a number within -180..180"}]`},
		{name: "nok, bad product id", path: "/v1/products/p%20x", expectStatus: 400,
			expectErrors: `[{"in":"path","path":"id","message":"must be 1-128 characters of A-Z a-z 0-9 . _ ~ -"}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := g.do(t, http.MethodGet, tt.path, tok, "", nil)
			require.Equal(t, tt.expectStatus, r.StatusCode, string(r.body))
			m := r.json(t)
			if tt.expectStatus != 200 {
				if tt.expectStatus == 400 {
					assert.Equal(t, "validation_failed", m["error"])
					b, err := json.Marshal(m["errors"])
					require.NoError(t, err)
					assert.JSONEq(t, tt.expectErrors, string(b))
				}
				return
			}
			screen := decode[productScreen](t, r)
			p := screen.Product
			assert.Equal(t, "p-0001", p.ID)
			assert.LessOrEqual(t, len([]rune(p.Description)), 280)
			assert.NotEmpty(t, p.ThumbnailURL)
			assert.NotEmpty(t, screen.Price)
			assert.NotEmpty(t, screen.Availability)
			assert.NotNil(t, screen.Rating)
			assert.LessOrEqual(t, len(screen.TopReviews), 3)
			assert.LessOrEqual(t, len(screen.Similar), 6)
			if len(screen.Similar) > 0 {
				assert.NotEmpty(t, screen.Similar[0].Name)
				assert.NotNil(t, screen.Similar[0].Price)
			}
			_, hasStores := m["nearbyStores"]
			assert.Equal(t, tt.expectStores, hasStores)
			assert.Equal(t, []string{}, screen.Degraded)
		})
	}
}

func TestProductTopReviewsAreTheServicesFirstThree(t *testing.T) {
	t.Parallel()
	g := start(t)
	direct, err := http.Get(g.base + "/reviews/products/p-0002/reviews")
	require.NoError(t, err)
	defer direct.Body.Close()
	var page domain.ReviewPage
	require.NoError(t, jsonDecode(direct, &page))
	require.GreaterOrEqual(t, len(page.Items), 3, "the fixture has enough reviews")

	screen := decode[productScreen](t, g.do(t, http.MethodGet, "/v1/products/p-0002", g.token(t, "u-001"), "", nil))
	require.Len(t, screen.TopReviews, 3)
	for i := range 3 {
		assert.Equal(t, page.Items[i].ID, screen.TopReviews[i].ID)
	}
	require.NotNil(t, screen.Rating)
	assert.InDelta(t, page.AverageRating, screen.Rating.Average, 1e-9)
	assert.EqualValues(t, page.Count, screen.Rating.Count)
}

func TestProductDegraded(t *testing.T) {
	t.Parallel()
	g := start(t)
	for _, s := range []string{"inventory", "reviews", "recommendations", "pricing"} {
		require.NoError(t, g.fakes.SetFault(s, domain.Fault{ErrorRate: 1, Status: 500}))
	}
	r := g.do(t, http.MethodGet, "/v1/products/p-0001?lat=1&lon=2", g.token(t, "u-001"), "", nil)
	require.Equal(t, http.StatusOK, r.StatusCode, string(r.body))
	m := r.json(t)
	assert.Equal(t, []string{"inventory", "pricing", "recommendations", "reviews"}, decode[productScreen](t, r).Degraded)
	assert.Nil(t, m["price"])
	assert.Nil(t, m["availability"])
	assert.Nil(t, m["rating"])
	assert.Equal(t, []any{}, m["topReviews"])
	assert.Equal(t, []any{}, m["similar"])
	assert.Equal(t, []any{}, m["nearbyStores"])
	assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))
}

func TestProductCatalogIsCritical(t *testing.T) {
	t.Parallel()
	g := start(t)
	require.NoError(t, g.fakes.SetFault(domain.ServiceCatalog, domain.Fault{ErrorRate: 1, Status: 500}))
	r := g.do(t, http.MethodGet, "/v1/products/p-0001", g.token(t, "u-001"), "", nil)
	assert.Equal(t, http.StatusBadGateway, r.StatusCode)
}

func TestSearch(t *testing.T) {
	t.Parallel()
	g := start(t)
	tok := g.token(t, "u-001")
	tests := []struct {
		name         string
		path         string
		expectStatus int
		expectErrors string // the `errors` member of a 400
	}{
		{name: "ok, first page", path: "/v1/search?q=lamp", expectStatus: 200},
		{name: "ok, second page", path: "/v1/search?q=e&page=2", expectStatus: 200},
		{name: "nok, no query", path: "/v1/search", expectStatus: 400,
			expectErrors: `[{"in":"query","path":"q","message":"is required"}]`},
		{name: "nok, blank query", path: "/v1/search?q=%20", expectStatus: 400,
			expectErrors: `[{"in":"query","path":"q","message":"is required"}]`},
		{name: "nok, page zero", path: "/v1/search?q=lamp&page=0", expectStatus: 400,
			expectErrors: `[{"in":"query","path":"page","message":"must be an integer within 1..1000"}]`},
		{name: "nok, page not a number", path: "/v1/search?q=lamp&page=two", expectStatus: 400,
			expectErrors: `[{"in":"query","path":"page","message":"must be an integer within 1..1000"}]`},
		{name: "nok, query too long", path: "/v1/search?q=" + strings.Repeat("a", 201), expectStatus: 400,
			expectErrors: `[{"in":"query","path":"q","message":"must be at most 200 characters of text"}]`},
		{name: "nok, every bad parameter is listed", path: "/v1/search?page=0", expectStatus: 400,
			expectErrors: `[{"in":"query","path":"q","message":"is required"},{"in":"query","path":"page","message":"must be an integer within 1..1000"}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := g.do(t, http.MethodGet, tt.path, tok, "", nil)
			require.Equal(t, tt.expectStatus, r.StatusCode, string(r.body))
			m := r.json(t)
			if tt.expectStatus != 200 {
				assert.Equal(t, "validation_failed", m["error"])
				b, err := json.Marshal(m["errors"])
				require.NoError(t, err)
				assert.JSONEq(t, tt.expectErrors, string(b))
				return
			}
			list := decode[listScreen](t, r)
			require.NotEmpty(t, list.Items)
			assert.NotEmpty(t, list.Items[0].Name)
			assert.NotNil(t, list.Items[0].Price)
			assert.Positive(t, list.Total)
		})
	}
}

func TestSearchWithoutPricing(t *testing.T) {
	t.Parallel()
	g := start(t)
	require.NoError(t, g.fakes.SetFault(domain.ServicePricing, domain.Fault{ErrorRate: 1}))
	r := g.do(t, http.MethodGet, "/v1/search?q=lamp", g.token(t, "u-001"), "", nil)
	require.Equal(t, http.StatusOK, r.StatusCode)
	list := decode[listScreen](t, r)
	assert.Equal(t, []string{"pricing"}, list.Degraded)
	require.NotEmpty(t, list.Items)
	assert.Nil(t, list.Items[0].Price)
	assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))
}

func TestNew(t *testing.T) {
	t.Parallel()
	_, base := fakestest.Start(t)
	clients, err := services.New(services.DefaultConfig(base), upstream.Options{})
	require.NoError(t, err)
	tests := []struct {
		name  string
		given api.Config
		ok    bool
	}{
		{name: "ok, defaults", given: api.Config{Clients: clients}, ok: true},
		{name: "nok, no clients", given: api.Config{}},
		{name: "nok, negative budget", given: api.Config{Clients: clients, Budgets: api.Budgets{Cart: -time.Second}}},
		{name: "nok, currency not ISO", given: api.Config{Clients: clients, Currency: "usd"}},
		{name: "nok, page size too large", given: api.Config{Clients: clients, SearchPageSize: 500}},
		{name: "nok, negative radius", given: api.Config{Clients: clients, NearbyRadiusKm: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := api.New(tt.given)
			if tt.ok {
				assert.NoError(t, err)
			} else {
				assert.Error(t, err)
			}
		})
	}
}

func TestDegradedIsLogged(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.WarnLevel)
	f, base := fakestest.Start(t)
	g := startLogged(t, f, base, services.DefaultConfig(base), zap.New(core))
	require.NoError(t, f.SetFault(domain.ServicePayments, domain.Fault{ErrorRate: 1, Status: 500}))
	tok := g.token(t, "u-001")
	r := g.do(t, http.MethodGet, "/v1/home", tok, "", map[string]string{"X-Request-Id": "degraded-1"})
	require.Equal(t, http.StatusOK, r.StatusCode)
	entries := logs.FilterMessage("optional source failed").All()
	require.Len(t, entries, 1)
	fields := entries[0].ContextMap()
	assert.Equal(t, "payments", fields["source"])
	assert.Equal(t, "degraded-1", fields["requestId"])
	assert.Equal(t, "/v1/home", fields["route"])
	assert.Contains(t, fields["error"], "server_error")
	assert.NotContains(t, fmt.Sprint(fields), tok, "the token never reaches a log")
}

// TestHomeUsersBreakerOpens: after five consecutive failures of users, its
// breaker opens and /v1/home answers 503 without calling it.
func TestHomeUsersBreakerOpens(t *testing.T) {
	t.Parallel()
	g := start(t)
	require.NoError(t, g.fakes.SetFault(domain.ServiceUsers, domain.Fault{ErrorRate: 1, Status: http.StatusInternalServerError}))
	tok := g.token(t, "u-001")
	for range 5 {
		r := g.do(t, http.MethodGet, "/v1/home", tok, "", nil)
		require.Equal(t, http.StatusBadGateway, r.StatusCode)
	}
	calls := g.fakes.Requests(domain.ServiceUsers)
	r := g.do(t, http.MethodGet, "/v1/home", tok, "", nil)
	assert.Equal(t, http.StatusServiceUnavailable, r.StatusCode)
	assert.Equal(t, "upstream_unavailable", r.json(t)["error"])
	assert.Equal(t, calls, g.fakes.Requests(domain.ServiceUsers), "an open breaker makes no call")
}
