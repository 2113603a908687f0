package app_test

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/contracts/domain"
	"github.com/shopfront/contracts/fakes/fakestest"
	"github.com/shopfront/shared/edge/edgetest"
)

// TestSilentRedis runs bff-web on a Redis that accepts connections and
// never answers: the catalog and product pages are served uncached before a
// 1 s client gives up, rate limited per instance, and the gateway still
// stops at once.
func TestSilentRedis(t *testing.T) {
	t.Parallel()
	rds := edgetest.StartSilentRedis(t)
	w := bootWeb(t, webOptions{env: map[string]string{"BFF_REDIS_URL": rds.URL()}})
	hc := &http.Client{Timeout: time.Second}
	for _, path := range []string{"/v1/catalog", "/v1/pages/product/p-0003", "/v1/catalog?page=2", "/v1/pages/product/p-0003"} {
		req, err := http.NewRequest(http.MethodGet, w.url+path, nil)
		require.NoError(t, err)
		res, err := hc.Do(req)
		require.NoError(t, err, "%s answered before the 1 s client timeout", path)
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		assert.Equal(t, http.StatusOK, res.StatusCode, path)
		assert.Equal(t, "MISS", res.Header.Get("X-Cache"), "%s served uncached", path)
		assert.NotEmpty(t, res.Header.Get("X-RateLimit-Limit"), "%s limited by the per-instance fallback", path)
	}
	assert.Positive(t, rds.Accepted(), "the gateway did reach the silent Redis")

	stopped := make(chan struct{})
	go func() { w.stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("the gateway did not stop: something still waits on the silent Redis")
	}
}

// productFanOut is what one fan-out of a product page costs at the fakes:
// catalog (product, then similar products), pricing (price, then similar
// prices), inventory, reviews, recommendations.
func productFanOut(times int) map[string]int {
	return map[string]int{domain.ServiceCatalog: 2 * times, domain.ServicePricing: 2 * times, domain.ServiceInventory: times,
		domain.ServiceReviews: times, domain.ServiceRecommendations: times}
}

// TestCacheCoalescesWhileRedisIsAway: two instances on a Redis that is
// down (refused) or hung (silent); 20 concurrent cold requests for one
// product page on each cost one fan-out per instance.
func TestCacheCoalescesWhileRedisIsAway(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		redis func(t *testing.T) string
	}{
		{name: "ok, Redis refuses connections", redis: func(t *testing.T) string { return "redis://" + edgetest.DeadAddr(t) + "/0" }},
		{name: "ok, Redis accepts connections and never answers", redis: func(t *testing.T) string { return edgetest.StartSilentRedis(t).URL() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, base := fakestest.Start(t)
			env := map[string]string{"BFF_REDIS_URL": tt.redis(t)}
			ws := []*web{bootWeb(t, webOptions{env: env, fakes: f, base: base}), bootWeb(t, webOptions{env: env, fakes: f, base: base})}
			ct := newContract(t)
			// The catalog is slowed down so that every request arrives while
			// its instance's first fan-out is in flight.
			require.NoError(t, f.SetFault(domain.ServiceCatalog, domain.Fault{LatencyMs: 500}))
			f.ResetStats()
			var wg sync.WaitGroup
			answers := make([]answer, 40)
			for i := range answers {
				c := newClient(t, ct)
				wg.Go(func() { answers[i] = c.do(http.MethodGet, ws[i%2].url+"/v1/pages/product/p-0004", "", nil) })
			}
			wg.Wait()
			f.ClearFaults()
			assert.Equal(t, productFanOut(2), fanOut(f), "40 concurrent misses on two instances, one fan-out each")
			for _, a := range answers {
				assert.Equal(t, http.StatusOK, a.status)
				assert.Equal(t, "MISS", a.header.Get("X-Cache"))
			}
		})
	}
}

// TestRefusedRequestsNeverShareAnEntry: a catalog request the handler
// refuses is never answered from another request's entry, nor fills one.
func TestRefusedRequestsNeverShareAnEntry(t *testing.T) {
	t.Parallel()
	w := bootWeb(t, webOptions{})
	ct := newContract(t)
	refused := []string{"?page=", "?pageSize=0", "?pageSize=", "?page=0", "?page=1&page=1", "?page=abc", "?category=%3Cscript%3E"}

	// Refused first, on a cold cache: the valid page after it is its own.
	for _, q := range refused {
		a := newClient(t, ct).do(http.MethodGet, w.url+"/v1/catalog"+q, "", nil)
		assert.Equal(t, http.StatusBadRequest, a.status, q)
		assert.Equal(t, "validation_failed", a.json["error"], q)
	}
	first := newClient(t, ct).do(http.MethodGet, w.url+"/v1/catalog", "", nil)
	require.Equal(t, http.StatusOK, first.status)
	assert.Equal(t, "MISS", first.header.Get("X-Cache"), "no refused request filled the valid page's entry")

	// The valid page cached: refused requests are still refused, not HITs.
	for _, q := range refused {
		a := newClient(t, ct).do(http.MethodGet, w.url+"/v1/catalog"+q, "", nil)
		assert.Equal(t, http.StatusBadRequest, a.status, "%s answered from the cache", q)
		assert.NotEqual(t, "HIT", a.header.Get("X-Cache"), q)
	}
	again := newClient(t, ct).do(http.MethodGet, w.url+"/v1/catalog", "", nil)
	assert.Equal(t, "HIT", again.header.Get("X-Cache"))
	assert.Equal(t, first.body, again.body)
}

// TestUnkeyedHeadersNeverChangeACachedBody: a request carrying a header
// that is not part of the cache key fills the entry with exactly the body a
// plain request gets, so no caller can poison what others are served.
func TestUnkeyedHeadersNeverChangeACachedBody(t *testing.T) {
	t.Parallel()
	w := bootWeb(t, webOptions{})
	ct := newContract(t)
	poison := "evil.example"
	headers := []struct{ name, value string }{
		{"X-Forwarded-Host", poison},
		{"X-Forwarded-Proto", "http"},
		{"X-Forwarded-Prefix", "/" + poison},
		{"X-Original-URL", "/v1/me?" + poison},
		{"X-Rewrite-URL", "/v1/me?" + poison},
		{"X-Host", poison},
		{"Forwarded", "host=" + poison + ";proto=http"},
		{"Accept-Language", "fr-FR"},
		{"Accept", "text/html"},
		{"Origin", "https://" + poison},
		{"Cookie", "lang=fr"},
	}
	filled := make([]answer, len(headers))
	for i, h := range headers {
		page := fmt.Sprintf("%s/v1/pages/product/p-%04d", w.url, 10+i)
		filled[i] = newClient(t, ct).do(http.MethodGet, page, "", map[string]string{h.name: h.value})
		filled := filled[i]
		require.Equal(t, http.StatusOK, filled.status, h.name)
		require.Equal(t, "MISS", filled.header.Get("X-Cache"), h.name)
		hit := newClient(t, ct).do(http.MethodGet, page, "", nil)
		assert.Equal(t, "HIT", hit.header.Get("X-Cache"), h.name)
		assert.Equal(t, filled.body, hit.body, h.name)
		assert.NotContains(t, string(hit.body), poison, h.name)
	}
	// The same pages filled again by plain requests once the entries
	// expired: the bodies the headers produced are the plain ones.
	w.clock.Advance(2 * time.Minute)
	for i, h := range headers {
		page := fmt.Sprintf("%s/v1/pages/product/p-%04d", w.url, 10+i)
		plain := newClient(t, ct).do(http.MethodGet, page, "", nil)
		assert.Equal(t, "MISS", plain.header.Get("X-Cache"), h.name)
		assert.JSONEq(t, string(plain.body), string(filled[i].body), h.name)
	}
}

// TestSignInThrottledPerUsername: five wrong passwords for one username,
// each from another client IP, and the next attempt for it is 429 with
// Retry-After whatever the IP and the password, until the 15 min window
// ends; other usernames sign in meanwhile, and the username is never
// logged. With Redis the count is shared by every instance.
func TestSignInThrottledPerUsername(t *testing.T) {
	t.Parallel()
	r := edgetest.StartRedis(t)
	f, base := fakestest.Start(t)
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	env := map[string]string{"BFF_REDIS_URL": r.URL()}
	ws := []*web{bootWeb(t, webOptions{env: env, fakes: f, base: base, clock: clk}),
		bootWeb(t, webOptions{env: env, fakes: f, base: base, clock: clk})}
	ct := newContract(t)
	signIn := func(w *web, user, password string) answer {
		return newClient(t, ct).do(http.MethodPost, w.url+"/v1/session",
			fmt.Sprintf(`{"username":%q,"password":%q}`, user, password), nil)
	}

	for i := range 5 {
		a := signIn(ws[i%2], "alice", "wrong")
		require.Equal(t, http.StatusUnauthorized, a.status, "attempt %d", i+1)
		clk.Advance(time.Minute)
	}
	identityCalls := f.Requests(domain.ServiceIdentity)
	for _, w := range ws {
		a := signIn(w, "alice", "shopfront")
		assert.Equal(t, http.StatusTooManyRequests, a.status, "even the right password waits")
		assert.Equal(t, "rate_limited", a.json["error"])
		assert.Equal(t, "600", a.header.Get("Retry-After"), "until the window that began 5 min ago ends")
	}
	assert.Equal(t, identityCalls, f.Requests(domain.ServiceIdentity), "refused before identity is asked")
	assert.Equal(t, http.StatusUnauthorized, signIn(ws[0], "bob", "wrong").status, "another username is not held")

	clk.Advance(10 * time.Minute)
	assert.Equal(t, http.StatusNoContent, signIn(ws[1], "alice", "shopfront").status, "the window ended")

	for _, w := range ws {
		for _, e := range w.logs.All() {
			assert.NotContains(t, e.Message+fmt.Sprint(e.ContextMap()), "alice", "the username is never logged")
		}
	}
}
