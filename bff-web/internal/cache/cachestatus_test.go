package cache_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/bff-web/internal/cache"
	"github.com/shopfront/shared/edge/edgetest"
)

// TestCacheStatus checks the RFC 9211 header a client sees over an entry's
// life: stored on the miss, freshness left on a hit, negative while stale.
func TestCacheStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cc      string
		header  []string
		advance []time.Duration // before each request after the first
		expect  []string
	}{
		{name: "ok, miss stores, hit counts freshness down, stale goes negative",
			cc: "public, max-age=30", advance: []time.Duration{10 * time.Second, 25 * time.Second},
			expect: []string{"shopfront-web; fwd=uri-miss; stored", "shopfront-web; hit; ttl=20", "shopfront-web; hit; ttl=-5"}},
		{name: "nok, an uncacheable answer is forwarded and not stored",
			cc: "no-store", advance: []time.Duration{0},
			expect: []string{"shopfront-web; fwd=uri-miss", "shopfront-web; fwd=uri-miss"}},
		{name: "nok, an authenticated request bypasses the cache",
			cc: "public, max-age=30", header: []string{"Authorization", "Bearer x"}, advance: []time.Duration{0},
			expect: []string{"shopfront-web; fwd=bypass", "shopfront-web; fwd=bypass"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			o := newOrigin()
			o.cc = tt.cc
			g := startGateway(t, o, cache.Config{Now: clk.Now})
			var got []string
			for i := range tt.expect {
				if i > 0 {
					clk.Advance(tt.advance[i-1])
				}
				a := get(t, g.url+"/v1/pages/product/p1", tt.header...)
				require.Equal(t, http.StatusOK, a.status)
				got = append(got, a.header.Get(cache.HeaderCacheStatus))
			}
			assert.Equal(t, tt.expect, got)
		})
	}
}

// TestCacheStatusCollapsed checks that of concurrent misses only the one
// that filled the entry is not marked collapsed, on one instance and
// across two sharing Redis.
func TestCacheStatusCollapsed(t *testing.T) {
	t.Parallel()
	r := edgetest.StartRedis(t)
	tests := []struct {
		name      string
		instances int
		store     func() cache.Store
	}{
		{name: "ok, one instance", instances: 1, store: func() cache.Store { return nil }},
		{name: "ok, two instances sharing Redis", instances: 2, store: func() cache.Store { return cache.NewRedis(redisClient(t, r.URL()), "") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := newOrigin()
			o.block()
			var gs []*gateway
			for range tt.instances {
				gs = append(gs, startGateway(t, o, cache.Config{Store: tt.store()}))
			}
			const n = 10
			statuses := make([]string, n)
			var wg sync.WaitGroup
			for i := range n {
				g := gs[i%len(gs)]
				wg.Go(func() {
					statuses[i] = get(t, g.url+"/v1/pages/product/"+tt.name[:3]).header.Get(cache.HeaderCacheStatus)
				})
			}
			require.Eventually(t, func() bool {
				var misses float64
				for _, g := range gs {
					misses += results(g, "miss")
				}
				return misses == n
			}, 10*time.Second, 5*time.Millisecond)
			o.release()
			wg.Wait()
			require.EqualValues(t, 1, o.calls.Load())
			count := map[string]int{}
			for _, s := range statuses {
				count[s]++
			}
			assert.Equal(t, map[string]int{
				"shopfront-web; fwd=uri-miss; stored":            1,
				"shopfront-web; fwd=uri-miss; stored; collapsed": n - 1,
			}, count)
		})
	}
}
