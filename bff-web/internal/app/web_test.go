package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/shopfront/bff-web/internal/api"
	"github.com/shopfront/bff-web/internal/app"
	"github.com/shopfront/bff-web/internal/config"
	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/contracts/fakes"
	"github.com/shopfront/contracts/fakes/fakestest"
	"github.com/shopfront/contracts/public"
	edgeconfig "github.com/shopfront/shared/edge/config"
	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/gateway/gatewaytest"
)

// clock is the settable clock of the response cache.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }

// web is one bff-web booted against fakes.
type web struct {
	url   string
	admin string
	fakes *fakes.Fakes
	base  string
	clock *clock
	logs  *observer.ObservedLogs
	// stop drains the gateway and waits for Run to return.
	stop func()
}

type webOptions struct {
	env   map[string]string
	fakes *fakes.Fakes
	base  string
	clock *clock
}

// bootWeb starts bff-web on a free loopback port against the given or fresh
// fakes, configured through config.Load like main, with an injected cache
// clock and an observed logger.
func bootWeb(t *testing.T, o webOptions) *web {
	t.Helper()
	if o.fakes == nil {
		o.fakes, o.base = fakestest.Start(t)
	}
	if o.clock == nil {
		o.clock = &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	}
	vars := map[string]string{
		"BFF_COOKIE_INSECURE": "true",
		// Each test client sends its own X-Forwarded-For, so that the
		// per-IP anonymous limit (burst 30) applies per client.
		"BFF_TRUSTED_PROXIES": "127.0.0.1/32",
	}
	for k, v := range o.env {
		vars[k] = v
	}
	cfg, err := config.Load(edgeconfig.MapLookup(gatewaytest.Env(o.base, vars)))
	require.NoError(t, err)

	core, logs := observer.New(zapcore.DebugLevel)
	a, stop := gatewaytest.Serve(t, func(ctx context.Context) (*app.App, error) {
		return app.NewWithOptions(ctx, cfg, zap.New(core), app.Options{Now: o.clock.Now})
	})
	gatewaytest.WaitReady(t, a.AdminAddr())
	return &web{url: "http://" + a.Addr(), admin: "http://" + a.AdminAddr(), fakes: o.fakes, base: o.base, clock: o.clock, logs: logs, stop: stop}
}

// contract validates answers against contracts/public/web.yaml.
type contract struct {
	router routers.Router
}

func newContract(t *testing.T) *contract {
	t.Helper()
	doc, err := public.Load(context.Background(), "web.yaml")
	require.NoError(t, err)
	// Match paths whatever the test server's host.
	doc.Servers = nil
	r, err := gorillamux.NewRouter(doc)
	require.NoError(t, err)
	return &contract{router: r}
}

// check reports with assert only: clients run on goroutines of their own.
func (c *contract) check(t *testing.T, req *http.Request, res *http.Response, body []byte) {
	t.Helper()
	route, params, err := c.router.FindRoute(req)
	if !assert.NoError(t, err, "%s %s is in the document", req.Method, req.URL.Path) {
		return
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: res.StatusCode, Header: res.Header, Body: io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true,
			SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.EnableJSONSchema2020()}},
	}
	assert.NoError(t, openapi3filter.ValidateResponse(context.Background(), out), "%s %s %d: %s", req.Method, req.URL.Path, res.StatusCode, body)
}

type client struct {
	t        *testing.T
	http     *http.Client
	contract *contract
	ip       string
}

var clientIPs atomic.Int64

// newClient is a browser-like client with a cookie jar and its own client
// IP (X-Forwarded-For through the trusted loopback proxy).
func newClient(t *testing.T, c *contract) *client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	n := clientIPs.Add(1)
	return &client{t: t, http: &http.Client{Jar: jar}, contract: c, ip: fmt.Sprintf("10.%d.%d.%d", n>>16&255, n>>8&255, n&255)}
}

// webPage is any of the web API's bodies as a browser's script reads it:
// only the members the tests check, decoded by their JSON names.
type webPage struct {
	ID   string `json:"id"`
	User struct {
		ID string `json:"id"`
	} `json:"user"`
	Product struct {
		ID string `json:"id"`
	} `json:"product"`
	Items   []webCard `json:"items"`
	Similar []webCard `json:"similar"`
	Reviews struct {
		Items []json.RawMessage `json:"items"`
	} `json:"reviews"`
	Degraded []string `json:"degraded"`
}

type webCard struct {
	ProductID string `json:"productId"`
	Name      string `json:"name"`
	Price     *struct {
		Amount   float64 `json:"amount"`
		Currency string  `json:"currency"`
	} `json:"price"`
	Availability string `json:"availability"`
}

// decode reads the answer's body as a T, failing the test on a body that
// does not fit.
func decode[T any](t testing.TB, a answer) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(a.body, &v), string(a.body))
	return v
}

type answer struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
}

// do sends a request and returns the answer. Tests call it from goroutines
// of their own, where t.FailNow must not be called, so it reports failures
// with assert and returns an empty answer (status 0).
func (c *client) do(method, target, body string, header map[string]string) answer {
	c.t.Helper()
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if !assert.NoError(c.t, err) {
		return answer{}
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-Forwarded-For", c.ip)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := c.http.Do(req)
	if !assert.NoError(c.t, err) {
		return answer{}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	assert.NoError(c.t, err)
	a := answer{status: res.StatusCode, header: res.Header, body: b}
	_ = json.Unmarshal(b, &a.json)
	if c.contract != nil && !strings.HasPrefix(req.URL.Path, "/__") {
		c.contract.check(c.t, req, res, b)
	}
	return a
}

func (c *client) cookie(base, name string) string {
	u, _ := url.Parse(base)
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

func TestSessionFlow(t *testing.T) {
	t.Parallel()
	w := bootWeb(t, webOptions{})
	c := newClient(t, newContract(t))

	a := c.do(http.MethodGet, w.url+"/v1/pages/account", "", nil)
	assert.Equal(t, http.StatusUnauthorized, a.status)
	assert.Equal(t, "unauthorized", a.json["error"])

	a = c.do(http.MethodPost, w.url+"/v1/session", `{"username":"alice","password":"wrong"}`, nil)
	assert.Equal(t, http.StatusUnauthorized, a.status, "wrong credentials are 401, not 502")
	assert.Equal(t, "unauthorized", a.json["error"])

	a = c.do(http.MethodPost, w.url+"/v1/session", `{"username":"alice","password":"shopfront"}`, nil)
	require.Equal(t, http.StatusNoContent, a.status, string(a.body))
	sessionValue, csrf := c.cookie(w.url, "sf_session"), c.cookie(w.url, "sf_csrf")
	require.NotEmpty(t, sessionValue)
	require.NotEmpty(t, csrf)

	a = c.do(http.MethodGet, w.url+"/v1/pages/account", "", nil)
	require.Equal(t, http.StatusOK, a.status, string(a.body))
	account := decode[webPage](t, a)
	assert.Equal(t, "u-001", account.User.ID)
	assert.Equal(t, []string{}, account.Degraded)
	assert.Equal(t, "private, no-store", a.header.Get("Cache-Control"))
	assert.NotNil(t, a.json["balance"])
	assert.NotNil(t, a.json["unreadNotifications"])

	a = c.do(http.MethodGet, w.url+"/v1/me", "", nil)
	require.Equal(t, http.StatusOK, a.status)
	assert.Equal(t, "u-001", a.json["id"])
	up := w.fakes.LastHeaders(domain.ServiceUsers)
	assert.Equal(t, "u-001", up.Get("X-User-Id"), "identity upstream comes from the verified cookie")
	assert.Equal(t, "web", up.Get("X-Client"))
	assert.Empty(t, up.Get("Cookie"), "cookies never go upstream")
	assert.Empty(t, up.Get("Authorization"))

	// CSRF: cookie-authenticated unsafe requests need the header.
	a = c.do(http.MethodPut, w.url+"/v1/cart/items/p-0003", `{"quantity":2}`, nil)
	assert.Equal(t, http.StatusForbidden, a.status)
	assert.Equal(t, "csrf_failed", a.json["error"])
	a = c.do(http.MethodPut, w.url+"/v1/cart/items/p-0003", `{"quantity":2}`, map[string]string{"X-CSRF-Token": csrf + "x"})
	assert.Equal(t, http.StatusForbidden, a.status)
	assert.EqualValues(t, 0, w.fakes.Requests(domain.ServiceCart), "refused requests never reach the cart")
	a = c.do(http.MethodPut, w.url+"/v1/cart/items/p-0003", `{"quantity":2}`, map[string]string{"X-CSRF-Token": csrf})
	require.Equal(t, http.StatusOK, a.status, string(a.body))
	a = c.do(http.MethodGet, w.url+"/v1/cart", "", nil)
	require.Equal(t, http.StatusOK, a.status)
	assert.Contains(t, string(a.body), `"productId":"p-0003","quantity":2`)

	a = c.do(http.MethodPost, w.url+"/v1/orders", `{"items":[{"productId":"p-0003","quantity":1}],"currency":"USD"}`,
		map[string]string{"X-CSRF-Token": csrf, "Idempotency-Key": "web-order-1"})
	require.Equal(t, http.StatusCreated, a.status, string(a.body))
	orderID := decode[webPage](t, a).ID
	again := c.do(http.MethodPost, w.url+"/v1/orders", `{"items":[{"productId":"p-0003","quantity":1}],"currency":"USD"}`,
		map[string]string{"X-CSRF-Token": csrf, "Idempotency-Key": "web-order-1"})
	assert.Equal(t, orderID, again.json["id"], "the idempotency key is forwarded")
	a = c.do(http.MethodGet, w.url+"/v1/orders/"+orderID, "", nil)
	assert.Equal(t, http.StatusOK, a.status)

	// Logout is an unsafe method too.
	a = c.do(http.MethodDelete, w.url+"/v1/session", "", nil)
	assert.Equal(t, http.StatusForbidden, a.status)
	a = c.do(http.MethodDelete, w.url+"/v1/session", "", map[string]string{"X-CSRF-Token": csrf})
	assert.Equal(t, http.StatusNoContent, a.status)
	assert.Empty(t, c.cookie(w.url, "sf_session"))
	a = c.do(http.MethodGet, w.url+"/v1/pages/account", "", nil)
	assert.Equal(t, http.StatusUnauthorized, a.status)

	// The session token never reaches a log line.
	require.NotEmpty(t, w.logs.FilterMessage("request").All(), "access lines were logged")
	for _, e := range w.logs.All() {
		line, _ := json.Marshal(e.ContextMap())
		assert.NotContains(t, string(line)+e.Message, sessionValue)
		assert.NotContains(t, string(line), "shopfront\"", "no password in logs")
	}
}

func TestBearerAndOrders(t *testing.T) {
	t.Parallel()
	w := bootWeb(t, webOptions{})
	c := newClient(t, newContract(t))
	alice := map[string]string{"Authorization": "Bearer " + fakestest.UserToken(t, w.fakes, "u-001", "web")}
	bob := map[string]string{"Authorization": "Bearer " + fakestest.UserToken(t, w.fakes, "u-002", "web")}

	a := c.do(http.MethodPut, w.url+"/v1/cart/items/p-0001", `{"quantity":1}`, alice)
	assert.Equal(t, http.StatusOK, a.status, "Bearer requests need no CSRF header")

	a = c.do(http.MethodPost, w.url+"/v1/orders", `{"items":[{"productId":"p-0001","quantity":1}],"currency":"USD"}`, alice)
	require.Equal(t, http.StatusCreated, a.status, string(a.body))
	id := decode[webPage](t, a).ID
	a = c.do(http.MethodGet, w.url+"/v1/orders/"+id, "", bob)
	assert.Equal(t, http.StatusNotFound, a.status, "someone else's order does not exist")

	mobile := map[string]string{"Authorization": "Bearer " + fakestest.UserToken(t, w.fakes, "u-001", "mobile")}
	a = c.do(http.MethodGet, w.url+"/v1/me", "", mobile)
	assert.Equal(t, http.StatusUnauthorized, a.status)
	assert.Equal(t, "invalid_token", a.json["error"], "a mobile token is not a web token")

	a = c.do(http.MethodGet, w.url+"/v1/catalog?pageSize=500", "", nil)
	assert.Equal(t, http.StatusBadRequest, a.status)
	assert.Equal(t, "validation_failed", a.json["error"])
	a = c.do(http.MethodGet, w.url+"/v1/catalog?page=0", "", nil)
	assert.Equal(t, http.StatusBadRequest, a.status)
	a = c.do(http.MethodPut, w.url+"/v1/cart/items/p-0001", `quantity=1`, map[string]string{"Authorization": alice["Authorization"], "Content-Type": "text/plain"})
	assert.Equal(t, http.StatusUnsupportedMediaType, a.status)
}

// fanOut is the fakes' request count of one product page fan-out.
func fanOut(f *fakes.Fakes) map[string]int {
	out := map[string]int{}
	for _, s := range []string{domain.ServiceCatalog, domain.ServicePricing, domain.ServiceInventory, domain.ServiceReviews, domain.ServiceRecommendations} {
		out[s] = f.Requests(s)
	}
	return out
}

func TestProductPageCache(t *testing.T) {
	t.Parallel()
	w := bootWeb(t, webOptions{})
	ct := newContract(t)
	page := w.url + "/v1/pages/product/p-0002"

	// One fan-out: catalog (product, then similar products), pricing (price,
	// then similar prices), inventory, reviews, recommendations.
	one := map[string]int{domain.ServiceCatalog: 2, domain.ServicePricing: 2, domain.ServiceInventory: 1, domain.ServiceReviews: 1, domain.ServiceRecommendations: 1}

	// 50 concurrent cold requests. The catalog is slowed down so that all
	// of them arrive while the first fan-out is in flight.
	require.NoError(t, w.fakes.SetFault(domain.ServiceCatalog, domain.Fault{LatencyMs: 300}))
	w.fakes.ResetStats()
	var wg sync.WaitGroup
	answers := make([]answer, 50)
	for i := range answers {
		c := newClient(t, ct) // newClient may stop the test: not on a goroutine.
		wg.Go(func() { answers[i] = c.do(http.MethodGet, page, "", nil) })
	}
	wg.Wait()
	w.fakes.ClearFaults()
	assert.Equal(t, one, fanOut(w.fakes), "50 concurrent misses, one fan-out")
	for _, a := range answers {
		assert.Equal(t, http.StatusOK, a.status)
		assert.Contains(t, []string{"MISS", "HIT"}, a.header.Get("X-Cache"))
		assert.Equal(t, "public, max-age=30, stale-while-revalidate=60", a.header.Get("Cache-Control"))
		assert.JSONEq(t, string(answers[0].body), string(a.body))
	}
	productPage := decode[webPage](t, answers[0])
	assert.Equal(t, "p-0002", productPage.Product.ID)
	assert.Len(t, productPage.Similar, 8)
	assert.Len(t, productPage.Reviews.Items, 10)

	// Later requests HIT without touching the fakes.
	w.clock.Advance(20 * time.Second)
	a := newClient(t, ct).do(http.MethodGet, page, "", nil)
	assert.Equal(t, "HIT", a.header.Get("X-Cache"))
	assert.Equal(t, one, fanOut(w.fakes))

	// After 30 s: STALE for everyone, exactly one background refresh.
	w.clock.Advance(11 * time.Second)
	for i := range 20 {
		c := newClient(t, ct)
		wg.Go(func() { answers[i] = c.do(http.MethodGet, page, "", nil) })
	}
	wg.Wait()
	stale := 0
	for _, a := range answers[:20] {
		assert.Contains(t, []string{"STALE", "HIT"}, a.header.Get("X-Cache"))
		if a.header.Get("X-Cache") == "STALE" {
			stale++
		}
	}
	// Which of the 20 ran first is the scheduler's choice; the first to
	// reach the cache found it stale (a HIT needs the refresh it started).
	assert.Positive(t, stale, "the entry was served stale while it refreshed")
	// Reads while the refresh runs stay STALE without starting another one;
	// once it has stored the new entry they HIT.
	require.Eventually(t, func() bool {
		return newClient(t, ct).do(http.MethodGet, page, "", nil).header.Get("X-Cache") == "HIT"
	}, 5*time.Second, 10*time.Millisecond, "the refresh stored a fresh entry")
	two := map[string]int{}
	for k, v := range one {
		two[k] = 2 * v
	}
	assert.Equal(t, two, fanOut(w.fakes), "exactly one refresh")

	// After 90 s without a refresh: MISS.
	w.clock.Advance(91 * time.Second)
	a = newClient(t, ct).do(http.MethodGet, page, "", nil)
	assert.Equal(t, "MISS", a.header.Get("X-Cache"))

	// Signed in: private and never from the shared cache.
	tok := map[string]string{"Authorization": "Bearer " + fakestest.UserToken(t, w.fakes, "u-001", "web")}
	a = newClient(t, ct).do(http.MethodGet, page, "", tok)
	assert.Equal(t, http.StatusOK, a.status)
	assert.Empty(t, a.header.Get("X-Cache"))
	assert.Equal(t, "private, max-age=30", a.header.Get("Cache-Control"))
}

func TestDegradedIsNotCached(t *testing.T) {
	t.Parallel()
	w := bootWeb(t, webOptions{})
	ct := newContract(t)
	require.NoError(t, w.fakes.SetFault(domain.ServiceReviews, domain.Fault{Down: true}))
	for range 2 {
		a := newClient(t, ct).do(http.MethodGet, w.url+"/v1/pages/product/p-0004", "", nil)
		require.Equal(t, http.StatusOK, a.status)
		assert.Equal(t, []any{"reviews"}, a.json["degraded"])
		assert.Nil(t, a.json["reviews"])
		assert.Equal(t, "no-store", a.header.Get("Cache-Control"))
		assert.Equal(t, "MISS", a.header.Get("X-Cache"))
	}
	assert.Equal(t, 2, w.fakes.Requests(domain.ServiceRecommendations), "each degraded answer was a new fan-out")
	res, err := http.Get(w.admin + "/metrics")
	require.NoError(t, err)
	metrics, err := io.ReadAll(res.Body)
	res.Body.Close()
	require.NoError(t, err)
	assert.Contains(t, string(metrics), `shopfront_degraded_sections_total{route="/v1/pages/product/:id",source="reviews"} 2`)
	assert.Contains(t, string(metrics), `shopfront_cache_requests_total{result="miss"} 2`)

	// Critical source down: the mapped error, nothing cached.
	require.NoError(t, w.fakes.SetFault(domain.ServiceCatalog, domain.Fault{Status: 500, ErrorRate: 1}))
	a := newClient(t, ct).do(http.MethodGet, w.url+"/v1/pages/product/p-0004", "", nil)
	assert.Equal(t, http.StatusBadGateway, a.status)
	assert.Equal(t, "upstream_unavailable", a.json["error"])
	w.fakes.ClearFaults()
	a = newClient(t, ct).do(http.MethodGet, w.url+"/v1/pages/product/p-0004", "", nil)
	assert.Equal(t, http.StatusOK, a.status)
	assert.Equal(t, "MISS", a.header.Get("X-Cache"))

	a = newClient(t, ct).do(http.MethodGet, w.url+"/v1/pages/product/p-9999", "", nil)
	assert.Equal(t, http.StatusNotFound, a.status)
}

func TestCatalogCacheAndCompression(t *testing.T) {
	t.Parallel()
	w := bootWeb(t, webOptions{})
	ct := newContract(t)
	c := newClient(t, ct)
	a := c.do(http.MethodGet, w.url+"/v1/catalog?pageSize=5&page=1", "", nil)
	require.Equal(t, http.StatusOK, a.status, string(a.body))
	assert.Equal(t, "MISS", a.header.Get("X-Cache"))
	var catalog api.Catalog
	require.NoError(t, json.Unmarshal(a.body, &catalog))
	require.Len(t, catalog.Items, 5)
	first := catalog.Items[0]
	// Two money objects, each {amount, currency} (the contract check
	// refuses any other member); the fakes price every product.
	require.NotNil(t, first.Price)
	require.NotNil(t, first.ListPrice)
	assert.Equal(t, first.Price.Currency, first.ListPrice.Currency)
	assert.GreaterOrEqual(t, first.ListPrice.Amount, first.Price.Amount)
	require.NotNil(t, first.Availability)
	assert.Contains(t, []domain.StockStatus{domain.InStock, domain.LowStock, domain.OutOfStock}, *first.Availability)

	// Same parameters in another order, plus junk: the same entry.
	a = c.do(http.MethodGet, w.url+"/v1/catalog?page=1&utm_source=mail&pageSize=5", "", nil)
	assert.Equal(t, "HIT", a.header.Get("X-Cache"))

	// Brotli for a client that accepts it; the body decodes to the page.
	req, err := http.NewRequest(http.MethodGet, w.url+"/v1/catalog?pageSize=5&page=1", nil)
	require.NoError(t, err)
	req.Header.Set("Accept-Encoding", "gzip, br")
	res, err := http.DefaultTransport.RoundTrip(req)
	require.NoError(t, err)
	defer res.Body.Close()
	assert.Equal(t, "br", res.Header.Get("Content-Encoding"))
	assert.Contains(t, res.Header.Values("Vary"), "Accept-Encoding")
	plain, err := io.ReadAll(brotli.NewReader(res.Body))
	require.NoError(t, err)
	assert.JSONEq(t, string(a.body), string(plain))
}

func TestCORSThroughTheGateway(t *testing.T) {
	t.Parallel()
	const origin = "http://127.0.0.1:3000"
	w := bootWeb(t, webOptions{env: map[string]string{"BFF_CORS_ORIGINS": origin + ",https://shop.example.com"}})
	c := newClient(t, nil)

	a := c.do(http.MethodOptions, w.url+"/v1/cart/items/p-0001", "", map[string]string{
		"Origin": origin, "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "content-type,x-csrf-token"})
	assert.Equal(t, http.StatusNoContent, a.status)
	assert.Equal(t, origin, a.header.Get("Access-Control-Allow-Origin"))
	assert.Equal(t, "true", a.header.Get("Access-Control-Allow-Credentials"))
	assert.Equal(t, "GET,POST,PUT,DELETE", a.header.Get("Access-Control-Allow-Methods"))
	assert.Equal(t, "Content-Type,X-CSRF-Token,X-Request-Id,Authorization", a.header.Get("Access-Control-Allow-Headers"))
	assert.Equal(t, "600", a.header.Get("Access-Control-Max-Age"))
	assert.Contains(t, a.header.Values("Vary"), "Origin")

	a = c.do(http.MethodOptions, w.url+"/v1/cart/items/p-0001", "", map[string]string{
		"Origin": "http://127.0.0.1:3001", "Access-Control-Request-Method": "PUT"})
	assert.Equal(t, http.StatusForbidden, a.status)
	assert.Equal(t, "application/problem+json", a.header.Get("Content-Type"))
	assert.Empty(t, a.header.Get("Access-Control-Allow-Origin"))

	a = c.do(http.MethodGet, w.url+"/v1/catalog?pageSize=2", "", map[string]string{"Origin": "https://evil.example.com"})
	assert.Equal(t, http.StatusOK, a.status)
	assert.Empty(t, a.header.Get("Access-Control-Allow-Origin"))
	assert.Empty(t, a.header.Get("Access-Control-Allow-Credentials"))

	a = c.do(http.MethodGet, w.url+"/v1/catalog?pageSize=2", "", map[string]string{"Origin": origin})
	assert.Equal(t, origin, a.header.Get("Access-Control-Allow-Origin"))
	assert.Contains(t, a.header.Get("Access-Control-Expose-Headers"), "X-Cache")

	// Unknown paths stay 404, not 401, whatever the route groups.
	a = c.do(http.MethodGet, w.url+"/v1/nothing-here", "", nil)
	assert.Equal(t, http.StatusNotFound, a.status)
}

func TestCacheSharedThroughRedis(t *testing.T) {
	t.Parallel()
	r := edgetest.StartRedis(t)
	f, base := fakestest.Start(t)
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	env := map[string]string{"BFF_REDIS_URL": r.URL()}
	one := bootWeb(t, webOptions{env: env, fakes: f, base: base, clock: clk})
	two := bootWeb(t, webOptions{env: env, fakes: f, base: base, clock: clk})
	ct := newContract(t)

	f.ResetStats()
	a := newClient(t, ct).do(http.MethodGet, one.url+"/v1/pages/product/p-0007", "", nil)
	assert.Equal(t, "MISS", a.header.Get("X-Cache"))
	b := newClient(t, ct).do(http.MethodGet, two.url+"/v1/pages/product/p-0007", "", nil)
	assert.Equal(t, "HIT", b.header.Get("X-Cache"), "the second instance serves the first one's entry")
	assert.JSONEq(t, string(a.body), string(b.body))
	assert.Equal(t, 1, f.Requests(domain.ServiceReviews), "one fan-out for two instances")

	// Redis down: served without the cache, never a 500.
	r.Stop()
	for _, w := range []*web{one, two} {
		a = newClient(t, ct).do(http.MethodGet, w.url+"/v1/pages/product/p-0007", "", nil)
		assert.Equal(t, http.StatusOK, a.status)
		assert.Equal(t, "MISS", a.header.Get("X-Cache"))
	}
}

// TestStaleSessionCookieOnPublicPages signs a session with the key of an
// identity that has since restarted (the fakes make a key per start): on
// the catalog pages the browser is served as anonymous, from and into the
// shared cache, and told to drop both cookies; a failing Bearer token and a
// failing cookie on a personal route stay 401 invalid_token.
func TestStaleSessionCookieOnPublicPages(t *testing.T) {
	t.Parallel()
	w := bootWeb(t, webOptions{})
	ct := newContract(t)
	before, _ := fakestest.Start(t)
	token := fakestest.UserToken(t, before, "u-001", "web")
	stale := map[string]string{"Cookie": "sf_session=" + token + "; sf_csrf=abc"}
	page := w.url + "/v1/pages/product/p-0003"

	// A browser keeping the old cookies: served, and both cookies expired.
	browser := newClient(t, ct)
	u, err := url.Parse(w.url)
	require.NoError(t, err)
	browser.http.Jar.SetCookies(u, []*http.Cookie{{Name: "sf_session", Value: token}, {Name: "sf_csrf", Value: "abc"}})
	a := browser.do(http.MethodGet, page, "", nil)
	require.Equal(t, http.StatusOK, a.status, string(a.body))
	assert.Equal(t, "p-0003", decode[webPage](t, a).Product.ID)
	assert.Equal(t, "MISS", a.header.Get("X-Cache"), "an anonymous request goes through the shared cache")
	assert.Equal(t, "private, no-store", a.header.Get("Cache-Control"), "no shared cache may keep the Set-Cookie")
	expired := map[string]*http.Cookie{}
	for _, ck := range (&http.Response{Header: a.header}).Cookies() {
		expired[ck.Name] = ck
	}
	require.Len(t, expired, 2)
	for name, httpOnly := range map[string]bool{"sf_session": true, "sf_csrf": false} {
		ck := expired[name]
		require.NotNil(t, ck, name)
		assert.Empty(t, ck.Value, name)
		assert.Equal(t, -1, ck.MaxAge, "%s: Max-Age=0", name)
		assert.Equal(t, "/", ck.Path, name)
		assert.Equal(t, http.SameSiteLaxMode, ck.SameSite, name)
		assert.Equal(t, httpOnly, ck.HttpOnly, name)
		assert.False(t, ck.Secure, "%s: BFF_COOKIE_INSECURE is set in these tests", name)
	}
	assert.Empty(t, browser.cookie(w.url, "sf_session"), "the browser dropped the cookie")
	assert.Empty(t, browser.cookie(w.url, "sf_csrf"))
	a = browser.do(http.MethodGet, page, "", nil)
	assert.Equal(t, "HIT", a.header.Get("X-Cache"))
	assert.Empty(t, a.header.Values("Set-Cookie"), "nothing left to expire")

	// The entry the stale request filled is an anonymous one, without the
	// Set-Cookie.
	b := newClient(t, ct).do(http.MethodGet, page, "", nil)
	assert.Equal(t, "HIT", b.header.Get("X-Cache"))
	assert.Equal(t, "public, max-age=30, stale-while-revalidate=60", b.header.Get("Cache-Control"))
	assert.Empty(t, b.header.Values("Set-Cookie"))
	assert.JSONEq(t, string(a.body), string(b.body))
	// And a stale cookie is served from it, still expiring the cookies.
	c := newClient(t, ct).do(http.MethodGet, page, "", stale)
	assert.Equal(t, "HIT", c.header.Get("X-Cache"))
	assert.Len(t, c.header.Values("Set-Cookie"), 2)
	assert.Equal(t, "private, no-store", c.header.Get("Cache-Control"))

	c = newClient(t, ct).do(http.MethodGet, w.url+"/v1/catalog?pageSize=2", "", stale)
	assert.Equal(t, http.StatusOK, c.status, string(c.body))
	assert.Len(t, c.header.Values("Set-Cookie"), 2)

	// A Bearer token is the caller's choice: a failing one stays an error.
	c = newClient(t, ct).do(http.MethodGet, page, "", map[string]string{"Authorization": "Bearer " + token})
	assert.Equal(t, http.StatusUnauthorized, c.status)
	assert.Equal(t, "invalid_token", c.json["error"])
	// So does a failing cookie where a user is needed.
	c = newClient(t, ct).do(http.MethodGet, w.url+"/v1/me", "", stale)
	assert.Equal(t, http.StatusUnauthorized, c.status)
	assert.Equal(t, "invalid_token", c.json["error"])
	assert.Empty(t, c.header.Values("Set-Cookie"))

	// A valid cookie is still a signed-in visit.
	fresh := map[string]string{"Cookie": "sf_session=" + fakestest.UserToken(t, w.fakes, "u-001", "web")}
	c = newClient(t, ct).do(http.MethodGet, page, "", fresh)
	assert.Equal(t, "private, max-age=30", c.header.Get("Cache-Control"))
	assert.Empty(t, c.header.Get("X-Cache"))
	assert.Empty(t, c.header.Values("Set-Cookie"))
}

// TestSimilarProductsDoNotWaitForSlowReviews slows reviews past the route
// budget: the similar products are looked up as soon as recommendations
// answers, so only reviews is degraded and the similar cards have names
// and prices.
func TestSimilarProductsDoNotWaitForSlowReviews(t *testing.T) {
	t.Parallel()
	w := bootWeb(t, webOptions{env: map[string]string{"BFF_ROUTE_BUDGET": "1s"}})
	require.NoError(t, w.fakes.SetFault(domain.ServiceReviews, domain.Fault{LatencyMs: 3000}))
	a := newClient(t, newContract(t)).do(http.MethodGet, w.url+"/v1/pages/product/p-0005", "", nil)
	require.Equal(t, http.StatusOK, a.status, string(a.body))
	assert.Equal(t, []any{"reviews"}, a.json["degraded"])
	var page api.ProductPage
	require.NoError(t, json.Unmarshal(a.body, &page))
	require.Len(t, page.Similar, 8)
	for _, card := range page.Similar {
		if assert.NotNil(t, card.Name, card.ProductID) {
			assert.NotEmpty(t, *card.Name, card.ProductID)
		}
		assert.NotNil(t, card.Price, card.ProductID)
		assert.NotNil(t, card.ListPrice, card.ProductID)
	}
}
