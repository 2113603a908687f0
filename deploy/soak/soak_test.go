//go:build soak

// Package soak runs the three gateways against the fakes and one Redis for
// a while under a steady load, with upstream faults and Redis outages
// switching on and off, and checks that every answer is one a client was
// promised and that goroutines and memory stay flat. It is built only with
// the soak tag: make soak runs it for SHOPFRONT_SOAK (default 2m).
package soak_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/shopfront/deploy/internal/binaries"
	"github.com/shopfront/deploy/internal/pace"
	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/gateway/gatewaytest"
)

const (
	partnerKey     = "sf_dev_acme_3vQ8kT2mW9xR4pLz"
	faultEvery     = 10 * time.Second
	redisEvery     = 15 * time.Second
	redisOutage    = 5 * time.Second
	warmUp         = 3 * time.Second
	requestTimeout = 10 * time.Second
)

// mobileUsers share the mobile load so that no one user's rate limit
// (600/min, burst 100) dominates the answers.
var mobileUsers = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"}

// route is one kind of request of the mix.
type route struct {
	gateway string
	method  string
	path    string
	// request fills in credentials and body for one request.
	request func(r *http.Request, n int)
	// degraded5xx lists the 5xx answers this route may give by design
	// (partner orders answer 503 while Redis, which holds the idempotency
	// records, is down). Any other 5xx fails the run.
	degraded5xx []int
}

// tally is what the load generator saw.
type tally struct {
	mu        sync.Mutex
	sent      int
	byStatus  map[string]map[int]int // route -> status -> count
	transport map[string]int         // route -> transport errors
	firstErrs []string
	latency   map[string][]time.Duration // gateway -> latencies of answered requests
}

func (t *tally) record(r route, status int, d time.Duration, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	key := r.method + " " + r.gateway + r.path
	if err != nil {
		t.transport[key]++
		if len(t.firstErrs) < 10 {
			t.firstErrs = append(t.firstErrs, key+": "+err.Error())
		}
		return
	}
	if t.byStatus[key] == nil {
		t.byStatus[key] = map[int]int{}
	}
	t.byStatus[key][status]++
	t.latency[r.gateway] = append(t.latency[r.gateway], d)
}

// sample is a gateway's process figures from its admin /metrics.
type sample struct{ goroutines, rss float64 }

func TestSoak(t *testing.T) {
	raw := os.Getenv("SHOPFRONT_SOAK")
	if raw == "" {
		raw = "2m"
	}
	duration, err := time.ParseDuration(raw)
	require.NoError(t, err, "SHOPFRONT_SOAK")
	rate := 100
	if v := os.Getenv("SOAK_RATE"); v != "" {
		rate, err = strconv.Atoi(v)
		require.NoError(t, err, "SOAK_RATE")
		require.Positive(t, rate, "SOAK_RATE")
	}

	// Build the four binaries side by side: the build is most of the set-up.
	bins := binaries.Build(t, filepath.Join("..", ".."))
	base := binaries.StartFakes(t, bins.Fakes)
	redis := edgetest.StartRedis(t)
	keys, err := filepath.Abs(filepath.Join("..", "dev", "partner-keys.yaml"))
	require.NoError(t, err)
	redisEnv := "BFF_REDIS_URL=" + redis.URL()
	gw := map[string]*gatewaytest.Process{
		"mobile":  gatewaytest.Start(t, bins.Mobile, base, redisEnv),
		"web":     gatewaytest.Start(t, bins.Web, base, redisEnv, "BFF_TRUSTED_PROXIES=127.0.0.1"),
		"partner": gatewaytest.Start(t, bins.Partner, base, redisEnv, "BFF_PARTNER_KEYS_FILE="+keys, "BFF_AUDIT_DIR="+t.TempDir()),
	}
	tokens := make([]string, len(mobileUsers))
	for i, u := range mobileUsers {
		tokens[i] = binaries.PasswordToken(t, base, u, "mobile")
	}

	mobile := func(r *http.Request, n int) { r.Header.Set("Authorization", "Bearer "+tokens[n%len(tokens)]) }
	// Anonymous web clients come from ten addresses, through the loopback
	// proxy the web gateway trusts, so that one address's limit does not
	// answer most of them.
	anonymous := func(r *http.Request, n int) { r.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", n%10+1)) }
	partner := func(r *http.Request, _ int) { r.Header.Set("X-API-Key", partnerKey) }
	routes := []route{
		{gateway: "mobile", method: http.MethodGet, path: "/v1/home", request: mobile},
		{gateway: "mobile", method: http.MethodGet, path: "/v1/products/p-0001", request: mobile},
		{gateway: "web", method: http.MethodGet, path: "/v1/catalog", request: anonymous},
		{gateway: "web", method: http.MethodGet, path: "/v1/pages/product/p-0002", request: anonymous},
		{gateway: "partner", method: http.MethodGet, path: "/v2/products/p-0003", request: partner},
		{gateway: "partner", method: http.MethodPost, path: "/v2/orders", degraded5xx: []int{http.StatusServiceUnavailable},
			request: func(r *http.Request, n int) {
				partner(r, n)
				r.Header.Set("Content-Type", "application/json")
				r.Header.Set("Idempotency-Key", rand.Text())
				body := `{"items":[{"productId":"p-0001","quantity":1}],"currency":"USD"}`
				r.Body = io.NopCloser(strings.NewReader(body))
				r.ContentLength = int64(len(body))
			}},
	}

	client := &http.Client{
		Timeout:   requestTimeout,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true},
	}
	do := func(r route, n int) (int, time.Duration, error) {
		req, err := http.NewRequest(r.method, "http://"+gw[r.gateway].Addr+r.path, nil)
		if err != nil {
			return 0, 0, err
		}
		r.request(req, n)
		start := time.Now()
		res, err := client.Do(req)
		if err != nil {
			return 0, 0, err
		}
		_, err = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		return res.StatusCode, time.Since(start), err
	}

	// Warm-up: every route answers before the figures of the start are
	// taken, so connection pools, caches and JWKS are in place.
	deadline := time.Now().Add(warmUp)
	for n := 0; time.Now().Before(deadline); n++ {
		r := routes[n%len(routes)]
		status, _, err := do(r, n)
		require.NoError(t, err, "warm-up %s %s", r.method, r.path)
		require.Less(t, status, 500, "warm-up %s %s", r.method, r.path)
		time.Sleep(time.Second / time.Duration(rate))
	}
	start := snapshot(t, client, gw)

	// The load: a fixed total rate, round robin over the routes, each
	// request in its own goroutine so that slow answers do not lower it.
	tl := &tally{byStatus: map[string]map[int]int{}, transport: map[string]int{}, latency: map[string][]time.Duration{}}
	ctx, cancel := context.WithTimeout(t.Context(), duration)
	defer cancel()
	load := pace.Start(ctx, rate, func(n int) {
		r := routes[n%len(routes)]
		status, d, err := do(r, n/len(routes))
		tl.record(r, status, d, err)
	})

	// The faults, on this goroutine (Restart may fail the test): upstream
	// faults toggle every faultEvery; Redis is down for redisOutage every
	// redisEvery.
	faultTick := time.NewTicker(faultEvery)
	defer faultTick.Stop()
	redisTick := time.NewTicker(redisEvery)
	defer redisTick.Stop()
	var restart <-chan time.Time
	faultsOn := false
	faultToggles, outages := 0, 0
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-faultTick.C:
			faultsOn = !faultsOn
			faultToggles++
			if faultsOn {
				fakesCall(t, client, http.MethodPut, base+"/__faults/recommendations", `{"errorRate":1}`)
				fakesCall(t, client, http.MethodPut, base+"/__faults/reviews", `{"latencyMs":300}`)
			} else {
				fakesCall(t, client, http.MethodDelete, base+"/__faults", "")
			}
		case <-redisTick.C:
			if restart == nil {
				redis.Stop()
				outages++
				restart = time.After(redisOutage)
			}
		case <-restart:
			redis.Restart(t)
			restart = nil
		}
	}
	tl.sent = load.Wait()
	if restart != nil {
		redis.Restart(t)
	}
	fakesCall(t, client, http.MethodDelete, base+"/__faults", "")
	end := snapshot(t, client, gw)

	report(t, tl, routes, start, end, duration, rate, faultToggles, outages)
}

// report prints the figures and fails the test on a broken promise.
func report(t *testing.T, tl *tally, routes []route, start, end map[string]sample, d time.Duration, rate, toggles, outages int) {
	t.Helper()
	tl.mu.Lock()
	defer tl.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "soak: %s at %d req/s, %d upstream fault toggles, %d Redis outages of %s\n", d, rate, toggles, outages, redisOutage)
	answered, transport, unexpected, expected503, limited := 0, 0, 0, 0, 0
	fmt.Fprintf(&b, "%-36s %s\n", "route", "answers by status")
	for _, r := range routes {
		key := r.method + " " + r.gateway + r.path
		statuses := slices.Sorted(maps.Keys(tl.byStatus[key]))
		var parts []string
		for _, s := range statuses {
			n := tl.byStatus[key][s]
			answered += n
			parts = append(parts, fmt.Sprintf("%d×%d", s, n))
			switch {
			case s == http.StatusTooManyRequests:
				limited += n
			case s >= 500 && slices.Contains(r.degraded5xx, s):
				expected503 += n
			case s >= 500:
				unexpected += n
				t.Errorf("%s: %d answers %d, a 5xx this route must not give", key, n, s)
			}
		}
		if n := tl.transport[key]; n > 0 {
			transport += n
			parts = append(parts, fmt.Sprintf("transport-error×%d", n))
		}
		fmt.Fprintf(&b, "%-36s %s\n", key, strings.Join(parts, " "))
	}
	fmt.Fprintf(&b, "requests sent %d, answered %d, transport errors %d, unexpected 5xx %d, expected 503 (partner orders, Redis down) %d, 429 rate limited %d\n",
		tl.sent, answered, transport, unexpected, expected503, limited)
	for _, g := range []string{"mobile", "web", "partner"} {
		l := tl.latency[g]
		slices.Sort(l)
		fmt.Fprintf(&b, "%-8s p50 %-9s p99 %-9s goroutines %.0f -> %.0f  RSS %.1f MB -> %.1f MB\n", g,
			pct(l, 0.50).Round(100*time.Microsecond), pct(l, 0.99).Round(100*time.Microsecond),
			start[g].goroutines, end[g].goroutines, start[g].rss/1e6, end[g].rss/1e6)
	}
	fmt.Print(b.String())

	if transport > 0 {
		t.Errorf("%d transport errors, first: %s", transport, strings.Join(tl.firstErrs, "; "))
	}
	for g, s := range start {
		e := end[g]
		if limit := s.goroutines*1.5 + 20; e.goroutines > limit {
			t.Errorf("%s: goroutines grew from %.0f to %.0f (limit %.0f)", g, s.goroutines, e.goroutines, limit)
		}
		if limit := s.rss*1.5 + 30e6; e.rss > limit {
			t.Errorf("%s: RSS grew from %.1f MB to %.1f MB (limit %.1f MB)", g, s.rss/1e6, e.rss/1e6, limit/1e6)
		}
	}
}

func pct(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

// snapshot reads each gateway's goroutines and resident memory. The
// client's idle keep-alive connections are closed first, and the servers
// given a moment to notice, so that they do not count as goroutines.
func snapshot(t *testing.T, client *http.Client, gw map[string]*gatewaytest.Process) map[string]sample {
	t.Helper()
	client.CloseIdleConnections()
	time.Sleep(time.Second)
	out := map[string]sample{}
	for name, p := range gw {
		res, err := http.Get("http://" + p.AdminAddr + "/metrics")
		require.NoError(t, err)
		var s sample
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			name, value, ok := strings.Cut(sc.Text(), " ")
			if !ok {
				continue
			}
			switch name {
			case "go_goroutines":
				s.goroutines, err = strconv.ParseFloat(value, 64)
			case "process_resident_memory_bytes":
				s.rss, err = strconv.ParseFloat(value, 64)
			}
			require.NoError(t, err, "%s: %s", name, value)
		}
		require.NoError(t, sc.Err())
		_ = res.Body.Close()
		require.Positive(t, s.goroutines, "%s: go_goroutines", name)
		require.Positive(t, s.rss, "%s: process_resident_memory_bytes", name)
		out[name] = s
	}
	return out
}

func fakesCall(t *testing.T, client *http.Client, method, url, body string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := client.Do(req)
	require.NoError(t, err)
	_ = res.Body.Close()
	require.Equal(t, http.StatusNoContent, res.StatusCode, "%s %s", method, url)
}
