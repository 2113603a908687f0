package routing_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/shopfront/contracts/domain"

	"github.com/shopfront/shared/edge/auth"
	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/routing"
	"github.com/shopfront/shared/edge/upstream"
	"github.com/shopfront/shared/edge/variant"
)

// variantServer answers every call with its own name, so a test sees which
// variant served it.
func variantServer(t testing.TB, name string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"variant":%q}`, name)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func bases(url string) []routing.Base {
	var out []routing.Base
	for _, s := range domain.ServiceNames() {
		out = append(out, routing.Base{Name: s, Config: upstream.Config{BaseURL: url}})
	}
	return out
}

func catalog(sticky string, fallback string, vs ...routing.Variant) routing.Config {
	return routing.Config{Catalog: &routing.Service{Sticky: sticky, Fallback: fallback, Variants: vs}}
}

func userCtx(sub string) context.Context {
	return auth.WithPrincipal(context.Background(), &auth.Principal{Subject: sub, Client: auth.ClientWeb})
}

func newRouter(t testing.TB, cfg routing.Config, opts routing.Options) *routing.Router {
	t.Helper()
	r, err := routing.New(bases("http://127.0.0.1:9/x"), cfg, opts)
	require.NoError(t, err)
	t.Cleanup(r.Close)
	return r
}

func TestStickyDistributionAndRamp(t *testing.T) {
	t.Parallel()
	at10 := newRouter(t, catalog("", "", routing.Variant{Name: "stable", Weight: 90}, routing.Variant{Name: "canary", Weight: 10}), routing.Options{})
	at50 := newRouter(t, catalog("", "", routing.Variant{Name: "stable", Weight: 50}, routing.Variant{Name: "canary", Weight: 50}), routing.Options{})

	const users = 1000
	var onCanary []string
	for i := range users {
		sub := fmt.Sprintf("u-%04d", i)
		v := at10.PickName(userCtx(sub), domain.ServiceCatalog)
		assert.Equal(t, v, at10.PickName(userCtx(sub), domain.ServiceCatalog), "the same caller always gets the same variant")
		if v == "canary" {
			onCanary = append(onCanary, sub)
		}
	}
	share := float64(len(onCanary)) / users
	assert.True(t, share >= 0.08 && share <= 0.12, "canary share at weight 10/100: %.3f", share)
	for _, sub := range onCanary {
		assert.Equal(t, "canary", at50.PickName(userCtx(sub), domain.ServiceCatalog), "%s left the canary when it was raised to 50 %%", sub)
	}
}

func TestStickyKeys(t *testing.T) {
	t.Parallel()
	r := newRouter(t, catalog("", "", routing.Variant{Name: "a", Weight: 1}, routing.Variant{Name: "b", Weight: 1}), routing.Options{})
	// Find a user id and an IP on different variants, then check that the
	// partner id wins over the subject, and the subject over the IP.
	onB := func(ctx func(string) context.Context) string {
		for i := range 1000 {
			k := fmt.Sprintf("k-%d", i)
			if r.PickName(ctx(k), domain.ServiceCatalog) == "b" {
				return k
			}
		}
		t.Fatal("no key on b")
		return ""
	}
	ipCtx := func(ip string) context.Context {
		return variant.NewContext(context.Background(), &variant.Request{ClientIP: ip})
	}
	ip := onB(ipCtx)
	// Anonymous callers stick by IP.
	for range 20 {
		assert.Equal(t, "b", r.PickName(ipCtx(ip), domain.ServiceCatalog))
	}
	partnerCtx := func(p string) context.Context {
		ctx := variant.NewContext(context.Background(), &variant.Request{ClientIP: ip})
		return auth.WithPrincipal(ctx, &auth.Principal{Subject: "client-x", Partner: p, Client: auth.ClientPartner})
	}
	partner := onB(partnerCtx)
	for range 20 {
		assert.Equal(t, "b", r.PickName(partnerCtx(partner), domain.ServiceCatalog))
	}
}

// TestRampIsMonotone checks, over many random weight vectors, callers and
// variant counts, that raising one variant's weight (whichever it is, the
// others fixed) never moves a caller off it, and that a variant with weight
// w gets close to its share.
func TestRampIsMonotone(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 40 {
		n := 2 + rng.IntN(3)
		ws := make([]int, n)
		for i := range ws {
			ws[i] = rng.IntN(100)
		}
		ws[0]++ // A positive sum.
		raised := rng.IntN(n)
		up := append([]int(nil), ws...)
		up[raised] += 1 + rng.IntN(200)
		mk := func(w []int) *routing.Router {
			var vs []routing.Variant
			for i, x := range w {
				vs = append(vs, routing.Variant{Name: fmt.Sprintf("v%d", i), Weight: x})
			}
			return newRouter(t, catalog("", "", vs...), routing.Options{})
		}
		before, after := mk(ws), mk(up)
		name := fmt.Sprintf("v%d", raised)
		for i := range 300 {
			ctx := userCtx(fmt.Sprintf("t%d-u%d", trial, i))
			if before.PickName(ctx, domain.ServiceCatalog) == name {
				require.Equal(t, name, after.PickName(ctx, domain.ServiceCatalog),
					"trial %d: weights %v -> %v moved a caller off %s", trial, ws, up, name)
			}
		}
	}
}

func TestStickyNoneFollowsWeights(t *testing.T) {
	t.Parallel()
	r := newRouter(t, catalog(routing.StickyNone, "", routing.Variant{Name: "stable", Weight: 3}, routing.Variant{Name: "canary", Weight: 1}), routing.Options{})
	ctx := userCtx("u-1")
	canary := 0
	for range 4000 {
		if r.PickName(ctx, domain.ServiceCatalog) == "canary" {
			canary++
		}
	}
	assert.InDelta(t, 1000, canary, 150, "one caller is spread over both variants by weight")
}

func TestTesterPin(t *testing.T) {
	t.Parallel()
	stable, canary := variantServer(t, "stable"), variantServer(t, "canary")
	cfg := catalog("", "", routing.Variant{Name: "stable", Weight: 100, URL: stable.URL}, routing.Variant{Name: "canary", Weight: 0, URL: canary.URL})
	r, err := routing.New(bases(stable.URL), cfg, routing.Options{})
	require.NoError(t, err)
	t.Cleanup(r.Close)

	tests := []struct {
		name   string
		roles  []auth.Role
		pin    string
		expect string
	}{
		{name: "ok, a tester's pin is honoured", roles: []auth.Role{auth.RoleTester}, pin: "catalog=canary", expect: "canary"},
		{name: "ok, a tester's pin among others, spaced", roles: []auth.Role{"customer", auth.RoleTester}, pin: "pricing=x , catalog = canary", expect: "canary"},
		{name: "ok, a pin for an unknown variant is ignored", roles: []auth.Role{auth.RoleTester}, pin: "catalog=nope", expect: "stable"},
		{name: "ok, a malformed pin is ignored", roles: []auth.Role{auth.RoleTester}, pin: "catalog", expect: "stable"},
		{name: "nok, a customer's pin is ignored", roles: []auth.Role{"customer"}, pin: "catalog=canary", expect: "stable"},
		{name: "nok, an anonymous pin is ignored", pin: "catalog=canary", expect: "stable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := &variant.Request{ClientIP: "192.0.2.1", Pin: tc.pin}
			ctx := variant.NewContext(context.Background(), rec)
			if tc.roles != nil {
				ctx = auth.WithPrincipal(ctx, &auth.Principal{Subject: "u-1", Roles: tc.roles, Client: auth.ClientWeb})
			}
			var out struct{ Variant string }
			require.NoError(t, r.Route(domain.ServiceCatalog).Get(ctx, "/products/p-1", nil, &out))
			assert.Equal(t, tc.expect, out.Variant)
			assert.Equal(t, "catalog="+tc.expect, rec.String(), "the access log names the variant used")
		})
	}
}

func TestFallbackWhileBreakerOpen(t *testing.T) {
	t.Parallel()
	stable := variantServer(t, "stable")
	dead := "http://" + edgetest.DeadAddr(t)
	core, logs := observer.New(zap.InfoLevel)
	reg := prometheus.NewRegistry()
	cfg := catalog(routing.StickyNone, "stable", routing.Variant{Name: "stable", Weight: 50}, routing.Variant{Name: "canary", Weight: 50, URL: dead})
	r, err := routing.New(bases(stable.URL), cfg, routing.Options{Upstream: upstream.Options{Logger: zap.New(core), Registerer: reg}})
	require.NoError(t, err)
	t.Cleanup(r.Close)
	route := r.Route(domain.ServiceCatalog)

	failed := 0
	for range 200 {
		var out struct{ Variant string }
		if err := route.Get(context.Background(), "/products/p-1", nil, &out); err != nil {
			failed++
			continue
		}
		assert.Equal(t, "stable", out.Variant)
	}
	assert.LessOrEqual(t, failed, 5, "at most the calls that opened the canary's breaker fail")
	assert.Equal(t, "open", breaker(t, r, "canary"))
	assert.Positive(t, testutil.ToFloat64(fallbacks(t, reg)))
	assert.Equal(t, 1, logs.FilterMessage("routing calls to the fallback variant: the variant's breaker is open").Len(), "logged once per outage")
}

func breaker(t *testing.T, r *routing.Router, name string) string {
	t.Helper()
	for _, v := range r.View().Services[domain.ServiceCatalog].Variants {
		if v.Name == name {
			return v.Breaker
		}
	}
	t.Fatalf("no variant %s", name)
	return ""
}

func fallbacks(t *testing.T, reg *prometheus.Registry) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == "shopfront_upstream_fallbacks_total" {
			return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "x", Help: "x"}, func() float64 {
				sum := 0.0
				for _, m := range mf.GetMetric() {
					sum += m.GetCounter().GetValue()
				}
				return sum
			})
		}
	}
	t.Fatal("no fallbacks counter")
	return nil
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	require.NoError(t, os.WriteFile(tmp, []byte(content), 0o600))
	require.NoError(t, os.Rename(tmp, path))
}

func routingYAML(stableW, canaryW int, canaryURL string) string {
	return fmt.Sprintf(`server: {addr: ":0"}
routing:
  catalog:
    fallback: stable
    variants:
      - {name: stable, weight: %d}
      - {name: canary, weight: %d, url: %q}
`, stableW, canaryW, canaryURL)
}

// TestReloadUnderLoad reloads the routing many times while callers call in
// a loop: no call fails, and each sees a whole table (its variant is one of
// the two the file ever named).
func TestReloadUnderLoad(t *testing.T) {
	t.Parallel()
	stable, canary := variantServer(t, "stable"), variantServer(t, "canary")
	path := filepath.Join(t.TempDir(), "bff.yaml")
	writeFile(t, path, routingYAML(90, 10, canary.URL))
	cfg, err := routing.ParseFile([]byte(routingYAML(90, 10, canary.URL)))
	require.NoError(t, err)
	r, err := routing.New(bases(stable.URL), cfg, routing.Options{File: path, PollInterval: -1})
	require.NoError(t, err)
	t.Cleanup(r.Close)
	route := r.Route(domain.ServiceCatalog)

	ctx, cancel := context.WithCancel(context.Background())
	var calls, failures atomic.Int64
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				var out struct{ Variant string }
				err := route.Get(userCtx(fmt.Sprintf("w%d-%d", w, i%50)), "/products/p-1", nil, &out)
				calls.Add(1)
				if err != nil || (out.Variant != "stable" && out.Variant != "canary") {
					failures.Add(1)
				}
			}
		})
	}
	for i := range 50 {
		writeFile(t, path, routingYAML(100-2*i, 2*i, canary.URL))
		require.NoError(t, r.Reload(context.Background()))
	}
	cancel()
	wg.Wait()
	assert.Zero(t, failures.Load(), "of %d calls", calls.Load())
	assert.Positive(t, calls.Load())
	v := r.View().Services[domain.ServiceCatalog]
	assert.Equal(t, 98, v.Variants[1].Weight, "the last file is in force")
}

func TestReloadBadFileKeepsRouting(t *testing.T) {
	t.Parallel()
	stable, canary := variantServer(t, "stable"), variantServer(t, "canary")
	good := routingYAML(90, 10, canary.URL)
	tests := []struct {
		name   string
		file   string
		expect string
	}{
		{name: "nok, negative weight", file: routingYAML(90, -1, canary.URL), expect: "routing.catalog.variants[1].weight: -1 must be between 0"},
		{name: "nok, zero sum", file: routingYAML(0, 0, canary.URL), expect: "routing.catalog.variants: the weights must have a positive sum"},
		{name: "nok, unknown key", file: strings.Replace(good, "fallback:", "fallbak:", 1), expect: "field fallbak not found"},
		{name: "nok, unknown service", file: good + "  billing: {}\n", expect: "field billing not found"},
		{name: "nok, bad url", file: routingYAML(90, 10, "ftp://x"), expect: "must be an absolute http(s) URL"},
		{name: "nok, fallback names no variant", file: strings.Replace(good, "fallback: stable", "fallback: old", 1), expect: `routing.catalog.fallback: "old" is not one of the variants`},
		{name: "nok, not YAML", file: "routing: [", expect: "decoding"},
		{name: "nok, missing file", expect: "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "bff.yaml")
			writeFile(t, path, good)
			cfg, err := routing.ParseFile([]byte(good))
			require.NoError(t, err)
			core, logs := observer.New(zap.InfoLevel)
			r, err := routing.New(bases(stable.URL), cfg, routing.Options{File: path, PollInterval: -1,
				Upstream: upstream.Options{Logger: zap.New(core)}})
			require.NoError(t, err)
			t.Cleanup(r.Close)
			before := r.View()

			if tc.file == "" {
				require.NoError(t, os.Remove(path))
			} else {
				writeFile(t, path, tc.file)
			}
			err = r.Reload(context.Background())
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.expect)
			assert.Equal(t, before, r.View(), "the routing in force is kept")
			assert.Equal(t, 1, logs.FilterLevelExact(zap.ErrorLevel).Len(), "one error line")
		})
	}
}

// TestWatchReloadsOnFileChange edits the file in place and waits for the
// poller: a content read the same twice is loaded.
func TestWatchReloadsOnFileChange(t *testing.T) {
	t.Parallel()
	stable, canary := variantServer(t, "stable"), variantServer(t, "canary")
	path := filepath.Join(t.TempDir(), "bff.yaml")
	writeFile(t, path, routingYAML(90, 10, canary.URL))
	cfg, err := routing.ParseFile([]byte(routingYAML(90, 10, canary.URL)))
	require.NoError(t, err)
	r, err := routing.New(bases(stable.URL), cfg, routing.Options{File: path, PollInterval: 5 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(r.Close)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go r.Watch(ctx)

	writeFile(t, path, routingYAML(50, 50, canary.URL))
	require.Eventually(t, func() bool {
		return r.View().Services[domain.ServiceCatalog].Variants[1].Weight == 50
	}, 10*time.Second, 5*time.Millisecond)
}

func TestView(t *testing.T) {
	t.Parallel()
	r := newRouter(t, routing.Config{Catalog: &routing.Service{Fallback: "stable", Hedge: true, Variants: []routing.Variant{
		{Name: "stable", Weight: 90}, {Name: "canary", Weight: 10, URL: "http://canary.internal:9100/catalog"},
	}}}, routing.Options{})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	var v routing.View
	require.NoError(t, jsonDecode(resp, &v))
	assert.Equal(t, routing.ServiceView{Sticky: "user", Fallback: "stable", Hedge: true, Variants: []routing.VariantView{
		{Name: "stable", Weight: 90, Host: "127.0.0.1:9", Breaker: "closed"},
		{Name: "canary", Weight: 10, Host: "canary.internal:9100", Breaker: "closed"},
	}}, v.Services[domain.ServiceCatalog])
	assert.Equal(t, []routing.VariantView{{Name: upstream.DefaultVariant, Weight: 1, Host: "127.0.0.1:9", Breaker: "closed"}},
		v.Services[domain.ServiceUsers].Variants, "a service without routing has the default variant")
}

// BenchmarkPick measures the choice of a variant for one call: a sticky
// user among two weighted variants, and the pinned path of a tester.
func BenchmarkPick(b *testing.B) {
	r := newRouter(b, catalog("", "", routing.Variant{Name: "stable", Weight: 90}, routing.Variant{Name: "canary", Weight: 10}), routing.Options{})
	b.Run("sticky-user", func(b *testing.B) {
		ctx := variant.NewContext(userCtx("u-000123"), &variant.Request{ClientIP: "192.0.2.1"})
		b.ReportAllocs()
		for b.Loop() {
			_ = r.PickName(ctx, domain.ServiceCatalog)
		}
	})
	b.Run("tester-pin", func(b *testing.B) {
		ctx := variant.NewContext(context.Background(), &variant.Request{ClientIP: "192.0.2.1", Pin: "pricing=a, catalog=canary"})
		ctx = auth.WithPrincipal(ctx, &auth.Principal{Subject: "u-1", Roles: []auth.Role{auth.RoleTester}})
		b.ReportAllocs()
		for b.Loop() {
			_ = r.PickName(ctx, domain.ServiceCatalog)
		}
	})
}
