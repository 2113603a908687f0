package app_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/bff-partner/internal/app"
	"github.com/shopfront/bff-partner/internal/validation"
	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/contracts/fakes"
	"github.com/shopfront/contracts/fakes/fakestest"
	"github.com/shopfront/contracts/public"
	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/problem"
)

// The test keys file: plaintexts here, only their hashes in the file.
const (
	keyFull     = "sf_test_acme_full"
	keyReadOnly = "sf_test_acme_readonly"
	keyRevoked  = "sf_test_acme_revoked"
	keyGlobex   = "sf_test_globex_walled"
	keyTiny     = "sf_test_tiny_plan"
	keyOther    = "sf_test_other_full"
)

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func keysFile(t *testing.T) string {
	t.Helper()
	return edgetest.TempFile(t, "partner-keys.yaml", fmt.Sprintf(`
partners:
  - id: acme
    name: Acme Retail
    plan: {per_minute: 1000, burst: 200}
    keys:
      - {id: acme-full, sha256: %s, scopes: [catalog:read, inventory:read, orders:read, orders:write]}
      - {id: acme-readonly, sha256: %s, scopes: [catalog:read]}
      - {id: acme-revoked, sha256: %s, scopes: [catalog:read], revoked: true}
  - id: globex
    name: Globex
    allowed_cidrs: [10.0.0.0/8]
    keys:
      - {id: globex-1, sha256: %s, scopes: [catalog:read]}
  - id: tiny
    name: Tiny Plan
    plan: {per_minute: 60, burst: 2}
    keys:
      - {id: tiny-1, sha256: %s, scopes: [catalog:read]}
  - id: other
    name: Other Partner
    keys:
      - {id: other-1, sha256: %s, scopes: [catalog:read, inventory:read, orders:read, orders:write]}
`, sha(keyFull), sha(keyReadOnly), sha(keyRevoked), sha(keyGlobex), sha(keyTiny), sha(keyOther)))
}

// gw is a booted gateway with its fakes and audit directory.
type gw struct {
	t     *testing.T
	url   string
	f     *fakes.Fakes
	fbase string
	audit string
	stop  func()
	doc   *openapi3.T
	admin string
}

func startPartner(t *testing.T, env map[string]string) *gw {
	t.Helper()
	f, base := fakestest.Start(t)
	return startPartnerWith(t, f, base, env)
}

func startPartnerWith(t *testing.T, f *fakes.Fakes, base string, env map[string]string) *gw {
	t.Helper()
	return startPartnerWithOptions(t, f, base, env, app.Options{})
}

func startPartnerWithOptions(t *testing.T, f *fakes.Fakes, base string, env map[string]string, opts app.Options) *gw {
	t.Helper()
	dir := t.TempDir()
	vars := map[string]string{"BFF_PARTNER_KEYS_FILE": keysFile(t), "BFF_AUDIT_DIR": dir}
	for k, v := range env {
		vars[k] = v
	}
	a, stop := bootWithOptions(t, base, vars, opts)
	doc, err := public.Load(context.Background(), "partner.yaml")
	require.NoError(t, err)
	g := &gw{t: t, url: "http://" + a.Addr(), f: f, fbase: base, audit: dir, stop: stop, doc: doc,
		admin: "http://" + a.AdminAddr()}
	// Ready once the JWKS was fetched, so bearer tokens can be checked.
	require.Eventually(t, func() bool {
		res, err := http.Get("http://" + a.AdminAddr() + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond)
	return g
}

// reply is one answered request.
type reply struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
}

func (r reply) code() string { s, _ := r.json["error"].(string); return s }

// decode reads the reply's body as a T, failing the test on a body that
// does not fit.
func decode[T any](t testing.TB, r reply) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(r.body, &v), string(r.body))
	return v
}

// The partner API's bodies as a partner's client reads them: only the
// members the tests check.
type (
	minorPrice struct {
		Amount   int64  `json:"amount"`
		Currency string `json:"currency"`
	}
	productV2 struct {
		ID       string      `json:"id"`
		Category string      `json:"category"`
		Price    *minorPrice `json:"price"`
	}
	productPage struct {
		Items    []productV2 `json:"items"`
		PageSize int         `json:"pageSize"`
	}
	partnerOrder struct {
		ID        string `json:"id"`
		PartnerID string `json:"partnerId"`
	}
)

type call struct {
	method string
	path   string // as sent, with the query
	route  string // echo route of the document's operation, "" to skip contract checks
	header map[string]string
	body   string
}

// do sends c and, when c.route is set, checks the answer against the
// partner document (status declared, headers and body matching). Tests
// call it from goroutines too, so it checks with assert, never require,
// and returns the zero reply on failure.
func (g *gw) do(c call) reply {
	g.t.Helper()
	req, err := http.NewRequest(c.method, g.url+c.path, strings.NewReader(c.body))
	if !assert.NoError(g.t, err) {
		return reply{}
	}
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.header {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if !assert.NoError(g.t, err) {
		return reply{}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if !assert.NoError(g.t, err) {
		return reply{}
	}
	r := reply{status: res.StatusCode, header: res.Header, body: b}
	_ = json.Unmarshal(b, &r.json)
	if c.route != "" {
		vreq, _ := http.NewRequest(c.method, g.url+c.path, nil)
		err := validation.ValidateResponse(context.Background(), g.doc, vreq, c.route, res.StatusCode, res.Header, b)
		assert.NoError(g.t, err, "%s %s -> %d %s does not match partner.yaml", c.method, c.path, res.StatusCode, b)
	}
	return r
}

func key(k string) map[string]string { return map[string]string{"X-API-Key": k} }

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

func with(h map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

const order = `{"items":[{"productId":"p-0001","quantity":2},{"productId":"p-0002","quantity":1}],"currency":"USD"}`

func TestPartnerRoutes(t *testing.T) {
	t.Parallel()
	g := startPartner(t, nil)

	r := g.do(call{method: "GET", path: "/v2/products?category=kitchen&page=1&pageSize=5", route: "/v2/products", header: key(keyFull)})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	page := decode[productPage](t, r)
	require.Len(t, page.Items, 5)
	first := page.Items[0]
	assert.Equal(t, "kitchen", first.Category)
	require.NotNil(t, first.Price)
	assert.Equal(t, "USD", first.Price.Currency)
	assert.Positive(t, first.Price.Amount, "prices in minor units")
	assert.Equal(t, 5, page.PageSize)
	assert.Equal(t, "1000", r.header.Get("X-RateLimit-Limit"), "the partner's plan")
	assert.Equal(t, `"partner";q=1000;w=60`, r.header.Get("RateLimit-Policy"))
	assert.Equal(t, "199", r.header.Get("X-RateLimit-Remaining"))
	assert.NotEmpty(t, r.header.Get("X-RateLimit-Reset"))
	r = g.do(call{method: "GET", path: "/v2/products?pageSize=1", route: "/v2/products", header: key(keyOther)})
	assert.Equal(t, "100", r.header.Get("X-RateLimit-Limit"), "the default plan")
	assert.Equal(t, `"partner";q=100;w=60`, r.header.Get("RateLimit-Policy"))
	assert.Empty(t, r.header.Get("Deprecation"), "v2 is current")

	r = g.do(call{method: "GET", path: "/v2/products/p-0001", route: "/v2/products/:id", header: key(keyFull)})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	product := decode[productV2](t, r)
	assert.Equal(t, "p-0001", product.ID)
	require.NotNil(t, product.Price)
	amount := product.Price.Amount

	r = g.do(call{method: "GET", path: "/v2/products/p-9999", route: "/v2/products/:id", header: key(keyFull)})
	assert.Equal(t, http.StatusNotFound, r.status)
	assert.Equal(t, problem.CodeNotFound, r.code())

	r = g.do(call{method: "GET", path: "/v2/inventory/p-0010", route: "/v2/inventory/:productId", header: key(keyFull)})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.Equal(t, "out_of_stock", r.json["status"])

	// v1: the deprecated shape, decimal prices, deprecation headers.
	r = g.do(call{method: "GET", path: "/v1/products/p-0001", route: "/v1/products/:id", header: key(keyFull)})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.Equal(t, fmt.Sprintf("%d.%02d", amount/100, amount%100), r.json["price"])
	assert.Equal(t, "USD", r.json["currency"])
	assert.NotEmpty(t, r.json["imageUrl"])
	assertDeprecated(t, r)
	r = g.do(call{method: "GET", path: "/v1/products?pageSize=3", route: "/v1/products", header: key(keyFull)})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.Len(t, r.json["items"], 3)
	assertDeprecated(t, r)

	// Orders: the partner comes from the credential; others' orders are 404.
	r = g.do(call{method: "POST", path: "/v2/orders", route: "/v2/orders", body: order,
		header: with(key(keyFull), "Idempotency-Key", "order-1")})
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	created := decode[partnerOrder](t, r)
	id := created.ID
	assert.Equal(t, "acme", created.PartnerID)
	assert.Equal(t, "/v2/orders/"+id, r.header.Get("Location"))
	last := g.f.LastHeaders(domain.ServiceOrders)
	assert.Equal(t, "acme", last.Get("X-Partner-Id"))
	assert.Equal(t, "partner", last.Get("X-Client"))
	assert.Empty(t, last.Get("X-Api-Key"), "credentials never travel upstream")
	assert.NotEqual(t, "order-1", last.Get("Idempotency-Key"), "the key is scoped to the partner upstream too")

	r = g.do(call{method: "GET", path: "/v2/orders/" + id, route: "/v2/orders/:id", header: key(keyFull)})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.Equal(t, id, r.json["id"])
	r = g.do(call{method: "GET", path: "/v2/orders/" + id, route: "/v2/orders/:id", header: key(keyOther)})
	assert.Equal(t, http.StatusNotFound, r.status, "another partner's order does not exist for you")
	assert.Equal(t, problem.CodeNotFound, r.code())

	// Documentation needs no credentials.
	r = g.do(call{method: "GET", path: "/openapi.json", route: "/openapi.json"})
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "3.1.0", r.json["openapi"])
	r = g.do(call{method: "GET", path: "/docs"})
	assert.Equal(t, http.StatusOK, r.status)
	assert.Contains(t, string(r.body), "docs/assets/redoc.standalone.js")
}

func assertDeprecated(t *testing.T, r reply) {
	t.Helper()
	assert.Equal(t, "@1780272000", r.header.Get("Deprecation")) // 2026-06-01T00:00:00Z
	assert.Equal(t, "Tue, 01 Jun 2027 00:00:00 GMT", r.header.Get("Sunset"))
	assert.Contains(t, r.header.Get("Link"), `rel="deprecation"`)
}

func TestPartnerNegativePaths(t *testing.T) {
	t.Parallel()
	g := startPartner(t, nil)
	readOnlyToken := fakestest.PartnerToken(t, g.f, "acme", "catalog:read")
	wrongAudience := fakestest.Token(t, g.f, func() map[string]any {
		c := g.f.PartnerClaims("acme", "catalog:read")
		c["aud"] = "shopfront-mobile"
		return c
	}())
	// Signed by identity, but for a partner the keys file does not know:
	// no plan or allow-list of its own to apply.
	unknownPartner := fakestest.PartnerToken(t, g.f, "initech", "catalog:read orders:write")
	huge := `{"items":[{"productId":"p-0001","quantity":1}],"currency":"USD","pad":"` + strings.Repeat("x", 1<<20) + `"}`

	tests := []struct {
		name         string
		given        call
		expectStatus int
		expectCode   string
		expectErrors []any
		deprecated   bool
	}{
		{name: "nok, no credentials", given: call{method: "GET", path: "/v2/products", route: "/v2/products"},
			expectStatus: 401, expectCode: problem.CodeUnauthorized},
		{name: "nok, unknown key", given: call{method: "GET", path: "/v2/products", route: "/v2/products", header: key("sf_nope")},
			expectStatus: 401, expectCode: problem.CodeInvalidAPIKey},
		{name: "nok, revoked key", given: call{method: "GET", path: "/v2/products", route: "/v2/products", header: key(keyRevoked)},
			expectStatus: 401, expectCode: problem.CodeInvalidAPIKey},
		{name: "nok, forged bearer token", given: call{method: "GET", path: "/v2/products", route: "/v2/products", header: bearer("a.b.c")},
			expectStatus: 401, expectCode: problem.CodeInvalidToken},
		{name: "nok, token for another gateway", given: call{method: "GET", path: "/v2/products", route: "/v2/products", header: bearer(wrongAudience)},
			expectStatus: 401, expectCode: problem.CodeInvalidToken},
		{name: "nok, token of a partner not in the keys file", given: call{method: "GET", path: "/v2/products", route: "/v2/products", header: bearer(unknownPartner)},
			expectStatus: 401, expectCode: problem.CodeInvalidToken},
		{name: "nok, order with a token of a partner not in the keys file", given: call{method: "POST", path: "/v2/orders", route: "/v2/orders", body: order,
			header: with(bearer(unknownPartner), "Idempotency-Key", "unknown-partner")}, expectStatus: 401, expectCode: problem.CodeInvalidToken},
		{name: "nok, key without the scope", given: call{method: "POST", path: "/v2/orders", route: "/v2/orders", body: order,
			header: with(key(keyReadOnly), "Idempotency-Key", "k")}, expectStatus: 403, expectCode: problem.CodeInsufficientScope},
		{name: "nok, token without the scope", given: call{method: "GET", path: "/v2/inventory/p-0001", route: "/v2/inventory/:productId",
			header: bearer(readOnlyToken)}, expectStatus: 403, expectCode: problem.CodeInsufficientScope},
		{name: "nok, address outside the allow-list", given: call{method: "GET", path: "/v2/products", route: "/v2/products", header: key(keyGlobex)},
			expectStatus: 403, expectCode: problem.CodeForbidden},
		{name: "nok, body over 1 MiB", given: call{method: "POST", path: "/v2/orders", route: "/v2/orders", body: huge,
			header: with(key(keyFull), "Idempotency-Key", "k")}, expectStatus: 413, expectCode: problem.CodePayloadTooLarge},
		{name: "nok, body not JSON", given: call{method: "POST", path: "/v2/orders", route: "/v2/orders", body: "items=1",
			header: with(key(keyFull), "Idempotency-Key", "k", "Content-Type", "application/x-www-form-urlencoded")},
			expectStatus: 415, expectCode: problem.CodeUnsupportedMediaType},
		{name: "nok, invalid body with paths", given: call{method: "POST", path: "/v2/orders", route: "/v2/orders",
			body:   `{"items":[{"productId":"p-0001","quantity":0,"gift":true}],"currency":"USD","partnerId":"globex"}`,
			header: with(key(keyFull), "Idempotency-Key", "k")}, expectStatus: 400, expectCode: problem.CodeValidationFailed,
			expectErrors: []any{
				map[string]any{"in": "body", "path": "/items/0/gift", "message": "unknown field"},
				map[string]any{"in": "body", "path": "/items/0/quantity", "message": "must be at least 1"},
				map[string]any{"in": "body", "path": "/partnerId", "message": "unknown field"},
			}},
		{name: "nok, missing Idempotency-Key", given: call{method: "POST", path: "/v2/orders", route: "/v2/orders", body: order,
			header: key(keyFull)}, expectStatus: 400, expectCode: problem.CodeValidationFailed,
			expectErrors: []any{map[string]any{"in": "header", "path": "Idempotency-Key", "message": "is required"}}},
		{name: "nok, pageSize over 100", given: call{method: "GET", path: "/v2/products?pageSize=101", route: "/v2/products",
			header: key(keyFull)}, expectStatus: 400, expectCode: problem.CodeValidationFailed,
			expectErrors: []any{map[string]any{"in": "query", "path": "pageSize", "message": "must be at most 100"}}},
		{name: "nok, v1 error keeps deprecation headers", given: call{method: "GET", path: "/v1/products", route: "/v1/products"},
			expectStatus: 401, expectCode: problem.CodeUnauthorized, deprecated: true},
		{name: "nok, v1 unknown product", given: call{method: "GET", path: "/v1/products/p-9999", route: "/v1/products/:id", header: key(keyFull)},
			expectStatus: 404, expectCode: problem.CodeNotFound, deprecated: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := g.do(tt.given)
			assert.Equal(t, tt.expectStatus, r.status, string(r.body))
			assert.Equal(t, problem.ContentType, r.header.Get("Content-Type"))
			assert.Equal(t, tt.expectCode, r.code())
			assert.NotEmpty(t, r.json["requestId"])
			if tt.expectCode == problem.CodeInvalidAPIKey {
				assert.Equal(t, "/docs#section/Authentication", r.json["docs"])
			}
			if tt.expectErrors != nil {
				assert.Equal(t, tt.expectErrors, r.json["errors"])
			}
			if tt.deprecated {
				assertDeprecated(t, r)
			}
		})
	}
	assert.Zero(t, g.f.Requests(domain.ServiceOrders), "no rejected order reached the orders service")
}

func TestPartnerRateLimit(t *testing.T) {
	t.Parallel()
	g := startPartner(t, nil)
	var limited reply
	for range 10 {
		r := g.do(call{method: "GET", path: "/v2/products/p-0001", route: "/v2/products/:id", header: key(keyTiny)})
		if r.status == http.StatusTooManyRequests {
			limited = r
			break
		}
		require.Equal(t, http.StatusOK, r.status)
	}
	require.Equal(t, http.StatusTooManyRequests, limited.status, "a plan of burst 2 is exhausted within 10 quick requests")
	assert.Equal(t, problem.CodeRateLimited, limited.code())
	assert.Equal(t, "60", limited.header.Get("X-RateLimit-Limit"))
	assert.Equal(t, "0", limited.header.Get("X-RateLimit-Remaining"))
	assert.NotEmpty(t, limited.header.Get("X-RateLimit-Reset"))
	assert.NotEmpty(t, limited.header.Get("Retry-After"))
	assert.Equal(t, `"partner";q=60;w=60`, limited.header.Get("RateLimit-Policy"))
	assert.Regexp(t, `^"partner";r=0;t=\d+$`, limited.header.Get("RateLimit"))

	// Limits are per key: another partner's key is unaffected.
	r := g.do(call{method: "GET", path: "/v2/products/p-0001", route: "/v2/products/:id", header: key(keyFull)})
	assert.Equal(t, http.StatusOK, r.status)
}

func TestPartnerIdempotency(t *testing.T) {
	t.Parallel()
	g := startPartner(t, nil)
	h := with(key(keyFull), "Idempotency-Key", "idem-20")
	g.f.ResetStats()
	replies := make([]reply, 20)
	var wg sync.WaitGroup
	for i := range replies {
		wg.Go(func() {
			replies[i] = g.do(call{method: "POST", path: "/v2/orders", route: "/v2/orders", body: order, header: h})
		})
	}
	wg.Wait()
	assert.Equal(t, 1, g.f.Requests(domain.ServiceOrders), "exactly one POST reached the orders service")
	id := replies[0].json["id"]
	require.NotEmpty(t, id)
	replayed := 0
	for _, r := range replies {
		assert.Equal(t, http.StatusCreated, r.status, string(r.body))
		assert.Equal(t, id, r.json["id"], "all 20 got the same order")
		if r.header.Get("Idempotent-Replayed") == "true" {
			replayed++
		}
	}
	assert.Equal(t, 19, replayed)

	// Equal JSON in other bytes replays; another body is refused.
	r := g.do(call{method: "POST", path: "/v2/orders", route: "/v2/orders", header: h,
		body: `{ "currency": "USD", "items": [ {"quantity": 2, "productId": "p-0001"}, {"productId": "p-0002", "quantity": 1} ] }`})
	assert.Equal(t, http.StatusCreated, r.status)
	assert.Equal(t, "true", r.header.Get("Idempotent-Replayed"))
	assert.Equal(t, id, r.json["id"])
	r = g.do(call{method: "POST", path: "/v2/orders", route: "/v2/orders", header: h,
		body: `{"items":[{"productId":"p-0001","quantity":3}],"currency":"USD"}`})
	assert.Equal(t, http.StatusUnprocessableEntity, r.status)
	assert.Equal(t, problem.CodeIdempotencyKeyReused, r.code())

	// The same key of another partner is another key.
	r = g.do(call{method: "POST", path: "/v2/orders", route: "/v2/orders", body: order,
		header: with(key(keyOther), "Idempotency-Key", "idem-20")})
	assert.Equal(t, http.StatusCreated, r.status)
	assert.Empty(t, r.header.Get("Idempotent-Replayed"))
	assert.NotEqual(t, id, r.json["id"])
	assert.Equal(t, 2, g.f.Requests(domain.ServiceOrders))

	// A failed first attempt releases the key.
	require.NoError(t, g.f.SetFault(domain.ServiceOrders, domain.Fault{Status: 500, ErrorRate: 1}))
	fh := with(key(keyFull), "Idempotency-Key", "idem-fail")
	r = g.do(call{method: "POST", path: "/v2/orders", route: "/v2/orders", body: order, header: fh})
	assert.Equal(t, http.StatusBadGateway, r.status, string(r.body))
	g.f.ClearFaults()
	r = g.do(call{method: "POST", path: "/v2/orders", route: "/v2/orders", body: order, header: fh})
	assert.Equal(t, http.StatusCreated, r.status, string(r.body))
	assert.Empty(t, r.header.Get("Idempotent-Replayed"))
}

// TestPartnerIdempotencyAcrossInstances runs two gateways on one Redis:
// 20 concurrent retries spread over both reach the orders service once.
func TestPartnerIdempotencyAcrossInstances(t *testing.T) {
	t.Parallel()
	rds := edgetest.StartRedis(t)
	f, base := fakestest.Start(t)
	env := map[string]string{"BFF_REDIS_URL": rds.URL()}
	gws := []*gw{startPartnerWith(t, f, base, env), startPartnerWith(t, f, base, env)}
	f.ResetStats()
	h := with(key(keyFull), "Idempotency-Key", "across")
	replies := make([]reply, 20)
	var wg sync.WaitGroup
	for i := range replies {
		wg.Go(func() { replies[i] = gws[i%2].do(call{method: "POST", path: "/v2/orders", body: order, header: h}) })
	}
	wg.Wait()
	assert.Equal(t, 1, f.Requests(domain.ServiceOrders))
	for _, r := range replies {
		assert.Equal(t, http.StatusCreated, r.status, string(r.body))
		assert.Equal(t, replies[0].json["id"], r.json["id"])
	}

	// Redis away: orders fail closed, readiness reports it but stays 200.
	rds.Stop()
	r := gws[0].do(call{method: "POST", path: "/v2/orders", route: "/v2/orders", body: order,
		header: with(key(keyFull), "Idempotency-Key", "while-down")})
	assert.Equal(t, http.StatusServiceUnavailable, r.status, string(r.body))
	assert.Equal(t, "1", r.header.Get("Retry-After"))
	assert.Equal(t, 1, f.Requests(domain.ServiceOrders), "no unprotected order")
	res, err := http.Get(gws[0].admin + "/readyz")
	require.NoError(t, err)
	var ready struct {
		Checks map[string]struct {
			Status string `json:"status"`
		} `json:"checks"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&ready))
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode, "a Redis outage alone keeps the gateway ready")
	require.Contains(t, ready.Checks, "idempotency")
	assert.NotEqual(t, "ok", ready.Checks["idempotency"].Status)
}

// TestPartnerClientCredentials gets a real token from the identity fake, as
// a partner's OAuth client would, and uses it.
func TestPartnerClientCredentials(t *testing.T) {
	t.Parallel()
	g := startPartner(t, nil)
	// The published document names where to get a token: this deployment's
	// identity service, not an address baked into the document.
	r := g.do(call{method: "GET", path: "/openapi.json", route: "/openapi.json"})
	require.Equal(t, http.StatusOK, r.status)
	tokenURL := tokenURLOf(t, r)
	require.Equal(t, g.fbase+"/identity/oauth/token", tokenURL)
	res, err := http.PostForm(tokenURL, url.Values{"grant_type": {"client_credentials"},
		"client_id": {fakes.DemoClientID}, "client_secret": {fakes.DemoClientSecret}, "scope": {"catalog:read orders:write"}})
	require.NoError(t, err)
	var tok domain.Token
	require.NoError(t, json.NewDecoder(res.Body).Decode(&tok))
	res.Body.Close()
	require.NotEmpty(t, tok.AccessToken)

	r = g.do(call{method: "GET", path: "/v2/products?pageSize=2", route: "/v2/products", header: bearer(tok.AccessToken)})
	assert.Equal(t, http.StatusOK, r.status, string(r.body))
	r = g.do(call{method: "POST", path: "/v2/orders", route: "/v2/orders", body: order,
		header: with(bearer(tok.AccessToken), "Idempotency-Key", "cc-1")})
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	created := decode[partnerOrder](t, r)
	assert.Equal(t, "acme", created.PartnerID)
	r = g.do(call{method: "GET", path: "/v2/orders/" + created.ID, route: "/v2/orders/:id", header: bearer(tok.AccessToken)})
	assert.Equal(t, http.StatusForbidden, r.status, "orders:read was not requested")
	assert.Equal(t, problem.CodeInsufficientScope, r.code())
}

// TestPartnerAudit sends a mix of accepted and rejected requests, stops
// the gateway and finds one redacted line per request.
func TestPartnerAudit(t *testing.T) {
	t.Parallel()
	g := startPartner(t, nil)
	calls := []call{
		{method: "GET", path: "/v2/products?pageSize=2", header: key(keyFull)},
		{method: "GET", path: "/v2/products"},
		{method: "GET", path: "/v2/products", header: key(keyRevoked)},
		{method: "POST", path: "/v2/orders", body: `{"items":[{"productId":"p-0001","quantity":1}],"currency":"USD","cardNumber":"4111111111111111"}`,
			header: with(key(keyFull), "Idempotency-Key", "a-1")},
		{method: "POST", path: "/v2/orders", body: order, header: with(key(keyFull), "Idempotency-Key", "a-0")},
		{method: "POST", path: "/v2/orders", body: `{"password":"hunter2"}`, header: with(key(keyFull), "Idempotency-Key", "a-2",
			"Content-Type", "text/plain")},
		{method: "GET", path: "/nowhere"},
		{method: "GET", path: "/openapi.json"},
	}
	for _, c := range calls {
		r := g.do(c)
		t.Logf("%s %s -> %d", c.method, c.path, r.status)
	}
	g.stop()

	files, err := filepath.Glob(filepath.Join(g.audit, "audit-*.jsonl"))
	require.NoError(t, err)
	require.Len(t, files, 1)
	assert.Equal(t, "audit-"+time.Now().UTC().Format(time.DateOnly)+".jsonl", filepath.Base(files[0]))
	raw, err := os.ReadFile(files[0])
	require.NoError(t, err)
	for _, secret := range []string{keyFull, keyRevoked, "4111111111111111", "hunter2"} {
		assert.NotContains(t, string(raw), secret)
	}
	var lines []auditLine
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		var members map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(sc.Bytes(), &members))
		for _, k := range []string{"time", "requestId", "partnerId", "keyId", "clientIp", "method", "path", "query", "status", "latencyMs", "requestBody"} {
			assert.Contains(t, members, k)
		}
		var l auditLine
		require.NoError(t, json.Unmarshal(sc.Bytes(), &l))
		lines = append(lines, l)
	}
	require.Len(t, lines, len(calls), "one line per answered request")
	byStatus := map[int]*auditLine{}
	for i, l := range lines {
		byStatus[l.Status] = &lines[i]
		assert.NotEmpty(t, l.RequestID)
		assert.Equal(t, "127.0.0.1", l.ClientIP)
	}
	created := byStatus[201]
	require.NotNil(t, created)
	assert.Equal(t, "acme", created.PartnerID)
	assert.Equal(t, "acme-full", created.KeyID)
	assert.Equal(t, "USD", created.RequestBody.Currency)
	invalid := byStatus[400]
	require.NotNil(t, invalid, "the order with an unknown field is refused and recorded")
	assert.Equal(t, "[REDACTED]", invalid.RequestBody.CardNumber)
	assert.NotNil(t, byStatus[401])
	assert.NotNil(t, byStatus[415])
	assert.NotNil(t, byStatus[404])
	queries := []string{}
	for _, l := range lines {
		queries = append(queries, l.Query)
	}
	assert.Contains(t, queries, "pageSize=2")
}

// TestPartnerUpstreamFailures maps domain-service failures by kind.
func TestPartnerUpstreamFailures(t *testing.T) {
	t.Parallel()
	g := startPartner(t, nil)
	// Down: the fake closes the connection, a reset: 502.
	require.NoError(t, g.f.SetFault(domain.ServicePricing, domain.Fault{Down: true}))
	r := g.do(call{method: "GET", path: "/v2/products/p-0001", route: "/v2/products/:id", header: key(keyFull)})
	assert.Equal(t, http.StatusBadGateway, r.status, string(r.body))
	assert.Equal(t, problem.CodeUpstreamUnavailable, r.code())
	assert.Equal(t, problem.ServerDetail(problem.CodeUpstreamUnavailable), r.json["detail"], "no upstream detail leaks")
	r = g.do(call{method: "GET", path: "/v1/products/p-0001", route: "/v1/products/:id", header: key(keyFull)})
	assert.Equal(t, http.StatusBadGateway, r.status)
	assertDeprecated(t, r)
	g.f.ClearFaults()

	r = g.do(call{method: "POST", path: "/v2/orders", route: "/v2/orders", header: with(key(keyFull), "Idempotency-Key", "unknown-product"),
		body: `{"items":[{"productId":"p-9999","quantity":1}],"currency":"USD"}`})
	assert.Equal(t, http.StatusBadRequest, r.status, "the orders service refuses an unknown product")
	assert.Equal(t, problem.CodeBadRequest, r.code())
}

// tokenURLOf returns the client-credentials tokenUrl of a served
// /openapi.json.
func tokenURLOf(t *testing.T, r reply) string {
	t.Helper()
	var doc struct {
		Components struct {
			SecuritySchemes map[string]struct {
				Flows struct {
					ClientCredentials struct {
						TokenURL string `json:"tokenUrl"`
					} `json:"clientCredentials"`
				} `json:"flows"`
			} `json:"securitySchemes"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(r.body, &doc))
	u := doc.Components.SecuritySchemes["oauth2"].Flows.ClientCredentials.TokenURL
	require.NotEmpty(t, u)
	return u
}

// TestPartnerTokenURL checks BFF_PARTNER_TOKEN_URL reaches the published
// document.
func TestPartnerTokenURL(t *testing.T) {
	t.Parallel()
	g := startPartner(t, map[string]string{"BFF_PARTNER_TOKEN_URL": "https://auth.shopfront.example/oauth/token"})
	r := g.do(call{method: "GET", path: "/openapi.json", route: "/openapi.json"})
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "https://auth.shopfront.example/oauth/token", tokenURLOf(t, r))
}
