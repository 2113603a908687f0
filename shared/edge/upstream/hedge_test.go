package upstream_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopfront/shared/edge/upstream"
)

// slowServer answers at once except when slow(n) holds for the n-th request
// (1-based), which it holds for delay, or until the caller gives up.
type slowServer struct {
	*httptest.Server
	served atomic.Int64
}

func startSlow(t testing.TB, delay time.Duration, slow func(n int64) bool) *slowServer {
	t.Helper()
	s := &slowServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if slow(s.served.Add(1)) {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"p-1"}`))
	}))
	t.Cleanup(s.Close)
	return s
}

// run makes calls GETs from workers goroutines and returns their latencies.
func run(t testing.TB, c *upstream.Client, calls, workers int, hedge bool) []time.Duration {
	t.Helper()
	lat := make([]time.Duration, calls)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= calls {
					return
				}
				start := time.Now()
				var out struct{ ID string }
				err := c.Do(context.Background(), upstream.Request{Path: "/products/p-1", Hedge: hedge}, &out)
				lat[i] = time.Since(start)
				assert.NoError(t, err)
				assert.Equal(t, "p-1", out.ID)
			}
		})
	}
	wg.Wait()
	return lat
}

func p99(lat []time.Duration) time.Duration {
	s := slices.Clone(lat)
	slices.Sort(s)
	return s[(len(s)*99+99)/100-1]
}

func countOver(lat []time.Duration, d time.Duration) int {
	n := 0
	for _, l := range lat {
		if l > d {
			n++
		}
	}
	return n
}

func hedges(t testing.TB, reg *prometheus.Registry, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != "shopfront_upstream_hedges_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// TestHedgingCutsTheTail runs the same load against a service that holds one
// answer in fifty for 500 ms, without and with hedging, side by side. It
// counts answers slower than 250 ms rather than trusting absolute
// percentiles on a loaded machine, and checks the p99 ratio and the extra
// load.
func TestHedgingCutsTheTail(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 2000 calls with 500 ms stalls")
	}
	t.Parallel()
	const calls, workers = 1000, 4
	measure := func(hedge bool) (lat []time.Duration, extra float64, reg *prometheus.Registry) {
		srv := startSlow(t, 500*time.Millisecond, func(n int64) bool { return n%50 == 0 })
		reg = prometheus.NewRegistry()
		c, err := upstream.New("catalog", upstream.Config{BaseURL: srv.URL, Timeout: 20 * time.Second, Retry: upstream.RetryConfig{Disabled: true}},
			upstream.Options{Registerer: reg})
		require.NoError(t, err)
		t.Cleanup(c.Close)
		lat = run(t, c, calls, workers, hedge)
		return lat, float64(srv.served.Load()-calls) / calls, reg
	}
	plain, _, _ := measure(false)
	hedged, extra, reg := measure(true)

	slowPlain, slowHedged := countOver(plain, 250*time.Millisecond), countOver(hedged, 250*time.Millisecond)
	t.Logf("answers over 250 ms: %d without hedging, %d with; p99 %s without, %s with (ratio %.3f); extra upstream calls %.1f %%; hedges sent %v, won %v",
		slowPlain, slowHedged, p99(plain), p99(hedged), float64(p99(hedged))/float64(p99(plain)), 100*extra,
		hedges(t, reg, "sent"), hedges(t, reg, "won"))
	assert.GreaterOrEqual(t, slowPlain, 15, "one in fifty answers is slow without hedging")
	assert.LessOrEqual(t, slowHedged, 3, "only calls before the first p95 estimate may stay slow")
	assert.Less(t, float64(p99(hedged)), 0.3*float64(p99(plain)), "hedging cuts the p99")
	assert.LessOrEqual(t, extra, 0.05, "hedges add at most 5 % of calls")
	assert.Positive(t, hedges(t, reg, "won"))
}

// TestHedgeBudgetHoldsWhenAllIsSlow turns a fast service slow for every
// answer: a burst of calls all pass the hedge delay before any answers, and
// the budget alone keeps the extra load at 5 % of calls.
func TestHedgeBudgetHoldsWhenAllIsSlow(t *testing.T) {
	t.Parallel()
	var slow atomic.Bool
	srv := startSlow(t, 500*time.Millisecond, func(int64) bool { return slow.Load() })
	reg := prometheus.NewRegistry()
	c, err := upstream.New("catalog", upstream.Config{BaseURL: srv.URL, Timeout: 20 * time.Second, Retry: upstream.RetryConfig{Disabled: true}},
		upstream.Options{Registerer: reg})
	require.NoError(t, err)
	t.Cleanup(c.Close)

	const warm, burst = 400, 60
	run(t, c, warm, 4, true) // A fast p95: the hedge delay is its 10 ms floor.
	slow.Store(true)
	run(t, c, burst, burst, true)

	extra := srv.served.Load() - warm - burst
	t.Logf("extra upstream calls under a 100 %% slow service: %d of %d calls", extra, warm+burst)
	assert.Positive(t, extra, "the slow burst was hedged")
	assert.LessOrEqual(t, float64(extra), upstream.HedgeBudgetRatio*(warm+burst), "the budget caps hedges at 5 % of calls")
	assert.LessOrEqual(t, hedges(t, reg, "sent"), upstream.HedgeBudgetRatio*(warm+burst))
}

// TestNoHedgeBeyondTheDeadline: a call whose deadline is nearer than the
// hedge delay is never hedged.
func TestNoHedgeBeyondTheDeadline(t *testing.T) {
	t.Parallel()
	var slow atomic.Bool
	srv := startSlow(t, time.Second, func(int64) bool { return slow.Load() })
	reg := prometheus.NewRegistry()
	c, err := upstream.New("catalog", upstream.Config{BaseURL: srv.URL, Timeout: 20 * time.Second, Retry: upstream.RetryConfig{Disabled: true}},
		upstream.Options{Registerer: reg})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	run(t, c, 100, 4, false) // Estimates the p95 without hedging.
	slow.Store(true)
	for range 10 {
		// The client's own Timeout is long; the caller's deadline is what is
		// short.
		ctx, cancel := context.WithTimeout(context.Background(), upstream.MinHedgeDelay/2)
		err := c.Do(ctx, upstream.Request{Path: "/products/p-1", Hedge: true}, nil)
		cancel()
		var ue *upstream.Error
		require.ErrorAs(t, err, &ue)
		assert.Equal(t, upstream.KindTimeout, ue.Kind)
	}
	assert.Zero(t, hedges(t, reg, "sent"))
	assert.LessOrEqual(t, srv.served.Load(), int64(110), "no extra calls")
}
